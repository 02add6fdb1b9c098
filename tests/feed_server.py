"""An implementation of the ``feed`` test service, and hooks tests watch it by."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from feed import FeedServer, Tick, Total


def payload(seq: int, size: int) -> bytes:
    """The bytes tick ``seq`` carries: recognisable, and different per tick."""
    return bytes([seq % 251]) * size


class Feed(FeedServer):
    """Streams ticks, counts uploads, echoes; records what its handlers saw.

    Attributes:
        started: set when a stream handler starts.
        cancelled: set when a stream handler is cancelled (in its ``except``).
        finished: set when a stream handler's ``finally`` runs.
        received: the items the last upload or echo took so far.
        delay: seconds each item's handler waits, per item (a slow producer or
            consumer).
    """

    def __init__(self, delay: float = 0.0) -> None:
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.finished = asyncio.Event()
        self.received: list[Tick] = []
        self.delay = delay
        self.notes: list[str] = []

    async def ping(self, *, n: int) -> int:
        if n < 0:  # a slow call: -n tenths of a second
            await asyncio.sleep(-n / 10)
        return n

    async def notify(self, *, text: str) -> None:
        self.notes.append(text)

    async def ticks(self, *, count: int, size: int) -> AsyncIterator[Tick]:
        self.started.set()
        try:
            for seq in range(count):
                if self.delay:
                    await asyncio.sleep(self.delay)
                yield Tick(seq=seq, data=payload(seq, size))
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        finally:
            self.finished.set()

    async def upload(self, *, ticks: AsyncIterator[Tick], label: str) -> Total:
        self.started.set()
        self.received = []
        total = 0
        try:
            async for tick in ticks:
                self.received.append(tick)
                total += len(tick.data)
                if self.delay:
                    await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        finally:
            self.finished.set()
        return Total(count=len(self.received), bytes=total)

    async def echo(self, *, ticks: AsyncIterator[Tick]) -> AsyncIterator[Tick]:
        self.started.set()
        self.received = []
        try:
            async for tick in ticks:
                self.received.append(tick)
                if self.delay:
                    await asyncio.sleep(self.delay)
                yield tick
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        finally:
            self.finished.set()

    async def numbers(self, *, count: int) -> AsyncIterator[int]:
        for n in range(count):
            yield n
