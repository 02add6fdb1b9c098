"""A stream handler that swallows its cancellation is stopped at its next item.

A server ends a stream call (its client's CANCEL, its deadline, its caller gone)
by cancelling the handler's task once. A handler may swallow that
``CancelledError`` (an ``except BaseException``, a helper that does, Python
3.11's ``asyncio.wait_for`` when its inner future finishes at the same moment)
and go on. A unary handler then returns and ends. A stream handler would go on
for ever: it yields items nobody reads until its credit runs out and then waits
for credit that never comes, or waits for items its client will never send,
holding a stream slot until the server closes. So once its call is over, the
next item it yields or asks for raises ``CancelledError`` again: it ends there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import pytest
from feed import FeedClient, Tick, Total
from feed_server import Feed

import uvrpc


def run(main: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(main, 20))


class Stubborn(Feed):
    """Stream handlers that swallow the first ``CancelledError`` they see and go
    on; they record what they did after it."""

    def __init__(self) -> None:
        super().__init__()
        self.swallowed = 0
        self.after: list[str] = []
        """What the handler did once it had swallowed its cancellation."""
        self.never = asyncio.Event()

    async def _swallow_once(self) -> None:
        try:
            await self.never.wait()
        except asyncio.CancelledError:
            if self.swallowed:
                raise
            self.swallowed += 1

    async def ticks(self, *, count: int, size: int) -> AsyncIterator[Tick]:
        self.started.set()
        try:
            yield Tick(seq=0)
            await self._swallow_once()
            self.after.append("yields")
            yield Tick(seq=1)
            self.after.append("yielded")
            await self.never.wait()
        finally:
            self.finished.set()

    async def upload(self, *, ticks: AsyncIterator[Tick], label: str) -> Total:
        try:
            items = ticks.__aiter__()
            await items.__anext__()
            self.started.set()
            try:
                await items.__anext__()  # the client sends no second item
            except asyncio.CancelledError:
                self.swallowed += 1
            self.after.append("reads")
            await items.__anext__()
            self.after.append("read")
            return Total(count=2, bytes=0)
        finally:
            self.finished.set()


@pytest.mark.parametrize("end", ["cancel", "deadline"])
def test_a_server_stream_that_swallows_its_cancellation_ends_at_its_next_item(
    tmp_path: Path, end: str
) -> None:
    async def main() -> None:
        service = Stubborn()
        async with uvrpc.Server(service) as server:
            endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")
            async with FeedClient(endpoint) as client:
                timeout = 0.5 if end == "deadline" else None
                stream = client.ticks(count=10, timeout=timeout)
                with contextlib.suppress(uvrpc.DeadlineExceeded):
                    async for _ in stream:
                        if end == "cancel":
                            await stream.aclose()  # the client gives it up
                await asyncio.wait_for(service.finished.wait(), 10)
        assert service.swallowed == 1
        assert service.after == ["yields"]

    run(main())


def test_a_client_stream_that_swallows_its_cancellation_ends_at_its_next_item(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        service = Stubborn()
        hold = asyncio.Event()

        async def ticks() -> AsyncIterator[Tick]:
            yield Tick(seq=0)
            await hold.wait()

        async with uvrpc.Server(service) as server:
            endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")
            async with FeedClient(endpoint) as client:
                call = asyncio.create_task(client.upload(ticks=ticks()))
                await asyncio.wait_for(service.started.wait(), 10)
                call.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await call
                await asyncio.wait_for(service.finished.wait(), 10)
        assert service.swallowed == 1
        assert service.after == ["reads"]

    run(main())
