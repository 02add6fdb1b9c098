"""The frames of uvrpc's wire protocol, version 3 (``docs/protocol.md``).

A request is ``[routing…, b"", attachment…, header, body]``, and a reply and every
message of a stream have the same shape. The routing frames are ZeroMQ's own
envelope (a ROUTER prepends the peer's identity; brokers may prepend more) and end
at the empty delimiter frame. The attachments are large binary values the body
refers to, sent as frames of their own; they come first because a large frame that
follows small ones can cost ZeroMQ over TCP twice the time (measured in
``docs/memory.md``), and the header and body are always the last two frames. The
header is a small msgpack array whose first elements are fixed in every protocol
version, so a peer can always tell which version it is talking to:

* request: ``[version, KIND_REQUEST, call_id, route, timeout_ms | nil]``, and for
  a call whose server sends a stream, a sixth element: the number of items the
  client lets the server send before it grants more (its window); a request with
  metadata has a seventh, a map of it (the sixth is then ``nil`` for a call whose
  server sends no stream); a request with a timeout has an eighth, the time the
  client sent it (:func:`send_stamp`: integer microseconds, the sixth and seventh
  then ``nil`` if the call has no window or metadata), so that the time a request
  waits in queues on its way counts against its deadline;
* reply: ``[version, KIND_REPLY, call_id, status]``, the last message of every call,
  and a fifth element, a map of trailers, when the handler set some;
* the messages of a stream: ``[version, kind, call_id, n]`` with kind
  :data:`KIND_ITEM` (one item, in the body), :data:`KIND_END` (the client's stream
  is over), :data:`KIND_CANCEL` (the client gives up the call) or
  :data:`KIND_CREDIT` (the peer may send ``n`` more items); ``n`` of a CANCEL
  says why (:data:`CANCEL_EXPIRED` when the client's deadline passed), and is 0
  otherwise;
* what a server says to a broker it connected to (:mod:`uvrpc.broker`), with no
  envelope and no body: ``[version, kind, 0, 0]`` with kind :data:`KIND_READY`
  (it takes calls) or :data:`KIND_LEAVING` (it is stopping: no new calls); a READY
  has a fifth element, the names of the services the server serves, so that the
  broker sends it only their calls.

A request with call id 0 is *oneway*: it gets no reply of any kind.

Elements appended after these are ignored by readers of this version, so later
features can extend a header without a version bump.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import msgpack
from typing_extensions import Buffer

from .codec import new_packer
from .errors import DeclaredError, ProtocolError, RpcError
from .status import Status
from .version import PROTOCOL_VERSION

__all__ = [
    "ABOUT_SERVICE",
    "CANCEL_EXPIRED",
    "DELIMITER",
    "KIND_CANCEL",
    "KIND_CREDIT",
    "KIND_END",
    "KIND_ITEM",
    "KIND_LEAVING",
    "KIND_READY",
    "KIND_REPLY",
    "KIND_REQUEST",
    "MalformedHeader",
    "NIL_BODY",
    "ONEWAY_CALL_ID",
    "READY_INTERVAL",
    "STAMP_ORIGIN",
    "ReplyHeader",
    "RequestHeader",
    "RequestHeaders",
    "StreamHeader",
    "decode_header",
    "encode_error_body",
    "encode_ready_header",
    "encode_reply_header",
    "encode_stream_header",
    "parse_client_header",
    "parse_reply_header",
    "parse_request_header",
    "parse_server_header",
    "ready_services",
    "restamp_request_header",
    "route_service",
    "send_stamp",
    "stamp_age",
    "split_envelope",
    "version_mismatch_message",
]

DELIMITER = b""
"""The empty frame that ends the routing envelope."""

KIND_REQUEST = 1
"""Header kind of a request."""
KIND_REPLY = 2
"""Header kind of a reply: the last message of every call."""
KIND_ITEM = 3
"""Header kind of one item of a stream, in either direction."""
KIND_END = 4
"""Header kind of the end of a client's stream (its handler's iterator ends)."""
KIND_CANCEL = 5
"""Header kind of a client giving up its call: the server cancels the handler."""
CANCEL_EXPIRED = int(Status.DEADLINE_EXCEEDED)
"""The count of a CANCEL its client sends because the call's deadline passed
(DEADLINE_EXCEEDED's code), so that the server ends the call as expired, not as
given up, however late its own timer would fire; any other CANCEL counts 0. A
reader from before it took every count of a CANCEL as 0."""
KIND_CREDIT = 6
"""Header kind of a grant of more items to the peer (0: a probe, granting none)."""

KIND_READY = 7
"""Header kind of a server telling a broker that it takes calls (sent again each
:data:`READY_INTERVAL` seconds, so that a broker that restarted learns of it)."""
KIND_LEAVING = 8
"""Header kind of a server telling a broker that it stops: no new calls."""

READY_INTERVAL = 1.0
"""Seconds between the READY messages a server sends each broker it connected to."""

ABOUT_SERVICE = "uvrpc-service"
"""Request metadata naming the service a ``uvrpc.Health`` check or a
``uvrpc.Reflection`` description asks about. Every server answers those two, so
a broker could send such a call to a server of another service, which knows
nothing of the one asked about; a broker sends a call carrying this header to a
server of the service it names (once some server announced it)."""

ONEWAY_CALL_ID = 0
"""The call id of a oneway request: the server sends no reply of any kind."""

NIL_BODY = b"\xc0"
"""The body of END, CANCEL and CREDIT messages: msgpack ``nil``."""


class MalformedHeader(ProtocolError):
    """A header of this protocol's shape that names its call (its version, kind
    and call id read) but breaks the protocol in another field: the call it
    names can still be answered (a request) or failed (a reply, a stream
    message) with this error's message, where a header of no call can only be
    dropped."""

    def __init__(self, message: str, kind: int, call_id: int) -> None:
        super().__init__(message)
        self.kind = kind
        """The header's kind (:data:`KIND_REQUEST`, :data:`KIND_REPLY`, …)."""
        self.call_id = call_id
        """The call the header names."""


