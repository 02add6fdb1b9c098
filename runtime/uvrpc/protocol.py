"""The frames of uvrpc's wire protocol, version 1 (``docs/protocol.md``).

A request is ``[routing…, b"", header, body, attachment…]`` and a reply the same shape.
The routing frames are ZeroMQ's own envelope (a ROUTER prepends the peer's identity;
brokers may prepend more) and end at the empty delimiter frame. The header is a small
msgpack array whose first elements are fixed in every protocol version, so a peer can
always tell which version it is talking to:

* request: ``[version, KIND_REQUEST, call_id, route, timeout_ms | nil]``
* reply: ``[version, KIND_REPLY, call_id, status]``

Elements appended after these are ignored by version-1 readers, so later features
(metadata, streaming) can extend a header without a version bump.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgpack
from typing_extensions import Buffer

from .codec import DecodeError, unpack
from .errors import ProtocolError, RpcError
from .version import PROTOCOL_VERSION

__all__ = [
    "DELIMITER",
    "KIND_REPLY",
    "KIND_REQUEST",
    "ReplyHeader",
    "RequestHeader",
    "encode_error_body",
    "encode_reply_header",
    "encode_request_header",
    "parse_reply_header",
    "parse_request_header",
    "split_envelope",
    "version_mismatch_message",
]

DELIMITER = b""
"""The empty frame that ends the routing envelope."""

KIND_REQUEST = 1
"""Header kind of a request."""
KIND_REPLY = 2
"""Header kind of a reply."""


@dataclass(frozen=True, slots=True)
class RequestHeader:
    """A decoded request header."""

    version: int
    call_id: int
    route: str
    timeout_ms: int | None


@dataclass(frozen=True, slots=True)
class ReplyHeader:
    """A decoded reply header."""

    version: int
    call_id: int
    status: int


def encode_request_header(call_id: int, route: str, timeout_ms: int | None) -> bytes:
    """Encode the header of a request."""
    return msgpack.packb((PROTOCOL_VERSION, KIND_REQUEST, call_id, route, timeout_ms))


def encode_reply_header(call_id: int, status: int) -> bytes:
    """Encode the header of a reply."""
    return msgpack.packb((PROTOCOL_VERSION, KIND_REPLY, call_id, status))


def encode_error_body(error: RpcError) -> bytes:
    """Encode the body of an error reply: the error's message and details."""
    return msgpack.packb(
        {"message": error.message, "details": error.details}, use_bin_type=True
    )


def _header_fields(buf: Buffer, kind: int, what: str) -> list[Any]:
    try:
        fields = unpack(buf)
    except DecodeError as exc:
        raise ProtocolError(f"{what} header is not valid msgpack: {exc}") from None
    if (
        not isinstance(fields, list)
        or len(fields) < 4
        or type(fields[0]) is not int
        or type(fields[2]) is not int
    ):
        raise ProtocolError(f"{what} header is not a protocol header")
    if fields[0] == PROTOCOL_VERSION and fields[1] != kind:
        raise ProtocolError(f"{what} header has kind {fields[1]!r}, expected {kind}")
    return fields


def parse_request_header(buf: Buffer) -> RequestHeader:
    """Decode a request header.

    A header of another protocol version is returned as it is (only its fixed
    prefix is read) so that the server can reply with the version it speaks.

    Raises:
        ProtocolError: the frame is not a request header of any version.
    """
    fields = _header_fields(buf, KIND_REQUEST, "request")
    if fields[0] != PROTOCOL_VERSION:
        return RequestHeader(fields[0], fields[2], "", None)
    route, timeout_ms = fields[3], fields[4] if len(fields) > 4 else None
    if type(route) is not str or not (timeout_ms is None or type(timeout_ms) is int):
        raise ProtocolError("request header has a malformed route or timeout")
    return RequestHeader(PROTOCOL_VERSION, fields[2], route, timeout_ms)


def parse_reply_header(buf: Buffer) -> ReplyHeader:
    """Decode a reply header.

    Raises:
        ProtocolError: the frame is not a reply header of any version.
    """
    fields = _header_fields(buf, KIND_REPLY, "reply")
    status = fields[3]
    if type(status) is not int:
        raise ProtocolError("reply header has a malformed status")
    return ReplyHeader(fields[0], fields[2], status)


def split_envelope(frames: Sequence[Any]) -> int:
    """Return the index of the delimiter that ends the routing envelope.

    Raises:
        ProtocolError: there is no delimiter, or nothing follows it.
    """
    for index, frame in enumerate(frames):
        if len(frame) == 0:
            if len(frames) < index + 3:
                raise ProtocolError("message has no header and body after the envelope")
            return index
    raise ProtocolError("message has no envelope delimiter")


def version_mismatch_message(peer_version: int) -> str:
    """The message of the error sent to a peer speaking another protocol version."""
    return (
        f"protocol version {peer_version} is not supported; this peer speaks "
        f"version {PROTOCOL_VERSION}"
    )
