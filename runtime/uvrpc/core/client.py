"""The client's protocol core: its table of calls and what it makes of each message.

One :class:`ClientCore` per channel, shared by the asyncio and the blocking client,
which own the socket and the waiting and call in here for everything else: a call
starts (:meth:`ClientCore.start_call`, :meth:`ClientCore.open_stream`) and gets a
:class:`CallState` and the frames to send; each message received goes to
:meth:`ClientCore.receive`, which updates the state of its call and returns that call
for the shell to wake; the caller takes what arrived (:meth:`ClientCore.take` for
stream items, :func:`finish` for the last reply). Control messages the protocol
owes the server (a CANCEL after a bad item, a CREDIT once a quarter of the window
was taken) collect in :attr:`ClientCore.outbox`, which the shell sends.

A call stays in the table until it is over (its reply came, or it failed); an ended
stream call's id is remembered a while, so its late messages count as stale rather
than as stray.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

from ..wire.batch import is_batch_header, split_batch
from ..wire.buffers import BodyEncoder
from ..wire.errors import (
    Cancelled,
    DeadlineExceeded,
    InternalError,
    ProtocolError,
    ResourceExhausted,
    RpcError,
)
from ..wire.limits import MAX_IN_FLIGHT, MAX_MESSAGE_SIZE
from ..wire.methods import StreamingMethod, Unary
from ..wire.protocol import (
    CANCEL_EXPIRED,
    KIND_CANCEL,
    KIND_CREDIT,
    KIND_END,
    KIND_REPLY,
    ONEWAY_CALL_ID,
    MalformedHeader,
    ReplyHeader,
    StreamHeader,
    parse_client_header,
)
from .calls import (
    control_frames,
    decode_item,
    decode_reply,
    encode_item,
    encode_request,
    encode_stream_request,
)
from .context import CallMetadata
from .credit import ReceiveWindow, SendCredit, check_window
from .frames import measure, oversized
from .lograte import RateLimitedWarning

__all__ = [
    "END",
    "ENDED_KEPT",
    "WAIT",
    "CallState",
    "ClientCore",
    "finish",
    "trailers_of",
]

_log = logging.getLogger("uvrpc.channel")

ENDED_KEPT = 1024
"""How many ended stream calls a client remembers, to count their late messages."""

END: Final = object()
"""What :meth:`ClientCore.take` returns once a stream ended well."""
WAIT: Final = object()
"""What :meth:`ClientCore.take` returns when nothing arrived yet: wait for a wake."""

_NO_TRAILERS: Mapping[str, str | bytes] = MappingProxyType({})


class CallState:
    """One call of a client, unary or stream: what it is, and what arrived.

    Attributes:
        call_id: the call's request id.
        method: the method descriptor the call was made with.
        timeout: its timeout in seconds, if any.
        scope: the metadata block it was made in, which gets its trailers.
        header, body, attachments: the last reply, once it arrived (body and
            attachments are set with the header, and only then).
        error: why the call failed without a reply (or on an item).
        over: no more messages of the call will be taken: it replied or failed.
        items: a stream's received items, raw (``None`` for a unary call).
        window: what the client granted the server (``None``: it sends no stream).
        credit: what the server granted the client (``None``: it sends no stream).
        buffered_max: the most items queued at once, at most the window.
        waker: the shell's: what it wakes when the call's state changes.
        timer: the shell's: the handle of the call's deadline.

    ``window``, ``credit`` and ``buffered_max`` are a stream's (a unary call has
    none: read them only where ``items`` is not ``None``), and ``waker`` and
    ``timer`` are set by the shell as it starts the call: fewer stores on every
    call's path.
    """

    __slots__ = (
        "attachments",
        "body",
        "buffered_max",
        "call_id",
        "credit",
        "error",
        "header",
        "items",
        "method",
        "over",
        "scope",
        "timeout",
        "timer",
        "waker",
        "window",
    )

    # Declared here, not in __init__: an annotated attribute there costs a step
    # of every call even without a value.
    call_id: int
    method: Unary[Any, Any] | StreamingMethod
    timeout: float | None
    scope: CallMetadata | None
    header: ReplyHeader | None
    body: Any
    attachments: Any
    error: BaseException | None
    over: bool
    items: deque[tuple[Any, Any]] | None
    window: ReceiveWindow | None
    credit: SendCredit | None
    buffered_max: int
    waker: Any
    timer: Any

    def __init__(
        self,
        call_id: int,
        method: Unary[Any, Any] | StreamingMethod,
        timeout: float | None,
        scope: CallMetadata | None,
    ) -> None:
        self.call_id = call_id
        self.method = method
        self.timeout = timeout
        self.scope = scope
        self.header = None
        self.error = None
        self.over = False
        self.items = None

    def __repr__(self) -> str:
        state = "over" if self.over else "open"
        return f"<CallState {self.method.route} #{self.call_id} {state}>"


def trailers_of(state: CallState | None) -> Mapping[str, str | bytes]:
    """The trailers of a call's last reply; empty if it had none, or none came
    (``None``: a call never sent)."""
    header = None if state is None else state.header
    if header is None or not header.trailers:
        return _NO_TRAILERS
    return header.trailers


def finish(state: CallState, views: list[memoryview] | None = None) -> Any:
    """The result of a call that is over, or its error; the call's metadata
    block gets the reply's trailers (none if no reply came).

    ``views`` collects the views of attachment frames in the result.

    Raises:
        RpcError: the reply's error (with its ``.trailers``), or why the call
            failed without one.
        Exception: what the caller's iterable of items raised, with its
            traceback.
    """
    header = state.header
    scope = state.scope
    if header is None:
        if scope is not None:
            scope.trailers = {}
        error = state.error
        assert error is not None, "finish() before the call was over"
        if isinstance(error, RpcError):
            raise error.with_traceback(None)  # where the runtime made it: noise
        # The caller's own code raised it (the iterable of items it streams):
        # its traceback is what says where, so it is kept.
        raise error
    if scope is not None:
        scope.trailers = header.trailers or {}
    method: Any = state.method  # a stream's last reply is its ``final`` method's
    if state.items is not None:
        method = method.final
    return decode_reply(method, header, state.body, state.attachments, views)


class ClientCore:
    """The calls of one client, and the protocol's rules about them.

    Args:
        encoder: encodes request bodies into pooled buffers.
        stream_window: the items a server may send ahead, per stream call;
            ``None`` for the default window, grown for small items
            (:class:`~uvrpc.core.credit.ReceiveWindow`).
        max_message_size: the largest message sent or taken, in bytes.
        max_in_flight: calls in the table at once, at most.
        no_reply: how a deadline message says no reply came ("got no reply").
        check_requests: read back each request and client-stream item once
            encoded, as the server will (:meth:`~uvrpc.wire.methods.Unary.read_params`,
            :meth:`~uvrpc.wire.methods.StreamingMethod.read_request_item`), and
            refuse one the server would refuse with the server's own
            :class:`~uvrpc.InvalidArgument`, before it is registered or sent.

    Attributes:
        calls: the calls in progress, by id.
        outbox: control messages to send, in order (the shell empties it).
        dropped_replies: messages of no call, or malformed, dropped.
        stale_messages: messages of stream calls that had ended, ignored.
    """

    def __init__(
        self,
        encoder: BodyEncoder,
        *,
        stream_window: int | None = None,
        max_message_size: int = MAX_MESSAGE_SIZE,
        max_in_flight: int = MAX_IN_FLIGHT,
        no_reply: str = "got no reply",
        check_requests: bool = False,
    ) -> None:
        check_window(stream_window)
        self.encoder = encoder
        self.check_requests = check_requests
        """Whether requests and items are checked as the server will, before
        they are sent."""
        self.stream_window = stream_window
        self.max_message_size = max_message_size
        self.max_in_flight = max_in_flight
        self.no_reply = no_reply
        self.calls: dict[int, CallState] = {}
        self.streams = 0
        """How many of the calls are stream calls."""
        self.outbox: list[list[Any]] = []
        self.woken: list[CallState] = []
        """The calls whose state the messages of a batch changed, in order
        (:meth:`receive` returns ``None`` for a batch): the shell wakes them and
        empties the list."""
        self.dropped_replies = 0
        self.stale_messages = 0
        self._ids = itertools.count(1)
        self._ended: deque[int] = deque(maxlen=ENDED_KEPT)
        self._ended_ids: set[int] = set()
        self._dropped_reply = RateLimitedWarning(_log, "dropped a malformed reply")
        self._dropped_batch = RateLimitedWarning(_log, "dropped a malformed batch")

    # --- calls starting ----------------------------------------------------

    def start_call(
        self,
        method: Unary[Any, Any],
        args: dict[str, Any],
        timeout: float | None,
        scope: CallMetadata | None,
        started: bool = False,
    ) -> tuple[CallState, list[Any]]:
        """Register a unary call; its state and request frames (the body goes
        back to ``encoder.settle`` once sent).

        The request carries the metadata of ``scope``, which gets the reply's
        trailers unless the call is ``started`` (its handle has them).

        Raises:
            ResourceExhausted: ``max_in_flight`` calls are in progress.
            InvalidArgument: an argument cannot be encoded (or, with
                ``check_requests``, the server would refuse it).
        """
        if len(self.calls) >= self.max_in_flight:
            raise self._too_many(method.route)
        call_id = next(self._ids)
        frames = encode_request(
            self.encoder,
            call_id,
            method,
            args,
            timeout,
            None if scope is None else scope.encoded,
            max_size=self.max_message_size,
        )
        if self.check_requests:
            self._check(frames, method.read_params)
        state = CallState(call_id, method, timeout, None if started else scope)
        self.calls[call_id] = state
        return state, frames

    def oneway_request(
        self,
        method: Unary[Any, Any],
        args: dict[str, Any],
        timeout: float | None,
        scope: CallMetadata | None,
    ) -> list[Any]:
        """The frames of a oneway request: call id 0, nothing registered.

        Raises:
            InvalidArgument: an argument cannot be encoded (or, with
                ``check_requests``, the server would refuse it).
        """
        frames = encode_request(
            self.encoder,
            ONEWAY_CALL_ID,
            method,
            args,
            timeout,
            None if scope is None else scope.encoded,
            max_size=self.max_message_size,
        )
        if self.check_requests:
            self._check(frames, method.read_params)
        return frames

    def open_stream(
        self,
        method: StreamingMethod,
        args: dict[str, Any],
        timeout: float | None,
        scope: CallMetadata | None,
    ) -> tuple[CallState, list[Any]]:
        """Register a stream call; its state and request frames, which grant the
        server the window if it streams.

        Raises:
            ResourceExhausted: ``max_in_flight`` calls are in progress.
            InvalidArgument: an argument cannot be encoded (or, with
                ``check_requests``, the server would refuse it).
        """
        if len(self.calls) >= self.max_in_flight:
            raise self._too_many(method.route)
        call_id = next(self._ids)
        window = None
        if method.server_sends:
            window = ReceiveWindow(self.stream_window)
        frames = encode_stream_request(
            self.encoder,
            call_id,
            method,
            args,
            timeout,
            None if window is None else window.window,
            None if scope is None else scope.encoded,
            max_size=self.max_message_size,
        )
        if self.check_requests:
            self._check(frames, method.read_params)
        state = CallState(call_id, method, timeout, scope)
        state.items = deque()
        state.buffered_max = 0
        state.window = window
        state.credit = SendCredit() if method.client_sends else None
        self.calls[call_id] = state
        self.streams += 1
        return state, frames

    def _check(
        self, frames: list[Any], read: Callable[..., object], *args: Any
    ) -> None:
        """Read encoded ``frames`` (``[delimiter, attachment..., header, body]``)
        as the server will, with ``read`` (``*args`` after the body and the
        attachments); if the server would refuse them, the body goes back to the
        encoder unsent and the server's error is raised here.

        The encoded message is read rather than the caller's values because it
        is what the server gets: a message dumped by field id, a set as a list,
        an enum member as its integer.
        """
        try:
            read(frames[-1], frames[1:-2], *args)
        except BaseException:
            self.encoder.settle(frames[-1], False)
            raise

    def _too_many(self, route: str) -> ResourceExhausted:
        return ResourceExhausted(
            f"{route} not sent: this channel has {self.max_in_flight:,} calls "
            "pending (max_in_flight)"
        )

    # --- the caller's stream -----------------------------------------------

    def can_send(self, state: CallState) -> bool:
        """Whether the caller may send an item of ``state`` now (it holds credit)."""
        credit = state.credit
        return not state.over and credit is not None and credit.available > 0

    def item_frames(self, state: CallState, item: Any, index: int) -> list[Any]:
        """Spend a credit on item ``index`` of the caller's stream: its frames.

        Raises:
            InvalidArgument: the item cannot be encoded (or, with
                ``check_requests``, the server would refuse it).
            ResourceExhausted: it is larger than ``max_message_size``.
            RuntimeError: the caller holds no credit (see :meth:`can_send`).
        """
        method = state.method
        assert isinstance(method, StreamingMethod)
        credit = state.credit
        if credit is None or not credit.spend():
            raise RuntimeError(f"no credit to send an item of {method.route}")
        frames = encode_item(
            self.encoder, state.call_id, method, item, index, self.max_message_size
        )
        if self.check_requests:
            self._check(frames, method.read_request_item, index)
        return frames

    def end_frames(self, state: CallState) -> list[Any] | None:
        """The END of the caller's stream; ``None`` if the call is over."""
        return None if state.over else control_frames(KIND_END, state.call_id)

    # --- what arrives --------------------------------------------------------

    def receive(self, frames: list[Any]) -> CallState | None:
        """Take one message: the call to wake, its state updated (a reply, an
        item queued, credit, or a failure), or ``None`` if no call takes it.

        A message larger than ``max_message_size`` fails its call with
        :class:`~uvrpc.ResourceExhausted` without being decoded. A batch of
        messages is taken message by message: it returns ``None``, and the calls
        to wake are in :attr:`woken`.
        """
        limit = self.max_message_size
        try:
            if len(frames) == 3 and len(frames[0]) == 0:
                size = len(frames[1]) + len(frames[2])  # the usual case
                attachments: Sequence[Any] = ()  # not a slice: no list to make
                if size > limit:
                    measure(frames, limit, routed=False)
            else:
                size = measure(frames, limit, routed=False)[1]
                attachments = frames[1:-2]
            header = parse_client_header(frames[-2])
        except ProtocolError as exc:
            if len(frames) == 3 and is_batch_header(frames[-2]):
                self._receive_batch(frames)
                return None
            if type(exc) is MalformedHeader:
                malformed = self.calls.get(exc.call_id)
                if malformed is not None:
                    return self._malformed(malformed, exc)
            self.dropped_replies += 1
            self._dropped_reply(exc)
            return None
        state = self.calls.get(header.call_id)
        if state is None:
            if type(header) is not StreamHeader or header.kind != KIND_CREDIT:
                self._late(header.call_id)  # credit probes come after ends
            return None
        if size > limit:
            return self._oversized(state, header, size)
        if type(header) is ReplyHeader:
            state.header = header
            state.body = frames[-1]
            state.attachments = attachments
            state.over = True
            del self.calls[header.call_id]
            if state.items is not None:
                self._ended_stream(header.call_id)
            return state
        assert type(header) is StreamHeader
        items = state.items
        if items is None:  # a unary call: no stream message is its
            if header.kind != KIND_CREDIT:
                self.stale_messages += 1
            return None
        if header.kind == KIND_CREDIT:
            credit = state.credit
            if credit is None or not header.n:
                return None  # a probe, or credit for a call that sends nothing
            credit.grant(header.n)
            return state
        window = state.window
        if window is None:
            self.stale_messages += 1  # an item of a call whose server sends none
            return None
        if not window.arrived(size):
            self.fail(
                state,
                InternalError(
                    f"the server sent more items of {state.method.route} than the "
                    f"{window.window} it was granted"
                ),
                cancel=True,
            )
            return state
        items.append((frames[-1], attachments))
        if len(items) > state.buffered_max:
            state.buffered_max = len(items)
        return state

    def _receive_batch(self, frames: list[Any]) -> None:
        """Take each message of a batch (``docs/protocol.md``, "Batches"); the
        calls to wake collect in :attr:`woken`. A malformed batch is dropped
        whole, and counted as one dropped reply."""
        try:
            messages = split_batch(frames[1], frames[2])
        except ProtocolError as exc:
            self.dropped_replies += 1
            self._dropped_batch(exc)
            return
        woken = self.woken
        woken.clear()  # a shell that wakes no one (the blocking one) leaves it
        delimiter = frames[0]
        last = None
        for header, body in messages:
            state = self.receive([delimiter, header, body])
            # A batch is mostly the items of one stream in a row: its call is
            # woken once for them, not once per item.
            if state is not None and state is not last:
                woken.append(state)
                last = state

    def _oversized(
        self, state: CallState, header: ReplyHeader | StreamHeader, size: int
    ) -> CallState:
        route = state.method.route
        what = (
            f"the reply of {route}" if state.items is None else f"a message of {route}"
        )
        error = oversized(what, size, self.max_message_size, "this channel")
        # The server goes on after an item, not after its reply.
        self.fail(state, error, cancel=type(header) is StreamHeader)
        return state

    def _malformed(self, state: CallState, exc: MalformedHeader) -> CallState:
        """A message of a call in progress whose header names the call but is
        malformed: the call fails at once, rather than wait for its deadline (or
        forever) for a message that came; a server still sending is told to
        stop."""
        error = InternalError(
            f"the server's message of {state.method.route} is malformed: {exc}"
        )
        self.fail(state, error, cancel=exc.kind != KIND_REPLY)
        return state

    def _late(self, call_id: int) -> None:
        """Count a message that no call in progress takes."""
        if call_id in self._ended_ids:
            self.stale_messages += 1
        else:
            self.dropped_replies += 1

    def take(self, state: CallState) -> Any:
        """The next item of a stream from the server, decoded and validated;
        :data:`END` once the stream ended well (its trailers recorded), or
        :data:`WAIT` if nothing arrived yet.

        Taking an item grants the server the items taken once a quarter of the
        window was (a CREDIT in the outbox).

        Raises:
            RpcError: the call's error: its reply's, why it failed, or an item
                that does not match its declared type (the call is cancelled).
        """
        if state.error is not None:
            return finish(state)  # raises
        items = state.items
        if items:
            body, attachments = items.popleft()
            window = state.window
            assert window is not None
            granted = window.took()
            if granted and not state.over:
                self.outbox.append(control_frames(KIND_CREDIT, state.call_id, granted))
            method = state.method
            assert isinstance(method, StreamingMethod)
            try:
                return decode_item(method, body, attachments)
            except InternalError as exc:
                self.fail(state, exc, cancel=True)
                raise
        if state.header is not None:
            finish(state)
            return END
        return WAIT

    # --- calls ending --------------------------------------------------------

    def fail(
        self, state: CallState, error: BaseException, *, cancel: bool = False
    ) -> None:
        """End a call with ``error``; with ``cancel``, tell the server to stop
        (a CANCEL in the outbox, saying whether the call's deadline passed: a
        :class:`~uvrpc.DeadlineExceeded`). Nothing happens to a call that is
        over."""
        if state.over:
            return
        state.error = error
        scope = state.scope
        if scope is not None:
            # It ends without a reply, hence without trailers: its metadata
            # block must not go on showing an earlier call's, as if they were
            # this one's (a cancelled call is never finished, which says so
            # for the others).
            scope.trailers = _NO_TRAILERS
        if cancel:
            why = CANCEL_EXPIRED if isinstance(error, DeadlineExceeded) else 0
            self.outbox.append(control_frames(KIND_CANCEL, state.call_id, why))
        self._end(state)

    def cancel(self, state: CallState, error: BaseException | None = None) -> None:
        """The caller gives up a call: the server cancels its handler."""
        if not state.over:
            self.fail(
                state,
                error or Cancelled(f"{state.method.route} was cancelled"),
                cancel=True,
            )

    def expire(
        self, state: CallState, *, cancel: bool = True, sent: bool = True
    ) -> None:
        """A call's deadline passed: it fails, and with ``cancel`` the server is
        told (it enforces a unary call's deadline itself: its request carries
        it). A unary call whose request was not ``sent`` says so, as the call
        never ran; its server has nothing to be told."""
        if state.over:
            return
        route = state.method.route
        if not sent:
            error = DeadlineExceeded(
                f"{route} could not be sent within {state.timeout:g} s"
            )
            self.fail(state, error)
            return
        if state.items is None:
            message = f"{route} {self.no_reply} within {state.timeout:g} s"
        else:
            message = f"{route} did not finish within {state.timeout:g} s"
        self.fail(state, DeadlineExceeded(message), cancel=cancel)

    def fail_all(
        self, error: Callable[[CallState], BaseException], *, cancel: bool = False
    ) -> list[CallState]:
        """Fail every call in progress (the connection dropped, the channel
        closed) with ``error(state)``, and with ``cancel`` tell the server to
        stop each; the calls failed."""
        failed = list(self.calls.values())
        for state in failed:
            self.fail(state, error(state), cancel=cancel)
        return failed

    def _end(self, state: CallState) -> None:
        state.over = True
        call_id = state.call_id
        if self.calls.get(call_id) is not state:
            return
        del self.calls[call_id]
        if state.items is not None:
            self._ended_stream(call_id)

    def _ended_stream(self, call_id: int) -> None:
        self.streams -= 1
        # Remembered a while, to tell its late messages from stray ones.
        ended = self._ended
        if len(ended) == ended.maxlen:
            self._ended_ids.discard(ended[0])
        ended.append(call_id)
        self._ended_ids.add(call_id)
