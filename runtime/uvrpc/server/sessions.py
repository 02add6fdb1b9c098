"""The server side of streaming calls, independent of sockets.

A :class:`StreamHost` keeps the stream calls a server (or :mod:`uvrpc.testing`) is
running, keyed by the caller's identity and the call id, and runs each one's handler
in a task of its own. How a stream's messages reach the caller is a :class:`Link`:
the server's links send through its ROUTER socket, the in-memory ones hand the frames
to the client's channel.

Flow control is by credit, in items, both ways (``docs/protocol.md``):

* the client's request grants the server a window of items; the server sends an
  item only while it holds credit, and waits for a CREDIT message otherwise;
* for a client's stream, the server grants its own window in a CREDIT as the call
  starts and grants more as the handler takes items, once half the window was
  taken. It enforces what it granted: a client that sends beyond it is cut off with
  RESOURCE_EXHAUSTED, so the items queued for a handler never exceed the window.

A stream ends with one reply, produced by the same :meth:`Dispatcher.run
<uvrpc.dispatch.Dispatcher.run>` as a unary call's, so its errors reach the caller
as a unary call's would. A client's CANCEL, the deadline the request carried, or a
caller that vanished (a send fails, or a probe — an empty CREDIT sent to a stream
idle for :data:`PROBE_INTERVAL` — fails) cancel the handler, and nothing is replied.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable
from typing import Any, Protocol

from pydantic import ValidationError

from ..wire.codec import DecodeError, EncodeError, unpack
from ..wire.errors import InternalError, InvalidArgument, ResourceExhausted, RpcError
from ..wire.limits import STREAM_WINDOW
from ..wire.methods import StreamingMethod
from ..wire.protocol import (
    KIND_CANCEL,
    KIND_CREDIT,
    KIND_END,
    KIND_ITEM,
    NIL_BODY,
    encode_stream_header,
)
from ..wire.validation import first_problem, invalid_argument
from .dispatch import Dispatcher, Rejected, Request, Route, StreamMessage, error_reply

__all__ = [
    "MAX_STREAMS",
    "MAX_STREAMS_PER_CALLER",
    "PROBE_INTERVAL",
    "STREAM_WINDOW",
    "CallerGone",
    "Link",
    "StreamHost",
]

MAX_STREAMS = 1024
"""Stream calls one server runs at once, by default; more are refused."""

MAX_STREAMS_PER_CALLER = 256
"""Stream calls one caller runs on a server at once, by default: a quarter of
:data:`MAX_STREAMS`, so that no one caller can hold every slot."""

PROBE_INTERVAL = 1.0
"""Seconds a stream may stay idle before the server probes whether its caller is
still there."""


class CallerGone(Exception):
    """A stream's caller disconnected: nothing sent to it can be delivered."""


class Link(Protocol):
    """How the messages of one stream call reach its caller."""

    def try_send(self, frames: list[Any]) -> bool:
        """Send now if there is room; return whether the message was sent.

        Raises:
            CallerGone: the caller disconnected.
        """

    async def send(self, frames: list[Any]) -> None:
        """Send, waiting for room.

        Raises:
            CallerGone: the caller disconnected.
        """

    def replied(self) -> None:
        """Count a call's final reply as sent."""


