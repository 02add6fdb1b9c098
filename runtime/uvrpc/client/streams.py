"""The client side of streaming calls: :class:`ItemStream` and the state behind it.

A stream call is registered in its :class:`~uvrpc.Channel`'s protocol core under its
call id, like a unary call, and lives until its last reply arrives or it fails
(deadline, cancel, a disconnect, the channel closing). The core queues the items the
server sends raw, at most the window the client granted, decodes and validates them
as the caller takes them, and grants more credit once a quarter of the window was
taken (``docs/protocol.md``); a :class:`StreamCall` is the waiting around it. Items the
client sends go out as the server grants credit, from a task that reads the caller's
iterable: an async iterable, or a plain one (:func:`sent_items`).

Binary values in items are views of the received frames, as in unary results
(``docs/memory.md``).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar, cast

from ..core.calls import not_items, refuse_text
from ..core.client import END, WAIT, CallState, ClientCore, trailers_of
from ..interceptors.base import ClientInterceptor
from ..wire.errors import Cancelled, RpcError
from ..wire.methods import StreamingMethod
from .intercept import client_info, intercept_stream

__all__ = [
    "InterceptedItemStream",
    "ItemStream",
    "StreamCall",
    "StreamChannel",
    "SyncItems",
    "sent_items",
]

T = TypeVar("T")


def sent_items(
    method: StreamingMethod, items: AsyncIterable[T] | Iterable[T]
) -> AsyncIterable[T]:
    """The items a client- or bidirectional-streaming call sends, as an async
    iterable: ``items`` itself if it is one, a :class:`SyncItems` reading it if it
    is a plain iterable (a list, a generator).

    Raises:
        TypeError: ``items`` is neither (``None``, say); the message names the
            method and its stream parameter.
    """
    if isinstance(items, AsyncIterable):
        return items
    _check_iterable(method, items)
    return SyncItems(items)


def _check_iterable(method: StreamingMethod, items: object) -> None:
    """Raise the TypeError of :func:`sent_items` unless ``items`` is iterable,
    and not text (:func:`~uvrpc.core.calls.refuse_text`)."""
    refuse_text(method, items)
    if not isinstance(items, Iterable):
        raise not_items(method, items, "an async iterable or an iterable of items")


class SyncItems(AsyncIterator[T], Generic[T]):
    """A plain iterable of items to send, read as an async iterator: each
    ``__anext__`` takes one item from it (on the event loop's thread, so an
    iterable that blocks blocks the loop: give such items to the blocking
    client, or make them an async iterable).

    :meth:`aclose` closes the iterable's iterator if it has a ``close`` (a
    generator), as the end of the call does.
    """

    __slots__ = ("_items", "_iterator")

    def __init__(self, items: Iterable[T]) -> None:
        self._items = items
        self._iterator: Iterator[T] | None = None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        iterator = self._iterator
        if iterator is None:
            iterator = self._iterator = iter(self._items)
        try:
            return next(iterator)
        except StopIteration:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        """Close the iterable's iterator, if it was started and can be."""
        close = getattr(self._iterator, "close", None)
        if close is not None:
            close()

    def __repr__(self) -> str:
        return f"<SyncItems of {type(self._items).__name__}>"


