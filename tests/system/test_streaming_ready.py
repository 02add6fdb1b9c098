"""A server's stream items that arrived already are returned by the client's
iterator itself, without the coroutine that waits for one; that waiting path
stays for when it is needed (``test_streaming.py``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from feed import FeedClient
from feed_server import Feed

import uvrpc
from uvrpc.client.streams import StreamCall


def counting(monkeypatch: pytest.MonkeyPatch, owner: type, name: str) -> list[int]:
    """Count the calls of ``owner.name`` (which still runs)."""
    calls: list[int] = []
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return calls


def test_items_that_arrived_are_read_without_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits = counting(monkeypatch, StreamCall, "next_item")

    async def main() -> None:
        async with uvrpc.Server(Feed()) as server:
            endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")
            async with uvrpc.Channel(endpoint) as channel:
                client = FeedClient(channel, timeout=10)
                async with client.ticks(count=20, size=3) as items:
                    assert items.call is not None
                    # The server's reply comes after its last item: once the
                    # call is over, every item is queued.
                    await asyncio.wait_for(asyncio.shield(items.call.done), 10)
                    got = [tick.seq async for tick in items]
                assert got == list(range(20))
                assert waits == []

    asyncio.run(main())
