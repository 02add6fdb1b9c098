"""The server side of streaming calls: their tasks, queues, waiters and timers.

A :class:`StreamHost` keeps the stream calls a server (or :mod:`uvrpc.testing`) is
running, keyed by the caller's identity and the call id, and runs each one's handler
in a task of its own. How a stream's messages reach the caller is a :class:`Link`:
the server's links send through its ROUTER socket, the in-memory ones hand the frames
to the client's channel.

What each message means, the credit both ways and the frames sent are the protocol
core's (:mod:`uvrpc.core.server_streams`, ``docs/protocol.md``); here the items wait
in a queue for the handler, and the handler waits for items and for credit.

A stream ends with one reply, produced by the same :meth:`Dispatcher.run
<uvrpc.dispatch.Dispatcher.run>` as a unary call's, so its errors reach the caller
as a unary call's would. A client's CANCEL, the deadline the request carried, or a
caller that vanished (a send fails, or a probe — an empty CREDIT sent to a stream
idle for :data:`PROBE_INTERVAL` — fails) cancel the handler, and nothing is replied.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable, KeysView
from typing import Any, Protocol

from ..core.server import Request, Route, StreamMessage, gives_up_expired
from ..core.server_streams import (
    MAX_STREAMS,
    MAX_STREAMS_PER_CALLER,
    Arrival,
    ServerStream,
    StreamLimits,
)
from ..wire.errors import RpcError
from ..wire.limits import STREAM_WINDOW
from .dispatch import Dispatcher

__all__ = [
    "MAX_STREAMS",
    "MAX_STREAMS_PER_CALLER",
    "PROBE_INTERVAL",
    "STREAM_WINDOW",
    "CallerGone",
    "Link",
    "StreamHost",
]

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
        window: items a client may send ahead of its handler; ``None`` for the
            default window, grown for small items.
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
        window: int | None = None,
        max_streams: int = MAX_STREAMS,
        max_streams_per_caller: int = MAX_STREAMS_PER_CALLER,
        probe_interval: float = PROBE_INTERVAL,
    ) -> None:
        self.limits = StreamLimits(window, max_streams, max_streams_per_caller)
        """Which stream calls open, and the window each is granted."""
        self.dispatcher = dispatcher
        self.loop = loop
        self.window = window
        self.max_streams = max_streams
        self.max_streams_per_caller = max_streams_per_caller
        self.probe_interval = probe_interval
        self._sessions: dict[tuple[Hashable, int], _Session] = {}
        self.calls: KeysView[tuple[Hashable, int]] = self._sessions.keys()
        """The ``(caller, call id)`` of every stream call in progress (a live
        view)."""
        self._per_caller: dict[Hashable, int] = {}
        self.buffered_max = 0
        """The most client items queued for one handler at once, over every stream
        so far: never more than the window (:data:`STREAM_WINDOW_MAX` for the
        default one)."""

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
        key = (caller, request.call_id)
        mine = self._per_caller.get(caller, 0)
        self.limits.admit(
            request,
            running=key in self._sessions,
            active=len(self._sessions),
            of_caller=mine,
        )
        session = _Session(self, key, link, request)
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

    def forget(self, session: _Session) -> None:
        """Drop a call that is over from the calls in progress."""
        if self._sessions.get(session.key) is session:
            del self._sessions[session.key]
            caller = session.key[0]
            left = self._per_caller[caller] - 1
            if left:
                self._per_caller[caller] = left
            else:
                del self._per_caller[caller]

    def abandon(self, lost: Callable[[Hashable], bool]) -> None:
        """End the stream calls of every caller ``lost`` says is gone, as a probe
        that finds one gone does: nobody is left to reply to."""
        for session in [s for key, s in self._sessions.items() if lost(key[0])]:
            session.gone()

    def tasks(self) -> list[asyncio.Task[None]]:
        """The tasks of the stream calls running now."""
        return [s.task for s in self._sessions.values() if s.task is not None]

    def close(self) -> None:
        """Cancel every stream call's handler."""
        for session in list(self._sessions.values()):
            session.stop()


