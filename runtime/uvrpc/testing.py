"""Test your handlers without sockets: an in-memory transport.

:func:`memory_channel` returns a :class:`~uvrpc.Channel` whose requests go straight to
the given service implementations in the same event loop. Requests and replies still
travel as encoded frames through the same decoder, validator and dispatcher as over
ZeroMQ — streams with their credit too — so a test sees exactly the errors a real
client would::

    async with uvrpc.testing.memory_channel(MyCalculator()) as channel:
        calc = CalculatorClient(channel)
        assert await calc.add(a=1, b=2) == 3

A blocking client cannot share its caller's thread with the handlers it waits for:
:func:`sync_memory_channel` serves them from a thread of its own, on an
``inproc://`` endpoint (memory, no network), and returns a
:class:`~uvrpc.SyncChannel` connected to it::

    with uvrpc.testing.sync_memory_channel(MyCalculator()) as channel:
        assert CalculatorSyncClient(channel).add(a=1, b=2) == 3
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import os
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from .client.channel import Channel
from .client.sync_channel import SyncChannel
from .core.context import CURRENT_CALL, OUTGOING
from .core.server import RefusedStreamMessage, Rejected, Request, StreamMessage
from .interceptors.base import (
    ClientInterceptor,
    ServerInterceptor,
    SyncClientInterceptor,
)
from .server.dispatch import Dispatcher, RunningCalls
from .server.server import Server
from .server.sessions import CallerGone, StreamHost
from .wire.protocol import DELIMITER, ONEWAY_CALL_ID
from .wire.service import ServiceBase

__all__ = [
    "MemoryTransport",
    "ServedSyncChannel",
    "ServerThread",
    "memory_channel",
    "sync_memory_channel",
]


class MemoryTransport:
    """A client transport delivering requests to services in the same loop.

    Args:
        services: the service implementations.
        stream_window: the items a client may send ahead of a handler taking them
            (``None``: the default window, grown for small items).
        interceptors: run around each handler, as a server's do.
    """

    def __init__(
        self,
        *services: ServiceBase,
        stream_window: int | None = None,
        interceptors: Sequence[ServerInterceptor] = (),
    ) -> None:
        self._dispatcher = Dispatcher(services, interceptors=interceptors)
        self._stream_window = stream_window
        self._streams: StreamHost | None = None
        self._running: RunningCalls | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deliver: Callable[[list[Any]], None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        # The context the handlers' tasks copy: this one's, as a server's handlers
        # copy the context it started in, with no call's metadata scope or served
        # call in it. Not the caller's: over a socket nothing of the caller's
        # context reaches a handler, so its uvrpc.metadata() scope must not reach
        # the calls the handler makes (nor any context variable of its own).
        self._context = contextvars.copy_context()
        self._context.run(OUTGOING.set, None)
        self._context.run(CURRENT_CALL.set, None)

    def attach(
        self, loop: asyncio.AbstractEventLoop, on_message: Callable[[list[Any]], None]
    ) -> None:
        """Deliver replies to ``on_message`` on ``loop``."""
        self._loop = loop
        self._deliver = on_message
        self._streams = StreamHost(self._dispatcher, loop, window=self._stream_window)
        self._running = RunningCalls(loop)

    @property
    def stream_host(self) -> StreamHost | None:
        """The stream calls in progress (for introspection)."""
        return self._streams

    def try_send(self, frames: Sequence[Any]) -> bool:
        """Hand a message to the server's protocol core and run what it asks for,
        as a server does with what its socket receives; always succeeds.

        It runs in a copy of the transport's own context, not the caller's: the
        tasks of the handlers it starts copy that."""
        return self._context.copy().run(self._receive, frames)

    def _receive(self, frames: Sequence[Any]) -> bool:
        assert self._loop is not None and self._deliver is not None, "attach() first"
        streams = self._streams
        running = self._running
        assert streams is not None and running is not None
        try:
            _, message = self._dispatcher.protocol.receive(frames, routed=False)
        except Rejected as rejected:
            if rejected.reply is not None:
                self._loop.call_soon(self._deliver, [DELIMITER, *rejected.reply])
            return True
        if isinstance(message, StreamMessage):
            if not streams.deliver(_CALLER, message) and message.cancels:
                running.cancel(_CALLER, message.header.call_id, message.header)
            return True
        if isinstance(message, RefusedStreamMessage):
            streams.refuse(_CALLER, message.call_id, message.error)
            return True
        if message.route.stream is not None:
            try:
                task = streams.open(_CALLER, _MemoryLink(self), message)
            except Rejected as rejected:
                if rejected.reply is not None:
                    self._loop.call_soon(self._deliver, [DELIMITER, *rejected.reply])
                return True
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return True
        if message.call_id == ONEWAY_CALL_ID:
            work: Coroutine[Any, Any, object] = self._dispatcher.run_oneway(message)
        else:
            work = self._run(message)
        started: asyncio.Task[Any] = self._loop.create_task(work)
        self._tasks.add(started)
        started.add_done_callback(self._tasks.discard)
        if message.call_id != ONEWAY_CALL_ID:
            running.track(_CALLER, started, message)
        return True

    async def _run(self, request: Request) -> None:
        reply = await self._dispatcher.run(request)
        if self._deliver is not None:
            self._deliver([DELIMITER, *reply])
        # The reply's frames are read later, by the task awaiting the call: its
        # buffer comes back to the pool once they are dropped.
        self._dispatcher.settle(reply[-1], False)

    def deliver_soon(self, message: list[Any]) -> None:
        """Hand ``message`` to the channel on the loop's next iteration.

        Raises:
            CallerGone: the channel is closed.
        """
        if self._deliver is None or self._loop is None:
            raise CallerGone("the channel is closed")
        self._loop.call_soon(self._deliver, message)

    async def send(self, frames: Sequence[Any]) -> None:
        """Same as :meth:`try_send`: memory never runs out of room here."""
        self.try_send(frames)

    def close(self) -> None:
        """Cancel handlers still running and stop delivering replies."""
        self._deliver = None
        if self._streams is not None:
            self._streams.close()
        for task in self._tasks:
            task.cancel()
        self._dispatcher.close()


_CALLER = ("memory",)
"""The one caller of a memory transport's streams."""


