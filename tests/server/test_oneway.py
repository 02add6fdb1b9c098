"""Oneway methods: a request with call id 0 gets no reply of any kind.

The caller returns once the request is handed to its socket, before the handler
runs; the handler runs; what it raises is logged and counted on the server, never
sent; a oneway request that cannot run is dropped and counted, not answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq
import zmq.asyncio
from conftest import server_thread
from feed import FeedClient, FeedSyncClient
from feed_server import Feed
from raw_frames import decode, request

import uvrpc
from uvrpc.testing import memory_channel

V = uvrpc.PROTOCOL_VERSION


class Notes(Feed):
    """Records notes; the note ``wait`` waits for :attr:`release`, ``fail`` raises."""

    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.finished = asyncio.Event()
        self.seen = threading.Event()

    async def notify(self, *, text: str) -> None:
        self.started.set()
        if text == "wait":
            await self.release.wait()
        if text == "fail":
            raise ValueError("this note is unwelcome")
        self.notes.append(text)
        self.finished.set()
        self.seen.set()


def run(main: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(main, 10))


@contextlib.asynccontextmanager
async def served(
    notes: Notes, tmp_path: Path
) -> AsyncIterator[tuple[uvrpc.Server, FeedClient]]:
    """The service on a server in this loop, and a client of it over ipc."""
    async with uvrpc.Server(notes) as server:
        endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")
        async with FeedClient(endpoint, timeout=5) as client:
            yield server, client


def test_a_oneway_call_returns_before_its_handler_finishes(tmp_path: Path) -> None:
    async def main() -> None:
        notes = Notes()
        async with served(notes, tmp_path) as (server, client):
            assert await client.notify(text="wait") is None  # type: ignore[func-returns-value]
            assert client.channel.pending == 0  # nothing waits for a reply
            await notes.started.wait()
            assert not notes.finished.is_set()
            notes.release.set()
            await notes.finished.wait()
            assert notes.notes == ["wait"]
            assert await client.ping(n=3) == 3
            await asyncio.sleep(0.05)
            assert server.stats.oneway == 1
            assert server.stats.replied == 1  # the ping's reply only
            assert client.channel.dropped_replies == 0

    run(main())


def test_a_raising_oneway_handler_is_logged_and_never_answered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        notes = Notes()
        async with served(notes, tmp_path) as (server, client):
            await client.notify(text="fail")
            await notes.started.wait()
            await asyncio.sleep(0.05)
            assert await client.ping(n=4) == 4
            await asyncio.sleep(0.05)
            assert client.channel.dropped_replies == 0
            assert server.stats.oneway_failed == 1
            assert server.stats.replied == 1

    with caplog.at_level(logging.ERROR, logger="uvrpc.server"):
        run(main())
    records = [r for r in caplog.records if "feed.Feed.notify" in r.getMessage()]
    assert len(records) == 1 and records[0].exc_info is not None
    assert "this note is unwelcome" in str(records[0].exc_info[1])


def raw_oneway(route: str, body: Any) -> list[bytes]:
    header = msgpack.packb([V, 1, 0, route, None])
    return [b"", header, msgpack.packb(body)]


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("feed.Feed.nothing", {}),  # unknown method
        ("feed.Feed.notify", {"1": 5}),  # fails validation
        ("feed.Feed.ping", b"\xc1"),  # not msgpack
    ],
)
def test_a_oneway_request_that_cannot_run_is_dropped(
    tmp_path: Path, route: str, body: Any
) -> None:
    async def main() -> None:
        notes = Notes()
        async with served(notes, tmp_path) as (server, client):
            endpoint = server.endpoints[0]
            sock = zmq.asyncio.Context.instance().socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            try:
                sock.connect(endpoint)
                frames = raw_oneway(route, body)
                if body == b"\xc1":
                    frames[-1] = body
                await sock.send_multipart(frames)
                # A connection's requests are read in order: the first answer on
                # this socket is the ping's, sent after the oneway was dealt with.
                await sock.send_multipart(request(7, "feed.Feed.ping", {"1": 5}))
                header, reply = decode(
                    await asyncio.wait_for(sock.recv_multipart(), 30)
                )
                assert (header[2], reply) == (7, 5)
            finally:
                sock.close()
            assert server.stats.dropped == 1
            assert server.stats.rejected == 0
            assert await client.ping(n=5) == 5

    run(main())


def test_a_oneway_call_in_memory() -> None:
    async def main() -> None:
        notes = Notes()
        async with memory_channel(notes) as channel:
            client = FeedClient(channel)
            await client.notify(text="wait")
            assert channel.pending == 0
            await notes.started.wait()
            assert not notes.finished.is_set()
            notes.release.set()
            await notes.finished.wait()
            await client.notify(text="fail")  # logged, never answered
            assert await client.ping(n=6) == 6
            assert channel.dropped_replies == 0

    run(main())


def test_a_oneway_call_from_the_sync_client() -> None:
    notes = Notes()
    with (
        server_thread(notes) as running,
        FeedSyncClient(running.endpoint, timeout=5) as client,
    ):
        assert client.notify(text="hello") is None  # type: ignore[func-returns-value]
        assert notes.seen.wait(5)
        client.notify(text="fail")
        assert client.ping(n=7) == 7
        assert client.channel.dropped_replies == 0
        assert notes.notes == ["hello"]
        assert running.stats.oneway == 2
        assert running.stats.oneway_failed == 1