class _Session:
    """One stream call on the server: its task, queue, waiters and timers, over
    the call's protocol state (:class:`~uvrpc.core.server_streams.ServerStream`)."""

    def __init__(
        self,
        host: StreamHost,
        key: tuple[Hashable, int],
        link: Link,
        request: Request,
    ) -> None:
        self.host = host
        self.key = key
        self.link = link
        self.request = request
        self.state = ServerStream(
            request, host.limits.window, host.dispatcher.protocol.encode
        )
        """The call's protocol state: credit both ways, the client's items."""
        self.task: asyncio.Task[None] | None = None
        self.started = False
        """Whether the task took its first step: a task cancelled before it never
        runs at all, so one that fails before it is left to find its error."""
        # The client's items: queued validated, at most the window of them.
        self.incoming: deque[Any] = deque()
        self.in_waiter: asyncio.Future[None] | None = None
        self.buffered_max = 0
        """The most client items queued for the handler at once."""
        self.credit_waiter: asyncio.Future[None] | None = None
        self.last_active = time.monotonic()
        """When a message of the call last went either way (``time.monotonic``)."""
        self._deadline: asyncio.TimerHandle | None = None
        self._probe_timer: asyncio.TimerHandle | None = None
        self._grants: set[asyncio.Task[None]] = set()
        self.ending = False
        """Whether the call was ended (cancelled, expired, failed, its caller
        gone) while its handler runs: the handler's task was cancelled."""

    # --- the handler's side -------------------------------------------------

    async def run(self) -> None:
        host, state = self.host, self.state
        loop = host.loop
        call = self.request.call
        deadline = None if call is None else call.deadline
        if deadline is not None:
            # The deadline is absolute: the time the request waited counts. One
            # passed already is answered by dispatcher.run, which never starts
            # the handler then.
            self._deadline = loop.call_later(deadline - time.monotonic(), self.expire)
        self._probe_timer = loop.call_later(host.probe_interval, self._probe)
        dispatcher = host.dispatcher
        self.started = True
        try:
            try:
                failure = state.failure_reply()
                # A call that failed before its task started (its client sent
                # past the window) replies its error; the handler never runs.
                frames = await self._handle() if failure is None else failure
            except asyncio.CancelledError:
                failure = state.failure_reply()
                if failure is None:
                    raise  # cancelled, expired or gone: there is nobody to tell
                frames = failure
        finally:
            self.end()
        sent = False
        try:
            try:
                sent = self.link.try_send(frames)
            finally:
                dispatcher.settle(frames[-1], sent)
            if not sent:
                await self.link.send(frames)
            self.link.replied()
        except CallerGone:
            pass

    async def _handle(self) -> list[Any]:
        """Grant the client's window, run the handler, and return the reply."""
        state, dispatcher = self.state, self.host.dispatcher
        method = state.method
        params = self.request.params
        opening = state.open()
        if opening is not None:
            await self._send_now_or_later(opening)
        if method.stream is not None:
            params = {**params, method.stream: _Incoming(self)}
        handler = self.request.route.handler
        if method.server_sends:
            run_handler: Callable[..., Any] = _Driver(self, handler)
        else:
            run_handler = handler
        run_handler = dispatcher.intercept_stream(method, run_handler)
        route = Route(method.final, run_handler)
        return await dispatcher.run(
            Request(
                state.call_id,
                route,
                params,
                self.request.timeout_ms,  # for its DEADLINE_EXCEEDED's text
                call=self.request.call,
            ),
            reply_expired=False,
        )

    def end(self) -> None:
        """The call is over: forget it, stop its timers, wake whoever waits."""
        self.host.forget(self)
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
        if self.ending:
            raise _ended()
        state = self.state
        state.check_item(item, index)
        while not state.credit.spend():
            waiter = self.credit_waiter = self.host.loop.create_future()
            await waiter
        frames = state.encode_item(item, index)
        sent = False
        try:
            sent = self.link.try_send(frames)
        except CallerGone:
            self.gone()
            raise asyncio.CancelledError from None
        finally:
            self.host.dispatcher.settle(frames[-1], sent)
        if not sent:
            await self._send(frames)
        self.last_active = time.monotonic()

    async def _send(self, frames: list[Any]) -> None:
        try:
            await self.link.send(frames)
        except CallerGone:
            self.gone()
            raise asyncio.CancelledError from None

    async def _send_now_or_later(self, frames: list[Any]) -> None:
        try:
            sent = self.link.try_send(frames)
        except CallerGone:
            self.gone()
            raise asyncio.CancelledError from None
        if not sent:
            await self._send(frames)

    async def next_item(self) -> Any:
        """The next item of the client's stream, for the handler."""
        if self.ending:
            raise _ended()
        state = self.state
        while not self.incoming:
            if state.error is not None:
                raise state.error
            if state.ended:
                raise StopAsyncIteration
            waiter = self.in_waiter = self.host.loop.create_future()
            await waiter
        return self.take()

    def take(self) -> Any:
        """Take the first queued item of the client's stream for the handler,
        granting credit for the items taken as the window says."""
        item = self.incoming.popleft()
        grant = self.state.took()
        if grant is not None:
            self._grant(grant)
        return item

    def _grant(self, frames: list[Any]) -> None:
        """Send a CREDIT: at once if there is room, else from a task of its own
        (the handler takes its item without waiting)."""
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
        self.last_active = time.monotonic()
        arrival, value = self.state.receive(message)
        if arrival is Arrival.ITEM:
            incoming = self.incoming
            incoming.append(value)
            if len(incoming) > self.buffered_max:
                self.buffered_max = len(incoming)
                if self.buffered_max > self.host.buffered_max:
                    self.host.buffered_max = self.buffered_max
            if self.in_waiter is not None:  # the handler waits: wake it
                self._wake_in()
        elif arrival is Arrival.FAILED:
            self._failed()
        elif arrival is Arrival.CREDITED:
            self._wake_credit()
        elif arrival is Arrival.ENDED:
            self._wake_in()
        elif arrival is Arrival.CANCELLED:
            call = self.request.call
            if call is not None and gives_up_expired(
                message.header, call.deadline, time.monotonic()
            ):
                self.expire()
            else:
                self.stop()

    def fail(self, error: RpcError) -> None:
        """End the call with ``error``: cancel the handler and reply with it."""
        if self.state.fail(error):
            self._failed()

    def _failed(self) -> None:
        self.incoming.clear()
        if self.task is not None and self.started:
            self._cancel(self.task)

    def stop(self) -> None:
        """End the call without a reply (cancel, deadline, server closing)."""
        if self.request.call is not None:
            self.request.call.mark_cancelled()
        if self.task is not None:
            self._cancel(self.task)

    def expire(self) -> None:
        """End the call without a reply as one that ran out of time: its
        deadline passed, here or at its client (whose CANCEL says so)."""
        call = self.request.call
        if call is not None and not call.cancelled():
            call.mark_expired()
        if self.task is not None:
            self._cancel(self.task)

    def _cancel(self, task: asyncio.Task[None]) -> None:
        """Cancel the handler's task once; should the handler swallow that
        ``CancelledError`` and go on, the next item it yields or asks for
        raises another (:func:`_ended`), so it cannot run on for ever."""
        self.ending = True
        task.cancel()

    def gone(self) -> None:
        """The caller vanished: end the call; nobody is left to reply to."""
        self.state.abandon()
        self.stop()

    def _probe(self) -> None:
        """Probe a stream idle for a while: if the caller is gone, the send fails
        and the call ends."""
        loop = self.host.loop
        interval = self.host.probe_interval
        if time.monotonic() - self.last_active >= interval * 0.9:
            try:
                self.link.try_send(self.state.probe())
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


def _ended() -> asyncio.CancelledError:
    """What a handler that swallowed its call's cancellation gets at its next
    item: the call is over, and nobody reads or sends its items any more."""
    return asyncio.CancelledError("the stream call was ended")


class _Incoming(AsyncIterator[Any]):
    """The client's items, as the handler's stream argument."""

    __slots__ = ("_session",)

    def __init__(self, session: _Session) -> None:
        self._session = session

    def __aiter__(self) -> _Incoming:
        return self

    async def __anext__(self) -> Any:
        session = self._session
        if session.incoming and not session.ending:
            # Items came in a train: taken without a coroutine of next_item's.
            return session.take()
        return await session.next_item()


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
