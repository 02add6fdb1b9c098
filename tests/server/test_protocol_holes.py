"""Requests a correct client never sends, answered without harm to the calls that
are running: a call id its caller has in flight already, and client-stream items
that arrive before the handler's session took them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import msgpack
import zmq
import zmq.asyncio
from feed import Tick, Total
from feed_server import Feed

import uvrpc

V = uvrpc.PROTOCOL_VERSION
S = uvrpc.Status
PING = "feed.Feed.ping"
UPLOAD = "feed.Feed.upload"


class Gated(Feed):
    """``ping`` and ``upload`` wait for :attr:`gate`; counts the pings started."""

    def __init__(self) -> None:
        super().__init__()
        self.pings = 0
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def ping(self, *, n: int) -> int:
        self.pings += 1
        self.waiting.set()
        await self.gate.wait()
        return n

    async def upload(self, *, ticks: AsyncIterator[Tick], label: str) -> Total:
        self.started.set()
        await self.gate.wait()
        return await super().upload(ticks=ticks, label=label)


def run(main: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(main, 20))


def header(call_id: int, route: str, *rest: Any) -> bytes:
    return msgpack.packb([V, 1, call_id, route, *rest])


@contextlib.asynccontextmanager
async def served(
    service: Feed, tmp_path: Path, **options: Any
) -> AsyncIterator[tuple[uvrpc.Server, zmq.asyncio.Socket]]:
    """A server of ``service`` and a raw DEALER connected to it."""
    async with uvrpc.Server(service, **options) as server:
        endpoint = server.bind(f"ipc://{tmp_path}/s")
        await server.start()
        context = zmq.asyncio.Context.instance()
        dealer = context.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(endpoint)
        try:
            yield server, dealer
        finally:
            dealer.close()


async def reply(dealer: zmq.asyncio.Socket) -> tuple[list[Any], Any]:
    frames = await asyncio.wait_for(dealer.recv_multipart(), 10)
    assert frames[0] == b""
    return msgpack.unpackb(frames[-2]), msgpack.unpackb(frames[-1], raw=False)


def test_a_call_id_in_flight_is_refused_and_the_first_call_goes_on(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        service = Gated()
        async with served(service, tmp_path) as (server, dealer):
            await dealer.send_multipart([b"", header(5, PING, None), b"\x81\xa11\x01"])
            await asyncio.wait_for(service.waiting.wait(), 10)
            # The same id again, while the first call waits in its handler.
            await dealer.send_multipart([b"", header(5, PING, None), b"\x81\xa11\x02"])
            head, error = await reply(dealer)
            assert head == [V, 2, 5, S.FAILED_PRECONDITION]
            assert error["message"].startswith(
                "call id 5 is in flight already on this connection"
            )
            assert service.pings == 1 and server.stats.duplicate == 1
            service.gate.set()
            head, result = await reply(dealer)
            assert head[:4] == [V, 2, 5, S.OK] and result == 1
            # Once ended, the id may be used again.
            await dealer.send_multipart([b"", header(5, PING, None), b"\x81\xa11\x03"])
            head, result = await reply(dealer)
            assert head[:4] == [V, 2, 5, S.OK] and result == 3
            assert service.pings == 2

    run(main())


def test_a_unary_call_id_of_a_running_stream_is_refused(tmp_path: Path) -> None:
    async def main() -> None:
        service = Gated()
        async with served(service, tmp_path) as (server, dealer):
            await dealer.send_multipart([b"", header(9, UPLOAD, None, 4), b"\x80"])
            await asyncio.wait_for(service.started.wait(), 10)
            await dealer.send_multipart([b"", header(9, PING, None), b"\x81\xa11\x01"])
            while True:  # the grant of the stream may come first
                head, body = await reply(dealer)
                if head[1] == 2:
                    break
            assert head == [V, 2, 9, S.FAILED_PRECONDITION]
            assert service.pings == 0 and server.stats.duplicate == 1

    run(main())


def test_a_stream_call_id_in_flight_is_refused(tmp_path: Path) -> None:
    async def main() -> None:
        service = Gated()
        async with served(service, tmp_path) as (server, dealer):
            await dealer.send_multipart([b"", header(9, UPLOAD, None, 4), b"\x80"])
            await asyncio.wait_for(service.started.wait(), 10)
            await dealer.send_multipart([b"", header(9, UPLOAD, None, 4), b"\x80"])
            while True:  # the grant of the stream comes first
                head, body = await reply(dealer)
                if head[1] == 2:
                    break
            assert head == [V, 2, 9, S.FAILED_PRECONDITION]
            assert server.stats.duplicate == 1 and server.stats.streams == 1

    run(main())
