"""A stream call on the server, as the protocol sees it: which calls may open, what
each message of the client's means, and the frames the server sends for it.

Flow control is by credit, in items, both ways (``docs/protocol.md``, "Streams"):

* the client's request grants the server a window of items; the server sends an
  item only while it holds credit (:class:`~uvrpc.core.credit.SendCredit`);
* for a client's stream, the server grants its own window in a CREDIT as the call
  starts, and grants the items the handler took once a quarter of the window was
  taken
  (:class:`~uvrpc.core.credit.ReceiveWindow`). It holds the client to what it
  granted: an item beyond it ends the call with RESOURCE_EXHAUSTED, so the items
  queued for a handler never exceed the window.

:class:`ServerStream` decides and encodes; the shell (:mod:`uvrpc.server.sessions`)
queues items, wakes the handler and sends.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence
from typing import Any

from ..wire.errors import InternalError, InvalidArgument, ResourceExhausted, RpcError
from ..wire.protocol import (
    KIND_CANCEL,
    KIND_CREDIT,
    KIND_END,
    KIND_ITEM,
    NIL_BODY,
    encode_stream_header,
)
from ..wire.validation import first_problem
from .credit import ReceiveWindow, SendCredit, check_window
from .server import (
    Request,
    StreamMessage,
    duplicate_error,
    encode_as_checked,
    error_reply,
    refusal,
)

__all__ = [
    "MAX_STREAMS",
    "MAX_STREAMS_PER_CALLER",
    "Arrival",
    "ServerStream",
    "StreamLimits",
]

_log = logging.getLogger("uvrpc.server")

MAX_STREAMS = 1024
"""Stream calls one server runs at once, by default; more are refused."""

MAX_STREAMS_PER_CALLER = 256
"""Stream calls one caller runs on a server at once, by default: a quarter of
:data:`MAX_STREAMS`, so that no one caller can hold every slot."""


class StreamLimits:
    """Which stream calls a server opens, and the window it grants each.

    Args:
        window: items a client may send ahead of its handler (at least one);
            ``None`` for the default window, grown for small items
            (:class:`~uvrpc.core.credit.ReceiveWindow`).
        max_streams: stream calls running at once.
        max_streams_per_caller: stream calls one caller runs at once.

    Raises:
        ValueError: the window is smaller than one item.
    """

    __slots__ = ("max_streams", "max_streams_per_caller", "window")

    def __init__(
        self,
        window: int | None = None,
        max_streams: int = MAX_STREAMS,
        max_streams_per_caller: int = MAX_STREAMS_PER_CALLER,
    ) -> None:
        self.window = check_window(window)
        self.max_streams = max_streams
        self.max_streams_per_caller = max_streams_per_caller

    def admit(
        self, request: Request, *, running: bool, active: int, of_caller: int
    ) -> None:
        """Check that stream call ``request`` may open, given whether a call of
        the same caller and id is ``running``, the stream calls ``active`` and
        those of its caller (``of_caller``).

        Raises:
            Rejected: it may not, with the error reply to send.
        """
        stream = request.route.stream
        assert stream is not None, "admit() takes streaming calls"
        call_id = request.call_id
        if running:
            raise refusal(call_id, duplicate_error(call_id))
        if active >= self.max_streams:
            raise refusal(
                call_id,
                # Named as every other limit's refusal is, so that the caller
                # knows which option to raise.
                ResourceExhausted(
                    f"this server runs {self.max_streams} streams at once "
                    "(max_streams); try later"
                ),
            )
        if of_caller >= self.max_streams_per_caller:
            raise refusal(
                call_id,
                ResourceExhausted(
                    f"this server runs {self.max_streams_per_caller} streams of one "
                    "caller at once (max_streams_per_caller); try later"
                ),
            )
        if stream.server_sends and not request.window:
            raise refusal(
                call_id,
                InvalidArgument(
                    f"a call of {stream.route} must grant a window of at least one item"
                ),
            )


class Arrival(enum.Enum):
    """What a message of the client's stream means for its call."""

    ITEM = "item"
    """An item to queue for the handler (the value that comes with it)."""
    FAILED = "failed"
    """The call ends with the error that comes with it: cancel the handler."""
    CREDITED = "credited"
    """The client granted the server more items: wake a sender waiting for them."""
    ENDED = "ended"
    """The client's stream is over: wake a reader waiting for an item."""
    CANCELLED = "cancelled"
    """The client gives up the call: cancel the handler, reply nothing."""
    IGNORED = "ignored"
    """Nothing to do: an item after the call failed already."""


_CREDITED = (Arrival.CREDITED, None)
_ENDED = (Arrival.ENDED, None)
_CANCELLED = (Arrival.CANCELLED, None)
_IGNORED = (Arrival.IGNORED, None)

Encode = Callable[[Any, bool], tuple[Any, Sequence[Any]]]
"""Encodes a body: ``(body, attachments)`` of a value (see
:meth:`~uvrpc.wire.buffers.BodyEncoder.encode`)."""


