"""Blocking calls from a pool of threads: one shared client against one each.

``python -m uvrpc.bench.threads`` serves the bench's echo in a process of its own
and calls it, 64 bytes a call, from 1, 2, 4 and 8 threads of one client process:

- ``uvrpc-shared``: the threads share one :class:`~uvrpc.SyncChannel`, as they
  share a gRPC channel (a thread that finds it busy borrows a spare connection);
- ``uvrpc-own``: each thread has a channel of its own;
- ``grpc-shared``: the threads share one ``grpc`` channel, served by the bench's
  asyncio gRPC server (when ``grpcio`` is installed).

It prints calls per second, the median of ``--repeat`` rounds in which the rows
alternate; ratios between rows of one run are what compare (``docs/performance.md``).
The threads hold the GIL to encode and decode, so a pool buys what their waits for
the server overlap, not cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from functools import partial
from importlib.util import find_spec
from typing import Any

from ..client.sync_channel import SyncChannel
from .arguments import at_least_zero, positive
from .echo import EchoSyncClient
from .runner import WORKER, serving

__all__ = ["PAYLOAD", "ROWS", "THREADS", "Call", "main", "measure", "render"]

PAYLOAD = bytes(64)
"""What each call sends, and must get back."""
THREADS = (1, 2, 4, 8)
"""The pool sizes measured by default."""

Call = Callable[[bytes], bytes]
"""One blocking echo call, as a thread of the pool makes it."""


def _echo(client: EchoSyncClient, data: bytes) -> bytes:
    return bytes(client.echo(data=data))


@contextmanager
def _uvrpc_shared(endpoint: str, threads: int) -> Iterator[list[Call]]:
    with SyncChannel(endpoint, wait_for_ready=True) as channel:
        client = EchoSyncClient(channel, timeout=60)
        yield [partial(_echo, client)] * threads


@contextmanager
def _uvrpc_own(endpoint: str, threads: int) -> Iterator[list[Call]]:
    with ExitStack() as stack:
        calls: list[Call] = []
        for _ in range(threads):
            channel = stack.enter_context(SyncChannel(endpoint, wait_for_ready=True))
            client = EchoSyncClient(channel, timeout=60)
            calls.append(partial(_echo, client))
        yield calls


@contextmanager
def _grpc_shared(endpoint: str, threads: int) -> Iterator[list[Call]]:
    import grpc

    from .systems.grpc_echo import METHOD, OPTIONS

    target = endpoint.removeprefix("tcp://")
    with grpc.insecure_channel(target, options=OPTIONS) as channel:
        echo: Callable[..., bytes] = channel.unary_unary(METHOD)
        yield [lambda data: echo(data, timeout=60, wait_for_ready=True)] * threads


ROWS: dict[str, tuple[str, Callable[[str, int], Any]]] = {
    "uvrpc-shared": ("uvrpc", _uvrpc_shared),
    "uvrpc-own": ("uvrpc", _uvrpc_own),
    "grpc-shared": ("grpc", _grpc_shared),
}
"""Each row: the bench system whose server it calls, and its clients' maker."""


def _run(
    calls: Sequence[Call], warmup: float, duration: float
) -> tuple[int, float, int]:
    """The calls ``calls`` (one a thread) made after ``warmup``, the seconds
    they took, and how many replies differed from their request.

    Each thread calls until ``duration`` is over and finishes the call it is in.
    It counts the calls that ended after the warm-up, over the time from its
    end to the last thread's last reply: a call that straddles either edge
    counts once, and a slow first call (a connection being made) can delay a
    thread's count, never empty it.
    """
    begin = time.perf_counter() + 0.05
    start, end = begin + warmup, begin + warmup + duration
    counts = [0] * len(calls)
    wrong = [0] * len(calls)
    finished = [start] * len(calls)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        call = calls[index]
        try:
            now = time.perf_counter()
            while now < end:
                reply = call(PAYLOAD)
                now = time.perf_counter()
                if now >= start:
                    counts[index] += 1
                    wrong[index] += reply != PAYLOAD
            finished[index] = now
        except BaseException as exc:  # raised on the measuring thread below
            errors.append(exc)

    pool = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise errors[0]
    return sum(counts), max(finished) - start, sum(wrong)


def measure(
    rows: Sequence[str],
    threads: Sequence[int],
    *,
    warmup: float,
    duration: float,
    repeat: int,
) -> list[dict[str, Any]]:
    """One result per row and pool size: the median calls per second over
    ``repeat`` rounds, each round alternating the rows."""
    systems = {ROWS[row][0] for row in rows}
    rates: dict[tuple[str, int], list[float]] = {}
    mismatches = 0
    with ExitStack() as stack:
        endpoints = {
            system: stack.enter_context(
                serving(
                    [*WORKER, "server", system, "--bind", "tcp://127.0.0.1:*"],
                    f"{system} server",
                )
            )
            for system in sorted(systems)
        }
        for _ in range(repeat):
            for count in threads:
                for row in rows:
                    system, clients = ROWS[row]
                    with clients(endpoints[system], count) as calls:
                        made, seconds, wrong = _run(calls, warmup, duration)
                    rates.setdefault((row, count), []).append(made / seconds)
                    mismatches += wrong
    if mismatches:
        raise RuntimeError(f"{mismatches} replies differed from their requests")
    return [
        {
            "row": row,
            "threads": count,
            "calls_per_s": statistics.median(rates[(row, count)]),
            "calls_per_s_all": rates[(row, count)],
        }
        for count in threads
        for row in rows
    ]


def render(results: Sequence[dict[str, Any]]) -> str:
    """A Markdown table: calls per second by row and pool size, and each row's
    ratio to ``uvrpc-shared`` at the same size."""
    shared = {
        r["threads"]: r["calls_per_s"] for r in results if r["row"] == "uvrpc-shared"
    }
    lines = [
        "| threads | client | calls/s | x uvrpc-shared |",
        "| ---: | --- | ---: | ---: |",
    ]
    for r in results:
        base = shared.get(r["threads"])
        ratio = f"{r['calls_per_s'] / base:.2f}x" if base else ""
        lines.append(
            f"| {r['threads']} | {r['row']} | {r['calls_per_s']:,.0f} | {ratio} |"
        )
    return "\n".join(lines)


def _counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of counts: {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"thread counts are 1 or more: {text!r}")
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m uvrpc.bench.threads",
        description="Blocking echo calls from a pool of threads: one shared "
        "SyncChannel, one channel a thread, and one shared gRPC channel.",
    )
    parser.add_argument("--threads", type=_counts, default=THREADS, metavar="N,N")
    parser.add_argument(
        "--duration", type=positive(float), default=2.0, metavar="SECONDS"
    )
    parser.add_argument("--warmup", type=at_least_zero, default=0.5, metavar="SECONDS")
    parser.add_argument("--repeat", type=positive(int), default=3, metavar="ROUNDS")
    parser.add_argument("--no-grpc", action="store_true", help="leave out the gRPC row")
    args = parser.parse_args(argv)
    rows = ["uvrpc-shared", "uvrpc-own"]
    if not args.no_grpc and find_spec("grpc") is not None:
        rows.append("grpc-shared")
    results = measure(
        rows,
        args.threads,
        warmup=args.warmup,
        duration=args.duration,
        repeat=args.repeat,
    )
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