class StreamHost:
    """The stream calls in progress, keyed by caller and call id.

    Args:
        dispatcher: runs the handlers and encodes items and replies.
        loop: the loop the handlers run on.
        window: items a client may send ahead of its handler.
        max_streams: stream calls running at once; more are refused with
            RESOURCE_EXHAUSTED.
        max_streams_per_caller: stream calls one caller runs at once; more are
            refused with RESOURCE_EXHAUSTED.
        probe_interval: seconds of silence after which a stream's caller is
            probed.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        loop: asyncio.AbstractEventLoop,
        *,
        window: int = STREAM_WINDOW,
        max_streams: int = MAX_STREAMS,
        max_streams_per_caller: int = MAX_STREAMS_PER_CALLER,
        probe_interval: float = PROBE_INTERVAL,
    ) -> None:
        if window < 1:
            raise ValueError("a stream window must be at least 1")
        self.dispatcher = dispatcher
        self.loop = loop
        self.window = window
        self.max_streams = max_streams
        self.max_streams_per_caller = max_streams_per_caller
        self.probe_interval = probe_interval
        self._sessions: dict[tuple[Hashable, int], _Session] = {}
        self._per_caller: dict[Hashable, int] = {}
        self.buffered_max = 0
        """The most client items queued for one handler at once, over every stream
        so far: never more than the window."""

    @property
    def active(self) -> int:
        """Stream calls in progress."""
        return len(self._sessions)

    def active_for(self, caller: Hashable) -> int:
        """Stream calls of ``caller`` in progress."""
        return self._per_caller.get(caller, 0)

    def session(self, caller: Hashable, call_id: int) -> _Session | None:
        """The state of a stream call in progress (for tests and introspection)."""
        return self._sessions.get((caller, call_id))

    def open(
        self, caller: Hashable, link: Link, request: Request
    ) -> asyncio.Task[None]:
        """Start the stream call ``request`` from ``caller``; return its task.

        Raises:
            Rejected: the call cannot start (too many streams, or too many of this
                caller's, no window, or a call with this id from this caller in
                progress).
        """
        stream = request.route.stream
        assert stream is not None, "open() takes streaming calls"
        key = (caller, request.call_id)
        if key in self._sessions:
            raise Rejected(f"stream call {request.call_id} is already running", None)
        if len(self._sessions) >= self.max_streams:
            error: RpcError = ResourceExhausted(
                f"this server runs {self.max_streams} streams at once; try later"
            )
            raise Rejected(error.message, error_reply(request.call_id, error))
        mine = self._per_caller.get(caller, 0)
        if mine >= self.max_streams_per_caller:
            error = ResourceExhausted(
                f"this server runs {self.max_streams_per_caller} streams of one "
                "caller at once (max_streams_per_caller); try later"
            )
            raise Rejected(error.message, error_reply(request.call_id, error))
        if stream.server_sends and not request.window:
            error = InvalidArgument(
                f"a call of {stream.route} must grant a window of at least one item"
            )
            raise Rejected(error.message, error_reply(request.call_id, error))
        session = _Session(self, key, link, request, stream)
        self._sessions[key] = session
        self._per_caller[caller] = mine + 1
        task = session.task = self.loop.create_task(session.run())
        # A task cancelled before its first step never runs its cleanup.
        task.add_done_callback(lambda _: session.end())
        return task

    def deliver(self, caller: Hashable, message: StreamMessage) -> bool:
        """Hand a message of a stream to its call; False if the call is over."""
        session = self._sessions.get((caller, message.header.call_id))
        if session is None:
            return False
        session.receive(message)
        return True

    def refuse(self, caller: Hashable, call_id: int, error: RpcError) -> bool:
        """End a stream call with ``error`` (its client sent what the server will
        not take); False if the call is over."""
        session = self._sessions.get((caller, call_id))
        if session is None:
            return False
        session.fail(error)
        return True

    def _forget(self, session: _Session) -> None:
        if self._sessions.get(session.key) is session:
            del self._sessions[session.key]
            caller = session.key[0]
            left = self._per_caller[caller] - 1
            if left:
                self._per_caller[caller] = left
            else:
                del self._per_caller[caller]

    def tasks(self) -> list[asyncio.Task[None]]:
        """The tasks of the stream calls running now."""
        return [s.task for s in self._sessions.values() if s.task is not None]

    def close(self) -> None:
        """Cancel every stream call's handler."""
        for session in list(self._sessions.values()):
            session.stop()