class RequestHeader(NamedTuple):
    """A decoded request header (a named tuple: the cheapest record to build)."""

    version: int
    call_id: int
    route: str
    timeout_ms: int | None
    window: int | None = None
    """The items the client lets the server send at first; streams only."""
    metadata: Any = None
    """The request's metadata as received (a map, unchecked), if it carried any."""
    sent_us: int | None = None
    """When the client sent it (:func:`send_stamp` of the client's process), if it
    carried a timeout."""


class StreamHeader(NamedTuple):
    """A decoded header of an ITEM, END, CANCEL or CREDIT message."""

    kind: int
    call_id: int
    n: int
    """The items granted by a CREDIT; why a CANCEL was sent
    (:data:`CANCEL_EXPIRED`, or 0); 0 for the other kinds."""


class ReplyHeader(NamedTuple):
    """A decoded reply header."""

    version: int
    call_id: int
    status: int
    trailers: dict[str, str | bytes] | None = None
    """The reply's trailers, if it carried any."""


# Headers are packed by one ``struct`` call from pre-encoded pieces: the fixed
# prefix, the call id as a msgpack uint64, the route as its method pre-encoded it
# and the timeout as a uint32. Fixed-width integers are valid msgpack (a reader
# takes any width), and one ``struct`` call costs a quarter of packing a list.
_REQUEST_PREFIX = (
    b"\x95" + msgpack.packb(PROTOCOL_VERSION) + msgpack.packb(KIND_REQUEST)
)
_REPLY_PREFIX = b"\x94" + msgpack.packb(PROTOCOL_VERSION) + msgpack.packb(KIND_REPLY)
_REPLY = struct.Struct(f">{len(_REPLY_PREFIX)}sBQB")
_STREAM_PREFIX = b"\x94" + msgpack.packb(PROTOCOL_VERSION)
_STREAM = struct.Struct(f">{len(_STREAM_PREFIX)}sBBQBI")
_STAMPED_PREFIX = b"\x98" + _REQUEST_PREFIX[1:]
_UINT64, _UINT32, _NIL = 0xCF, 0xCE, 0xC0
_MAX_TIMEOUT_MS = 2**32 - 1
_STAMP = struct.Struct(">BQ")

# The origin of send stamps: this process's wall clock when it started, advanced
# by its monotonic clock. Stamps are microseconds since the epoch, but a step of
# the wall clock (NTP, an operator) never moves them: the server only ever uses
# differences between the stamps of one connection (core/clocks.py).
STAMP_ORIGIN = time.time() - time.monotonic()
"""This process's :func:`time.monotonic` clock plus this is its send-stamp clock,
in seconds since the epoch (see :func:`send_stamp`)."""


