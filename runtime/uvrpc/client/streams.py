"""The client side of streaming calls: :class:`ItemStream` and the state behind it.

A stream call is registered on its :class:`~uvrpc.Channel` under its call id, like a
unary call, and lives until its last reply arrives or it fails (deadline, cancel, a
disconnect, the channel closing). Items the server sends are queued raw, at most the
window the client granted, and decoded and validated as the caller takes them; the
client grants more credit once half its window was taken (``docs/protocol.md``).
Items the client sends go out as the server grants credit, from a task that reads
the caller's iterable.

Binary values in items are views of the received frames, as in unary results
(``docs/memory.md``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar, cast

from ..core.calls import decode_reply
from ..interceptors.base import ClientInterceptor
from ..wire.codec import DecodeError, EncodeError, unpack
from ..wire.errors import (
    Cancelled,
    DeadlineExceeded,
    InternalError,
    InvalidArgument,
    RpcError,
)
from ..wire.methods import StreamingMethod
from ..wire.protocol import KIND_CANCEL, KIND_CREDIT, KIND_END, ReplyHeader
from ..wire.validation import first_problem
from .intercept import client_info, intercept_stream

__all__ = ["InterceptedItemStream", "ItemStream", "StreamCall", "StreamChannel"]

T = TypeVar("T")

_Final = tuple[ReplyHeader, Any, Sequence[Any]]


class StreamChannel(Protocol):
    """What a stream call needs of the channel it runs on (:class:`~uvrpc.Channel`)."""

    def open_stream(
        self,
        method: StreamingMethod,
        args: dict[str, Any],
        items: AsyncIterable[Any] | None,
        timeout: float | None,
    ) -> StreamCall:
        """Register a stream call, send its request and start sending its items."""
        ...

    def send_control(self, kind: int, call_id: int, n: int = 0) -> None:
        """Send an END, CANCEL or CREDIT message of a call."""
        ...

    async def send_item(self, call: StreamCall, item: Any) -> None:
        """Send one item of the caller's stream, waiting for room."""
        ...

    def forget_stream(self, call: StreamCall) -> None:
        """Drop an ended stream call from the channel's table."""
        ...


