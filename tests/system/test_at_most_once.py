"""At most once after a failure: no handler starts after its caller saw an error.

A server in a process of its own writes down each start of a method that is not
idempotent (``tests/ledger_process.py``), while a client keeps calls with short
deadlines in flight and the test stops the server (SIGSTOP, SIGCONT) and kills
and restarts it. Every call that failed is then checked against the ledger: its
handler may have started before the caller's error, never after.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from feed import FeedClient

import uvrpc

HERE = Path(__file__).resolve().parents[1]

TIMEOUT = 0.3
"""Each call's deadline: short against the stop, long against a CPU hog."""
LANES = 16
"""Calls in flight at once."""
STOP = 1.0
"""How long the server stays stopped: over three deadlines."""

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="SIGSTOP and ipc:// are POSIX"
)


def start(endpoint: str, ledger: Path) -> subprocess.Popen[str]:
    """A ledger server; returns once it has bound ``endpoint``."""
    process = subprocess.Popen(
        [sys.executable, str(HERE / "ledger_process.py"), endpoint, str(ledger)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == endpoint
    return process


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)  # a stopped process ends too
        process.kill()
    process.wait(10)
    assert process.stdout is not None
    process.stdout.close()


class Load:
    """``LANES`` calls of ``ping`` in flight, each with a fresh number, until
    stopped; records when each call that failed saw its error."""

    def __init__(self, client: FeedClient) -> None:
        self.client = client
        self.numbers = itertools.count()
        self.sent: dict[int, float] = {}
        self.failed: dict[int, tuple[float, str]] = {}
        self.succeeded = 0
        self.running = True

    async def lane(self) -> None:
        while self.running:
            n = next(self.numbers)
            self.sent[n] = time.time()
            try:
                await self.client.ping(n=n, timeout=TIMEOUT)
            except uvrpc.RpcError as exc:
                self.failed[n] = (time.time(), type(exc).__name__)
                await asyncio.sleep(0.005)  # a caller that backs off a little
            else:
                self.succeeded += 1

    async def until(self, condition: Callable[[], bool], limit: float) -> None:
        """Let the load run until ``condition()`` holds (at most ``limit`` s)."""
        deadline = time.monotonic() + limit
        while not condition() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)


def read_ledger(ledger: Path) -> list[tuple[int, float]]:
    runs = []
    for line in ledger.read_text().splitlines():
        n, at = line.split()
        runs.append((int(n), float(at)))
    return runs


def test_no_handler_starts_after_its_caller_saw_an_error(tmp_path: Path) -> None:
    endpoint = f"ipc://{tmp_path / 'ledger.sock'}"
    ledger = tmp_path / "ledger.txt"
    server = start(endpoint, ledger)
    marks: dict[str, float] = {}
    processes = [server]

    async def main() -> None:
        async with FeedClient(endpoint) as client:
            # A few calls one at a time first: the server measures how long a
            # request waited against the fastest of its connection's, and the
            # first ones, sent while it may still be starting, have nothing
            # faster to be measured against (docs/reliability.md).
            for n in range(5):
                await client.ping(n=10**9 + n, timeout=30)  # not a load's number
            load = Load(client)
            lanes = [asyncio.ensure_future(load.lane()) for _ in range(LANES)]
            try:
                # Every lane has had calls answered: the connection is warm.
                await load.until(lambda: load.succeeded >= 4 * LANES, 20)
                assert load.succeeded >= 4 * LANES
                # (a) The server stops for longer than the deadlines, with
                # requests reaching its socket meanwhile, and goes on.
                marks["stop"] = time.time()
                server.send_signal(signal.SIGSTOP)
                await asyncio.sleep(STOP)  # the fault itself lasts this long
                marks["cont"] = time.time()
                server.send_signal(signal.SIGCONT)
                answered = load.succeeded
                await load.until(lambda: load.succeeded >= answered + 4 * LANES, 20)
                # (b) The server dies under load and another takes its endpoint.
                marks["kill"] = time.time()
                server.kill()
                server.wait(10)
                await asyncio.sleep(2 * TIMEOUT)  # calls fail while it is gone
                processes.append(start(endpoint, ledger))
                marks["restart"] = time.time()
                answered = load.succeeded
                await load.until(lambda: load.succeeded >= answered + 4 * LANES, 20)
            finally:
                load.running = False
                await asyncio.gather(*lanes)
        failed, sent = load.failed, load.sent
        runs = read_ledger(ledger)
        zero = marks["stop"]
        late = [
            # the call, when it was sent, failed and ran (s from the SIGSTOP)
            (n, sent[n] - zero, failed[n][0] - zero, at - zero, failed[n][1])
            for n, at in runs
            if n in failed and at > failed[n][0]
        ]
        when = {mark: at - zero for mark, at in marks.items()}
        assert not late, f"handlers started after their caller's error: {late} {when}"
        # The scenario happened: nothing above holds vacuously.
        during_stop = [
            n for n, (at, _) in failed.items() if marks["stop"] < at < marks["cont"]
        ]
        assert during_stop, "no call failed while the server was stopped"
        # Sent to the stopped server (well after SIGSTOP), and failed before it
        # went on: these requests waited in its socket, and must never run.
        queued = [n for n in during_stop if sent[n] > marks["stop"] + 0.05]
        assert queued, "no request was sent to the stopped server"
        ran = {n for n, _ in runs}
        assert not ran & set(queued)
        assert any(at > marks["cont"] for _, at in runs), "nothing ran after SIGCONT"
        while_dead = [
            n for n, (at, _) in failed.items() if marks["kill"] < at < marks["restart"]
        ]
        assert while_dead, "no call failed while the server was dead"
        assert any(at > marks["restart"] for _, at in runs), "nothing ran after restart"

    try:
        asyncio.run(asyncio.wait_for(main(), 120))
    finally:
        for process in processes:
            stop(process)