def send_stamp(now: float | None = None) -> int:
    """The send stamp a request carries: microseconds since the epoch on this
    process's clock, which follows the monotonic clock ``now`` (read now if
    ``None``) from where the wall clock stood when the process started."""
    if now is None:
        now = time.monotonic()
    return int((now + STAMP_ORIGIN) * 1_000_000)


def stamp_age(sent_us: int, now: float) -> float:
    """Seconds from a peer's send stamp ``sent_us`` to ``now`` (this process's
    monotonic clock) as this process's stamps count: the transit and queueing
    time plus the offset between the two processes' clocks."""
    return now + STAMP_ORIGIN - sent_us / 1_000_000


class RequestHeaders:
    """Encodes the request headers of one route (a method keeps one)."""

    __slots__ = ("_route", "_stamped", "_timed", "_untimed")

    def __init__(self, route: str) -> None:
        self._route = msgpack.packb(route)
        shape = f">{len(_REQUEST_PREFIX)}sBQ{len(self._route)}sB"
        self._timed = struct.Struct(shape + "I")
        self._stamped = struct.Struct(shape + "IBBBQ")
        self._untimed = struct.Struct(shape)

    def encode(
        self,
        call_id: int,
        timeout_ms: int | None,
        metadata: bytes | None = None,
        sent_us: int | None = None,
    ) -> bytes:
        """The header of call ``call_id`` with this timeout (``None``: none),
        metadata (an encoded map, see :func:`uvrpc.context.encode_metadata`) and,
        for a timed call, the send stamp ``sent_us`` (:func:`send_stamp`)."""
        if timeout_ms is None:
            sent_us = None  # no deadline to count queueing against
        if metadata is not None:
            # Seven elements: the window (nil for a unary call), then the map.
            head = self.encode(call_id, timeout_ms)
            if sent_us is None:
                return b"\x97" + head[1:] + b"\xc0" + metadata
            stamp = _STAMP.pack(_UINT64, sent_us)
            return b"\x98" + head[1:] + b"\xc0" + metadata + stamp
        if timeout_ms is None:
            return self._untimed.pack(
                _REQUEST_PREFIX, _UINT64, call_id, self._route, _NIL
            )
        if sent_us is None:
            return self._timed.pack(
                _REQUEST_PREFIX,
                _UINT64,
                call_id,
                self._route,
                _UINT32,
                min(timeout_ms, _MAX_TIMEOUT_MS),
            )
        return self._stamped.pack(
            _STAMPED_PREFIX,
            _UINT64,
            call_id,
            self._route,
            _UINT32,
            min(timeout_ms, _MAX_TIMEOUT_MS),
            _NIL,
            _NIL,
            _UINT64,
            sent_us,
        )

    def encode_stream(
        self,
        call_id: int,
        timeout_ms: int | None,
        window: int | None,
        metadata: bytes | None = None,
        sent_us: int | None = None,
    ) -> bytes:
        """The header of a call that opens a stream.

        ``window`` is the number of items the server may send before the client
        grants more; ``None`` when the server sends no stream (a client stream).
        """
        if timeout_ms is not None and sent_us is not None:
            # Eight elements: the window (or nil), the map (or nil), the stamp.
            head = self.encode_stream(call_id, timeout_ms, window)
            if window is None:
                head += b"\xc0"
            return (
                b"\x98"
                + head[1:]
                + (b"\xc0" if metadata is None else metadata)
                + _STAMP.pack(_UINT64, sent_us)
            )
        if metadata is not None:
            head = self.encode_stream(call_id, timeout_ms, window)
            if window is None:
                head = b"\x96" + head[1:] + b"\xc0"
            return b"\x97" + head[1:] + metadata
        fields: list[Any] = [
            PROTOCOL_VERSION,
            KIND_REQUEST,
            call_id,
            msgpack.unpackb(self._route),
            None if timeout_ms is None else min(timeout_ms, _MAX_TIMEOUT_MS),
        ]
        if window is not None:
            fields.append(window)
        return msgpack.packb(fields)