class StreamCall:
    """One stream call in progress on a channel (made by the channel).

    Attributes:
        buffered_max: the most received items queued at once, never more than the
            window the client granted.
    """

    def __init__(
        self,
        channel: StreamChannel,
        method: StreamingMethod,
        call_id: int,
        window: int,
        timeout: float | None,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.channel = channel
        self.method = method
        self.call_id = call_id
        self.window = window
        self.timeout = timeout
        self.slot: int | None = None
        self.loop = loop
        self.items: deque[tuple[Any, Sequence[Any]]] = deque()
        self.buffered_max = 0
        self.taken = 0
        self.final: _Final | None = None
        self.error: BaseException | None = None
        self.over = False
        """No more messages of this call will be read: it replied or failed."""
        self.done: asyncio.Future[Any] = loop.create_future()
        """Resolved when the call is over."""
        self.credit = 0
        self._waiter: asyncio.Future[None] | None = None
        self._credit_waiter: asyncio.Future[None] | None = None
        self.pump: asyncio.Task[None] | None = None
        self.request_sending: asyncio.Task[None] | None = None
        """The task sending the request, when the socket had no room for it."""

    # --- messages from the server (the channel's receive loop) -------------

    def on_item(self, body: Any, attachments: Sequence[Any]) -> bool:
        """Queue an item; False if the server sent it without credit."""
        if self.over or not self.method.server_sends:
            return False
        if len(self.items) >= self.window:
            self.fail(
                InternalError(
                    f"the server sent more items of {self.method.route} than the "
                    f"{self.window} it was granted"
                ),
                cancel=True,
            )
            return False
        self.items.append((body, attachments))
        if len(self.items) > self.buffered_max:
            self.buffered_max = len(self.items)
        _wake(self._waiter)
        return True

    def on_credit(self, n: int) -> None:
        """The server lets the client send ``n`` more items (0: a probe)."""
        if n:
            self.credit += n
            _wake(self._credit_waiter)

    def on_reply(
        self, header: ReplyHeader, body: Any, attachments: Sequence[Any]
    ) -> None:
        """The call's last message arrived."""
        if self.over:
            return
        self.final = (header, body, attachments)
        self._end()

    def fail(self, error: BaseException, *, cancel: bool = False) -> None:
        """End the call with ``error``; with ``cancel``, tell the server to stop."""
        if self.over:
            return
        self.error = error
        if cancel:
            self.channel.send_control(KIND_CANCEL, self.call_id)
        self._end()

    def expire(self) -> None:
        """The call's deadline passed."""
        self.fail(
            DeadlineExceeded(
                f"{self.method.route} did not finish within {self.timeout:g} s"
            ),
            cancel=True,
        )

    def _end(self) -> None:
        self.over = True
        self.channel.forget_stream(self)
        if not self.done.done():
            self.done.set_result(None)
        _wake(self._waiter)
        _wake(self._credit_waiter)
        pump = self.pump
        if pump is not None and not pump.done() and pump is not _current_task():
            pump.cancel()

    # --- the caller's side -------------------------------------------------

    async def next_item(self) -> Any:
        """The next item, validated; StopAsyncIteration once the stream ended."""
        while True:
            if self.error is not None:
                raise self.error.with_traceback(None)
            if self.items:
                body, attachments = self.items.popleft()
                self.taken += 1
                if self.taken >= max(1, self.window // 2) and not self.over:
                    self.channel.send_control(KIND_CREDIT, self.call_id, self.taken)
                    self.taken = 0
                return self._decode(body, attachments)
            if self.final is not None:
                header, body, attachments = self.final
                decode_reply(self.method.final, header, body, attachments)
                raise StopAsyncIteration
            if self._waiter is not None and not self._waiter.done():
                # As an async generator refuses a second concurrent __anext__.
                raise RuntimeError(
                    f"another task is already reading the items of {self.method.route}"
                )
            waiter = self._waiter = self.loop.create_future()
            await waiter

    def _decode(self, body: Any, attachments: Sequence[Any]) -> Any:
        method = self.method
        try:
            return method.check_reply_item(unpack(body, attachments))
        except DecodeError as exc:
            problem = str(exc)
        except ValueError as exc:  # pydantic's ValidationError is one
            problem = first_problem(exc)
        error = InternalError(
            f"an item of {method.route} does not match its declared type: {problem}"
        )
        self.fail(error, cancel=True)
        raise error

    async def result(self) -> _Final:
        """Wait for the call's last reply (a client stream's result)."""
        while self.final is None and self.error is None:
            await asyncio.shield(self.done)
        if self.error is not None:
            raise self.error.with_traceback(None)
        assert self.final is not None
        return self.final

    def cancel(self, error: RpcError | None = None) -> None:
        """Give up the call: the server cancels its handler."""
        self.fail(error or Cancelled(f"{self.method.route} was cancelled"), cancel=True)

    # --- the client's items --------------------------------------------------

    async def send_items(self, items: AsyncIterable[Any]) -> None:
        """Send the caller's items as credit allows, then END (the pump task)."""
        channel, method = self.channel, self.method
        iterator = aiter(items)
        try:
            index = 0
            while True:
                try:
                    item = await anext(iterator)
                except StopAsyncIteration:
                    break
                while self.credit <= 0 and not self.over:
                    waiter = self._credit_waiter = self.loop.create_future()
                    await waiter
                if self.over:
                    return  # the call ended (the handler stopped reading): stop
                self.credit -= 1
                try:
                    await channel.send_item(self, item)
                except (EncodeError, ValueError, OverflowError) as exc:
                    raise InvalidArgument(
                        f"cannot send item {index} of {method.route}: {exc}"
                    ) from None
                index += 1
            if self.request_sending is not None:
                # An empty stream's END must not overtake the request (items
                # cannot: they wait for credit, which follows the request).
                await asyncio.wait((self.request_sending,))
            if not self.over:
                channel.send_control(KIND_END, self.call_id)
        except asyncio.CancelledError:
            raise
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
    needs no running loop. Iteration ends when the server's handler finishes; it
    raises the call's error as a unary call would (``DeadlineExceeded`` at the
    deadline, which covers the whole stream; ``Unavailable`` if the channel closes
    or the connection drops). Leaving ``async with`` before the end, :meth:`cancel`
    and :meth:`aclose` tell the server, which cancels its handler.

    Items' binary values are read-only views of the received frames.
    """

    def __init__(
        self,
        channel: StreamChannel,
        method: StreamingMethod,
        args: dict[str, Any],
        items: AsyncIterable[Any] | None,
        timeout: float | None,
    ) -> None:
        self._channel = channel
        self._method = method
        self._args = args
        self._items = items
        self._timeout = timeout
        self._call: StreamCall | None = None
        self._closed = False
        self._cancelled = False

    @property
    def call(self) -> StreamCall | None:
        """The call's state once started (flow-control introspection)."""
        return self._call

    @property
    def buffered_max(self) -> int:
        """The most received items that were queued at once (at most the window)."""
        return 0 if self._call is None else self._call.buffered_max

    def _open(self) -> StreamCall:
        call = self._call
        if call is None:
            call = self._call = self._channel.open_stream(
                self._method, self._args, self._items, self._timeout
            )
        return call

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        if self._closed:
            raise StopAsyncIteration
        if self._cancelled:
            raise Cancelled(f"{self._method.route} was cancelled before it started")
        return cast(T, await self._open().next_item())

    async def __aenter__(self) -> Self:
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
        items: AsyncIterable[Any] | None,
        timeout: float | None,
    ) -> None:
        info, outer = client_info(method, args, timeout, items)

        def open_stream(info: Any) -> StreamCall:
            return channel.open_stream(
                cast(StreamingMethod, info.method), info.args, info.items, info.timeout
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
        items: AsyncIterable[Any] | None,
        timeout: float | None,
        interceptors: Sequence[ClientInterceptor],
    ) -> None:
        super().__init__(channel, method, args, items, timeout)
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
            )
            chain.task = loop.create_task(run)
        if not chain.opened.done():
            await asyncio.wait((chain.opened,))
        if chain.call is None:
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
        if call is None:
            call = await self._start()
            if call is None:
                raise await self._end(StopAsyncIteration())
        try:
            return cast(T, await call.next_item())
        except BaseException as exc:
            if not call.over or isinstance(exc, asyncio.CancelledError):
                raise
            raise await self._end(exc) from None

    async def __aenter__(self) -> Self:
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