class StreamChannel(Protocol):
    """What a stream call needs of the channel it runs on (:class:`~uvrpc.Channel`)."""

    @property
    def core(self) -> ClientCore:
        """The channel's protocol core."""
        ...

    def open_stream(
        self,
        method: StreamingMethod,
        args: dict[str, Any],
        items: AsyncIterable[Any] | Iterable[Any] | None,
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> StreamCall:
        """Register a stream call, send its request and start sending its items."""
        ...

    def flush(self) -> None:
        """Send the control messages the core owes the server."""
        ...

    def send_now(self, frames: list[Any]) -> None:
        """Send a control message (in the background if no room)."""
        ...

    def try_send_frames(self, frames: list[Any]) -> bool:
        """Send a message of a call if there is room now; whether it went."""
        ...

    async def send_frames(self, call: StreamCall, frames: list[Any]) -> None:
        """Send a message of the call, waiting for room."""
        ...

    def stream_ended(self, state: CallState) -> None:
        """The call is over: the channel drops what it kept for it."""
        ...


class StreamCall:
    """The waiting side of one stream call on a channel (made by the channel):
    the futures its reader and its sender wait on, and the task sending the
    caller's items. What arrived, and the protocol's rules, are its
    :class:`~uvrpc.core.client.CallState` and the channel's core.
    """

    def __init__(
        self,
        channel: StreamChannel,
        state: CallState,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.channel = channel
        self.state = state
        state.waker = self
        self.loop = loop
        self.done: asyncio.Future[Any] = loop.create_future()
        """Resolved when the call is over."""
        self._waiter: asyncio.Future[None] | None = None
        self._credit_waiter: asyncio.Future[None] | None = None
        self.pump: asyncio.Task[None] | None = None
        self.request_sending: asyncio.Task[None] | None = None
        """The task sending the request, when the socket had no room for it."""

    @property
    def method(self) -> StreamingMethod:
        """The call's method."""
        return cast(StreamingMethod, self.state.method)

    @property
    def call_id(self) -> int:
        """The call's request id."""
        return self.state.call_id

    @property
    def over(self) -> bool:
        """No more messages of this call will be read: it replied or failed."""
        return self.state.over

    @property
    def buffered_max(self) -> int:
        """The most received items queued at once, never more than the window."""
        return self.state.buffered_max

    def wake(self) -> None:
        """The call's state changed (the core took a message of it, or it ended):
        wake whoever waits."""
        if self.state.over and not self.done.done():
            self.done.set_result(None)
            self.channel.stream_ended(self.state)
            pump = self.pump
            if pump is not None and not pump.done() and pump is not _current_task():
                pump.cancel()
        _wake(self._waiter)
        _wake(self._credit_waiter)

    def fail(self, error: BaseException, *, cancel: bool = False) -> None:
        """End the call with ``error``; with ``cancel``, tell the server to stop."""
        self.channel.core.fail(self.state, error, cancel=cancel)
        self._changed()

    def _changed(self) -> None:
        self.channel.flush()
        self.wake()

    # --- the caller's side -------------------------------------------------

    def take(self) -> Any:
        """The next item, validated, if one is ready: :data:`WAIT` if none is,
        :data:`END` once the stream ended (see :meth:`ClientCore.take`)."""
        core = self.channel.core
        try:
            return core.take(self.state)
        finally:
            if core.outbox or self.state.over:
                self._changed()

    async def next_item(self) -> Any:
        """The next item, validated; StopAsyncIteration once the stream ended."""
        while True:
            item = self.take()
            if item is END:
                raise StopAsyncIteration
            if item is not WAIT:
                return item
            if self._waiter is not None and not self._waiter.done():
                # As an async generator refuses a second concurrent __anext__.
                raise RuntimeError(
                    f"another task is already reading the items of {self.method.route}"
                )
            waiter = self._waiter = self.loop.create_future()
            await waiter

    async def result(self) -> CallState:
        """Wait for the call to be over (a client stream's result is then
        :func:`~uvrpc.core.client.finish` of the state returned)."""
        while not self.state.over:
            await asyncio.shield(self.done)
        return self.state

    def cancel(self, error: RpcError | None = None) -> None:
        """Give up the call: the server cancels its handler."""
        self.channel.core.cancel(self.state, error)
        self._changed()

    # --- the client's items --------------------------------------------------

    async def send_items(self, items: AsyncIterable[Any] | Iterable[Any]) -> None:
        """Send the caller's items (an async iterable or a plain one) as credit
        allows, then END (the pump task). What reading them raises fails the
        call: a TypeError too, if they are neither."""
        channel, state = self.channel, self.state
        core = channel.core
        iterator: AsyncIterator[Any] | None = None
        try:
            iterator = aiter(sent_items(self.method, items))
            index = 0
            while True:
                try:
                    item = await anext(iterator)
                except StopAsyncIteration:
                    break
                while not core.can_send(state) and not state.over:
                    waiter = self._credit_waiter = self.loop.create_future()
                    await waiter
                if state.over:
                    return  # the call ended (the handler stopped reading): stop
                frames = core.item_frames(state, item, index)
                if not channel.try_send_frames(frames):  # no coroutine if it goes
                    await channel.send_frames(self, frames)
                index += 1
            if self.request_sending is not None:
                # An empty stream's END must not overtake the request (items
                # cannot: they wait for credit, which follows the request).
                await asyncio.wait((self.request_sending,))
            end = core.end_frames(state)
            if end is not None:
                channel.send_now(end)
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is None or task.cancelling():
                raise  # the pump was stopped: the call ended, or is ending
            # The caller's iterable raised it (it awaited a future that someone
            # cancelled): the call fails at once, instead of waiting for its
            # deadline, or for ever without one. As CANCELLED, not the bare
            # CancelledError: raised in a caller nobody cancelled, that one
            # reads as the caller's own cancellation (a TaskGroup would count
            # the call as cancelled, not failed, and say nothing).
            error = Cancelled(
                f"the items of {self.method.route} raised CancelledError (they "
                "awaited something that was cancelled)"
            )
            error.__cause__ = exc
            self.fail(error, cancel=True)
        except BaseException as exc:
            # The caller's iterable (or an item) failed: the call fails with it.
            self.fail(exc, cancel=True)
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()


class ItemStream(AsyncIterator[T], Generic[T]):
    """The items a server streams to the caller: an async iterator and context.

    Made by generated clients' server- and bidirectional-streaming methods::

        async with client.watch(n=3) as items:
            async for item in items:
                ...

    Nothing is sent until the first ``__anext__`` (or ``async with``), so making one
    needs no running loop. The call is sent in the context it was made in: it
    carries the headers of the :func:`uvrpc.metadata` block it was made in (and
    sets that block's trailers) and the deadline of the handler it was made in,
    wherever it is read, as gRPC takes a call's metadata where it is made.
    Iteration ends when the server's handler finishes; it raises the call's error
    as a unary call would (``DeadlineExceeded`` at the deadline, which covers the
    whole stream; ``Unavailable`` if the channel closes or the connection drops).
    Leaving ``async with`` before the end, :meth:`cancel` and :meth:`aclose` tell
    the server, which cancels its handler; so does cancelling the task that waits
    for an item, as in grpc.aio (a timeout around one item's wait included: it
    ends the stream).

    Items' binary values are read-only views of the received frames.
    """

    def __init__(
        self,
        channel: StreamChannel,
        method: StreamingMethod,
        args: dict[str, Any],
        items: AsyncIterable[Any] | Iterable[Any] | None,
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> None:
        self._channel = channel
        self._method = method
        self._args = args
        self._items = items
        self._timeout = timeout
        self._wait_for_ready = wait_for_ready
        self._call: StreamCall | None = None
        self._closed = False
        self._cancelled = False
        self._failed_unsent = False
        """Whether starting the call failed, nothing sent (a closed channel, an
        interceptor's refusal): the stream is over, without trailers."""
        # Where the call was made: its metadata block and served call, which a
        # caller that reads the stream elsewhere (a helper returned it from
        # inside the block, another task reads it) would otherwise lose.
        self._context = contextvars.copy_context()

    @property
    def call(self) -> StreamCall | None:
        """The call's state once started (flow-control introspection)."""
        return self._call

    @property
    def buffered_max(self) -> int:
        """The most received items that were queued at once (at most the window)."""
        return 0 if self._call is None else self._call.buffered_max

    @property
    def trailers(self) -> Mapping[str, str | bytes]:
        """The trailers of the call's last reply once the stream is over, on its
        end and on its error alike (gRPC's ``trailing_metadata()``): empty if it
        had none, or ended without a reply (cancelled, or failed at its client).
        The :func:`uvrpc.metadata` block it was made in gets them too.

        Raises:
            asyncio.InvalidStateError: the call is still going (or was never
                started): its trailers come with its last reply.
        """
        call = self._call
        if call is not None and call.over:
            return trailers_of(call.state)
        if call is None and (self._cancelled or self._closed or self._failed_unsent):
            return trailers_of(None)  # ended unsent
        raise asyncio.InvalidStateError(
            f"{self._method.route} is not over: its trailers come with its end"
        )

    def _open(self) -> StreamCall:
        call = self._call
        if call is None:
            try:
                call = self._call = self._context.run(
                    self._channel.open_stream,
                    self._method,
                    self._args,
                    self._items,
                    self._timeout,
                    self._wait_for_ready,
                )
            except BaseException:
                self._failed_unsent = True
                raise
        return call

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        if self._closed:
            raise StopAsyncIteration
        if self._cancelled:
            raise Cancelled(f"{self._method.route} was cancelled before it started")
        call = self._call or self._open()
        # An item that is ready already (most are: they come in batches) is
        # returned without the coroutine and await of the waiting path.
        item = call.take()
        if item is WAIT:
            try:
                return cast(T, await call.next_item())
            except asyncio.CancelledError:
                # The task reading the stream was cancelled: so is the call, as
                # in grpc.aio. Left going, its handler would run on (or wait for
                # credit for ever) with nobody left to read it.
                call.cancel()
                raise
        if item is END:
            raise StopAsyncIteration
        return cast(T, item)

    async def __aenter__(self) -> Self:
        if not (self._cancelled or self._closed):  # ended unsent: stays unsent
            self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def cancel(self) -> None:
        """Cancel the call: the server cancels its handler, and iterating further
        raises :class:`~uvrpc.Cancelled` (a stream cancelled before it started is
        never sent)."""
        if self._call is None:
            self._cancelled = True
        else:
            self._call.cancel()

    async def aclose(self) -> None:
        """End the stream: cancel the call if it is still going; iterating further
        stops at once."""
        self._closed = True
        call = self._call
        if call is None:
            return
        call.cancel()
        pump = call.pump
        if pump is not None and not pump.done():
            await asyncio.wait((pump,))

    def __del__(self) -> None:
        # Dropped before its end (a ``break`` out of ``async for`` without ``async
        # with``): cancel the call, or the server's handler would wait for credit
        # for ever. The garbage collector may run this in any thread.
        call = self._call
        if call is not None and not call.over and not call.loop.is_closed():
            call.loop.call_soon_threadsafe(call.cancel)

    def __repr__(self) -> str:
        state = "new" if self._call is None else "over" if self._call.over else "open"
        return f"<ItemStream {self._method.route} {state}>"


class _Chain:
    """A stream call's interceptors running: the state their task shares with
    the stream (and not the stream itself, which the task must not keep alive:
    a stream dropped before its end is cancelled when it is collected)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.call: StreamCall | None = None
        self.opened: asyncio.Future[None] = loop.create_future()
        """Resolved when the call is sent, or the interceptors ended without it."""
        self.ended: asyncio.Future[None] = loop.create_future()
        """Resolved when the interceptors ended."""
        self.failure: BaseException | None = None
        """What the interceptors raised."""
        self.task: asyncio.Task[None] | None = None

    def on_open(self, call: StreamCall) -> None:
        self.call = call
        _wake(self.opened)

    async def run(
        self,
        interceptors: Sequence[ClientInterceptor],
        channel: StreamChannel,
        method: StreamingMethod,
        args: dict[str, Any],
        items: AsyncIterable[Any] | Iterable[Any] | None,
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> None:
        info, outer = client_info(method, args, timeout, items)

        def open_stream(info: Any) -> StreamCall:
            return channel.open_stream(
                cast(StreamingMethod, info.method),
                info.args,
                info.items,
                info.timeout,
                wait_for_ready,
            )

        try:
            await intercept_stream(interceptors, info, outer, open_stream, self.on_open)
        except BaseException as exc:
            self.failure = exc
        finally:
            _wake(self.opened)
            _wake(self.ended)


class InterceptedItemStream(ItemStream[T]):
    """An :class:`ItemStream` whose call goes through its channel's interceptors.

    On first use (``__anext__`` or ``async with``) the interceptors run in a task
    of their own; the call is sent when they proceed, and an error they raise
    first (an authorisation check, say) is raised there, nothing sent. Their
    ``proceed`` returns when the call ends, while the caller takes the items; the
    stream ends as their chain does: with the error it raised, if any.
    """

    def __init__(
        self,
        channel: StreamChannel,
        method: StreamingMethod,
        args: dict[str, Any],
        items: AsyncIterable[Any] | Iterable[Any] | None,
        timeout: float | None,
        interceptors: Sequence[ClientInterceptor],
        wait_for_ready: bool | None = None,
    ) -> None:
        super().__init__(channel, method, args, items, timeout, wait_for_ready)
        self._interceptors = interceptors
        self._chain: _Chain | None = None

    async def _start(self) -> StreamCall | None:
        """Run the interceptors until they send the call; the call, or ``None``
        if they ended without it."""
        chain = self._chain
        if chain is None:
            loop = asyncio.get_running_loop()
            chain = self._chain = _Chain(loop)
            run = chain.run(
                self._interceptors,
                self._channel,
                self._method,
                self._args,
                self._items,
                self._timeout,
                self._wait_for_ready,
            )
            chain.task = loop.create_task(run, context=self._context)
        if not chain.opened.done():
            await asyncio.wait((chain.opened,))
        if chain.call is None:
            self._failed_unsent = True  # the interceptors ended without it
            if self._cancelled:
                raise Cancelled(f"{self._method.route} was cancelled before it started")
            if chain.failure is not None:
                raise chain.failure.with_traceback(None)
        self._call = chain.call
        return chain.call

    async def _end(self, error: BaseException) -> BaseException:
        """What the caller sees when the call is over: how the chain ended."""
        chain = self._chain
        assert chain is not None
        if not chain.ended.done():
            await asyncio.wait((chain.ended,))
        if chain.failure is not None:
            return chain.failure.with_traceback(None)
        if isinstance(error, Exception):
            return StopAsyncIteration()  # the interceptors took the error
        return error

    async def __anext__(self) -> T:
        if self._closed:
            raise StopAsyncIteration
        if self._cancelled:
            raise Cancelled(f"{self._method.route} was cancelled before it started")
        call = self._call
        try:
            if call is None:
                call = await self._start()
                if call is None:
                    raise await self._end(StopAsyncIteration())
            return cast(T, await call.next_item())
        except asyncio.CancelledError:
            self.cancel()  # the reading task was cancelled (see ItemStream)
            raise
        except BaseException as exc:
            if call is None or not call.over:
                raise
            raise await self._end(exc) from None

    async def __aenter__(self) -> Self:
        if not (self._cancelled or self._closed):  # ended unsent: stays unsent
            await self._start()
        return self

    def cancel(self) -> None:
        """Cancel the call (see :meth:`ItemStream.cancel`); interceptors still
        running before they sent it are cancelled."""
        chain = self._chain
        if chain is not None and chain.call is not None:
            chain.call.cancel()
            return
        self._cancelled = True
        if chain is not None and chain.task is not None:
            chain.task.cancel()

    async def aclose(self) -> None:
        """End the stream (see :meth:`ItemStream.aclose`), and wait for the
        interceptors to end."""
        chain = self._chain
        if chain is not None and chain.call is None:
            self.cancel()
        self._call = None if chain is None else chain.call
        await super().aclose()
        if chain is not None and not chain.ended.done():
            await asyncio.wait((chain.ended,))

    def __del__(self) -> None:
        chain = self._chain
        if chain is None:
            return
        call = chain.call
        if call is not None and not call.over and not call.loop.is_closed():
            call.loop.call_soon_threadsafe(call.cancel)
        elif call is None and chain.task is not None:
            task = chain.task
            if not task.done() and not task.get_loop().is_closed():
                task.get_loop().call_soon_threadsafe(task.cancel)


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None