def restamp_request_header(header: Buffer, timeout_ms: int, sent_us: int) -> bytes:
    """A timed request header as it goes now: its timeout set to ``timeout_ms``
    (the time its caller has left) and its send stamp to ``sent_us``.

    For a request that waited in its client for a server to take it: its timeout
    then counts from when it is sent, and no server that takes it can count the
    wait as the fastest transit of a new connection.
    """
    fields = msgpack.unpackb(header)
    fields[4] = min(timeout_ms, _MAX_TIMEOUT_MS)
    fields += [None] * (8 - len(fields))
    fields[7] = sent_us
    return msgpack.packb(fields)


def encode_stream_header(kind: int, call_id: int, n: int = 0) -> bytes:
    """Encode the header of an ITEM, END, CANCEL (why: ``n``) or CREDIT (of ``n``
    items)."""
    return _STREAM.pack(_STREAM_PREFIX, kind, _UINT64, call_id, _UINT32, n)


def encode_ready_header(services: Iterable[str]) -> bytes:
    """Encode a server's READY to a broker: ``[version, KIND_READY, 0, 0,
    [service, …]]``, the wire names of the services it serves, sorted."""
    return msgpack.packb([PROTOCOL_VERSION, KIND_READY, 0, 0, sorted(services)])


def ready_services(fields: Sequence[Any]) -> frozenset[str] | None:
    """The services a decoded READY header announces; ``None`` for a READY
    without the list (a server that predates it), which the broker takes as
    serving every service. Names that are not strings are ignored."""
    if len(fields) < 5 or type(fields[4]) is not list:
        return None
    return frozenset(name for name in fields[4] if type(name) is str)


def route_service(route: str) -> str:
    """The service of a route: ``"calculator.Calculator"`` for
    ``"calculator.Calculator.add"`` (a method name never holds a dot)."""
    return route.rpartition(".")[0]


def encode_reply_header(
    call_id: int, status: int, trailers: bytes | None = None
) -> bytes:
    """Encode the header of a reply (every status is a one-byte msgpack fixint),
    with its trailers (an encoded map) if there are any."""
    if trailers is not None:
        return (
            b"\x95"
            + _REPLY.pack(_REPLY_PREFIX, _UINT64, call_id, status)[1:]
            + (trailers)
        )
    return _REPLY.pack(_REPLY_PREFIX, _UINT64, call_id, status)


assert all(0 <= status < 0x80 for status in Status), "statuses are fixints"


def encode_error_body(error: RpcError) -> bytes:
    """Encode the body of an error reply: the error's message and details, and for
    an exception declared in the IDL its wire name and fields (keyed by id).

    Raises:
        TypeError: its message is not a ``str`` (``NotFound(404)``) or its
            details not a ``dict``, which no peer would read as an error reply.
    """
    if not isinstance(error.message, str):
        raise TypeError(f"its message is {type(error.message).__name__}, not str")
    if not isinstance(error.details, dict):
        raise TypeError(f"its details are {type(error.details).__name__}, not dict")
    body: dict[str, Any] = {"message": error.message, "details": error.details}
    if isinstance(error, DeclaredError):
        body["error"] = error.uvrpc_name
        body["fields"] = error.fields.model_dump(by_alias=True)
    return new_packer().pack(body)


_READ_ELEMENTS = {KIND_REQUEST: 8, KIND_REPLY: 5, KIND_READY: 5}
"""How many elements of a header of each kind this version reads (four for the
others: the stream messages' and LEAVING); any after them are ignored."""


def decode_header(buf: Buffer, what: str) -> Any:
    """The msgpack value of a header frame, as every reader of this version
    takes it: a version-3 header whose elements beyond those this version reads
    (see :data:`_READ_ELEMENTS`) hold what a strict decode refuses (an integer
    map key, a string that is not UTF-8) is those elements alone, as the
    protocol ignores the rest; of another version, its prefix alone.

    Raises:
        MalformedHeader: a header that names its call holds such a value in an
            element this version reads.
        ProtocolError: the frame is not msgpack, or not a header of any version.
    """
    try:
        return msgpack.unpackb(buf)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        return _read_leniently(buf, what, exc)


