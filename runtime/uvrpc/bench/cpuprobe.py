"""CPU per call of the uvrpc async client, the blocking client and the server.

Run by path, not as a module, by :mod:`uvrpc.bench.compare`::

    PYTHONPATH=TREE/runtime python -P cpuprobe.py async --duration 3 --cpus 0,1

so that one copy of this probe measures any source tree: it imports only the public
``uvrpc`` API and the generated echo stubs of ``uvrpc.bench.echo``, which every tree
has. It starts an echo server in a child process, warms up, then calls ``echo`` with
64 bytes for ``--duration`` seconds (64 calls in flight for ``async``, one at a time
for ``sync``) and prints one JSON line: calls, and µs of CPU per call of the client
process and of the server process, each with all its threads (zmq's I/O thread
included). CPU time is what is compared, not wall time: the host's speed drifts, and
on two cores the processes take CPU from each other.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import uvrpc
from uvrpc.bench.echo import EchoClient, EchoServer, EchoSyncClient

PAYLOAD = bytes(range(64))
WARMUP = 0.5
"""Seconds of calls before the window: connections, caches and the allocator settle."""
SLICES = 10
"""Parts of the window measured apart: another process's burst on a shared host
inflates some of them, and the least disturbed one shows what a call costs."""


def cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by every thread of process ``pid``.

    Read from ``/proc/PID/task/*/schedstat`` (nanoseconds) rather than ``/proc/PID/
    stat`` (10 ms ticks, too coarse for a few seconds of calls), and from outside,
    so that the server needs no instrumentation of its own.
    """
    return sum(cpu_seconds_by_thread(pid).values())


def cpu_seconds_by_thread(pid: int) -> dict[str, float]:
    """CPU seconds used so far by the threads of process ``pid``, summed by
    thread name (``/proc/PID/task/*/comm``: ``python`` for the interpreter's
    threads, ``ZMQbg/IO/0`` for ZeroMQ's I/O thread), read as
    :func:`cpu_seconds` says."""
    totals: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            used = int((task / "schedstat").read_text().split()[0]) / 1e9
        except (OSError, IndexError, ValueError):
            continue  # a thread that ended between the listing and the read
        totals[name] = totals.get(name, 0.0) + used
    return totals


class _Echo(EchoServer):
    async def echo(self, *, data: memoryview) -> memoryview:
        return data


def _pin(cpu: int | None) -> None:
    # Before any zmq context exists: its I/O thread inherits the affinity.
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def serve(cpu: int | None) -> None:
    """Serve the echo, print the endpoint, stop on SIGTERM."""
    _pin(cpu)

    async def main() -> None:
        server = uvrpc.Server(_Echo())
        await server.start()
        print(server.bind("tcp://127.0.0.1:*"), flush=True)
        done = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, done.set)
        await done.wait()
        await server.close()

    asyncio.run(main())


class _Mark(NamedTuple):
    calls: int
    client: float
    server: float
    wall: float


def _mark(calls: int, server: int) -> _Mark:
    return _Mark(
        calls, cpu_seconds(os.getpid()), cpu_seconds(server), time.perf_counter()
    )


def _run_async(
    endpoint: str, duration: float, inflight: int, server: int
) -> list[_Mark]:
    async def main() -> list[_Mark]:
        async with EchoClient(endpoint, timeout=60) as client:
            stop = False
            calls = 0

            async def caller() -> None:
                nonlocal calls
                while not stop:
                    await client.echo(data=PAYLOAD)
                    calls += 1

            tasks = [asyncio.ensure_future(caller()) for _ in range(inflight)]
            await asyncio.sleep(WARMUP)
            marks = [_mark(calls, server)]
            for _ in range(SLICES):
                await asyncio.sleep(duration / SLICES)
                marks.append(_mark(calls, server))
            stop = True
            await asyncio.gather(*tasks)
        return marks

    return asyncio.run(main())


def _run_sync(endpoint: str, duration: float, server: int) -> list[_Mark]:
    marks: list[_Mark] = []
    with EchoSyncClient(endpoint, timeout=60) as client:
        calls = 0
        for length in (WARMUP, *[duration / SLICES] * SLICES):
            until = time.perf_counter() + length
            while True:
                # The clock is read every 16 calls: its cost stays out of the figure.
                for _ in range(16):
                    client.echo(data=PAYLOAD)
                calls += 16
                if time.perf_counter() >= until:
                    break
            marks.append(_mark(calls, server))
    return marks


def per_call(marks: Sequence[_Mark]) -> dict[str, float]:
    """µs per call of each process over the whole window (``client_us``, ...) and
    in its least disturbed slice (``client_us_best``, ...)."""
    result: dict[str, float] = {"calls": marks[-1].calls - marks[0].calls}
    for what in ("client", "server", "wall"):
        slices = [
            (getattr(end, what) - getattr(start, what)) / (end.calls - start.calls)
            for start, end in itertools.pairwise(marks)
            if end.calls > start.calls
        ]
        whole = getattr(marks[-1], what) - getattr(marks[0], what)
        result[f"{what}_us"] = whole / result["calls"] * 1e6
        result[f"{what}_us_best"] = min(slices) * 1e6
    return result


def main() -> int:
    """Measure one client kind against a fresh server; print the JSON result."""
    parser = argparse.ArgumentParser(prog="cpuprobe.py")
    parser.add_argument("role", choices=("async", "sync", "serve"))
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--inflight", type=int, default=64)
    parser.add_argument(
        "--cpus", help="CLIENT,SERVER: pin each process (and its threads) to a core"
    )
    args = parser.parse_args()
    client_cpu, server_cpu = (
        (int(c) for c in args.cpus.split(",")) if args.cpus else (None, None)
    )
    if args.role == "serve":
        serve(server_cpu)
        return 0
    _pin(client_cpu)
    command = [sys.executable, "-P", __file__, "serve"]
    if args.cpus:
        command += ["--cpus", args.cpus]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        endpoint = server.stdout.readline().strip()
        if not endpoint:
            raise RuntimeError("the echo server did not start")
        if args.role == "async":
            marks = _run_async(endpoint, args.duration, args.inflight, server.pid)
        else:
            marks = _run_sync(endpoint, args.duration, server.pid)
    finally:
        server.terminate()
        server.wait(10)
    print(json.dumps(per_call(marks)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
