"""Test your handlers without sockets: an in-memory transport.

:func:`memory_channel` returns a :class:`~uvrpc.Channel` whose requests go straight to
the given service implementations in the same event loop. Requests and replies still
travel as encoded frames through the same decoder, validator and dispatcher as over
ZeroMQ, so a test sees exactly the errors a real client would::

    async with uvrpc.testing.memory_channel(MyCalculator()) as channel:
        calc = CalculatorClient(channel)
        assert await calc.add(a=1, b=2) == 3
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from .channel import Channel
from .dispatch import Dispatcher, Rejected, Request
from .protocol import DELIMITER, ONEWAY_CALL_ID
from .service import ServiceBase

__all__ = ["MemoryTransport", "memory_channel"]


class MemoryTransport:
    """A client transport delivering requests to services in the same loop."""

    def __init__(self, *services: ServiceBase) -> None:
        self._dispatcher = Dispatcher(services)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deliver: Callable[[list[Any]], None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def attach(
        self, loop: asyncio.AbstractEventLoop, on_message: Callable[[list[Any]], None]
    ) -> None:
        """Deliver replies to ``on_message`` on ``loop``."""
        self._loop = loop
        self._deliver = on_message

    def try_send(self, frames: Sequence[Any]) -> bool:
        """Hand a request to the dispatcher; always succeeds."""
        assert self._loop is not None and self._deliver is not None, "attach() first"
        try:
            request = self._dispatcher.decode(frames[-2], frames[-1], frames[1:-2])
        except Rejected as rejected:
            if rejected.reply is not None:
                self._loop.call_soon(self._deliver, [DELIMITER, *rejected.reply])
            return True
        if request.call_id == ONEWAY_CALL_ID:
            work: Coroutine[Any, Any, object] = self._dispatcher.run_oneway(request)
        else:
            work = self._run(request)
        task = self._loop.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _run(self, request: Request) -> None:
        reply = await self._dispatcher.run(request)
        if self._deliver is not None:
            self._deliver([DELIMITER, *reply])
        # The reply's frames are read later, by the task awaiting the call: its
        # buffer comes back to the pool once they are dropped.
        self._dispatcher.settle(reply[-1], False)

    async def send(self, frames: Sequence[Any]) -> None:
        """Same as :meth:`try_send`: memory never runs out of room here."""
        self.try_send(frames)

    def close(self) -> None:
        """Cancel handlers still running and stop delivering replies."""
        self._deliver = None
        for task in self._tasks:
            task.cancel()
        self._dispatcher.close()


def memory_channel(*services: ServiceBase) -> Channel:
    """A :class:`~uvrpc.Channel` served in memory by ``services``."""
    return Channel(MemoryTransport(*services))
