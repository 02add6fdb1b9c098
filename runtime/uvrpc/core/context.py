"""What a call carries besides its arguments: its deadline and its metadata.

On the server, the dispatcher gives each handler a :class:`ServerCall` that
:func:`current_call` returns: the call's route, deadline, request metadata, whether
it was cancelled, and the trailers the handler sets for the reply.

On the client, :func:`metadata` attaches request metadata to the calls made inside
its block and collects the trailers of their replies. A call made inside a handler
inherits the deadline of the call that handler serves (as gRPC's context does): its
timeout is the smaller of its own and the time the served call has left.

Metadata keys are lowercase ASCII (letters, digits, ``-``, ``_`` and ``.``);
values are ``str`` or ``bytes``. The keys and values of one call's metadata add up
to at most :data:`MAX_METADATA` bytes (UTF-8 for ``str``), each way.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from ..wire.codec import new_packer
from ..wire.errors import (
    DeadlineExceeded,
    InternalError,
    InvalidArgument,
    ResourceExhausted,
)
from ..wire.limits import echo

__all__ = [
    "CURRENT_CALL",
    "MAX_METADATA",
    "OUTGOING",
    "CallMetadata",
    "Metadata",
    "ServerCall",
    "current_call",
    "inherited_timeout",
    "metadata",
    "metadata_size",
    "validate_metadata",
]

Metadata = Mapping[str, str | bytes]
"""Metadata of a call: lowercase ASCII keys, ``str`` or ``bytes`` values."""

MAX_METADATA = 8192
"""The most bytes a call's metadata, or its reply's trailers, may add up to."""

_KEY = re.compile(r"[a-z0-9_.\-]+\Z")


def metadata_size(items: Metadata) -> int:
    """The bytes that count against :data:`MAX_METADATA`: keys and values."""
    size = 0
    for key, value in items.items():
        size += len(key) + (len(value.encode()) if type(value) is str else len(value))
    return size


def validate_metadata(
    items: Mapping[Any, Any], what: str, limit: int = MAX_METADATA
) -> dict[str, str | bytes]:
    """Check metadata and return it as a dict (``bytes``-like values as bytes).

    Raises:
        InvalidArgument: a key is not lowercase ASCII, or a value is neither
            ``str`` nor ``bytes``, or a ``str`` that UTF-8 cannot encode (one
            holding a lone surrogate, ``"\\udcff"``).
        ResourceExhausted: the keys and values add up to more than ``limit`` bytes.
    """
    checked: dict[str, str | bytes] = {}
    size = 0
    for key, value in items.items():
        if type(key) is not str or not _KEY.match(key):
            raise InvalidArgument(
                f"{what} key '{echo(key)}' is not lowercase ASCII "
                "(letters, digits, '-', '_', '.')"
            )
        if isinstance(value, str):
            try:
                size += len(key) + len(value.encode())
            except UnicodeEncodeError as exc:
                raise InvalidArgument(
                    f"{what} value of '{echo(key)}' is not UTF-8 text: {exc}"
                ) from None
            checked[key] = value
        elif isinstance(value, bytes | bytearray | memoryview):
            checked[key] = data = bytes(value)
            size += len(key) + len(data)
        else:
            raise InvalidArgument(
                f"{what} value of '{echo(key)}' is a {type(value).__name__}, "
                "not str or bytes"
            )
    if size > limit:
        raise ResourceExhausted(f"{what} has {size} bytes; at most {limit} are allowed")
    return checked


def encode_metadata(items: Metadata) -> bytes:
    """Encode checked metadata as the msgpack map a header carries."""
    return new_packer().pack(dict(items))


class ServerCall:
    """The call a handler serves (:func:`current_call`).

    Attributes:
        route: the method's route, as the IDL spells it
            (``calculator.Calculator.add``).
        deadline: when the call's time is up, in :func:`time.monotonic` seconds,
            or ``None`` if the caller set no timeout. The server computes it from
            the time it read the request and the request's relative timeout, less
            the time the request waited in queues on its way, measured against the
            other requests of its connection (:mod:`uvrpc.core.clocks`), so the
            two hosts' clocks need not agree.
        metadata: the request's metadata (empty if none was sent).
        peer_key: the CURVE public key (40 characters of Z85 text, as
            :class:`~uvrpc.security.Keypair` holds keys) the caller's connection
            authenticated with, on a server given ``security=``; ``None`` on a
            server without CURVE, and for calls that come through a broker: the
            broker authenticated the client, and the server's own connection to
            the broker names no client (``docs/security.md``).
    """

    __slots__ = (
        "_cancelled",
        "_expired",
        "_trailers",
        "deadline",
        "metadata",
        "peer_key",
        "route",
    )

    def __init__(
        self, route: str, deadline: float | None, metadata: Metadata | None
    ) -> None:
        self.route = route
        self.deadline = deadline
        self.metadata: Metadata = metadata if metadata is not None else _EMPTY
        self.peer_key: str | None = None
        self._trailers: dict[str, str | bytes] | None = None
        self._cancelled = False
        self._expired = False

    def remaining(self) -> float | None:
        """Seconds left until the deadline (0 once it passed); ``None`` without one.

        Pass it on as a downstream call's ``timeout`` (calls made inside a handler
        inherit it anyway, see :func:`metadata`).
        """
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def mark_cancelled(self) -> None:
        """Record that the call was cancelled (by its client, or the server closing)."""
        self._cancelled = True

    def mark_expired(self) -> None:
        """Record that the call's deadline passed: it is cancelled as expired."""
        self._expired = self._cancelled = True

    def cancelled(self) -> bool:
        """Whether the call was cancelled: by its client, by its deadline, or
        by its server closing."""
        return self._cancelled

    def expired(self) -> bool:
        """Whether the deadline passed while the handler ran: the server's, or
        its client's, whose CANCEL said so. The server cancels the handler and
        replies DEADLINE_EXCEEDED (a unary call's; a stream ends without a
        reply)."""
        return self._expired

    def set_trailer(self, key: str, value: str | bytes) -> None:
        """Send ``key: value`` in the reply's trailers, on success and on error.

        Raises:
            InternalError: the key is not lowercase ASCII, or the value is
                neither ``str`` nor ``bytes``: the handler's own mistake, so a
                handler that lets it propagate fails its call ``INTERNAL``, not
                ``INVALID_ARGUMENT``, which would blame its caller's request.
            ResourceExhausted: the trailers would exceed :data:`MAX_METADATA`.
        """
        trailers = dict(self._trailers or ())
        trailers[key] = value
        try:
            self._trailers = validate_metadata(trailers, "trailer")
        except InvalidArgument as exc:
            raise InternalError(exc.message, exc.details) from None

    @property
    def trailers(self) -> Metadata:
        """The trailers set so far."""
        return self._trailers if self._trailers is not None else _EMPTY

    def __repr__(self) -> str:
        return f"<ServerCall {self.route} remaining={self.remaining()}>"


