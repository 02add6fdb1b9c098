"""The server: services on a ROUTER socket, driven from an asyncio loop.

Every ready request is received in one batch (:class:`~uvrpc.reactor.SocketReactor`),
decoded and validated on the spot — so a malformed request or an unknown method is
answered at once, without a task — and each valid request runs its handler in a task
of its own, so one slow handler never holds up the others.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, cast

import zmq

from .dispatch import Dispatcher, Rejected, Request
from .errors import ProtocolError
from .protocol import split_envelope
from .reactor import SocketReactor
from .service import ServiceBase

__all__ = ["Server", "ServerStats"]

_log = logging.getLogger("uvrpc.server")


@dataclass(slots=True)
class ServerStats:
    """Counters of what a server has handled since it started."""

    received: int = 0
    """Messages received."""
    replied: int = 0
    """Replies sent, error replies included."""
    rejected: int = 0
    """Requests answered with an error before their handler ran."""
    dropped: int = 0
    """Messages too malformed to answer (no envelope, no header): dropped."""


class Server:
    """Serve one or more services on every endpoint it is bound to.

    Args:
        services: instances of generated ``<Service>Server`` subclasses.
        context: the ZeroMQ context; the process-wide one by default.

    Usage::

        async with uvrpc.Server(MyCalculator()) as server:
            endpoint = server.bind("tcp://127.0.0.1:*")
            await server.serve_forever()

    Leaving the ``async with`` block (or :meth:`close`) stops receiving, cancels the
    handlers still running and closes the socket.
    """

    def __init__(
        self, *services: ServiceBase, context: zmq.Context[Any] | None = None
    ) -> None:
        self._dispatcher = Dispatcher(services)
        ctx = context if context is not None else zmq.Context.instance()
        self._sock: zmq.Socket[bytes] = ctx.socket(zmq.ROUTER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._endpoints: list[str] = []
        self._reactor: SocketReactor | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed: asyncio.Event | None = None
        self.stats = ServerStats()
        """What this server has handled so far."""

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The endpoints bound so far, with wildcard ports resolved."""
        return tuple(self._endpoints)

    def bind(self, endpoint: str) -> str:
        """Listen on ``endpoint`` and return it as clients should connect to it.

        ``tcp://127.0.0.1:*`` picks a free port; the returned endpoint names it.
        """
        self._sock.bind(endpoint)
        bound = cast(bytes, self._sock.getsockopt(zmq.LAST_ENDPOINT)).decode()
        self._endpoints.append(bound)
        return bound

    async def start(self) -> None:
        """Start serving on the running loop (``async with`` does this)."""
        if self._reactor is not None:
            return
        loop = asyncio.get_running_loop()
        self._closed = asyncio.Event()
        self._reactor = SocketReactor(self._sock, loop, self._on_message)

    async def serve_forever(self) -> None:
        """Serve until :meth:`close` is called (from another task)."""
        await self.start()
        assert self._closed is not None
        await self._closed.wait()

    @property
    def in_flight(self) -> int:
        """Handlers running now."""
        return len(self._tasks)

    def _on_message(self, frames: list[zmq.Frame]) -> None:
        stats = self.stats
        stats.received += 1
        try:
            end = split_envelope(frames)
        except ProtocolError as exc:
            stats.dropped += 1
            _log.debug("dropped a message without an envelope: %s", exc)
            return
        envelope = frames[: end + 1]
        try:
            request = self._dispatcher.decode(
                frames[end + 1], frames[end + 2], frames[end + 3 :]
            )
        except Rejected as rejected:
            if rejected.reply is None:
                stats.dropped += 1
                _log.debug("dropped a malformed request: %s", rejected)
            else:
                stats.rejected += 1
                self._send([*envelope, *rejected.reply])
            return
        task = asyncio.ensure_future(self._serve(envelope, request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, envelope: list[zmq.Frame], request: Request) -> None:
        reply = await self._dispatcher.run(request)
        self._send([*envelope, *reply])

    def _send(self, frames: list[Any]) -> None:
        reactor = self._reactor
        if reactor is None:
            return
        # A ROUTER never blocks: at a peer's high-water mark libzmq drops the reply,
        # and the caller's deadline reports it.
        reactor.try_send(frames)
        self.stats.replied += 1

    async def close(self) -> None:
        """Stop receiving, cancel running handlers and close the socket."""
        if self._reactor is not None:
            self._reactor.close()
            self._reactor = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._sock.close(linger=0)
        if self._closed is not None:
            self._closed.set()

    async def __aenter__(self) -> Server:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
