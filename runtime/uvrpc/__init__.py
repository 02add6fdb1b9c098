"""uvrpc: typed RPC for Python over ZeroMQ and msgpack.

Generated modules import this package as ``_uvrpc`` and use the names it exports;
users import the clients' and servers' building blocks from here too.

The names are loaded when first used (PEP 562), so that importing one side, say
``uvrpc.server``, loads that side and the layers under it only; ``docs/architecture.md``
shows the layers.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from typing_extensions import Buffer

if TYPE_CHECKING:
    from . import metrics, security, types
    from .client.channel import Channel
    from .client.handle import (
        Call,
        ReleasedError,
    )
    from .client.retry import Retry
    from .client.streams import ItemStream
    from .client.stubs import (
        AsyncClient,
        SyncClient,
    )
    from .client.sync_channel import SyncChannel
    from .core.context import (
        MAX_METADATA,
        CallMetadata,
        Metadata,
        ServerCall,
        current_call,
        metadata,
    )
    from .interceptors.base import (
        ClientCallInfo,
        ClientInterceptor,
        LoggingInterceptor,
        Proceed,
        ServerCallInfo,
        ServerInterceptor,
        SyncClientInterceptor,
        SyncProceed,
        status_of,
    )
    from .server.server import (
        Server,
        ServerStats,
    )
    from .transport.liveness import Heartbeat
    from .transport.loop import run
    from .transport.security import (
        ClientSecurity,
        ServerSecurity,
    )
    from .wire.buffers import (
        BufferPool,
        PoolStats,
    )
    from .wire.errors import (
        Aborted,
        AlreadyExists,
        Cancelled,
        ChannelClosed,
        DataLoss,
        DeadlineExceeded,
        DeclaredError,
        FailedPrecondition,
        InternalError,
        InvalidArgument,
        NotFound,
        OutOfRange,
        PermissionDenied,
        ProtocolError,
        RemoteError,
        ResourceExhausted,
        RpcError,
        Unauthenticated,
        Unavailable,
        Unimplemented,
    )
    from .wire.limits import (
        HIGH_WATER_MARK,
        MAX_IN_FLIGHT,
        MAX_MESSAGE_SIZE,
    )
    from .wire.message import (
        Enum,
        Message,
        field_ids,
    )
    from .wire.methods import (
        BidiStreaming,
        ClientStreaming,
        ServerStreaming,
        ServiceSpec,
        StreamingMethod,
        Unary,
    )
    from .wire.service import ServiceBase, unimplemented
    from .wire.status import Status
    from .wire.union import UnionMember, UnknownMember, WireUnion
    from .wire.unknown import discard_unknown_fields, unknown_fields
    from .wire.version import (
        GENERATED_CODE_API,
        PROTOCOL_VERSION,
        GeneratedCodeVersionError,
        __version__,
        check_generated_code,
    )

_WHERE = {
    "__version__": "wire.version",
    "Aborted": "wire.errors",
    "AlreadyExists": "wire.errors",
    "AsyncClient": "client.stubs",
    "BidiStreaming": "wire.methods",
    "BufferPool": "wire.buffers",
    "Call": "client.handle",
    "CallMetadata": "core.context",
    "Cancelled": "wire.errors",
    "Channel": "client.channel",
    "ChannelClosed": "wire.errors",
    "check_generated_code": "wire.version",
    "ClientCallInfo": "interceptors.base",
    "ClientInterceptor": "interceptors.base",
    "ClientSecurity": "transport.security",
    "ClientStreaming": "wire.methods",
    "current_call": "core.context",
    "DataLoss": "wire.errors",
    "DeadlineExceeded": "wire.errors",
    "DeclaredError": "wire.errors",
    "discard_unknown_fields": "wire.unknown",
    "Enum": "wire.message",
    "FailedPrecondition": "wire.errors",
    "field_ids": "wire.message",
    "GENERATED_CODE_API": "wire.version",
    "GeneratedCodeVersionError": "wire.version",
    "Heartbeat": "transport.liveness",
    "HIGH_WATER_MARK": "wire.limits",
    "InternalError": "wire.errors",
    "InvalidArgument": "wire.errors",
    "ItemStream": "client.streams",
    "LoggingInterceptor": "interceptors.base",
    "MAX_IN_FLIGHT": "wire.limits",
    "MAX_MESSAGE_SIZE": "wire.limits",
    "MAX_METADATA": "core.context",
    "Message": "wire.message",
    "Metadata": "core.context",
    "metadata": "core.context",
    "metrics": "metrics",
    "NotFound": "wire.errors",
    "OutOfRange": "wire.errors",
    "PermissionDenied": "wire.errors",
    "PoolStats": "wire.buffers",
    "PROTOCOL_VERSION": "wire.version",
    "Proceed": "interceptors.base",
    "ProtocolError": "wire.errors",
    "ReleasedError": "client.handle",
    "RemoteError": "wire.errors",
    "ResourceExhausted": "wire.errors",
    "Retry": "client.retry",
    "RpcError": "wire.errors",
    "run": "transport.loop",
    "security": "security",
    "Server": "server.server",
    "ServerCall": "core.context",
    "ServerCallInfo": "interceptors.base",
    "ServerInterceptor": "interceptors.base",
    "ServerSecurity": "transport.security",
    "ServerStats": "server.server",
    "ServerStreaming": "wire.methods",
    "ServiceBase": "wire.service",
    "ServiceSpec": "wire.methods",
    "Status": "wire.status",
    "status_of": "interceptors.base",
    "StreamingMethod": "wire.methods",
    "SyncChannel": "client.sync_channel",
    "SyncClient": "client.stubs",
    "SyncClientInterceptor": "interceptors.base",
    "SyncProceed": "interceptors.base",
    "types": "types",
    "Unary": "wire.methods",
    "Unauthenticated": "wire.errors",
    "Unavailable": "wire.errors",
    "Unimplemented": "wire.errors",
    "UnionMember": "wire.union",
    "UnknownMember": "wire.union",
    "WireUnion": "wire.union",
    "unimplemented": "wire.service",
    "unknown_fields": "wire.unknown",
}
"""Where each public name lives (a module below this package)."""


def __getattr__(name: str) -> Any:
    """Load a public name from the module that defines it, once; or a module of
    this package by its name (``uvrpc.sessions``, as the eager imports of earlier
    versions made every module an attribute)."""
    where = _WHERE.get(name)
    if where is None:
        if (
            name.startswith("_")
            or importlib.util.find_spec(f"{__name__}.{name}") is None
        ):
            raise AttributeError(f"module 'uvrpc' has no attribute {name!r}")
        where = name
    module = importlib.import_module(f".{where}", __name__)
    value = module if name == where else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


__all__ = [
    "GENERATED_CODE_API",
    "MAX_METADATA",
    "HIGH_WATER_MARK",
    "MAX_IN_FLIGHT",
    "MAX_MESSAGE_SIZE",
    "PROTOCOL_VERSION",
    "Aborted",
    "AlreadyExists",
    "AsyncClient",
    "BidiStreaming",
    "Buffer",
    "BufferPool",
    "Call",
    "CallMetadata",
    "Cancelled",
    "Channel",
    "ChannelClosed",
    "ClientCallInfo",
    "ClientInterceptor",
    "ClientSecurity",
    "ClientStreaming",
    "DataLoss",
    "DeadlineExceeded",
    "DeclaredError",
    "Enum",
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
    "OutOfRange",
    "PermissionDenied",
    "PoolStats",
    "Proceed",
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
    "ServerSecurity",
    "ServerStreaming",
    "ServerStats",
    "ServiceBase",
    "ServiceSpec",
    "Status",
    "StreamingMethod",
    "SyncChannel",
    "SyncClientInterceptor",
    "SyncProceed",
    "SyncClient",
    "Unary",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "UnionMember",
    "UnknownMember",
    "WireUnion",
    "__version__",
    "check_generated_code",
    "current_call",
    "discard_unknown_fields",
    "field_ids",
    "metadata",
    "metrics",
    "run",
    "security",
    "status_of",
    "types",
    "unimplemented",
    "unknown_fields",
]
