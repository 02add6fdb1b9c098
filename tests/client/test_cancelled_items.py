"""An async client stream whose items raise ``asyncio.CancelledError`` (they
awaited a future someone else cancelled; the caller's task is not cancelled)
fails its call at once with ``uvrpc.Cancelled``, caused by that error: a bare
``CancelledError`` raised in a caller nobody cancelled would read as its own
cancellation (a TaskGroup would count the call cancelled, not failed).

Before, the task sending the items took the error for its own cancellation and
ended without a word: the caller waited for the call's deadline, or for ever
without one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from feed import FeedClient, Tick
from feed_server import Feed

import uvrpc


async def items() -> AsyncIterator[Tick]:
    yield Tick(seq=0)
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(future.cancel)
    await future


@pytest.mark.parametrize("kind", ["upload", "echo"])
def test_items_raising_cancelled_error_fail_the_call_at_once(
    tmp_path: Path, kind: str
) -> None:
    async def main() -> None:
        async with uvrpc.Server(Feed()) as server:
            endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")
            async with FeedClient(endpoint) as client:  # no deadline
                with pytest.raises(uvrpc.Cancelled, match="raised CancelledError") as e:
                    if kind == "upload":
                        await client.upload(ticks=items())
                    else:
                        async for _ in client.echo(ticks=items()):
                            pass
                assert isinstance(e.value.__cause__, asyncio.CancelledError)
                assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
                assert await client.ping(n=3) == 3

    asyncio.run(asyncio.wait_for(main(), 5))


def test_in_a_task_group_such_a_call_fails_the_group_instead_of_vanishing(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        async with uvrpc.Server(Feed()) as server:
            endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")
            async with FeedClient(endpoint) as client:
                with pytest.raises(ExceptionGroup) as group:
                    async with asyncio.TaskGroup() as tasks:
                        tasks.create_task(client.upload(ticks=items()))
                assert group.value.subgroup(uvrpc.Cancelled) is not None

    asyncio.run(asyncio.wait_for(main(), 5))
