"""Requests a correct client never sends, answered without harm to the calls that
are running: a call id its caller has in flight already, and client-stream items
sent before the server granted them (before the call's session started).
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
from uvrpc.wire.protocol import KIND_CREDIT, KIND_END, KIND_ITEM, NIL_BODY

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


def item(call_id: int, seq: int) -> list[bytes]:
    return [b"", msgpack.packb([V, KIND_ITEM, call_id, 0]), msgpack.packb({"1": seq})]


def end(call_id: int) -> list[bytes]:
    return [b"", msgpack.packb([V, KIND_END, call_id, 0]), NIL_BODY]


async def early(messages: list[list[bytes]], **options: Any) -> list[Any]:
    """Serve a Feed with ``options``, hand it ``messages`` before its loop runs
    again (inproc: a send puts a message in the server's pipe at once, so one
    drain reads them all, before a stream's session has started) and return the
    headers and bodies it answers with, up to its final reply."""
    service = Feed()
    async with uvrpc.Server(service, **options) as server:
        endpoint = server.bind(f"inproc://early-{id(server):x}")
        await server.start()
        dealer: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        try:
            dealer.connect(endpoint)
            for frames in messages:
                dealer.send_multipart(frames)
            answers: list[Any] = []
            while not answers or answers[-1][0][1] != 2:
                while not dealer.poll(0):
                    await asyncio.sleep(0.001)
                frames = dealer.recv_multipart()
                answers.append(
                    (msgpack.unpackb(frames[-2]), msgpack.unpackb(frames[-1]))
                )
            answers.append(service.received)
            return answers
        finally:
            dealer.close()


def test_early_client_items_past_the_window_are_refused() -> None:
    async def main() -> None:
        request = [b"", header(9, UPLOAD, None, 4), b"\x80"]
        *answers, received = await early(
            [request, item(9, 0), item(9, 1), item(9, 2)], stream_window=2
        )
        # No CREDIT either: the call failed before it started, and its handler
        # never ran.
        [(head, error)] = answers
        assert head == [V, 2, 9, S.RESOURCE_EXHAUSTED]
        assert error["message"] == (
            f"the client sent item 2 of {UPLOAD} beyond the 2 items it was granted"
        )
        assert received == []

    run(main())


def test_early_client_items_within_the_window_reach_the_handler() -> None:
    async def main() -> None:
        request = [b"", header(9, UPLOAD, None, 4), b"\x80"]
        *answers, received = await early(
            [request, item(9, 0), item(9, 1), end(9)], stream_window=2
        )
        (credit, _), (head, total) = answers
        assert credit[:4] == [V, KIND_CREDIT, 9, 2]
        assert head[:4] == [V, 2, 9, S.OK] and total == {"1": 2, "2": 0}
        assert [tick.seq for tick in received] == [0, 1]

    run(main())