class _Session:
    """One stream call on the server: its queues, credit and timers."""

    def __init__(
        self,
        host: StreamHost,
        key: tuple[Hashable, int],
        link: Link,
        request: Request,
        method: StreamingMethod,
    ) -> None:
        self.host = host
        self.key = key
        self.link = link
        self.request = request
        self.method = method
        self.call_id = request.call_id
        self.window = host.window
        self.task: asyncio.Task[None] | None = None
        # The client's items: queued validated, at most ``window`` of them.
        self.incoming: deque[Any] = deque()
        self.received = 0
        self.allowed = 0
        """Items the client may still send: granted and not yet received."""
        self.taken = 0
        """Items the handler took since the last grant."""
        self.ended = False
        self.in_waiter: asyncio.Future[None] | None = None
        self.buffered_max = 0
        """The most client items queued for the handler at once."""
        # The server's items: what the client granted.
        self.credit = request.window or 0
        self.credit_waiter: asyncio.Future[None] | None = None
        self.error: RpcError | None = None
        """Why the call ends with an error of the session's own (not the
        handler's): a bad item, too many items."""
        self.last_active = host.loop.time()
        self._deadline: asyncio.TimerHandle | None = None
        self._probe_timer: asyncio.TimerHandle | None = None
        self._grants: set[asyncio.Task[None]] = set()

    # --- the handler's side -------------------------------------------------

    async def run(self) -> None:
        host, method = self.host, self.method
        loop = host.loop
        timeout_ms = self.request.timeout_ms
        if timeout_ms is not None:
            self._deadline = loop.call_later(timeout_ms / 1000, self.stop)
        self._probe_timer = loop.call_later(host.probe_interval, self._probe)
        try:
            try:
                params = self.request.params
                if method.client_sends:
                    assert method.stream is not None
                    self.allowed = self.window
                    await self._send_credit(self.window)
                    params = {**params, method.stream: _Incoming(self)}
                handler = self.request.route.handler
                if method.server_sends:
                    run_handler: Callable[..., Any] = _Driver(self, handler)
                else:
                    run_handler = handler
                run_handler = host.dispatcher.intercept_stream(method, run_handler)
                route = Route(method.final, run_handler)
                frames = await host.dispatcher.run(
                    Request(self.call_id, route, params, None, call=self.request.call)
                )
            except asyncio.CancelledError:
                if self.error is None:
                    raise  # cancelled, expired or gone: there is nobody to tell
                frames = error_reply(self.call_id, self.error)
        finally:
            self.end()
        sent = False
        try:
            try:
                sent = self.link.try_send(frames)
            finally:
                host.dispatcher.settle(frames[-1], sent)
            if not sent:
                await self.link.send(frames)
            self.link.replied()
        except CallerGone:
            pass

    def end(self) -> None:
        """The call is over: forget it, stop its timers, wake whoever waits."""
        self.host._forget(self)
        for timer in (self._deadline, self._probe_timer):
            if timer is not None:
                timer.cancel()
        self._deadline = self._probe_timer = None
        for grant in self._grants:
            grant.cancel()
        self._wake_in()
        self._wake_credit()

    async def emit(self, item: Any, index: int) -> None:
        """Send one item of the handler's stream, waiting for credit."""
        method = self.method
        try:
            method.check_reply_item(item)
        except ValueError as exc:
            raise InternalError(
                f"item {index} of the stream of {method.route} does not match its "
                f"declared type: {first_problem(exc)}"
            ) from None
        while self.credit <= 0:
            waiter = self.credit_waiter = self.host.loop.create_future()
            await waiter
        self.credit -= 1
        dispatcher = self.host.dispatcher
        try:
            body, attachments = dispatcher.encode(item, method.reply_item_carries_bytes)
        except (EncodeError, ValueError, OverflowError) as exc:
            raise InternalError(
                f"item {index} of the stream of {method.route} failed: {exc}"
            ) from None
        frames = [*attachments, encode_stream_header(KIND_ITEM, self.call_id), body]
        sent = False
        try:
            sent = self.link.try_send(frames)
        except CallerGone:
            self.gone()
            raise asyncio.CancelledError from None
        finally:
            dispatcher.settle(body, sent)
        if not sent:
            await self._send(frames)
        self.last_active = self.host.loop.time()

    async def _send(self, frames: list[Any]) -> None:
        try:
            await self.link.send(frames)
        except CallerGone:
            self.gone()
            raise asyncio.CancelledError from None

    async def _send_credit(self, n: int) -> None:
        frames = [encode_stream_header(KIND_CREDIT, self.call_id, n), NIL_BODY]
        try:
            sent = self.link.try_send(frames)
        except CallerGone:
            self.gone()
            raise asyncio.CancelledError from None
        if not sent:
            await self._send(frames)

    async def next_item(self) -> Any:
        """The next item of the client's stream, for the handler."""
        while not self.incoming:
            if self.error is not None:
                raise self.error
            if self.ended:
                raise StopAsyncIteration
            waiter = self.in_waiter = self.host.loop.create_future()
            await waiter
        item = self.incoming.popleft()
        self.taken += 1
        if self.taken >= max(1, self.window // 2) and not self.ended:
            self._grant(self.taken)
        return item

    def _grant(self, n: int) -> None:
        """Let the client send ``n`` more items."""
        self.taken = 0
        self.allowed += n
        frames = [encode_stream_header(KIND_CREDIT, self.call_id, n), NIL_BODY]
        try:
            if self.link.try_send(frames):
                return
        except CallerGone:
            self.gone()
            return
        grant = self.host.loop.create_task(self._send(frames))
        self._grants.add(grant)
        grant.add_done_callback(self._grants.discard)

    # --- the client's side --------------------------------------------------

    def receive(self, message: StreamMessage) -> None:
        """A message of the client's arrived."""
        self.last_active = self.host.loop.time()
        kind = message.header.kind
        if kind == KIND_ITEM:
            self._item(message.body, message.attachments)
        elif kind == KIND_CREDIT:
            self.credit += message.header.n
            self._wake_credit()
        elif kind == KIND_END:
            self.ended = True
            self._wake_in()
        elif kind == KIND_CANCEL:
            self.stop()

    def _item(self, body: Any, attachments: Any) -> None:
        method = self.method
        index = self.received
        self.received += 1
        if self.error is not None:
            return
        if not method.client_sends or self.ended:
            self.fail(
                InvalidArgument(f"{method.route} takes no more items from the client")
            )
            return
        if self.allowed <= 0:
            self.fail(
                ResourceExhausted(
                    f"the client sent item {index} of {method.route} beyond the "
                    f"{self.window} items it was granted"
                )
            )
            return
        self.allowed -= 1
        stream = method.stream
        try:
            item = method.check_request_item(unpack(body, attachments))
        except DecodeError as exc:
            self.fail(
                InvalidArgument(
                    f"item {index} of {stream} of {method.route} is malformed: {exc}",
                    {"field_path": f"{stream}.{index}"},
                )
            )
            return
        except ValidationError as exc:
            self.fail(invalid_argument(method.route, exc, f"{stream}.{index}"))
            return
        except ValueError as exc:
            path = f"{stream}.{index}"
            self.fail(
                InvalidArgument(
                    f"invalid argument '{path}' of {method.route}: {exc}",
                    {"field_path": path},
                )
            )
            return
        self.incoming.append(item)
        if len(self.incoming) > self.buffered_max:
            self.buffered_max = len(self.incoming)
            if self.buffered_max > self.host.buffered_max:
                self.host.buffered_max = self.buffered_max
        self._wake_in()

    def fail(self, error: RpcError) -> None:
        """End the call with ``error``: cancel the handler and reply with it."""
        if self.error is None:
            self.error = error
            self.incoming.clear()
            if self.task is not None:
                self.task.cancel()

    def stop(self) -> None:
        """End the call without a reply (cancel, deadline, server closing)."""
        if self.request.call is not None:
            self.request.call.mark_cancelled()
        if self.task is not None:
            self.task.cancel()

    def gone(self) -> None:
        """The caller vanished: end the call; nobody is left to reply to."""
        self.error = None
        self.stop()

    def _probe(self) -> None:
        """Send an empty CREDIT to a stream idle for a while: if the caller is gone,
        the send fails and the call ends."""
        loop = self.host.loop
        interval = self.host.probe_interval
        if loop.time() - self.last_active >= interval * 0.9:
            frames = [encode_stream_header(KIND_CREDIT, self.call_id, 0), NIL_BODY]
            try:
                self.link.try_send(frames)
            except CallerGone:
                self.gone()
                return
        if self._probe_timer is not None:  # not over meanwhile
            self._probe_timer = loop.call_later(interval, self._probe)

    def _wake_in(self) -> None:
        waiter, self.in_waiter = self.in_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_credit(self) -> None:
        waiter, self.credit_waiter = self.credit_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class _Incoming(AsyncIterator[Any]):
    """The client's items, as the handler's stream argument."""

    __slots__ = ("_session",)

    def __init__(self, session: _Session) -> None:
        self._session = session

    def __aiter__(self) -> _Incoming:
        return self

    async def __anext__(self) -> Any:
        return await self._session.next_item()


class _Driver:
    """Runs a handler that yields the items of its stream: each one is sent."""

    __slots__ = ("_handler", "_session")

    def __init__(self, session: _Session, handler: Callable[..., Any]) -> None:
        self._session = session
        self._handler = handler

    async def __call__(self, **params: Any) -> None:
        items = self._handler(**params)
        try:
            index = 0
            async for item in items:
                await self._session.emit(item, index)
                index += 1
        finally:
            aclose = getattr(items, "aclose", None)
            if aclose is not None:
                await aclose()