_EMPTY: Metadata = {}

CURRENT_CALL: ContextVar[ServerCall | None] = ContextVar("uvrpc_call", default=None)
"""The call the running handler serves; set by the server in the handler's context."""


def current_call() -> ServerCall:
    """The call the running handler serves.

    Raises:
        RuntimeError: not called from a handler (or from a task it started, which
            copies its context).
    """
    call = CURRENT_CALL.get()
    if call is None:
        raise RuntimeError("uvrpc.current_call() is only available inside a handler")
    return call


class CallMetadata:
    """The metadata of the calls made inside a :func:`metadata` block.

    Attributes:
        headers: the request metadata sent with each call (this block's merged
            over the enclosing blocks').
        trailers: the trailers of the reply to the call awaited last in the
            block (empty until one ended, if it sent none, or if it ended
            without a reply: cancelled, or failed at its client); on error they are
            also on the raised :class:`~uvrpc.RpcError`'s ``trailers``. A call
            started with ``start_<method>`` has its own, on its
            :attr:`~uvrpc.Call.trailers`.
    """

    __slots__ = ("encoded", "headers", "trailers")

    def __init__(self, headers: dict[str, str | bytes]) -> None:
        self.headers: Metadata = headers
        self.encoded = encode_metadata(headers) if headers else None
        """The headers as a header carries them; ``None`` when there are none."""
        self.trailers: Metadata = _EMPTY


OUTGOING: ContextVar[CallMetadata | None] = ContextVar("uvrpc_metadata", default=None)
"""The :func:`metadata` scope the calls made now are in, if any."""


@contextmanager
def metadata(
    headers: Mapping[str, str | bytes] | None = None,
) -> Iterator[CallMetadata]:
    """Send ``headers`` with every call made inside the block; read trailers.

    Usage::

        with uvrpc.metadata({"x-request-id": "42"}) as md:
            total = await calc.add(a=1, b=2)
        print(md.trailers)

    Blocks nest: an inner block's headers are merged over the outer one's. The
    headers are checked on entry.

    Raises:
        InvalidArgument: a key is not lowercase ASCII, or a value is neither
            ``str`` nor ``bytes``.
        ResourceExhausted: the headers add up to more than :data:`MAX_METADATA`.
    """
    outer = OUTGOING.get()
    merged = dict(outer.headers) if outer is not None else {}
    merged.update(validate_metadata(headers or {}, "metadata"))
    validate_metadata(merged, "metadata")
    scope = CallMetadata(merged)
    token = OUTGOING.set(scope)
    try:
        yield scope
    finally:
        OUTGOING.reset(token)


def outgoing() -> CallMetadata | None:
    """The metadata scope of a call about to be made, if any."""
    return OUTGOING.get()


def inherited_timeout(timeout: float | None, route: str = "") -> float | None:
    """A call's timeout, shortened to what the served call has left when it is
    made inside a handler whose call has a deadline.

    Raises:
        DeadlineExceeded: the served call's deadline has passed already. As in
            gRPC, a call made then fails at once and is never sent: sent with
            the least timeout a header carries (1 ms), it could still run on its
            server after the served call's caller saw its deadline pass.
    """
    served = CURRENT_CALL.get()
    if served is None or served.deadline is None:
        return timeout
    left = served.deadline - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded(
            f"not sending {route or 'a call'}: the deadline of "
            f"{served.route}, the call this handler serves, passed "
            f"{-left:.3g} s ago"
        )
    return left if timeout is None or left < timeout else timeout
