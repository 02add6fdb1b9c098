"""No payload-sized copy anywhere in Python, and a flat footprint under load.

Each side is measured in its own process: the client here, the server in
``tests/echo_process.py``. tracemalloc sees every allocation made through Python's
allocators — a ``bytes`` copy of a payload, a grown buffer — and not libzmq's own
message buffers, which hold the payloads here.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from echo import EchoClient, EchoSyncClient

MIB = 1 << 20
BUDGET = 64 * 1024
"""The most Python heap one 1 MiB echo may allocate at once, on each side."""
WARM_UP = 20
CALLS = 100
ECHO_PROCESS = Path(__file__).resolve().parents[1] / "echo_process.py"


@contextmanager
def echo_process(tmp_path: Path, *options: str) -> Iterator[tuple[int, str]]:
    """Run the echo server in a process of its own; yield its pid and endpoint."""
    command = [sys.executable, str(ECHO_PROCESS), "--bind", f"ipc://{tmp_path}/e"]
    with subprocess.Popen(
        [*command, *options], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            endpoint = process.stdout.readline().strip()
            assert endpoint.startswith("ipc://"), endpoint
            yield process.pid, endpoint
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def rss(pid: int) -> int:
    """Resident set size of a process, in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    (line,) = [line for line in status.splitlines() if line.startswith("VmRSS:")]
    return int(line.split()[1]) * 1024


class HeapPeaks:
    """The peak of the traced heap during each of a run of calls, above its start."""

    def __init__(self) -> None:
        self.peaks: list[int] = []

    @contextmanager
    def call(self) -> Iterator[None]:
        start = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        yield
        self.peaks.append(tracemalloc.get_traced_memory()[1] - start)


@pytest.fixture
def traced() -> Iterator[HeapPeaks]:
    tracemalloc.start()
    try:
        yield HeapPeaks()
    finally:
        tracemalloc.stop()


def assert_within_budget(peaks: list[int]) -> None:
    assert len(peaks) == CALLS
    mean = sum(peaks) / len(peaks)
    assert mean < BUDGET, f"mean {mean:.0f} B per call; peaks {sorted(peaks)[-5:]}"
    # Not one call came near holding a copy of its payload.
    assert max(peaks) < MIB // 2, sorted(peaks)[-5:]


def test_the_async_client_copies_no_payload(tmp_path: Path) -> None:
    payload = bytes(range(256)) * (MIB // 256)

    async def main() -> list[int]:
        async with EchoClient(endpoint, timeout=30) as client:
            for _ in range(WARM_UP):
                assert await client.echo(data=payload) == payload
            tracemalloc.start()
            heap = HeapPeaks()
            try:
                for _ in range(CALLS):
                    with heap.call():
                        reply = await client.echo(data=payload)
                        assert reply.nbytes == MIB
                        del reply
            finally:
                tracemalloc.stop()
            return heap.peaks

    with echo_process(tmp_path) as (_, endpoint):
        assert_within_budget(asyncio.run(main()))


def test_the_sync_client_copies_no_payload(tmp_path: Path, traced: HeapPeaks) -> None:
    payload = b"s" * MIB
    with echo_process(tmp_path) as (_, endpoint):
        with EchoSyncClient(endpoint, timeout=30) as client:
            tracemalloc.stop()
            for _ in range(WARM_UP):
                assert client.echo(data=payload) == payload
            tracemalloc.start()
            for _ in range(CALLS):
                with traced.call():
                    reply = client.echo(data=payload)
                    assert reply.nbytes == MIB
                    del reply
    assert_within_budget(traced.peaks)


def test_the_server_copies_no_payload(tmp_path: Path) -> None:
    report = tmp_path / "server-heap.json"
    options = ["--trace-from", str(WARM_UP), "--trace-calls", str(CALLS)]
    payload = b"p" * MIB
    with echo_process(tmp_path, *options, "--report", str(report)) as (_, endpoint):
        with EchoSyncClient(endpoint, timeout=30) as client:
            for _ in range(WARM_UP + CALLS + 1):
                assert client.echo(data=payload) == payload
    figures = json.loads(report.read_text())
    assert_within_budget(figures["peaks"])
    assert figures["growth"] < BUDGET


def test_two_gib_through_one_client_and_one_server_leave_rss_flat(
    tmp_path: Path,
) -> None:
    payload = bytes(range(256)) * (MIB // 256)
    client_pid = os.getpid()
    in_flight = 4

    async def echo_many(client: EchoClient, count: int) -> None:
        async def worker(share: int) -> None:
            for _ in range(share):
                reply = await client.echo(data=payload)
                assert reply.nbytes == MIB and reply[255] == 255

        await asyncio.gather(*(worker(count // in_flight) for _ in range(in_flight)))

    with echo_process(tmp_path) as (server_pid, endpoint):

        async def main() -> tuple[list[int], list[int]]:
            async with EchoClient(endpoint, timeout=30) as client:
                await echo_many(client, 64)
                warm = [rss(client_pid), rss(server_pid)]
                await echo_many(client, 2048)  # 2 GiB each way
                return warm, [rss(client_pid), rss(server_pid)]

        warm, after = asyncio.run(main())
    for side, before, now in zip(("client", "server"), warm, after, strict=True):
        assert abs(now - before) < 64 * MIB, (side, before // MIB, now // MIB)
