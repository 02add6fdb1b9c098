"""uvrpc: typed RPC for Python over ZeroMQ and msgpack.

Generated modules import this package as ``_uvrpc`` and use the names it exports;
users import the clients' and servers' building blocks from here too.
"""

from __future__ import annotations

from typing_extensions import Buffer

from . import metrics, security, types
from .buffers import BufferPool, PoolStats
from .channel import Channel
from .client import AsyncClient, SyncClient
from .context import (
    MAX_METADATA,
    CallMetadata,
    Metadata,
    ServerCall,
    current_call,
    metadata,
)
from .errors import (
    Cancelled,
    DeadlineExceeded,
    DeclaredError,
    FailedPrecondition,
    InternalError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ProtocolError,
    RemoteError,
    ResourceExhausted,
    RpcError,
    Unauthenticated,
    Unavailable,
    Unimplemented,
)
from .handle import Call, ReleasedError
from .interceptors import (
    ClientCallInfo,
    ClientInterceptor,
    LoggingInterceptor,
    ServerCallInfo,
    ServerInterceptor,
    SyncClientInterceptor,
    status_of,
)
from .limits import HIGH_WATER_MARK, MAX_IN_FLIGHT, MAX_MESSAGE_SIZE
from .liveness import Heartbeat
from .loop import run
from .message import Message, field_ids
from .methods import (
    BidiStreaming,
    ClientStreaming,
    ServerStreaming,
    ServiceSpec,
    StreamingMethod,
    Unary,
)
from .retry import Retry
from .server import Server, ServerStats
from .service import ServiceBase
from .status import Status
from .streams import ItemStream
from .sync_channel import SyncChannel
from .version import (
    GENERATED_CODE_API,
    PROTOCOL_VERSION,
    GeneratedCodeVersionError,
    __version__,
    check_generated_code,
)

__all__ = [
    "GENERATED_CODE_API",
    "MAX_METADATA",
    "HIGH_WATER_MARK",
    "MAX_IN_FLIGHT",
    "MAX_MESSAGE_SIZE",
    "PROTOCOL_VERSION",
    "AsyncClient",
    "BidiStreaming",
    "Buffer",
    "BufferPool",
    "Call",
    "CallMetadata",
    "Cancelled",
    "Channel",
    "ClientCallInfo",
    "ClientInterceptor",
    "ClientStreaming",
    "DeadlineExceeded",
    "DeclaredError",
    "FailedPrecondition",
    "GeneratedCodeVersionError",
    "Heartbeat",
    "InternalError",
    "InvalidArgument",
    "ItemStream",
    "LoggingInterceptor",
    "Message",
    "Metadata",
    "NotFound",
    "PermissionDenied",
    "PoolStats",
    "ProtocolError",
    "ReleasedError",
    "RemoteError",
    "ResourceExhausted",
    "Retry",
    "RpcError",
    "Server",
    "ServerCall",
    "ServerCallInfo",
    "ServerInterceptor",
    "ServerStreaming",
    "ServerStats",
    "ServiceBase",
    "ServiceSpec",
    "Status",
    "StreamingMethod",
    "SyncChannel",
    "SyncClientInterceptor",
    "SyncClient",
    "Unary",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "__version__",
    "check_generated_code",
    "current_call",
    "field_ids",
    "metadata",
    "metrics",
    "run",
    "security",
    "status_of",
    "types",
]
