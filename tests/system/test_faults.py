"""Faults: a server killed and restarted under load, a client killed mid-call, a
slow handler among fast ones, and a graceful shutdown. Each ends promptly with a
typed error or a correct answer, never a hang."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import pytest
import zmq
from calculator import CalculatorSyncClient
from calculator_server import Calculator
from conftest import server_thread
from feed import FeedClient, Tick
from feed_server import Feed
from raw_frames import ADD, decode, is_probe, request

import uvrpc
from uvrpc.server.server import REPLY_SETTLE

HERE = Path(__file__).resolve().parents[1]


def run(main: Coroutine[Any, Any, None], limit: float = 30) -> None:
    asyncio.run(asyncio.wait_for(main, limit))


def start(*args: str) -> subprocess.Popen[str]:
    """``tests/feed_process.py`` with ``args``; its first line of output is read."""
    return subprocess.Popen(
        [sys.executable, str(HERE / "feed_process.py"), *args],
        stdout=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(10)
    assert process.stdout is not None
    process.stdout.close()


def test_a_killed_server_fails_calls_in_flight_and_a_restarted_one_serves(
    tmp_path: Path,
) -> None:
    endpoint = f"ipc://{tmp_path / 'feed.sock'}"
    server = start("serve", "--bind", endpoint)
    assert server.stdout is not None and server.stdout.readline().strip() == endpoint

    async def main() -> None:
        async with FeedClient(endpoint, timeout=30) as client:
            assert await client.ping(n=1) == 1
            # 20 calls the server would answer after 5 s each.
            calls = [client.start_ping(n=-50) for _ in range(20)]
            await asyncio.sleep(0.2)  # let them reach the server
            killed = time.monotonic()
            server.kill()
            outcomes = await asyncio.gather(*calls, return_exceptions=True)
            failed_within = time.monotonic() - killed
            assert all(isinstance(o, uvrpc.Unavailable) for o in outcomes), outcomes
            assert failed_within < 4  # promptly: not the 5 s handlers nor the 30 s
            restarted = start("serve", "--bind", endpoint)
            try:
                assert restarted.stdout is not None
                assert restarted.stdout.readline().strip() == endpoint
                # The same client reconnects by itself (calls made before it
                # has fail at once: the server was down for longer than the
                # channel's connect timeout).
                assert await client.channel.ready(10)
                assert await client.ping(n=2, timeout=10) == 2
                assert [await client.ping(n=i) for i in range(5)] == list(range(5))
            finally:
                stop(restarted)

    try:
        run(main())
    finally:
        stop(server)


def test_a_killed_client_loses_its_reply_quietly(tmp_path: Path) -> None:
    service = Feed()
    with server_thread(service, bind=f"ipc://{tmp_path / 'feed.sock'}") as running:
        client = start("call", "--connect", running.endpoint, "--tenths", "5")
        try:
            assert client.stdout is not None
            assert client.stdout.readline().strip() == "calling"
            deadline = time.monotonic() + 10
            while running.stats.received < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            client.kill()
            client.wait(10)
            # The handler finishes 0.5 s later; its reply has nobody to go to.
            while running.stats.undeliverable < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert running.stats.undeliverable == 1
            assert running.errors == []
        finally:
            stop(client)

        async def after() -> None:
            async with FeedClient(running.endpoint, timeout=10) as fine:
                assert await fine.ping(n=3) == 3

        run(after())


def test_a_slow_handler_never_blocks_the_others(tmp_path: Path) -> None:
    async def main() -> None:
        async with uvrpc.Server(Feed()) as server:
            endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")
            async with FeedClient(endpoint, timeout=10) as client:
                slow = client.start_ping(n=-100)  # ten seconds
                answers = await asyncio.gather(*(client.ping(n=i) for i in range(200)))
                assert answers == list(range(200))
                assert not slow.done()
                slow.release()  # cancels it

    run(main())


def test_a_graceful_shutdown_finishes_calls_within_its_grace(tmp_path: Path) -> None:
    async def main() -> None:
        service = Feed()
        server = uvrpc.Server(service)
        await server.start()
        endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")
        async with FeedClient(endpoint, timeout=20) as client:
            quick = client.start_ping(n=-3)  # answered after 0.3 s
            slow = client.start_ping(n=-100)  # would take 10 s
            while server.in_flight < 2:
                await asyncio.sleep(0.01)
            started = time.monotonic()
            closing = asyncio.ensure_future(server.close(grace=1.0))
            await asyncio.sleep(0.05)
            late = client.start_ping(n=7)  # sent after the server stopped taking calls
            assert await quick == -3  # finished within the grace, and answered
            with pytest.raises(uvrpc.Unavailable):
                await slow  # cancelled at the end of the grace
            with pytest.raises(uvrpc.Unavailable):
                await late  # never read
            await closing
            assert time.monotonic() - started < 5  # the grace, not the 10 s handler
            assert server.in_flight == 0
        # New connections are refused: nothing listens any more.
        async with FeedClient(endpoint, timeout=0.5) as again:
            with pytest.raises(uvrpc.DeadlineExceeded):
                await again.ping(n=1)

    run(main())


def test_replies_sent_within_the_grace_reach_a_caller_busy_when_they_arrive(
    tmp_path: Path,
) -> None:
    """The last calls to finish reply just before the server closes. A client's
    socket drops what it has not read when its connection drops, so the server
    keeps its connections for a moment (``REPLY_SETTLE``, within the grace) for
    its callers to read: here one whose loop is busy, as the replies arrive, for
    half that moment. Without it every reply was lost and every call failed
    UNAVAILABLE, though each had run."""
    handler_s = 0.1  # Feed.ping(n=-1)
    busy_s = handler_s + REPLY_SETTLE / 2  # from the calls' sending on
    results: list[object] = []

    async def main() -> None:
        server = uvrpc.Server(Feed())
        await server.start()
        endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")

        async def calls() -> None:
            async with FeedClient(endpoint, timeout=20) as client:
                await client.ping(n=1)  # connected
                handles = [client.start_ping(n=-1) for _ in range(10)]
                await asyncio.sleep(0.01)  # sent
                time.sleep(busy_s)  # the caller's loop is busy meanwhile
                for handle in handles:
                    try:
                        results.append(await handle)
                    except uvrpc.RpcError as exc:
                        results.append(exc)

        caller = threading.Thread(target=asyncio.run, args=(calls(),))
        caller.start()
        try:
            while server.in_flight < 10:
                await asyncio.sleep(0.005)
            await server.close(grace=5)
        finally:
            await asyncio.to_thread(caller.join)

    run(main())
    assert results == [-1] * 10


def test_every_call_that_ran_is_answered_when_the_server_closes_with_a_grace(
    tmp_path: Path,
) -> None:
    """Quick calls, 8 in flight, while the server closes with a grace: no handler
    is running as it closes, but replies sent a moment before still travel. Each
    call that ran is answered; the others fail UNAVAILABLE, not having run."""
    ran = 0
    answered = 0

    class Counting(Feed):
        async def ping(self, *, n: int) -> int:
            nonlocal ran
            ran += 1
            return n

    async def main() -> None:
        server = uvrpc.Server(Counting())
        await server.start()
        endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")
        going = threading.Event()

        async def calls() -> None:
            nonlocal answered
            async with FeedClient(endpoint, timeout=20) as client:

                async def one_at_a_time() -> None:
                    nonlocal answered
                    while True:
                        try:
                            await client.ping(n=1)
                        except uvrpc.Unavailable:
                            return
                        answered += 1
                        going.set()

                await asyncio.gather(*(one_at_a_time() for _ in range(8)))

        caller = threading.Thread(target=asyncio.run, args=(calls(),))
        caller.start()
        try:
            await asyncio.to_thread(going.wait, 20)
            await asyncio.sleep(0.1)  # calls flowing
            await server.close(grace=2)
        finally:
            await asyncio.to_thread(caller.join)

    run(main())
    assert ran > 8
    assert answered == ran


def test_closing_without_grace_cancels_at_once(tmp_path: Path) -> None:
    async def main() -> None:
        server = uvrpc.Server(Feed())
        await server.start()
        endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")
        async with FeedClient(endpoint, timeout=20) as client:
            slow = client.start_ping(n=-100)
            while server.in_flight < 1:
                await asyncio.sleep(0.01)
            await server.close()
            assert server.in_flight == 0
            with pytest.raises(uvrpc.Unavailable):
                await slow

    run(main())


def test_a_flood_is_refused_and_the_server_stays_bounded(tmp_path: Path) -> None:
    """A caller that sends far more than the server runs at once and reads nothing
    back: requests beyond its share of ``max_in_flight`` are refused, the waiting
    replies stay bounded by that share, and other callers are served meanwhile."""

    flood = 20_000
    with server_thread(
        Calculator(), bind=f"ipc://{tmp_path / 'calc.sock'}", max_in_flight=100
    ) as running:
        sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVHWM, 1)
        sock.setsockopt(zmq.SNDHWM, 0)
        sock.connect(running.endpoint)
        try:
            for call_id in range(1, flood + 1):
                sock.send_multipart(request(call_id, ADD, {"1": call_id, "2": 0}))
            deadline = time.monotonic() + 60
            share = 25  # a quarter of max_in_flight, the default
            while running.stats.received < flood and time.monotonic() < deadline:
                assert running.server is not None
                assert running.server.in_flight <= share
                time.sleep(0.01)
            stats = running.stats
            assert stats.received == flood
            assert running.server is not None and running.server.in_flight <= share
            assert stats.overloaded > 0
            # While the flood's replies wait, others are served: the flood holds
            # only its caller's share.
            with CalculatorSyncClient(running.endpoint, timeout=10) as calc:
                assert calc.add(a=2, b=3) == 5
            # Every request got its answer, a refusal, or was shed and counted.
            answers = refusals = 0
            while sock.poll(2000, zmq.POLLIN):
                frames = sock.recv_multipart()
                if is_probe(frames):
                    continue  # the flood's handlers outlived a probe interval
                header, body = decode(frames)
                if header[3] == uvrpc.Status.OK:
                    assert body == header[2]
                    answers += 1
                else:
                    assert header[3] == uvrpc.Status.RESOURCE_EXHAUSTED
                    refusals += 1
            assert answers + refusals + stats.shed == flood
            assert refusals + stats.shed == stats.overloaded
            with CalculatorSyncClient(running.endpoint, timeout=10) as calc:
                assert calc.add(a=2, b=3) == 5
        finally:
            sock.close()


def test_a_graceful_shutdown_lets_client_streams_and_bidi_streams_finish(
    tmp_path: Path,
) -> None:
    """A stream whose caller is still sending when the server closes with a grace
    gets the rest of its items, so it can end within the grace, as gRPC's
    graceful stop lets in-flight streams finish; a new call is refused at once
    as not run, not left to its deadline."""

    async def ticks(count: int) -> AsyncIterator[Tick]:
        for seq in range(count):
            await asyncio.sleep(0.05)
            yield Tick(seq=seq, data=b"x")

    async def main() -> None:
        server = uvrpc.Server(Feed())
        await server.start()
        endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")
        async with FeedClient(endpoint, timeout=20) as client:
            upload = asyncio.ensure_future(client.upload(ticks=ticks(10)))

            async def echo() -> int:
                async with client.echo(ticks=ticks(10)) as stream:
                    return len([tick async for tick in stream])

            echoed = asyncio.ensure_future(echo())
            while server.in_flight < 2:
                await asyncio.sleep(0.01)
            started = time.monotonic()
            closing = asyncio.ensure_future(server.close(grace=5.0))
            await asyncio.sleep(0.05)
            with pytest.raises(uvrpc.Unavailable, match="did not run"):
                await client.ping(n=1)
            refused = time.monotonic() - started
            # Ten items 50 ms apart: both end about 0.5 s after they started.
            # (count is shared with the echo's handler; bytes are the upload's)
            assert (await upload).bytes == 10
            assert await echoed == 10
            await closing
            assert refused < 1
            assert time.monotonic() - started < 2  # not the whole grace

    run(main())