class _MemoryLink:
    """Hands a stream's messages to the channel, on the next loop iteration."""

    __slots__ = ("_transport",)

    def __init__(self, transport: MemoryTransport) -> None:
        self._transport = transport

    def try_send(self, frames: list[Any]) -> bool:
        # The body is a view of the sender's pooled buffer, reused once this
        # returns: the channel gets a copy. Attachments are the sender's own objects.
        self._transport.deliver_soon([DELIMITER, *frames[:-1], bytes(frames[-1])])
        return True

    async def send(self, frames: list[Any]) -> None:
        self.try_send(frames)

    def replied(self) -> None:
        pass


def memory_channel(
    *services: ServiceBase,
    stream_window: int | None = None,
    interceptors: Sequence[ClientInterceptor] = (),
    server_interceptors: Sequence[ServerInterceptor] = (),
    check_requests: bool = False,
) -> Channel:
    """A :class:`~uvrpc.Channel` served in memory by ``services``.

    ``stream_window`` is both the channel's and the services' window of items.
    ``interceptors`` are the channel's, ``server_interceptors`` the services'
    (as a :class:`~uvrpc.Server` would run them). With ``check_requests`` the
    channel checks each request as the server will before sending it
    (:class:`~uvrpc.Channel`'s argument of that name).
    """
    return Channel(
        MemoryTransport(
            *services, stream_window=stream_window, interceptors=server_interceptors
        ),
        stream_window=stream_window,
        interceptors=interceptors,
        check_requests=check_requests,
    )


_ENDPOINTS = itertools.count()
"""Numbers the ``inproc://`` endpoints of :func:`sync_memory_channel`."""


