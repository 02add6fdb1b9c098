"""Scaling out: a broker in front of worker processes, ``uvrpc serve --workers``,
and a channel spread over several endpoints (``docs/scaling.md``)."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import msgpack
import pytest
import zmq
import zmq.asyncio
from feed import FeedClient, Tick
from feed_server import Feed
from pid_echo import PidEcho

import uvrpc
import uvrpc.ops.broker
import uvrpc.transport.liveness
from uvrpc.bench.echo import EchoClient
from uvrpc.broker import Broker
from uvrpc.health import HealthClient, HealthStatus, HealthSyncClient
from uvrpc.ops.outbox import Outbox
from uvrpc.protocol import RequestHeaders
from uvrpc.reflection import ReflectionClient

TESTS = Path(__file__).resolve().parents[1]


def uvrpc_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "uvrpc", *args]


@contextmanager
def process(*args: str) -> Iterator[subprocess.Popen[str]]:
    """A ``uvrpc`` command run from this directory; killed by pid if still there."""
    proc = subprocess.Popen(
        uvrpc_cmd(*args), cwd=TESTS, stdout=subprocess.PIPE, text=True
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def served_by(reply: memoryview) -> int:
    """The pid a :class:`PidEcho` reply names."""
    return int.from_bytes(bytes(reply)[-8:], "little")


async def wait_for_pids(client: EchoClient, count: int) -> set[int]:
    """Call until ``count`` different processes have answered; their pids."""
    seen: set[int] = set()
    deadline = time.monotonic() + 30
    while len(seen) < count:
        assert time.monotonic() < deadline, f"only {seen} answered"
        replies = await asyncio.gather(
            *(client.echo(data=b"", timeout=10) for _ in range(count * 4))
        )
        seen.update(served_by(r) for r in replies)
    return seen


def test_a_broker_answers_every_call_once_and_spreads_them(tmp_path: Path) -> None:
    backend = f"ipc://{tmp_path / 'backend.sock'}"
    with (
        process(
            "broker", "--frontend", "tcp://127.0.0.1:*", "--backend", backend
        ) as broker,
        process("serve", "pid_echo:PidEcho", "--connect", backend) as w1,
        process("serve", "pid_echo:PidEcho", "--connect", backend) as w2,
        process("serve", "pid_echo:PidEcho", "--connect", backend) as w3,
    ):
        assert broker.stdout is not None
        frontend = broker.stdout.readline().strip()
        assert frontend.startswith("tcp://127.0.0.1:")
        assert broker.stdout.readline().strip() == backend
        workers = {w1.pid, w2.pid, w3.pid}

        async def main() -> Counter[int]:
            channels = [uvrpc.Channel(frontend) for _ in range(4)]
            clients = [EchoClient(channel) for channel in channels]
            try:
                assert await wait_for_pids(clients[0], 3) == workers

                async def call(client: EchoClient, n: int) -> int:
                    payload = n.to_bytes(4, "little")
                    reply = await client.echo(data=payload, timeout=30)
                    assert bytes(reply)[:-8] == payload
                    return served_by(reply)

                pids = await asyncio.gather(
                    *(call(clients[n % 4], n) for n in range(3000))
                )
                assert all(channel.dropped_replies == 0 for channel in channels)
                assert all(channel.pending == 0 for channel in channels)
                return Counter(pids)
            finally:
                for channel in channels:
                    await channel.close()

        shares = asyncio.run(main())
        assert set(shares) == workers and sum(shares.values()) == 3000
        assert min(shares.values()) >= 300, shares
        broker.send_signal(signal.SIGTERM)
        assert broker.wait(10) == 0


def test_a_killed_worker_is_replaced() -> None:
    with process(
        "serve", "pid_echo:PidEcho", "--workers", "2", "--bind", "tcp://127.0.0.1:*"
    ) as parent:
        assert parent.stdout is not None
        endpoint = parent.stdout.readline().strip()
        outcomes: list[int | type[BaseException]] = []
        try:

            async def main() -> tuple[set[int], int, set[int]]:
                async with uvrpc.Channel(endpoint) as channel:
                    client = EchoClient(channel)
                    first = await wait_for_pids(client, 2)
                    victim = min(first)
                    replaced = asyncio.Event()
                    after_kill: set[int] = set()
                    killed = False

                    async def load() -> None:
                        while not replaced.is_set():
                            try:
                                reply = await client.echo(data=b"x", timeout=60)
                            except uvrpc.RpcError as exc:
                                outcomes.append(type(exc))
                                continue
                            pid = served_by(reply)
                            outcomes.append(pid)
                            if killed:
                                after_kill.add(pid)
                                if after_kill - first:
                                    replaced.set()

                    loaders = [asyncio.ensure_future(load()) for _ in range(8)]
                    while len(outcomes) < 200:
                        await asyncio.sleep(0.01)
                    os.kill(victim, signal.SIGKILL)
                    killed = True
                    await asyncio.wait_for(replaced.wait(), 30)
                    await asyncio.gather(*loaders)
                    replies = await asyncio.gather(
                        *(client.echo(data=b"y", timeout=10) for _ in range(50))
                    )
                    assert {served_by(r) for r in replies} <= after_kill - {victim}
                    return first, victim, after_kill

            first, victim, after_kill = asyncio.run(main())
            newcomers = after_kill - first
            assert len(newcomers) == 1
            errors = [o for o in outcomes if not isinstance(o, int)]
            # The calls the killed worker had taken fail at once (long before
            # their deadline) with UNAVAILABLE; no other call fails.
            assert set(errors) <= {uvrpc.Unavailable}
            parent.send_signal(signal.SIGTERM)
            assert parent.wait(10) == 0
            for pid in first - {victim} | newcomers:
                with pytest.raises(ProcessLookupError):
                    os.kill(pid, 0)
        finally:
            for pid in {o for o in outcomes if isinstance(o, int)}:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def test_workers_remove_the_directory_of_a_parent_killed_outright(
    tmp_path: Path,
) -> None:
    """A parent of ``--workers`` killed with SIGKILL (the OOM killer, a cleanup's
    kill) cannot remove its temporary directory (the backend's socket file):
    its workers, stopping as they find it gone, do. Each such kill left a
    ``uvrpc-workers-*`` directory behind."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    parent = subprocess.Popen(
        uvrpc_cmd("serve", "pid_echo:PidEcho", "--workers", "2")
        + ["--bind", f"ipc://{tmp_path / 'front.sock'}"],
        cwd=TESTS,
        env={**os.environ, "TMPDIR": str(scratch)},
        stdout=subprocess.PIPE,
        text=True,
    )
    workers: set[int] = set()
    try:
        assert parent.stdout is not None
        endpoint = parent.stdout.readline().strip()

        async def main() -> set[int]:
            async with uvrpc.Channel(endpoint) as channel:
                return await wait_for_pids(EchoClient(channel), 2)

        workers = asyncio.run(main())
        (directory,) = scratch.iterdir()
        assert directory.name.startswith("uvrpc-workers-")
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 30
        while directory.exists():
            assert time.monotonic() < deadline, list(directory.iterdir())
            time.sleep(0.1)
        assert list(scratch.iterdir()) == []
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        assert parent.stdout is not None
        parent.stdout.close()
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_workers_stop_and_clean_up_on_a_hangup(tmp_path: Path) -> None:
    """A hangup (the terminal closed) reaches the parent of ``--workers`` and
    its workers, a process group: the parent stops as on SIGTERM and removes its
    temporary directory; SIGHUP killed it outright, leaving the directory."""
    if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
        pytest.skip("SIGHUP is ignored here (nohup), and so in the command")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    parent = subprocess.Popen(
        uvrpc_cmd("serve", "pid_echo:PidEcho", "--workers", "2")
        + ["--bind", f"ipc://{tmp_path / 'front.sock'}"],
        cwd=TESTS,
        env={**os.environ, "TMPDIR": str(scratch)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # a group of its own, as a terminal's job
    )
    try:
        assert parent.stdout is not None
        endpoint = parent.stdout.readline().strip()

        async def main() -> set[int]:
            async with uvrpc.Channel(endpoint) as channel:
                return await wait_for_pids(EchoClient(channel), 2)

        asyncio.run(main())
        assert len(list(scratch.iterdir())) == 1
        os.killpg(parent.pid, signal.SIGHUP)
        assert parent.wait(30) == 0
        assert list(scratch.iterdir()) == []
    finally:
        if parent.poll() is None:
            os.killpg(parent.pid, signal.SIGKILL)
            parent.wait()
        assert parent.stdout is not None
        parent.stdout.close()


@pytest.mark.parametrize("joined", [False, True], ids=["list", "commas"])
def test_a_channel_spreads_calls_over_its_endpoints(joined: bool) -> None:
    asyncio.run(spread_over_two_servers(joined))


async def spread_over_two_servers(joined: bool) -> None:
    async with uvrpc.Server(PidEcho()) as one, uvrpc.Server(PidEcho()) as two:
        endpoints = [one.bind("tcp://127.0.0.1:*"), two.bind("tcp://127.0.0.1:*")]
        target = ",".join(endpoints) if joined else endpoints
        async with uvrpc.Channel(target) as channel:
            # Calls go only to connected servers: let both connect first.
            assert await channel.ready(10)
            await until(lambda: channel.connections == 2, "both connections")
            client = EchoClient(channel)
            replies = await asyncio.gather(
                *(client.echo(data=bytes([n]), timeout=10) for n in range(100))
            )
        assert [bytes(r)[:1] for r in replies] == [bytes([n]) for n in range(100)]
        assert one.stats.replied > 0 and two.stats.replied > 0
        assert one.stats.replied + two.stats.replied == 100


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for ``condition`` (the broker's thread changes what it reads)."""
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        await asyncio.sleep(0.005)


@asynccontextmanager
async def feed_behind(broker: Broker, backend: str) -> AsyncIterator[uvrpc.Server]:
    """A Feed server connected to ``broker``'s ``backend``, once the broker
    counts it (its only server)."""
    async with uvrpc.Server(Feed()) as server:
        server.connect(backend)
        await until(lambda: broker.servers == 1, "the feed server")
        yield server


def test_stream_calls_of_every_kind_work_through_a_broker() -> None:
    asyncio.run(streams_through_a_broker())


async def streams_through_a_broker() -> None:
    with Broker(["inproc://front-streams"], ["inproc://back-streams"]) as broker:
        async with uvrpc.Server(Feed()) as one, uvrpc.Server(Feed()) as two:
            one.connect("inproc://back-streams")
            two.connect("inproc://back-streams")
            await until(lambda: broker.servers == 2, "both servers")
            async with uvrpc.Channel("inproc://front-streams") as channel:
                feed = FeedClient(channel)

                async def ticks() -> list[int]:
                    stream = feed.ticks(count=200, size=3, timeout=30)
                    return [tick.seq async for tick in stream]

                async def upload(size: int) -> int:
                    async def items() -> AsyncIterator[Tick]:
                        for seq in range(200):
                            yield Tick(seq=seq, data=b"a" * size)

                    total = await feed.upload(ticks=items(), timeout=30)
                    # Bytes, not count: the count is of the server's last upload.
                    return total.bytes // size

                async def echo() -> list[int]:
                    async def items() -> AsyncIterator[Tick]:
                        for seq in range(200):
                            yield Tick(seq=seq)

                    stream = feed.echo(ticks=items(), timeout=30)
                    return [tick.seq async for tick in stream]

                # Several at once, so that both servers run some: every message
                # of a call must still reach the server running it.
                results = await asyncio.gather(
                    *(
                        call
                        for n in range(1, 4)
                        for call in (ticks(), upload(n), echo())
                    )
                )
            assert results == [list(range(200)), 200, list(range(200))] * 3
            assert one.stats.streams > 0 and two.stats.streams > 0
            assert broker.in_flight == 0


def test_stream_items_of_mixed_sizes_keep_their_order_through_a_broker() -> None:
    """Small items are batched per turn and an item of ``attachment_min`` bytes
    or more goes alone: the broker sent the large one at once, ahead of the
    small ones it held, and a stream's items reached the other side swapped."""
    asyncio.run(mixed_sizes_through_a_broker())


async def mixed_sizes_through_a_broker() -> None:
    sizes = [0, 40_000, 0, 0, 40_000, 1, 40_000, 40_000, 0]  # 40 kB: attachments

    async def items() -> AsyncIterator[Tick]:
        for seq in range(600):
            yield Tick(seq=seq, data=b"m" * sizes[seq % len(sizes)])

    # Over TCP: items then arrive in bursts, several of them in one turn.
    with Broker(["tcp://127.0.0.1:*"], ["tcp://127.0.0.1:*"]) as broker:
        service = Feed()
        async with uvrpc.Server(service) as server:
            server.connect(broker.backends[0])
            await until(lambda: broker.servers == 1, "the feed server")
            async with uvrpc.Channel(broker.frontends[0]) as channel:
                feed = FeedClient(channel, timeout=30)
                echoed = [tick.seq async for tick in feed.echo(ticks=items())]
                assert echoed == list(range(600))  # both ways through the broker
                await feed.upload(ticks=items())
                assert [tick.seq for tick in service.received] == list(range(600))


def test_a_cancel_reaches_the_server_running_its_call() -> None:
    asyncio.run(cancel_through_a_broker())


async def cancel_through_a_broker() -> None:
    with Broker(["inproc://front-cancel"], ["inproc://back-cancel"]) as broker:
        async with uvrpc.Server(Feed()) as one, uvrpc.Server(Feed()) as two:
            one.connect("inproc://back-cancel")
            two.connect("inproc://back-cancel")
            await until(lambda: broker.servers == 2, "both servers")
            async with uvrpc.Channel("inproc://front-cancel") as channel:
                feed = FeedClient(channel)
                slow = [
                    asyncio.ensure_future(feed.ping(n=-600, timeout=60))
                    for _ in range(8)
                ]
                await until(
                    lambda: one.in_flight + two.in_flight == 8, "the calls to run"
                )
                assert one.in_flight > 0 and two.in_flight > 0
                for task in slow:
                    task.cancel()
                await asyncio.gather(*slow, return_exceptions=True)
                # Each CANCEL went to the server running its call.
                await until(
                    lambda: one.stats.cancelled + two.stats.cancelled == 8,
                    "every handler to be cancelled",
                )
            assert one.stats.stale + two.stats.stale == 0
            assert broker.in_flight == 0


def test_a_call_waits_for_a_server_to_connect() -> None:
    asyncio.run(wait_for_a_server())


async def wait_for_a_server() -> None:
    with Broker(["inproc://front-wait"], ["inproc://back-wait"]) as broker:
        async with uvrpc.Channel("inproc://front-wait") as channel:
            feed = FeedClient(channel)
            call = asyncio.ensure_future(feed.ping(n=5, timeout=30))
            await until(lambda: broker.in_flight == 1, "the call to wait")
            assert not call.done()
            async with uvrpc.Server(Feed()) as server:
                server.connect("inproc://back-wait")
                assert await call == 5
        assert broker.stats.requests == 1 and broker.stats.replies == 1


def test_a_broker_says_when_a_server_and_a_client_swapped_its_endpoints(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server connected to the frontend is logged, not left to wait in
    silence; a client's call to the backend fails at once, saying where clients
    connect, where it waited for its deadline."""
    asyncio.run(swapped_endpoints(caplog))


async def swapped_endpoints(caplog: pytest.LogCaptureFixture) -> None:
    def said() -> str:
        return "\n".join(r.getMessage() for r in caplog.records)

    with (
        caplog.at_level(logging.WARNING, logger="uvrpc.broker"),
        Broker(["inproc://front-swapped"], ["inproc://back-swapped"]) as broker,
    ):
        async with uvrpc.Server(Feed()) as server:
            server.connect("inproc://front-swapped")
            await until(
                lambda: "a server connected to the broker's frontend" in said(),
                "the warning of the server on the frontend",
            )
        assert broker.servers == 0
        async with uvrpc.Channel("inproc://back-swapped") as channel:
            started = time.monotonic()
            with pytest.raises(uvrpc.Unavailable, match="a broker's backend"):
                await FeedClient(channel).ping(n=1, timeout=20)
            assert time.monotonic() - started < 10
        assert "a client connected to the broker's backend" in said()


def test_a_leaving_server_finishes_its_calls_and_gets_no_new_ones(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="uvrpc.broker")
    asyncio.run(leave_a_broker())
    said = [r.getMessage() for r in caplog.records if r.name == "uvrpc.broker"]
    assert "a server is leaving: 1 call still runs" in said  # not "1 calls"


async def leave_a_broker() -> None:
    with Broker(["inproc://front-leave"], ["inproc://back-leave"]) as broker:
        async with uvrpc.Server(Feed()) as staying:
            leaving = uvrpc.Server(Feed())
            await leaving.start()
            leaving.connect("inproc://back-leave")
            await until(lambda: broker.servers == 1, "the leaving server")
            staying.connect("inproc://back-leave")
            await until(lambda: broker.servers == 2, "both servers")
            async with uvrpc.Channel("inproc://front-leave") as channel:
                feed = FeedClient(channel)
                # Two slow calls: the broker gives one to each server.
                slow = [
                    asyncio.ensure_future(feed.ping(n=-3, timeout=30)) for _ in range(2)
                ]
                await until(lambda: leaving.in_flight == 1, "a call on it")
                closing = asyncio.ensure_future(leaving.close(grace=20))
                await until(lambda: broker.servers == 1, "LEAVING")
                replies = await asyncio.gather(
                    *(feed.ping(n=n, timeout=30) for n in range(20))
                )
                assert replies == list(range(20))
                assert await asyncio.gather(*slow) == [-3, -3]
                await closing
            assert leaving.stats.replied == 1
            assert staying.stats.replied == 21


def test_servers_tell_a_restarted_broker_they_are_there(tmp_path: Path) -> None:
    asyncio.run(restart_a_broker(tmp_path))


async def restart_a_broker(tmp_path: Path) -> None:
    front = f"ipc://{tmp_path / 'front.sock'}"
    back = f"ipc://{tmp_path / 'back.sock'}"
    async with uvrpc.Server(Feed()) as server:
        server.connect(back)
        for n in range(2):
            with Broker([front], [back]) as broker:
                await until(lambda: broker.servers == 1, f"READY ({n})")
                async with uvrpc.Channel(front) as channel:
                    assert await FeedClient(channel).ping(n=n, timeout=10) == n


def test_calls_on_a_killed_server_fail_at_once_with_unavailable(
    tmp_path: Path,
) -> None:
    backend = f"ipc://{tmp_path / 'backend.sock'}"
    with (
        Broker(["tcp://127.0.0.1:*"], [backend]) as broker,
        process("serve", "feed_server:Feed", "--connect", backend) as victim,
        process("serve", "feed_server:Feed", "--connect", backend),
    ):

        async def main() -> None:
            async with uvrpc.Channel(broker.frontends[0]) as channel:
                feed = FeedClient(channel)
                await until(lambda: broker.servers == 2, "both servers")
                # Six calls of a minute each: three on each server.
                slow = [
                    asyncio.ensure_future(feed.ping(n=-600, timeout=90))
                    for _ in range(6)
                ]
                await until(lambda: broker.stats.requests == 6, "the calls")
                victim.kill()
                done, running = await asyncio.wait(
                    slow, return_when=asyncio.FIRST_COMPLETED
                )
                await until(lambda: broker.stats.failed == 3, "three failures")
                done = {task for task in slow if task.done()}
                assert len(done) == 3
                for task in done:
                    with pytest.raises(uvrpc.Unavailable, match="went away"):
                        task.result()
                # The other server's calls still run, and the broker still serves.
                assert await feed.ping(n=1, timeout=30) == 1
                assert not any(task.done() for task in set(slow) - done)
                for task in set(slow) - done:
                    task.cancel()
                await asyncio.gather(*slow, return_exceptions=True)

        asyncio.run(main())


def test_a_broker_logs_each_server_that_goes_away(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Servers are logged going as they are coming ("a server connected (N
    now)"): an idle one killed (a WARNING), and one that said LEAVING (INFO)."""
    backend = f"ipc://{tmp_path / 'backend.sock'}"

    def said() -> list[str]:
        return [r.getMessage() for r in caplog.records]

    def wait_for(condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 20
        while not condition():
            assert time.monotonic() < deadline, f"still waiting for {what}"
            time.sleep(0.01)

    with (
        caplog.at_level(logging.INFO, logger="uvrpc.broker"),
        Broker(["tcp://127.0.0.1:*"], [backend]) as broker,
    ):
        with process("serve", "feed_server:Feed", "--connect", backend) as victim:
            wait_for(lambda: broker.servers == 1, "the server")
            victim.kill()
            victim.wait()
            lost = "lost a server (its connection closed; 0 now)"
            wait_for(lambda: lost in said(), "the log of its loss")
        assert [r.levelno for r in caplog.records if r.getMessage() == lost] == [
            logging.WARNING
        ]
        # With a grace, a server says LEAVING before it goes (without one it may
        # close before its LEAVING is sent, and is logged as lost).
        with process(
            "serve", "feed_server:Feed", "--connect", backend, "--grace", "5"
        ) as leaving:
            wait_for(lambda: broker.servers == 1, "the second server")
            leaving.send_signal(signal.SIGTERM)
            assert leaving.wait(20) == 0
            wait_for(lambda: "a server left (0 now)" in said(), "the log of its leave")


def test_a_broker_forgets_calls_whose_callers_gave_up_long_ago(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(uvrpc.ops.broker, "EXPIRY_GRACE", 0.0)
    monkeypatch.setattr(uvrpc.ops.broker, "SWEEP_INTERVAL", 0.05)
    asyncio.run(expire_in_a_broker())


async def expire_in_a_broker() -> None:
    with Broker(["inproc://front-expire"], ["inproc://back-expire"]) as broker:
        # A caller that gave up without a word (a channel sends CANCEL when its
        # call expires, which ends the call in the broker at once).
        sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        try:
            sock.connect("inproc://front-expire")
            header = RequestHeaders("feed.Feed.ping").encode(1, 200)
            sock.send_multipart([b"", header, msgpack.packb({"1": 1})])
            # No server ever came: the waiting request is dropped, not kept.
            await until(lambda: broker.stats.expired == 1, "the sweep")
        finally:
            sock.close()
        assert broker.in_flight == 0 and broker.stats.requests == 0


def test_oneway_calls_go_through_a_broker() -> None:
    asyncio.run(oneway_through_a_broker())


async def oneway_through_a_broker() -> None:
    with Broker(["inproc://front-oneway"], ["inproc://back-oneway"]) as broker:
        feeds = [Feed(), Feed()]
        async with uvrpc.Server(feeds[0]) as one, uvrpc.Server(feeds[1]) as two:
            one.connect("inproc://back-oneway")
            two.connect("inproc://back-oneway")
            await until(lambda: broker.servers == 2, "both servers")
            async with uvrpc.Channel("inproc://front-oneway") as channel:
                feed = FeedClient(channel)
                for n in range(10):
                    await feed.notify(text=str(n))
                await until(
                    lambda: len(feeds[0].notes) + len(feeds[1].notes) == 10,
                    "every note",
                )
        assert sorted(feeds[0].notes + feeds[1].notes, key=int) == [
            str(n) for n in range(10)
        ]
        assert broker.in_flight == 0  # oneway calls are not followed


def test_a_oneway_call_waits_for_a_server_as_a_call_does() -> None:
    """A oneway call made while no server is connected to the broker (none has
    started yet, a worker restarts, the broker restarted and its servers have
    not said READY again) waits for one, as a call does: its caller was told it
    went, and nobody could be told it was dropped."""
    asyncio.run(oneway_waits_for_a_server())


async def oneway_waits_for_a_server() -> None:
    front, back = "inproc://front-oneway-wait", "inproc://back-oneway-wait"
    with Broker([front], [back]) as broker:
        async with uvrpc.Channel(front) as channel:
            client = FeedClient(channel)
            for n in range(3):
                await client.notify(text=str(n), timeout=30)
            # The broker reads a channel's messages in order: once the call
            # after them waits, the oneway calls were read.
            call = asyncio.ensure_future(client.ping(n=7, timeout=30))
            await until(lambda: broker.in_flight == 1, "the call to wait")
            feed = Feed()
            async with uvrpc.Server(feed) as server:
                server.connect(back)
                assert await call == 7
                await until(lambda: len(feed.notes) == 3, "the oneway calls")
        assert sorted(feed.notes) == ["0", "1", "2"]
        assert broker.stats.dropped == 0


# A client whose call, with no deadline, waits until the process is killed.
GONE_CLIENT = """\
import sys

from feed import FeedSyncClient

with FeedSyncClient(sys.argv[1]) as feed:
    print("calling", flush=True)
    feed.ping(n=1)
"""


def test_a_call_waiting_for_a_server_ends_as_its_client_goes(tmp_path: Path) -> None:
    """A call without a deadline waiting in the broker for a server, whose client
    is killed meanwhile, is ended as its connection closes: it is not run once a
    server comes, for a caller that is gone (or, cut off, was told that its
    connection dropped). Another client's waiting call is still served."""
    asyncio.run(client_gone_while_waiting(tmp_path))


async def client_gone_while_waiting(tmp_path: Path) -> None:
    front, back = f"ipc://{tmp_path / 'front'}", f"ipc://{tmp_path / 'back'}"
    with Broker([front], [back]) as broker:
        async with uvrpc.Channel(front) as channel:
            live = asyncio.ensure_future(FeedClient(channel).ping(n=7))
            await until(lambda: broker.in_flight == 1, "the live call to wait")
            gone = subprocess.Popen(
                [sys.executable, "-c", GONE_CLIENT, front],
                cwd=TESTS,
                stdout=subprocess.PIPE,
                text=True,
            )
            try:
                assert gone.stdout is not None
                assert gone.stdout.readline() == "calling\n"
                await until(lambda: broker.in_flight == 2, "its call to wait")
            finally:
                gone.kill()
                gone.wait()
                assert gone.stdout is not None
                gone.stdout.close()
            await until(lambda: broker.in_flight == 1, "its call to end")
            async with uvrpc.Server(Feed()) as server:
                server.connect(back)
                assert await live == 7
        assert broker.stats.requests == 1  # the live call's alone
        assert broker.stats.refused == 1


def test_a_oneway_call_that_waited_past_its_deadline_is_not_run() -> None:
    asyncio.run(oneway_waits_past_its_deadline())


async def oneway_waits_past_its_deadline() -> None:
    front, back = "inproc://front-oneway-late", "inproc://back-oneway-late"
    with Broker([front], [back]) as broker:
        async with uvrpc.Channel(front) as channel:
            client = FeedClient(channel)
            await client.notify(text="late", timeout=0.1)
            call = asyncio.ensure_future(client.ping(n=7, timeout=30))
            await until(lambda: broker.in_flight == 1, "the call to wait")
            await asyncio.sleep(0.2)  # the oneway call's deadline passes
            feed = Feed()
            async with uvrpc.Server(feed) as server:
                server.connect(back)
                assert await call == 7
                await until(lambda: broker.stats.expired == 1, "the expiry")
                assert await client.ping(n=8, timeout=30) == 8
        assert feed.notes == []


def test_a_broker_passes_on_what_it_cannot_read_and_keeps_serving() -> None:
    asyncio.run(garbage_through_a_broker())


async def garbage_through_a_broker() -> None:
    with Broker(["inproc://front-garbage"], ["inproc://back-garbage"]) as broker:
        async with feed_behind(broker, "inproc://back-garbage") as server:
            raw = zmq.asyncio.Context.shadow(zmq.Context.instance()).socket(zmq.DEALER)
            raw.setsockopt(zmq.LINGER, 0)
            raw.connect("inproc://front-garbage")
            try:
                await raw.send_multipart([b"", b"\xc1not msgpack", b"body"])
                await raw.send_multipart([b"only one frame"])
                # A request of another protocol version: the server answers it,
                # through the broker, with the version it speaks.
                other = msgpack.packb([99, 1, 5, "feed.Feed.ping", 1000])
                await raw.send_multipart([b"", other, msgpack.packb({"1": 1})])
                reply = await asyncio.wait_for(raw.recv_multipart(), 10)
            finally:
                raw.close()
            header = msgpack.unpackb(reply[-2])
            assert header[1:4] == [2, 5, uvrpc.Status.UNIMPLEMENTED]
            async with uvrpc.Channel("inproc://front-garbage") as channel:
                assert await FeedClient(channel).ping(n=3, timeout=10) == 3
        assert broker.stats.dropped == 0  # the server judged them, not the broker
        assert server.stats.dropped >= 1


def test_a_broker_follows_no_call_its_server_cannot_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A request without a deadline that its server drops, or answers, never
    stays followed: a client that sent them and went would leave the broker
    holding them for good."""
    asyncio.run(unanswerable_through_a_broker())
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def unanswerable_through_a_broker() -> None:
    front, back = "inproc://front-unanswerable", "inproc://back-unanswerable"
    v, ping, body = uvrpc.PROTOCOL_VERSION, "feed.Feed.ping", msgpack.packb({"1": 1})
    with Broker([front], [back], unknown_service_grace=0) as broker:
        async with feed_behind(broker, back) as server:
            raw = zmq.asyncio.Context.shadow(zmq.Context.instance()).socket(zmq.DEALER)
            raw.setsockopt(zmq.LINGER, 0)
            raw.connect(front)
            try:
                # No call id, and no service served either: nothing to refuse.
                await raw.send_multipart([b"", msgpack.packb([v, 1, -1, ping]), body])
                unserved = msgpack.packb([v, 1, -2, "calculator.Calculator.add"])
                await raw.send_multipart([b"", unserved, body])
                # No delimiter: the server finds no header to read.
                no_envelope = msgpack.packb([v, 1, 3, ping, None])
                await raw.send_multipart([b"no delimiter", no_envelope, body])
                # Malformed, but naming the call: answered.
                for call_id, fields in ((4, [7, None]), (5, [ping, 1.5])):
                    header = msgpack.packb([v, 1, call_id, *fields])
                    await raw.send_multipart([b"", header, body])
                replies = [
                    msgpack.unpackb(
                        (await asyncio.wait_for(raw.recv_multipart(), 10))[-2]
                    )
                    for _ in range(2)
                ]
            finally:
                raw.close()
            assert sorted(replies) == [
                [v, 2, call_id, uvrpc.Status.INVALID_ARGUMENT] for call_id in (4, 5)
            ]
            await until(lambda: server.stats.dropped == 2, "the server's drops")
            assert broker.in_flight == 0
            assert broker.stats.dropped == 1  # the one of no service served


def test_a_broker_cancels_the_stream_of_a_client_that_is_gone() -> None:
    asyncio.run(client_gone_mid_stream())


async def client_gone_mid_stream() -> None:
    feed = Feed()
    with Broker(["inproc://front-gone"], ["inproc://back-gone"]) as broker:
        # Probing an idle stream soon: the probe finds the client gone.
        async with uvrpc.Server(feed, probe_interval=0.2) as server:
            server.connect("inproc://back-gone")
            await until(lambda: broker.servers == 1, "the server")
            raw = zmq.asyncio.Context.shadow(zmq.Context.instance()).socket(zmq.DEALER)
            raw.setsockopt(zmq.LINGER, 0)
            raw.connect("inproc://front-gone")
            header = RequestHeaders("feed.Feed.ticks").encode_stream(1, 60_000, 4)
            body = msgpack.packb({"1": 1_000_000, "2": 0})
            await raw.send_multipart([b"", header, body])
            await asyncio.wait_for(raw.recv_multipart(), 10)  # the first tick
            raw.close()  # gone, without a CANCEL
            # The handler, waiting for credit that never comes, is ended.
            await asyncio.wait_for(feed.finished.wait(), 20)
        assert broker.in_flight == 0 and broker.stats.dropped >= 1


def test_a_server_ends_the_calls_of_a_broker_it_lost(tmp_path: Path) -> None:
    asyncio.run(broker_lost_with_calls(tmp_path))


async def broker_lost_with_calls(tmp_path: Path) -> None:
    front = f"ipc://{tmp_path / 'front.sock'}"
    back = f"ipc://{tmp_path / 'back.sock'}"
    feed = Feed()
    async with uvrpc.Server(feed) as server:
        server.connect(back)
        with Broker([front], [back]) as broker:
            await until(lambda: broker.servers == 1, "the server")
            async with uvrpc.Channel(front) as channel:
                client = FeedClient(channel, timeout=None)
                assert await client.ping(n=1) == 1  # call id 1
                slow = client.start_ping(n=-600)  # call id 2: a minute
                stream = client.ticks(count=10**6)  # call id 3
                assert (await anext(stream)).seq == 0
                await until(lambda: server.in_flight == 2, "both calls")
                broker.close()  # gone at once, as a crash would be
                with pytest.raises(uvrpc.Unavailable):
                    await slow
        # Nobody can be answered now: a restarted broker follows none of these
        # calls, and libzmq numbers a new broker's clients as it numbered the
        # old one's, so a new client would find these call ids in use.
        await until(lambda: server.in_flight == 0, "the calls ended")
        assert feed.finished.is_set()
        with Broker([front], [back]) as broker:
            await until(lambda: broker.servers == 1, "the server, again")
            async with uvrpc.Channel(front) as channel:
                client = FeedClient(channel, timeout=10)
                assert await client.ping(n=1) == 1
                assert await client.ping(n=2) == 2  # call id 2 is free


def test_a_broker_reached_by_host_name_is_seen_lost_after_it_restarted() -> None:
    asyncio.run(broker_by_name_lost_twice())


def test_a_broker_by_host_name_is_seen_lost_without_a_name_lookup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server reads its monitor on its event loop: a lookup of the broker's
    host name there stalls every call for as long as the resolver takes (the
    moment a broker is lost is one a DNS server may be unreachable too), and
    finds nothing once the name is gone or points at the broker's next host.
    A connection to the only broker on the port reported, which no client of
    this server can have, is that broker's without one."""

    def unreachable(*args: object, **kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_AGAIN, "the resolver is unreachable")

    resolver = SimpleNamespace(getaddrinfo=unreachable, SOCK_STREAM=0)
    monkeypatch.setattr(uvrpc.transport.liveness, "socket", resolver)
    asyncio.run(broker_by_name_lost_twice())


async def broker_by_name_lost_twice() -> None:
    """libzmq names a connection by the endpoint given only until it reconnects,
    then by the address its host name resolved to: the second loss of a broker
    reached as ``localhost`` must end its calls as the first did."""
    feed = Feed()
    async with uvrpc.Server(feed) as server:
        back = "tcp://127.0.0.1:*"
        for attempt in range(2):
            with Broker(["tcp://127.0.0.1:*"], [back]) as broker:
                if attempt == 0:
                    back = broker.backends[0]  # the same port again, below
                    server.connect(back.replace("127.0.0.1", "localhost"))
                await until(lambda: broker.servers == 1, f"the server ({attempt})")
                async with uvrpc.Channel(broker.frontends[0]) as channel:
                    slow = FeedClient(channel, timeout=None).start_ping(n=-600)
                    await until(lambda: server.in_flight == 1, f"call {attempt}")
                    broker.close()
                    with pytest.raises(uvrpc.Unavailable):
                        await slow
            await until(lambda: server.in_flight == 0, f"call {attempt} ended")


# A client of the server's own endpoint that names itself as the server once
# named its first broker connects before the server connects to the broker.
NAMED_AS_A_BROKER = """
import asyncio, sys, zmq, zmq.asyncio
import uvrpc
from feed import FeedClient
from feed_server import Feed
from uvrpc.broker import Broker

async def main(tmp):
    front, back, own = (f"ipc://{tmp}/{name}" for name in ("front", "back", "own"))
    async with uvrpc.Server(Feed()) as server:
        server.bind(own)
        peer = zmq.asyncio.Context.instance().socket(zmq.DEALER)
        peer.setsockopt(zmq.LINGER, 0)
        peer.setsockopt(zmq.ROUTING_ID, b"uvrpc-broker-0")
        peer.connect(own)
        await peer.send_multipart([b"", b"\\x93\\x03\\x05\\x01", b"\\xc0"])
        while server.stats.received == 0:
            await asyncio.sleep(0.005)
        server.connect(back)
        with Broker([front], [back]) as broker:
            while broker.servers == 0:
                await asyncio.sleep(0.005)
            async with uvrpc.Channel(front) as channel:
                print(await FeedClient(channel, timeout=10).ping(n=7))
        peer.close()

asyncio.run(asyncio.wait_for(main(sys.argv[1]), 20))
"""


def test_a_client_named_as_a_broker_does_not_abort_the_server(tmp_path: Path) -> None:
    """The server's name on a broker connection is not one a client can take."""
    done = subprocess.run(
        [sys.executable, "-c", NAMED_AS_A_BROKER, str(tmp_path)],
        cwd=TESTS,
        env={**os.environ, "PYTHONPATH": str(TESTS)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, "7\n"), done.stderr


def test_a_stream_that_cannot_be_passed_on_whole_is_failed_not_holed() -> None:
    asyncio.run(overflow_a_server())


async def overflow_a_server() -> None:
    context = zmq.asyncio.Context.shadow(zmq.Context.instance())
    with Broker(["inproc://front-full"], ["inproc://back-full"], hwm=4) as broker:
        # A server that says READY and then reads nothing: its pipe fills.
        stuck = context.socket(zmq.ROUTER)
        stuck.setsockopt(zmq.LINGER, 0)
        stuck.setsockopt(zmq.RCVHWM, 1)
        stuck.setsockopt(zmq.CONNECT_ROUTING_ID, b"broker")
        stuck.connect("inproc://back-full")
        ready = uvrpc.protocol.encode_stream_header(uvrpc.protocol.KIND_READY, 0)
        await stuck.send_multipart([b"broker", b"", ready])
        await until(lambda: broker.servers == 1, "the stuck server")
        client = context.socket(zmq.DEALER)
        client.setsockopt(zmq.LINGER, 0)
        client.connect("inproc://front-full")
        try:
            header = RequestHeaders("feed.Feed.upload").encode_stream(7, 60_000, None)
            await client.send_multipart([b"", header, msgpack.packb({"2": ""})])
            item = uvrpc.protocol.encode_stream_header(uvrpc.protocol.KIND_ITEM, 7)
            for seq in range(50):
                tick = msgpack.packb({"1": seq, "2": b""})
                await client.send_multipart([b"", item, tick])
            reply = await asyncio.wait_for(client.recv_multipart(), 10)
        finally:
            client.close()
            stuck.close()
        kind, call_id, status = msgpack.unpackb(reply[-2])[1:4]
        assert (kind, call_id) == (uvrpc.protocol.KIND_REPLY, 7)
        assert status == uvrpc.Status.RESOURCE_EXHAUSTED
        assert b"full queue" in reply[-1]
        assert broker.stats.broken == 1


def test_a_leaving_server_refuses_late_requests_as_not_run() -> None:
    asyncio.run(late_requests_to_a_leaving_server())


async def late_requests_to_a_leaving_server() -> None:
    context = zmq.asyncio.Context.shadow(zmq.Context.instance())
    # A broker's backend, played by hand, so that a request can reach the server
    # after it said LEAVING.
    backend = context.socket(zmq.ROUTER)
    backend.setsockopt(zmq.LINGER, 0)
    backend.bind("inproc://back-late")
    try:
        async with uvrpc.Server(Feed()) as server:
            server.connect("inproc://back-late")
            worker, _, ready = await asyncio.wait_for(backend.recv_multipart(), 10)
            assert msgpack.unpackb(ready)[1] == uvrpc.protocol.KIND_READY
            ping = RequestHeaders("feed.Feed.ping")
            slow = [worker, b"client", b"", ping.encode(1, 30_000)]
            await backend.send_multipart([*slow, msgpack.packb({"1": -3})])
            await until(lambda: server.in_flight == 1, "the slow call")
            closing = asyncio.ensure_future(server.close(grace=20))
            while True:  # READY may come again before LEAVING
                message = await asyncio.wait_for(backend.recv_multipart(), 10)
                if msgpack.unpackb(message[-1])[1] == uvrpc.protocol.KIND_LEAVING:
                    break
            late = [worker, b"client", b"", ping.encode(2, 30_000)]
            await backend.send_multipart([*late, msgpack.packb({"1": 5})])
            refused = await asyncio.wait_for(backend.recv_multipart(), 10)
            assert msgpack.unpackb(refused[-2])[2:4] == [2, uvrpc.Status.UNAVAILABLE]
            assert b"did not run" in refused[-1]
            answered = await asyncio.wait_for(backend.recv_multipart(), 10)
            assert msgpack.unpackb(answered[-2])[2:4] == [1, uvrpc.Status.OK]
            await closing
    finally:
        backend.close()


async def raw_call(front: str, route: str, call_id: int = 1) -> tuple[int, bytes]:
    """Send one request of ``route`` (a minute's timeout) from a bare DEALER; the
    status and body of its reply."""
    context = zmq.asyncio.Context.shadow(zmq.Context.instance())
    raw = context.socket(zmq.DEALER)
    raw.setsockopt(zmq.LINGER, 0)
    raw.connect(front)
    try:
        header = RequestHeaders(route).encode(call_id, 60_000)
        await raw.send_multipart([b"", header, msgpack.packb({"1": 1, "2": 2})])
        reply = await asyncio.wait_for(raw.recv_multipart(), 10)
    finally:
        raw.close()
    return msgpack.unpackb(reply[-2])[3], reply[-1]


@asynccontextmanager
async def feed_and_echo_servers(
    name: str,
) -> AsyncIterator[tuple[Broker, str, uvrpc.Server, uvrpc.Server]]:
    """A broker on ``inproc://`` endpoints named after ``name``, with a server of
    ``feed.Feed`` and one of ``echo.Echo`` behind it: the broker, its frontend
    and the two servers, once both are connected."""
    front, back = f"inproc://front-{name}", f"inproc://back-{name}"
    with Broker([front], [back], unknown_service_grace=0) as broker:
        async with uvrpc.Server(Feed()) as feeds, uvrpc.Server(PidEcho()) as echoes:
            feeds.connect(back)
            echoes.connect(back)
            await until(lambda: broker.servers == 2, "both servers")
            yield broker, front, feeds, echoes


def test_a_broker_sends_each_call_to_a_server_of_its_service() -> None:
    asyncio.run(route_by_service())


async def route_by_service() -> None:
    async with feed_and_echo_servers("services") as (broker, front, feeds, echoes):
        async with uvrpc.Channel(front) as channel:
            feed, echo = FeedClient(channel), EchoClient(channel)
            pings = asyncio.gather(*(feed.ping(n=n, timeout=10) for n in range(60)))
            echoed = asyncio.gather(
                *(echo.echo(data=b"%d" % n, timeout=10) for n in range(60))
            )
            assert await pings == list(range(60))
            assert [bytes(r)[:-8] for r in await echoed] == [
                b"%d" % n for n in range(60)
            ]
            # The services every server answers go to either.
            health = HealthClient(channel)
            for _ in range(4):
                await health.check(service="", timeout=10)
        # A service no server serves is refused at once, not at its deadline.
        status, body = await raw_call(front, "calculator.Calculator.add")
        assert status == uvrpc.Status.UNIMPLEMENTED
        assert b"no server behind this broker serves 'calculator.Calculator'" in body
        assert b"feed.Feed" in body
    assert feeds.stats.replied >= 60 and echoes.stats.replied >= 60
    assert feeds.stats.dropped == echoes.stats.dropped == 0
    assert broker.stats.unserved == 1 and broker.in_flight == 0


def test_a_check_or_description_of_a_service_goes_to_a_server_of_it() -> None:
    """Behind a broker shared by servers of different services, a health check
    or a description naming a service is answered by a server of that service:
    sent to whichever server the broker picked, half were answered
    SERVICE_UNKNOWN or NOT_FOUND (and ``uvrpc call`` refused half its calls as
    of a service "this server" does not serve)."""
    asyncio.run(ask_about_services())


async def ask_about_services() -> None:
    async with feed_and_echo_servers("about") as (broker, front, feeds, echoes):
        async with uvrpc.Channel(front) as channel:
            health, reflection = HealthClient(channel), ReflectionClient(channel)
            echo = "echo.Echo"
            for _ in range(6):
                for service in ("feed.Feed", echo):
                    status = await health.check(service=service, timeout=10)
                    assert status is HealthStatus.SERVING, service
                    described = await reflection.describe(name=service, timeout=10)
                    assert [s["name"] for s in described["services"]] == [service]
                # A name no server announced goes to any server, as before.
                status = await health.check(service="no.Such", timeout=10)
                assert status is HealthStatus.SERVICE_UNKNOWN


def test_a_watch_of_a_service_goes_to_a_server_of_it() -> None:
    """A watch of a service through a broker shared by servers of different
    services starts SERVING, from a server of that service, as a check does:
    ``HealthClient.watch`` and ``HealthSyncClient.watch`` name the service in
    their metadata too, not only ``uvrpc health --watch``."""
    asyncio.run(watch_services())


async def watch_services() -> None:
    async with feed_and_echo_servers("watch") as (broker, front, feeds, echoes):
        async with uvrpc.Channel(front) as channel:
            health = HealthClient(channel)
            # Each service twice in a row: the broker's picks in turn
            # cannot line up with the services asked about.
            for service in ("feed.Feed", "echo.Echo") * 3:
                for _ in range(2):
                    async with health.watch(service=service, timeout=10) as seen:
                        first = await anext(seen)
                    assert first is HealthStatus.SERVING, service

        def watch_blocking(service: str) -> HealthStatus:
            with uvrpc.SyncChannel(front) as sync_channel:
                items = HealthSyncClient(sync_channel).watch(
                    service=service, timeout=10
                )
                first = next(items)
                items.close()
                return first

        for service in ("feed.Feed", "echo.Echo") * 3:
            for _ in range(2):
                first = await asyncio.to_thread(watch_blocking, service)
                assert first is HealthStatus.SERVING, service


def test_a_refusal_is_counted_before_its_reply_can_reach_the_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The broker runs in a thread of its own: a client that holds the refusal
    must find it in the broker's counters, so the count comes first."""
    counted_when_sent: list[int] = []
    reply_error = Broker._reply_error

    def recording(
        self: Broker, client: bytes, call_id: int, error: uvrpc.RpcError
    ) -> None:
        counted_when_sent.append(self.stats.unserved)
        reply_error(self, client, call_id, error)

    monkeypatch.setattr(Broker, "_reply_error", recording)

    async def main() -> None:
        front, back = "inproc://front-counted", "inproc://back-counted"
        with Broker([front], [back], unknown_service_grace=0) as broker:
            async with feed_behind(broker, back):
                status, _ = await raw_call(front, "calculator.Calculator.add")
                assert status == uvrpc.Status.UNIMPLEMENTED
                assert broker.stats.unserved == 1

    asyncio.run(main())
    assert counted_when_sent == [1]


def test_a_reply_is_counted_before_it_is_passed_to_its_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counted_when_sent: list[int] = []
    brokers: list[Broker] = []
    send = Outbox.send

    def recording(
        self: Outbox, to: Any, frames: Sequence[Any], tag: Any = None
    ) -> None:
        if type(tag) is tuple and tag[1] is True:  # to a client: (id, reply, call)
            counted_when_sent.append(brokers[0].stats.replies)
        send(self, to, frames, tag)

    monkeypatch.setattr(Outbox, "send", recording)

    async def main() -> None:
        front, back = "inproc://front-replies", "inproc://back-replies"
        with Broker([front], [back]) as broker:
            brokers.append(broker)
            async with feed_behind(broker, back):
                async with uvrpc.Channel(front) as channel:
                    for n in range(3):
                        assert await FeedClient(channel).ping(n=n, timeout=10) == n

    asyncio.run(main())
    assert counted_when_sent == [1, 2, 3]


def test_a_new_broker_lets_a_call_wait_for_a_server_of_its_service() -> None:
    asyncio.run(wait_for_a_server_of_its_service())


async def wait_for_a_server_of_its_service() -> None:
    # Within its grace a broker has not yet heard from every server: a call of a
    # service it does not know waits for one.
    front, back = "inproc://front-grace", "inproc://back-grace"
    with Broker([front], [back], unknown_service_grace=60) as broker:
        async with feed_behind(broker, back) as feeds:
            async with uvrpc.Channel(front) as channel:
                call = asyncio.ensure_future(
                    EchoClient(channel).echo(data=b"late", timeout=30)
                )
                await until(lambda: broker.in_flight == 1, "the call to wait")
                assert not call.done()
                async with uvrpc.Server(PidEcho()) as echoes:
                    echoes.connect(back)
                    assert bytes(await call)[:-8] == b"late"
        assert feeds.stats.received == 0


def test_one_client_cannot_fill_the_queue_of_a_broker() -> None:
    asyncio.run(fill_the_queue())


async def fill_the_queue() -> None:
    front, back = "inproc://front-share", "inproc://back-share"
    with Broker([front], [back], hwm=40, max_waiting_per_client=10) as broker:
        # By default a client may fill a quarter of the queue.
        with Broker([front + "-x"], [back + "-x"], hwm=40) as default:
            assert default.max_waiting_per_client == 10
        async with uvrpc.Channel(front) as greedy, uvrpc.Channel(front) as other:
            # No server yet: requests wait, ten of each client at most.
            waiting = [
                asyncio.ensure_future(FeedClient(greedy).ping(n=n, timeout=30))
                for n in range(10)
            ]
            await until(lambda: broker.in_flight == 10, "ten waiting calls")
            for _ in range(3):
                with pytest.raises(
                    uvrpc.ResourceExhausted, match="max_waiting_per_client=10"
                ):
                    await FeedClient(greedy).ping(n=99, timeout=30)
            # The other client's requests still wait: its share is its own.
            others = [
                asyncio.ensure_future(FeedClient(other).ping(n=n, timeout=30))
                for n in range(10)
            ]
            await until(lambda: broker.in_flight == 20, "the other client's calls")
            async with uvrpc.Server(Feed()) as server:
                server.connect(back)
                assert await asyncio.gather(*waiting) == list(range(10))
                assert await asyncio.gather(*others) == list(range(10))
        assert broker.stats.refused == 3


def test_one_client_cannot_take_every_call_a_broker_follows() -> None:
    asyncio.run(take_every_call())


async def take_every_call() -> None:
    front, back = "inproc://front-calls", "inproc://back-calls"
    with Broker([front], [back], max_calls_per_client=4) as broker:
        async with feed_behind(broker, back) as server:
            async with uvrpc.Channel(front) as greedy, uvrpc.Channel(front) as other:
                slow = [
                    asyncio.ensure_future(FeedClient(greedy).ping(n=-600, timeout=90))
                    for _ in range(4)
                ]
                await until(lambda: server.in_flight == 4, "four slow calls")
                with pytest.raises(
                    uvrpc.ResourceExhausted, match="max_calls_per_client=4"
                ):
                    await FeedClient(greedy).ping(n=1, timeout=30)
                replies = await asyncio.gather(
                    *(FeedClient(other).ping(n=n, timeout=30) for n in range(4))
                )
                assert replies == list(range(4))
                for task in slow:
                    task.cancel()
                await asyncio.gather(*slow, return_exceptions=True)
                # Its calls over, the greedy client is served again.
                await until(lambda: broker.in_flight == 0, "the cancels")
                assert await FeedClient(greedy).ping(n=2, timeout=30) == 2
        assert broker.stats.refused == 1


def test_a_close_with_a_grace_lets_the_calls_in_flight_finish(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="uvrpc.broker"):
        asyncio.run(close_with_a_grace(tmp_path))
    said = [r.getMessage() for r in caplog.records]
    # The count depends on how many of the calls had ended as the close began.
    began = r"closing: new calls refused, \d+ in flight given up to 60 s to end"
    assert any(re.fullmatch(began, m) for m in said)
    assert "every call in flight ended: closing" in said


async def close_with_a_grace(tmp_path: Path) -> None:
    """Calls and a stream in flight finish through a broker closing with a grace,
    over ipc:// (whose clients drop unread replies when the connection drops);
    a new call meanwhile is refused UNAVAILABLE; the close ends with them, not
    at the end of the grace."""
    front, back = f"ipc://{tmp_path / 'front'}", f"ipc://{tmp_path / 'back'}"
    broker = Broker([front], [back])
    broker.start()
    try:
        async with uvrpc.Server(Feed(delay=0.1)) as server:
            server.connect(back)
            await until(lambda: broker.servers == 1, "the server")
            async with uvrpc.Channel(front) as channel:
                feed = FeedClient(channel)
                slow = [
                    asyncio.ensure_future(feed.ping(n=-5, timeout=30)) for _ in range(4)
                ]
                stream = feed.ticks(count=8, size=1, timeout=30)
                first = await anext(stream)
                await until(lambda: server.in_flight == 5, "the calls to run")
                began = time.monotonic()
                closing = asyncio.ensure_future(asyncio.to_thread(broker.close, 60))
                while True:  # until the broker refuses new calls
                    try:
                        assert await feed.ping(n=1, timeout=10) == 1
                    except uvrpc.Unavailable as exc:
                        assert "shutting down: the call did not run" in str(exc)
                        break
                    assert not closing.done()
                    await asyncio.sleep(0.01)
                assert await asyncio.gather(*slow) == [-5] * 4
                rest = [tick.seq async for tick in stream]
                assert [first.seq, *rest] == list(range(8))
                await closing
                assert time.monotonic() - began < 30  # not the grace's 60 s
                assert broker.stats.refused >= 1
                assert broker.in_flight == 0
    finally:
        broker.close()


def test_a_broker_refuses_a_grace_that_is_no_number_of_seconds() -> None:
    with Broker(["inproc://front-nan"], ["inproc://back-nan"]) as broker:
        for grace in (-1.0, math.nan, math.inf):
            with pytest.raises(ValueError, match="finite number of seconds"):
                broker.close(grace)
        for wrong in ("5", None):
            with pytest.raises(TypeError, match="a grace is a number of seconds"):
                broker.close(cast(Any, wrong))


@pytest.mark.parametrize("grace", [math.nan, math.inf, -1.0, "2", True])
def test_a_broker_refuses_an_unknown_service_grace_that_is_no_seconds(
    grace: Any,
) -> None:
    """A NaN grace made the broker never judge a service unserved (every
    comparison with it is false): calls for a service no server serves waited
    for their deadlines instead of being answered UNIMPLEMENTED."""
    with pytest.raises(ValueError, match="unknown_service_grace"):
        Broker(
            ["inproc://front-grace"],
            ["inproc://back-grace"],
            unknown_service_grace=grace,
        )


def test_a_closed_broker_says_so_when_started_again() -> None:
    broker = Broker(["inproc://front-again"], ["inproc://back-again"])
    broker.start()
    broker.close()
    with pytest.raises(RuntimeError, match="this broker is closed"):
        broker.start()


def test_a_closing_broker_refuses_the_calls_waiting_for_a_server() -> None:
    asyncio.run(refuse_waiting_calls())


async def refuse_waiting_calls() -> None:
    """They never reached a server: refused at once as not run, they do not hold
    the close for its grace (and a grace of any real number is taken)."""
    broker = Broker(["inproc://front-closing"], ["inproc://back-closing"])
    broker.start()
    try:
        async with uvrpc.Channel("inproc://front-closing") as channel:
            call = asyncio.ensure_future(FeedClient(channel).ping(n=5, timeout=30))
            await until(lambda: broker.in_flight == 1, "the call to wait")
            began = time.monotonic()
            grace: Any = Decimal(30)  # a number, though not a float
            closing = asyncio.ensure_future(asyncio.to_thread(broker.close, grace))
            with pytest.raises(uvrpc.Unavailable, match="the call did not run"):
                await call
            await closing
            assert time.monotonic() - began < 20  # not the grace's 30 s
            assert broker.stats.refused == 1
    finally:
        broker.close()


def test_a_grace_that_ends_with_calls_in_flight_says_how_many(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        broker = Broker(["inproc://front-short"], ["inproc://back-short"])
        broker.start()
        try:
            async with uvrpc.Server(Feed()) as server:
                server.connect("inproc://back-short")
                await until(lambda: broker.servers == 1, "the server")
                async with uvrpc.Channel("inproc://front-short") as channel:
                    slow = asyncio.ensure_future(
                        FeedClient(channel).ping(n=-100, timeout=30)
                    )
                    await until(lambda: server.in_flight == 1, "the call to run")
                    await asyncio.to_thread(broker.close, 0.2)
                    slow.cancel()
        finally:
            broker.close()

    with caplog.at_level(logging.INFO, logger="uvrpc.broker"):
        asyncio.run(main())
    said = [r.getMessage() for r in caplog.records]
    assert (
        "calls still in flight as the grace ended: 1 (their callers see their "
        "connection drop)"
    ) in said


def test_a_header_its_server_drops_is_not_followed() -> None:
    """A version of ``3.0`` (a float) is no version to a server, which drops the
    request unanswered: a broker that followed it would hold the call, and a
    share of its client's, for good."""
    asyncio.run(float_version_through_a_broker())


async def float_version_through_a_broker() -> None:
    front, back = "inproc://front-float", "inproc://back-float"
    with Broker([front], [back]) as broker:
        async with feed_behind(broker, back) as server:
            raw = zmq.asyncio.Context.shadow(zmq.Context.instance()).socket(zmq.DEALER)
            raw.setsockopt(zmq.LINGER, 0)
            raw.connect(front)
            try:
                header = msgpack.packb([3.0, 1, 1, "feed.Feed.ping", None])
                await raw.send_multipart([b"", header, msgpack.packb({"1": 1})])
                await until(lambda: server.stats.dropped == 1, "the server's drop")
            finally:
                raw.close()
            assert broker.in_flight == 0


def test_a_server_cannot_answer_a_call_another_server_runs() -> None:
    """A backend peer that learned a client's identity cannot answer the calls
    the broker gave another server: its message is dropped, and the caller
    gets its own server's reply."""
    asyncio.run(forged_reply_through_a_broker())


async def forged_reply_through_a_broker() -> None:
    front, back = "inproc://front-forged", "inproc://back-forged"
    v = uvrpc.PROTOCOL_VERSION
    context = zmq.asyncio.Context.shadow(zmq.Context.instance())
    with Broker([front], [back]) as broker:
        async with feed_behind(broker, back):
            forger = context.socket(zmq.DEALER)
            raw = context.socket(zmq.DEALER)
            for sock in (forger, raw):
                sock.setsockopt(zmq.LINGER, 0)
            raw.setsockopt(zmq.ROUTING_ID, b"known-client")
            try:
                forger.connect(back)
                # A server of nothing: no call is ever given to it.
                await forger.send_multipart([b"", msgpack.packb([v, 7, 0, 0, []])])
                await until(lambda: broker.servers == 2, "the forger")
                raw.connect(front)
                header = msgpack.packb([v, 1, 5, "feed.Feed.ping", 10_000])
                await raw.send_multipart([b"", header, msgpack.packb({"1": -3})])
                await until(lambda: broker.in_flight == 1, "the call")
                forged = [b"known-client", b"", msgpack.packb([v, 2, 5, 0])]
                await forger.send_multipart([*forged, msgpack.packb(666)])
                await until(lambda: broker.stats.dropped == 1, "the forgery dropped")
                reply = await asyncio.wait_for(raw.recv_multipart(), 10)
                assert msgpack.unpackb(reply[-1]) == -3  # the real server's
            finally:
                forger.close()
                raw.close()


def test_a_stream_call_waiting_for_a_server_holds_its_window_at_most() -> None:
    """A client sends nothing of its stream before its server's CREDIT; one that
    floods a call still waiting for a server is refused past a window of items,
    where the broker kept them all (memory without bound)."""
    asyncio.run(flood_while_waiting())


async def flood_while_waiting() -> None:
    front, back = "inproc://front-flood", "inproc://back-flood"
    v = uvrpc.PROTOCOL_VERSION
    held = uvrpc.ops.broker.MAX_HELD_PER_CALL
    with Broker([front], [back]) as broker:
        raw = zmq.asyncio.Context.shadow(zmq.Context.instance()).socket(zmq.DEALER)
        raw.setsockopt(zmq.LINGER, 0)
        raw.connect(front)
        try:
            request = RequestHeaders("feed.Feed.upload").encode_stream(1, None, None)
            await raw.send_multipart([b"", request, msgpack.packb({"2": "x"})])
            item = msgpack.packb([v, 3, 1, 0])
            tick = msgpack.packb({"1": 1, "2": b"x"})
            for _ in range(held + 50):
                await raw.send_multipart([b"", item, tick])
            reply = await asyncio.wait_for(raw.recv_multipart(), 10)
            header, body = (msgpack.unpackb(frame) for frame in reply[-2:])
            assert header == [v, 2, 1, uvrpc.Status.RESOURCE_EXHAUSTED]
            assert f"more than {held} messages of its stream" in body["message"]
            await until(lambda: broker.stats.dropped == 50, "the flood dropped")
            assert broker.stats.broken == 1
        finally:
            raw.close()


def test_a_ready_with_an_element_a_strict_decode_refuses_registers_its_server() -> None:
    """The broker reads a READY as it reads any header: what follows the
    elements it reads is ignored, whatever it holds."""
    asyncio.run(ready_with_a_later_element())


async def ready_with_a_later_element() -> None:
    front, back = "inproc://front-ready-late", "inproc://back-ready-late"
    v = uvrpc.PROTOCOL_VERSION
    with Broker([front], [back]) as broker:
        peer = zmq.asyncio.Context.shadow(zmq.Context.instance()).socket(zmq.DEALER)
        peer.setsockopt(zmq.LINGER, 0)
        try:
            peer.connect(back)
            ready = msgpack.packb([v, 7, 0, 0, ["feed.Feed"], {1: 2}])
            await peer.send_multipart([b"", ready])
            await until(lambda: broker.servers == 1, "the server registered")
            assert broker.stats.dropped == 0
        finally:
            peer.close()


def test_a_server_stopped_without_a_grace_still_tells_its_broker_it_leaves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGTERM without ``--grace`` closes the server at once, and its process
    ends: the LEAVING it sent as it closed must reach the broker first, or the
    broker logs a server that left as one it lost (a warning)."""
    backend = f"ipc://{tmp_path / 'backend.sock'}"

    def said() -> list[str]:
        return [r.getMessage() for r in caplog.records]

    with (
        caplog.at_level(logging.INFO, logger="uvrpc.broker"),
        Broker(["tcp://127.0.0.1:*"], [backend]) as broker,
    ):
        for stopped in range(1, 11):
            with process("serve", "feed_server:Feed", "--connect", backend) as server:
                deadline = time.monotonic() + 20
                while broker.servers != 1:
                    assert time.monotonic() < deadline, "the server never joined"
                    time.sleep(0.01)
                server.send_signal(signal.SIGTERM)
                assert server.wait(20) == 0
            deadline = time.monotonic() + 20
            while len([m for m in said() if m.endswith("0 now)")]) < stopped:
                assert time.monotonic() < deadline, f"no word of its end: {said()}"
                time.sleep(0.01)
    assert [m for m in said() if "lost a server" in m] == []
    assert said().count("a server left (0 now)") == 10


# A connection that sends one message and closes, then a client whose call, with
# no deadline, waits for a server: on the broker's side, the second connection
# gets the descriptor the first one had.
REUSED_FD_CLIENT = """\
import sys
import time

import zmq

from feed import FeedSyncClient

first = zmq.Context.instance().socket(zmq.DEALER)
first.setsockopt(zmq.ROUTING_ID, b"first")
first.connect(sys.argv[1])
first.send_multipart([b"", b"not a request"])
time.sleep(0.3)
first.close(linger=0)
time.sleep(0.3)
with FeedSyncClient(sys.argv[1]) as feed:
    try:
        print(feed.ping(n=3), flush=True)
    except Exception as exc:
        print(type(exc).__name__, exc, flush=True)
"""


def test_a_client_on_a_reused_descriptor_keeps_its_waiting_call(
    tmp_path: Path,
) -> None:
    """A connection that closed, and whose closing the broker had not read yet
    when the next connection, on the same descriptor, sent a call that waits for
    a server: that call waits on. The closing, read after, was taken for the new
    client's, whose call was refused as its connection closing, though it was
    there to take the reply."""
    asyncio.run(reused_descriptor(tmp_path))


async def reused_descriptor(tmp_path: Path) -> None:
    front, back = f"ipc://{tmp_path / 'front'}", f"ipc://{tmp_path / 'back'}"
    with Broker([front], [back]) as broker:
        from_client = broker._from_client

        def slow_for_first(frames: list[Any]) -> None:
            if frames[0].bytes == b"first":
                # Busy while the connection closes and the next one calls: both
                # are read in the same pass over the frontend.
                time.sleep(2.0)
            from_client(frames)

        broker._from_client = slow_for_first  # type: ignore[method-assign]
        client = subprocess.Popen(
            [sys.executable, "-c", REUSED_FD_CLIENT, front],
            cwd=TESTS,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            await until(
                lambda: broker.in_flight + broker.stats.refused == 1, "the call"
            )
            await asyncio.sleep(0.5)  # the first connection's closing is read
            assert client.stdout is not None
            assert broker.stats.refused == 0, client.stdout.readline()
            assert broker.in_flight == 1
            async with uvrpc.Server(Feed()) as server:
                server.connect(back)
                assert await asyncio.to_thread(client.stdout.readline) == "3\n"
        finally:
            if client.poll() is None:
                client.kill()
            client.wait()
            assert client.stdout is not None
            client.stdout.close()


def test_a_call_whose_client_closed_before_it_was_read_ends(tmp_path: Path) -> None:
    """A client that sent a call and closed before the broker read the call,
    but after it read the closing (its monitor comes first): the call is ended,
    as for a client gone while its call waited. The closing, read for no call
    waiting, was forgotten, and the call waited on for a client that was gone."""
    asyncio.run(closed_before_read(tmp_path))


async def closed_before_read(tmp_path: Path) -> None:
    front, back = f"ipc://{tmp_path / 'front'}", f"ipc://{tmp_path / 'back'}"
    with Broker([front], [back]) as broker:
        on_client_event = broker._on_client_event
        closings = 0

        def slow_first_closing(frames: list[Any]) -> None:
            nonlocal closings
            if frames[0].bytes[:2] == int(zmq.EVENT_DISCONNECTED).to_bytes(2, "little"):
                closings += 1
                if closings == 1:
                    # Busy while the client calls and is killed: its closing
                    # comes in this pass over the monitor, its call after.
                    time.sleep(2.0)
            on_client_event(frames)

        broker._on_client_event = slow_first_closing  # type: ignore[method-assign]
        first: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
        first.connect(front)
        await until(lambda: broker.frontends != (), "the broker")
        first.send_multipart([b"", b"not a request"])
        await asyncio.sleep(0.2)
        first.close(linger=0)
        await asyncio.sleep(0.2)  # the broker reads its closing: 2 s
        gone = subprocess.Popen(
            [sys.executable, "-c", GONE_CLIENT, front],
            cwd=TESTS,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert gone.stdout is not None
            assert await asyncio.to_thread(gone.stdout.readline) == "calling\n"
            await asyncio.sleep(0.5)  # its call is sent
        finally:
            gone.kill()
            gone.wait()
            assert gone.stdout is not None
            gone.stdout.close()
        await until(lambda: broker.stats.refused == 1, "its call to end")
        assert broker.in_flight == 0


def test_workers_finish_their_calls_on_a_hangup(tmp_path: Path) -> None:
    """A hangup reaches the workers of ``--workers`` as well as their parent (a
    terminal's process group): they close with their grace, as on SIGTERM, so a
    call running then gets its reply. They died outright, cutting it."""
    if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
        pytest.skip("SIGHUP is ignored here (nohup), and so in the command")
    parent = subprocess.Popen(
        uvrpc_cmd("serve", "feed_server:Feed", "--workers", "1", "--grace", "10")
        + ["--bind", f"ipc://{tmp_path / 'front.sock'}"],
        cwd=TESTS,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # a group of its own, as a terminal's job
    )
    try:
        assert parent.stdout is not None
        endpoint = parent.stdout.readline().strip()

        async def main() -> int:
            async with uvrpc.Channel(endpoint, wait_for_ready=True) as channel:
                client = FeedClient(channel, timeout=30)
                assert await client.ping(n=1) == 1  # a worker is up
                slow = asyncio.ensure_future(client.ping(n=-15))
                await asyncio.sleep(0.5)  # it runs
                os.killpg(parent.pid, signal.SIGHUP)
                return int(await slow)

        assert asyncio.run(main()) == -15
        assert parent.wait(30) == 0
    finally:
        if parent.poll() is None:
            os.killpg(parent.pid, signal.SIGKILL)
            parent.wait()
        assert parent.stdout is not None
        parent.stdout.close()
