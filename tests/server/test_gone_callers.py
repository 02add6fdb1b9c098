"""A unary handler whose caller is gone is cancelled, as its CANCEL would.

A caller may vanish without a word (its process killed, its socket closed with
no CANCEL sent). While a unary handler runs on, the server probes its caller
every ``probe_interval`` with an empty CREDIT, which a client ignores and which
fails to send to a caller whose connection closed; the handler is cancelled
then, rather than run on for nobody (as gRPC cancels a handler whose client's
connection dropped).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import msgpack
import zmq
import zmq.asyncio
from feed import FeedClient, FeedSyncClient
from feed_server import Feed
from raw_frames import V

import uvrpc

PROBE = 0.1
"""The probe interval of these tests' servers, in seconds."""


def run(main: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(main, 15))


class Slow(Feed):
    """``ping`` runs until cancelled; records that it was."""

    def __init__(self) -> None:
        super().__init__()
        self.running = 0

    async def ping(self, *, n: int) -> int:
        if n >= 0:
            return n
        self.running += 1
        try:
            await asyncio.sleep(-n / 10)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        finally:
            self.running -= 1
        return n


async def until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, f"waited in vain for {what}"
        await asyncio.sleep(0.01)


def ping_request(call_id: int, n: int) -> list[bytes]:
    """A request for ``ping(n)`` with no deadline."""
    header = msgpack.packb([V, 1, call_id, "feed.Feed.ping", None])
    return [b"", header, msgpack.packb({"1": n})]


def test_the_handlers_of_a_caller_gone_without_a_word_are_cancelled(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        service = Slow()
        async with uvrpc.Server(service, probe_interval=PROBE) as server:
            endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")
            sock = zmq.asyncio.Context.instance().socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(endpoint)
            for call_id in (1, 2, 3):  # a minute each, no deadline
                await sock.send_multipart(ping_request(call_id, -600))
            await until(lambda: service.running == 3, "the handlers")
            sock.close()  # gone: no CANCEL, nothing more
            await until(lambda: service.running == 0, "the handlers' end")
            # A task's slot comes free in the loop iteration after its end.
            await until(lambda: server.in_flight == 0, "the slots")
            assert server.stats.cancelled == 3

    run(main())


def test_a_caller_still_there_ignores_the_probes(tmp_path: Path) -> None:
    """Calls that outlast several probes end as they would without them, on
    both clients, and nothing is counted stale or dropped."""

    async def main() -> None:
        service = Slow()
        async with uvrpc.Server(service, probe_interval=PROBE) as server:
            endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")
            async with uvrpc.Channel(endpoint) as channel:
                client = FeedClient(channel, timeout=10)
                both = await asyncio.gather(client.ping(n=-5), client.ping(n=-6))
                assert list(both) == [-5, -6]
                assert channel.stale_messages == channel.dropped_replies == 0

            def blocking() -> None:
                with FeedSyncClient(endpoint, timeout=10) as sync:
                    assert sync.ping(n=-5) == -5

            await asyncio.to_thread(blocking)
            assert not service.cancelled.is_set()
            assert server.stats.cancelled == 0

    run(main())