def _read_leniently(buf: Buffer, what: str, exc: Exception) -> list[Any]:
    """:func:`decode_header` for a header the strict decode refused (with
    ``exc``): off every valid message's path."""
    problem = f"{what} header is not valid msgpack: {str(exc) or type(exc).__name__}"
    try:
        fields = msgpack.unpackb(
            buf, strict_map_key=False, unicode_errors="surrogateescape"
        )
    except (ValueError, TypeError, msgpack.UnpackException):
        raise ProtocolError(problem) from None
    if not (
        type(fields) is list
        and len(fields) >= 4
        and type(fields[0]) is int
        and type(fields[2]) is int
        and fields[2] >= 0
    ):
        raise ProtocolError(problem)
    if fields[0] != PROTOCOL_VERSION:
        return fields[:4]
    kind = fields[1]
    read = fields[: _READ_ELEMENTS.get(kind, 4) if type(kind) is int else 4]
    try:
        msgpack.unpackb(msgpack.packb(read))  # what this version reads, strictly
    except (ValueError, TypeError, msgpack.UnpackException):
        if type(kind) is not int:
            raise ProtocolError(problem) from None
        raise _malformed(read, f"element ({exc})") from None
    return read


def _header_fields(
    buf: Buffer, kind: int, what: str, others: frozenset[int] = frozenset()
) -> list[Any]:
    # decode_header, inline: a Python call less on every request's path.
    try:
        fields = msgpack.unpackb(buf)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        try:
            fields = _read_leniently(buf, what, exc)
        except MalformedHeader as malformed:
            if malformed.kind == kind or malformed.kind in others:
                raise
            raise ProtocolError(
                f"{what} header is not a {what} header of any version"
            ) from None
    if (
        type(fields) is list
        and len(fields) >= 4
        and type(fields[0]) is int
        and type(fields[2]) is int
        and fields[2] >= 0  # a call id is a uint64: a negative one is no call
        and (
            fields[0] != PROTOCOL_VERSION
            # A kind that is a list or map is no kind (and cannot be hashed).
            or (type(fields[1]) is int and (fields[1] == kind or fields[1] in others))
        )
    ):
        return fields
    raise ProtocolError(f"{what} header is not a {what} header of any version")


def parse_request_header(buf: Buffer) -> RequestHeader:
    """Decode a request header.

    A header of another protocol version is returned as it is (only its fixed
    prefix is read) so that the server can reply with the version it speaks.

    Raises:
        ProtocolError: the frame is not a request header of any version.
    """
    return _request_header(_header_fields(buf, KIND_REQUEST, "request"))


def _request_header(fields: list[Any]) -> RequestHeader:
    if fields[0] != PROTOCOL_VERSION:
        return RequestHeader(fields[0], fields[2], "", None)
    route = fields[3]
    timeout_ms = fields[4] if len(fields) > 4 else None
    if type(route) is not str or not (timeout_ms is None or type(timeout_ms) is int):
        raise _malformed(fields, "route (a string) or timeout (integer ms, or nil)")
    count = len(fields)
    if count <= 5:
        return RequestHeader(PROTOCOL_VERSION, fields[2], route, timeout_ms)
    if count == 8 and fields[5] is None and fields[6] is None:
        # A timed unary call without metadata: the stamped request uvrpc sends
        # most.
        sent_us = fields[7]
        if type(sent_us) is int and sent_us >= 0:
            return RequestHeader(
                PROTOCOL_VERSION, fields[2], route, timeout_ms, None, None, sent_us
            )
    window = fields[5] if type(fields[5]) is int and fields[5] >= 0 else None
    # Anything else there is what a later version added: ignored.
    # The metadata is checked by the dispatcher, which can reply why it is bad.
    metadata = fields[6] if len(fields) > 6 else None
    if len(fields) <= 7:
        return RequestHeader(
            PROTOCOL_VERSION, fields[2], route, timeout_ms, window, metadata
        )
    sent_us = fields[7]
    if sent_us is not None and (type(sent_us) is not int or sent_us < 0):
        raise _malformed(fields, "send stamp (integer microseconds, or nil)")
    return RequestHeader(
        PROTOCOL_VERSION, fields[2], route, timeout_ms, window, metadata, sent_us
    )


def _malformed(fields: list[Any], field: str) -> MalformedHeader:
    """The error of a header (its fixed prefix read) whose ``field`` is
    malformed."""
    kind = fields[1]  # of another version, anything: a list cannot be hashed
    what = (
        {KIND_REQUEST: "request", KIND_REPLY: "reply"}.get(kind, "stream message")
        if type(kind) is int
        else "message"
    )
    return MalformedHeader(
        f"{what} header of call {fields[2]} has a malformed {field}",
        fields[1],
        fields[2],
    )