class ServerThread:
    """A :class:`~uvrpc.Server` of ``services`` on an event loop and thread of its
    own, bound to ``bind``, until :meth:`stop`.

    Args:
        services: the implementations to serve.
        bind: the endpoint to bind (``tcp://127.0.0.1:*`` picks a free port).
        options: keyword arguments for the :class:`~uvrpc.Server`.
        timeout: seconds to wait for the server to start; ``None`` waits as long
            as it takes.

    Raises:
        TimeoutError: the server did not start within ``timeout``.
        Exception: what stopped the server from starting (a bind error, say),
            raised in the caller's thread.
    """

    def __init__(
        self,
        services: Sequence[ServiceBase],
        bind: str,
        options: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        self._services = tuple(services)
        self._bind = bind
        self._options = dict(options or {})
        self.loop = asyncio.new_event_loop()
        """The event loop the server runs on."""
        self.failures: list[BaseException] = []
        """What ended the server with an error, at its start or its close."""
        self._stop: asyncio.Event | None = None
        self._server: Server | None = None
        self._endpoint: str | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run,
            name=f"uvrpc server {bind}",
            daemon=True,  # a test that forgets to stop must not hang the process
        )
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop(0)
            raise TimeoutError(f"the uvrpc server did not start within {timeout:g} s")
        if self._server is None:
            self.stop()
            raise self.failures[0]

    @property
    def server(self) -> Server:
        """The server, started and bound."""
        assert self._server is not None, "set before __init__ returns"
        return self._server

    @property
    def endpoint(self) -> str:
        """The endpoint the server is bound to, a ``*`` port resolved."""
        assert self._endpoint is not None, "set before __init__ returns"
        return self._endpoint

    def _run(self) -> None:
        loop = self.loop
        loop.run_until_complete(self._serve())
        # Stream handlers left suspended are async generators: finish them here,
        # on their loop, not when the collector finds them.
        loop.run_until_complete(loop.shutdown_asyncgens())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with Server(*self._services, **self._options) as server:
                self._endpoint = server.bind(self._bind)
                self._server = server
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:
            # Raised in the caller's thread by __init__ if the server never
            # started; after that, kept in failures for the owner to judge.
            self.failures.append(exc)
        finally:
            self._ready.set()

    def stop(self, timeout: float | None = None) -> bool:
        """Close the server, cancelling handlers still running, and end the
        thread; return whether it ended within ``timeout`` seconds."""
        stop = self._stop
        if self._thread.is_alive() and stop is not None:
            self.loop.call_soon_threadsafe(stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        if not self.loop.is_closed():
            self.loop.close()
        return True


class ServedSyncChannel(SyncChannel):
    """A :class:`~uvrpc.SyncChannel` to services served by a thread of its own,
    which :meth:`close` stops; made by :func:`sync_memory_channel`."""

    def __init__(
        self,
        *services: ServiceBase,
        stream_window: int | None = None,
        interceptors: Sequence[SyncClientInterceptor] = (),
        server_interceptors: Sequence[ServerInterceptor] = (),
        check_requests: bool = False,
    ) -> None:
        self._served = ServerThread(
            services,
            f"inproc://uvrpc-testing-{os.getpid()}-{next(_ENDPOINTS)}",
            {"stream_window": stream_window, "interceptors": server_interceptors},
        )
        try:
            super().__init__(
                self._served.endpoint,
                stream_window=stream_window,
                interceptors=interceptors,
                check_requests=check_requests,
            )
        except BaseException:
            self._served.stop()
            raise

    def close(self, linger: float | None = None) -> None:
        """Close the channel (ending other threads' calls on it), then the
        server (cancelling handlers still running) and its thread."""
        try:
            super().close(linger)
        finally:
            self._served.stop()

    def __enter__(self) -> ServedSyncChannel:
        """``with sync_memory_channel(...) as channel:`` closes it at the end."""
        return self


def sync_memory_channel(
    *services: ServiceBase,
    stream_window: int | None = None,
    interceptors: Sequence[SyncClientInterceptor] = (),
    server_interceptors: Sequence[ServerInterceptor] = (),
    check_requests: bool = False,
) -> ServedSyncChannel:
    """A :class:`~uvrpc.SyncChannel` for the blocking clients, served in memory by
    ``services``.

    A blocking call holds its thread until the reply comes, so the services run on
    an event loop in a thread of their own, behind a :class:`~uvrpc.Server` bound
    to an ``inproc://`` endpoint: requests and replies go through the same codec,
    validation and dispatcher as over the network. Use it as ``with
    sync_memory_channel(service) as channel:``; closing the channel stops the
    server and its thread. The arguments are :func:`memory_channel`'s.
    """
    return ServedSyncChannel(
        *services,
        stream_window=stream_window,
        interceptors=interceptors,
        server_interceptors=server_interceptors,
        check_requests=check_requests,
    )
