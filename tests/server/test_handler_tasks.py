"""Every handler runs in a task of its own from its first line.

``asyncio.timeout``, ``asyncio.TaskGroup``, ``asyncio.current_task()`` and anyio's
cancel scopes need the task they run in. Each works at the top of a unary, a
server-stream and a client-stream handler, whether the handler then waits or not
(a server starts one that does not wait eagerly where Python can), served in memory
and over a socket, on asyncio's loop and on uvloop's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import anyio
import pytest
from feed import FeedClient, Tick, Total
from feed_server import Feed

import uvrpc
from uvrpc.testing import memory_channel
from uvrpc.transport.loop import run as run_loop

KINDS = ("memory", "ipc", "ipc-uvloop")
HANDLERS = ("unary", "server-stream", "client-stream")


class Opening(Feed):
    """A feed whose ``ping``, ``ticks`` and ``upload`` handlers begin with
    ``opening`` and answer the number it returns (``upload`` as its ``bytes``).

    Attributes:
        waits: whether the opening waits (a bare yield) before it returns, or
            returns without waiting.
        tasks: the task each handler found itself in, in call order.
    """

    def __init__(
        self, opening: Callable[[Opening], Awaitable[int]], waits: bool
    ) -> None:
        super().__init__()
        self._opening = opening
        self.waits = waits
        self.tasks: list[asyncio.Task[Any] | None] = []

    async def pause(self) -> None:
        """Wait for one loop iteration if this opening waits."""
        if self.waits:
            await asyncio.sleep(0)

    async def ping(self, *, n: int) -> int:
        return await self._opening(self)

    async def ticks(self, *, count: int, size: int) -> AsyncIterator[Tick]:
        value = await self._opening(self)
        yield Tick(seq=value)

    async def upload(self, *, ticks: AsyncIterator[Tick], label: str) -> Total:
        value = await self._opening(self)
        count = 0
        async for _ in ticks:
            count += 1
        return Total(count=count, bytes=value)


# --- what a handler opens with, and the number it then answers ------------------


async def asyncio_timeout(service: Opening) -> int:
    async with asyncio.timeout(60):
        await service.pause()
        return 1


async def asyncio_timeout_expiring(service: Opening) -> int:
    await service.pause()
    try:
        async with asyncio.timeout(0):
            await asyncio.Event().wait()
    except TimeoutError:
        return -1
    return 0


async def double(n: int) -> int:
    await asyncio.sleep(0)
    return 2 * n


async def task_group(service: Opening) -> int:
    async with asyncio.TaskGroup() as group:
        first = group.create_task(double(1))
        second = group.create_task(double(2))
        await service.pause()
    return first.result() + second.result()


async def current_task(service: Opening) -> int:
    service.tasks.append(asyncio.current_task())
    await service.pause()
    return len(service.tasks)


async def anyio_fail_after(service: Opening) -> int:
    with anyio.fail_after(60):
        await service.pause()
        return 1


async def anyio_fail_after_expiring(service: Opening) -> int:
    await service.pause()
    try:
        with anyio.fail_after(0):
            await anyio.sleep_forever()
    except TimeoutError:
        return -1
    return 0


async def anyio_cancel_scope(service: Opening) -> int:
    with anyio.CancelScope() as scope:
        await service.pause()
        scope.cancel()
        await anyio.sleep_forever()
    return -1 if scope.cancelled_caught else 0


async def anyio_move_on_after(service: Opening) -> int:
    with anyio.move_on_after(0) as scope:
        await service.pause()
        await anyio.sleep_forever()
    return -1 if scope.cancelled_caught else 0


async def asyncio_timeout_escaping(service: Opening) -> int:
    async with asyncio.timeout(0):
        await service.pause()
        await asyncio.Event().wait()
    return 0


OPENINGS: dict[str, tuple[Callable[[Opening], Awaitable[int]], int]] = {
    "asyncio.timeout": (asyncio_timeout, 1),
    "asyncio.timeout, expiring": (asyncio_timeout_expiring, -1),
    "asyncio.TaskGroup": (task_group, 6),
    "anyio.fail_after": (anyio_fail_after, 1),
    "anyio.fail_after, expiring": (anyio_fail_after_expiring, -1),
    "anyio.CancelScope": (anyio_cancel_scope, -1),
    "anyio.move_on_after": (anyio_move_on_after, -1),
}


# --- calling them -----------------------------------------------------------------


def run(main: Coroutine[Any, Any, None], kind: str) -> None:
    run_loop(asyncio.wait_for(main, 15), use_uvloop=kind == "ipc-uvloop")


@contextlib.asynccontextmanager
async def connect(
    service: Opening, kind: str, tmp_path: Path
) -> AsyncIterator[tuple[FeedClient, uvrpc.Server | None]]:
    """A client of ``service``: in memory, or over ipc to a server in this loop."""
    if kind == "memory":
        async with memory_channel(service) as channel:
            yield FeedClient(channel, timeout=10), None
        return
    async with uvrpc.Server(service) as server:
        endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")
        async with uvrpc.Channel(endpoint) as channel:
            yield FeedClient(channel, timeout=10), server


async def two_ticks() -> AsyncIterator[Tick]:
    for seq in range(2):
        yield Tick(seq=seq)


async def call(client: FeedClient, handler: str) -> int:
    """Call the handler of the given kind; the number it answered."""
    if handler == "unary":
        return await client.ping(n=1)
    if handler == "server-stream":
        (tick,) = [tick async for tick in client.ticks(count=1)]
        return tick.seq
    total = await client.upload(ticks=two_ticks())
    assert total.count == 2
    return total.bytes


# --- the tests ----------------------------------------------------------------------


@pytest.mark.parametrize("waits", [False, True], ids=["returns", "waits"])
@pytest.mark.parametrize("handler", HANDLERS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("opening", OPENINGS)
def test_what_needs_a_task_works_at_the_top_of_a_handler(
    opening: str, kind: str, handler: str, waits: bool, tmp_path: Path
) -> None:
    begin, expected = OPENINGS[opening]

    async def main() -> None:
        async with connect(Opening(begin, waits), kind, tmp_path) as (client, server):
            assert await call(client, handler) == expected
            if server is not None:
                assert server.stats.expired == 0

    run(main(), kind)


@pytest.mark.parametrize("waits", [False, True], ids=["returns", "waits"])
@pytest.mark.parametrize("handler", HANDLERS)
@pytest.mark.parametrize("kind", KINDS)
def test_each_call_runs_in_a_task_of_its_own(
    kind: str, handler: str, waits: bool, tmp_path: Path
) -> None:
    async def main() -> None:
        service = Opening(current_task, waits)
        async with connect(service, kind, tmp_path) as (client, _):
            await asyncio.gather(call(client, handler), call(client, handler))
            await call(client, handler)
        first, second, third = service.tasks
        assert first is not None and second is not None and third is not None
        assert len({id(first), id(second), id(third)}) == 3
        assert asyncio.current_task() not in service.tasks

    run(main(), kind)


@pytest.mark.parametrize("waits", [False, True], ids=["returns", "waits"])
@pytest.mark.parametrize("handler", HANDLERS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_timeout_the_handler_lets_escape_is_its_own_error(
    kind: str, handler: str, waits: bool, tmp_path: Path
) -> None:
    """Not the call's deadline, nor a cancellation: the handler's ``TimeoutError``,
    which the client sees as any other exception a handler raises."""

    async def main() -> None:
        service = Opening(asyncio_timeout_escaping, waits)
        async with connect(service, kind, tmp_path) as (client, server):
            with pytest.raises(uvrpc.RemoteError) as caught:
                await call(client, handler)
            assert caught.value.message.startswith("TimeoutError")
            assert caught.value.status == uvrpc.Status.UNKNOWN
            if server is not None:
                assert server.stats.expired == 0 and server.stats.cancelled == 0
            assert [n async for n in client.numbers(count=1)] == [0]  # serving on

    run(main(), kind)