def _trailers(fields: list[Any]) -> dict[str, str | bytes] | None:
    """A reply header's trailers, its fifth field: a map of str keys to str or
    bytes values (nil: none)."""
    value = fields[4]
    if value is None:
        return None
    if type(value) is not dict or not all(
        type(key) is str and type(item) in (str, bytes) for key, item in value.items()
    ):
        raise _malformed(fields, "trailers map (of str to str or bin, or nil)")
    return value


def _stream_header(fields: list[Any]) -> StreamHeader:
    n = fields[3]
    if type(n) is not int or n < 0:
        raise _malformed(fields, "count (a non-negative integer)")
    return StreamHeader(fields[1], fields[2], n)


_FROM_CLIENT = frozenset({KIND_ITEM, KIND_END, KIND_CANCEL, KIND_CREDIT})
_FROM_SERVER = frozenset({KIND_ITEM, KIND_CREDIT})
_STREAM_SIZE = _STREAM.size


def _fixed_stream_header(buf: Buffer, kinds: frozenset[int]) -> StreamHeader | None:
    """A stream header of one of ``kinds`` in the fixed layout
    :func:`encode_stream_header` writes, read without a msgpack decoder (one is
    read per item); ``None`` for anything else, which the general path reads (a
    peer may encode the same header with shorter integers)."""
    prefix, kind, tag64, call_id, tag32, n = _STREAM.unpack_from(buf)
    if (
        prefix == _STREAM_PREFIX
        and tag64 == _UINT64
        and tag32 == _UINT32
        and kind in kinds
    ):
        return StreamHeader(kind, call_id, n)
    return None


def parse_server_header(buf: Buffer) -> RequestHeader | StreamHeader:
    """Decode the header of any message a server receives: a request or a
    message of a stream the client sends (ITEM, END, CANCEL, CREDIT).

    Raises:
        ProtocolError: the frame is not such a header of any version.
    """
    if len(buf) == _STREAM_SIZE:  # type: ignore[arg-type]  # every frame has one
        header = _fixed_stream_header(buf, _FROM_CLIENT)
        if header is not None:
            return header
    fields = _header_fields(buf, KIND_REQUEST, "request", _FROM_CLIENT)
    if fields[1] != KIND_REQUEST and fields[0] == PROTOCOL_VERSION:
        return _stream_header(fields)
    return _request_header(fields)


def parse_client_header(buf: Buffer) -> ReplyHeader | StreamHeader:
    """Decode the header of any message a client receives: a reply, or an ITEM
    or CREDIT of a stream.

    Raises:
        ProtocolError: the frame is not such a header of any version.
    """
    if len(buf) == _STREAM_SIZE:  # type: ignore[arg-type]  # every frame has one
        header = _fixed_stream_header(buf, _FROM_SERVER)
        if header is not None:
            return header
    fields = _header_fields(buf, KIND_REPLY, "reply", _FROM_SERVER)
    if fields[1] != KIND_REPLY and fields[0] == PROTOCOL_VERSION:
        return _stream_header(fields)
    return _reply_header(fields)


def _reply_header(fields: list[Any]) -> ReplyHeader:
    if type(fields[3]) is not int:
        raise _malformed(fields, "status (an integer)")
    if len(fields) > 4 and fields[0] == PROTOCOL_VERSION:
        return ReplyHeader(fields[0], fields[2], fields[3], _trailers(fields))
    return ReplyHeader(fields[0], fields[2], fields[3])


def parse_reply_header(buf: Buffer) -> ReplyHeader:
    """Decode a reply header.

    Raises:
        ProtocolError: the frame is not a reply header of any version.
    """
    return _reply_header(_header_fields(buf, KIND_REPLY, "reply"))


def split_envelope(frames: Sequence[Any]) -> int:
    """Return the index of the delimiter that ends the routing envelope.

    Raises:
        ProtocolError: there is no delimiter, or nothing follows it.
    """
    if len(frames) > 3 and len(frames[1]) == 0:
        return 1  # the usual case: one routing frame, from a DEALER peer
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