class ServerStream:
    """The protocol state of one stream call on the server.

    Args:
        request: the call's request.
        window: the items the server lets the client send ahead (client streams);
            ``None`` for the default window, grown for small items.
        encode: encodes the bodies of the server's items.

    Attributes:
        credit: the items the server may still send (the client granted them).
        received: the items of the client's stream received so far.
        ended: the client's stream is over (END received).
        error: why the call ends with an error of its own rather than the
            handler's (a bad item, too many items); ``None`` while it has none.
    """

    __slots__ = (
        "_encode",
        "_receiving",
        "call_id",
        "credit",
        "ended",
        "error",
        "method",
        "received",
    )

    def __init__(self, request: Request, window: int | None, encode: Encode) -> None:
        stream = request.route.stream
        assert stream is not None, "a stream call's request"
        self.method = stream
        self.call_id = request.call_id
        self.credit = SendCredit(request.window or 0)
        self.received = 0
        self.ended = False
        self.error: RpcError | None = None
        self._encode = encode
        # The window counts from the request: items sent before the handler's
        # session sends the CREDIT that grants it (a client that did not wait for
        # it) are queued within it, and refused past it, as any others.
        self._receiving = ReceiveWindow(window) if stream.client_sends else None

    def open(self) -> list[bytes] | None:
        """The message the call starts with, if any: for a client's stream, the
        CREDIT that grants the client the window (items that arrived before it
        count against that window already)."""
        if not self.method.client_sends:
            return None
        assert self._receiving is not None
        return self._credit(self._receiving.window)

    # --- the client's messages ----------------------------------------------

    def receive(self, message: StreamMessage) -> tuple[Arrival, Any]:
        """What a message of the client's means: an :class:`Arrival` and its value
        (the item, or the error the call fails with)."""
        header = message.header
        kind = header.kind
        if kind == KIND_ITEM:
            return self._item(message.body, message.attachments)
        if kind == KIND_CREDIT:
            self.credit.grant(header.n)
            return _CREDITED
        if kind == KIND_END:
            self.ended = True
            return _ENDED
        if kind == KIND_CANCEL:
            return _CANCELLED
        return _IGNORED

    def _item(self, body: Any, attachments: Sequence[Any]) -> tuple[Arrival, Any]:
        method = self.method
        index = self.received
        self.received += 1
        if self.error is not None:
            return _IGNORED
        if not method.client_sends or self.ended:
            return self._failed(
                InvalidArgument(f"{method.route} takes no more items from the client")
            )
        receiving = self._receiving
        assert receiving is not None, "a client's stream has a window"
        size = len(body)
        for attachment in attachments:
            size += len(attachment)
        if not receiving.arrived(size):
            return self._failed(
                ResourceExhausted(
                    f"the client sent item {index} of {method.route} beyond the "
                    f"{receiving.window} items it was granted"
                )
            )
        try:
            # The method's own reading, which a checking channel runs too.
            item = method.read_request_item(body, attachments, index)
        except InvalidArgument as exc:
            return self._failed(exc)
        return Arrival.ITEM, item

    def _failed(self, error: RpcError) -> tuple[Arrival, Any]:
        return (Arrival.FAILED, error) if self.fail(error) else _IGNORED

    def took(self) -> list[bytes] | None:
        """The handler took an item of the client's stream: the CREDIT to send
        now, if the items taken add up to a quarter of the window (and the stream
        goes on)."""
        receiving = self._receiving
        assert receiving is not None, "items are taken once the stream opened"
        granted = receiving.took()
        if granted and not self.ended:
            return self._credit(granted)
        return None

    # --- how the call ends --------------------------------------------------

    def fail(self, error: RpcError) -> bool:
        """End the call with ``error``; False if it has an error already (the
        first one is replied)."""
        if self.error is not None:
            return False
        self.error = error
        return True

    def abandon(self) -> None:
        """The caller is gone: no error is owed to anyone."""
        self.error = None

    def failure_reply(self) -> list[bytes] | None:
        """The error reply of a call that failed on its own (:attr:`error`)."""
        if self.error is None:
            return None
        return error_reply(self.call_id, self.error)

    # --- the server's messages ----------------------------------------------

    def check_item(self, item: Any, index: int) -> None:
        """Check item ``index`` the handler emits against the declared type.

        Raises:
            InternalError: it is not of that type (the handler's fault).
        """
        method = self.method
        try:
            method.check_reply_item(item)
        except ValueError as exc:
            problem = first_problem(exc)
            _log.error(
                "handler of %s yielded item %d of type %s that does not match the "
                "declared item type; its caller gets INTERNAL: %s",
                method.route,
                index,
                type(item).__name__,
                problem,
            )
            raise InternalError(
                f"item {index} of the stream of {method.route} does not match its "
                f"declared type: {problem}"
            ) from None

    def encode_item(self, item: Any, index: int) -> list[Any]:
        """The frames ``[attachment..., header, body]`` of item ``index``; the
        body, the last frame, must be settled with the encoder once sent.

        Raises:
            InternalError: the item cannot be encoded.
        """
        method = self.method
        try:
            body, attachments = self._encode(item, method.reply_item_carries_bytes)
        except Exception as exc:  # anything, as in ServerProtocol.reply
            # check_item passed it: the encoder's words are the news, unless it
            # goes as its validation makes it.
            encoded = encode_as_checked(
                self._encode,
                method.check_reply_item,
                method.reply_item_carries_bytes,
                item,
                exc,
            )
            if not isinstance(encoded, str):
                body, attachments = encoded
                return [
                    *attachments,
                    encode_stream_header(KIND_ITEM, self.call_id),
                    body,
                ]
            problem = encoded
            _log.error(
                "handler of %s yielded item %d of type %s that cannot be sent; "
                "its caller gets INTERNAL: %s",
                method.route,
                index,
                type(item).__name__,
                problem,
            )
            raise InternalError(
                f"item {index} of the stream of {method.route} failed: {problem}"
            ) from None
        return [*attachments, encode_stream_header(KIND_ITEM, self.call_id), body]

    def probe(self) -> list[bytes]:
        """An empty CREDIT: sent to an idle stream's caller, it fails if the caller
        is gone, and grants nothing."""
        return self._credit(0)

    def _credit(self, n: int) -> list[bytes]:
        return [encode_stream_header(KIND_CREDIT, self.call_id, n), NIL_BODY]
