"""Scaling out: a broker in front of worker processes, ``uvrpc serve --workers``,
and a channel spread over several endpoints (``docs/scaling.md``)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from feed import FeedClient
from feed_server import Feed
from pid_echo import PidEcho

import uvrpc
from uvrpc.bench.echo import EchoClient
from uvrpc.broker import Broker

TESTS = Path(__file__).resolve().parent


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
                                reply = await client.echo(data=b"x", timeout=1.0)
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
            # The calls the killed worker had taken get no reply: their deadline.
            assert set(errors) <= {uvrpc.DeadlineExceeded}
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


@pytest.mark.parametrize("joined", [False, True], ids=["list", "commas"])
def test_a_channel_spreads_calls_over_its_endpoints(joined: bool) -> None:
    asyncio.run(spread_over_two_servers(joined))


async def spread_over_two_servers(joined: bool) -> None:
    async with uvrpc.Server(PidEcho()) as one, uvrpc.Server(PidEcho()) as two:
        endpoints = [one.bind("tcp://127.0.0.1:*"), two.bind("tcp://127.0.0.1:*")]
        target = ",".join(endpoints) if joined else endpoints
        async with uvrpc.Channel(target) as channel:
            client = EchoClient(channel)
            replies = await asyncio.gather(
                *(client.echo(data=bytes([n]), timeout=10) for n in range(100))
            )
        assert [bytes(r)[:1] for r in replies] == [bytes([n]) for n in range(100)]
        assert one.stats.replied > 0 and two.stats.replied > 0
        assert one.stats.replied + two.stats.replied == 100


def test_a_stream_call_through_a_broker_fails_clearly() -> None:
    asyncio.run(stream_through_a_broker())


async def stream_through_a_broker() -> None:
    with Broker(["inproc://front-streams"], ["inproc://back-streams"]):
        async with uvrpc.Server(Feed()) as server:
            server.connect("inproc://back-streams")
            async with uvrpc.Channel("inproc://front-streams") as channel:
                feed = FeedClient(channel)
                assert await feed.ping(n=7, timeout=10) == 7
                with pytest.raises(uvrpc.Unimplemented, match="through a broker"):
                    async for _ in feed.ticks(count=3, size=1, timeout=10):
                        pass
