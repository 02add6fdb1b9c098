"""The ``workers`` case of ``uvrpc bench``: a CPU-bound service served by 1 and by
2 worker processes behind a broker (:mod:`uvrpc.workers`), driven by client
processes with many calls in flight; what scaling out buys on this machine.

``python -m uvrpc.bench.scaling N`` serves :class:`BusyEcho` from N workers behind
a broker on ``tcp://127.0.0.1:*`` and prints the endpoint.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from ..workers import supervise
from .echo import EchoClient, EchoServer
from .runner import run_clients, serving
from .spec import ClientSpec
from .systems import SYSTEMS

__all__ = [
    "BUSY_SECONDS",
    "WORKERS",
    "BusyEcho",
    "measure_workers",
    "wait_for_servers",
]

BUSY_SECONDS = 1e-3
"""The pure-Python work each call of :class:`BusyEcho` does. On two cores the
client and the broker share the machine with the workers; at 1 ms their cost per
call is small beside the work, as it is in the services that need workers
(``docs/scaling.md`` has the figures at 200 µs too)."""
WORKERS = (1, 2)
"""The worker counts measured."""
PAYLOAD = 64
INFLIGHT = 32
"""Calls in flight per client process."""
CLIENTS = 1
"""Client processes."""


def _spin(seconds: float) -> int:
    """Pure-Python work (holding the GIL) for about ``seconds``."""
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        for i in range(50):
            n += i * i
    return n


class BusyEcho(EchoServer):
    """Echoes after ``BUSY_SECONDS`` of pure-Python work; an empty payload is
    answered at once with the serving process's pid (a probe of which workers run)."""

    async def echo(self, *, data: memoryview) -> bytes | memoryview:
        if not data:
            return os.getpid().to_bytes(8, "little")
        _spin(BUSY_SECONDS)
        return data


async def wait_for_servers(endpoint: str, count: int) -> None:
    """Call ``endpoint`` until ``count`` different processes have answered (a
    :class:`BusyEcho` answers an empty payload with its pid); an echo that
    answers with the payload counts as one."""
    import uvrpc

    seen: set[bytes] = set()
    deadline = time.monotonic() + 30
    async with uvrpc.Channel(endpoint) as channel:
        client = EchoClient(channel)
        while len(seen) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(seen)} of {count} workers answered")
            replies = await asyncio.gather(
                *(client.echo(data=b"", timeout=10) for _ in range(4 * count))
            )
            seen.update(bytes(r) for r in replies)


def _measure(workers: int, warmup: float, duration: float) -> dict[str, float]:
    command = [sys.executable, "-m", "uvrpc.bench.scaling", str(workers)]
    with serving(command, "workers") as endpoint:
        asyncio.run(wait_for_servers(endpoint, workers))
        spec = ClientSpec(endpoint, PAYLOAD, INFLIGHT, warmup, duration)
        batches = [[spec]] * CLIENTS
        results = [r for (r,) in run_clients(SYSTEMS["uvrpc"], batches, together=True)]
    calls = sum(r.calls for r in results)
    return {
        "calls": calls,
        "calls_per_s": calls / max(r.seconds for r in results),
        "mismatches": sum(r.mismatches for r in results),
    }


def measure_workers(
    *, warmup: float, duration: float, repeat: int, counts: Sequence[int] = WORKERS
) -> list[dict[str, Any]]:
    """One row per worker count: the median over ``repeat`` rounds (the counts
    alternate within each round), with the speed-up over the first count."""
    rates: dict[int, list[float]] = {n: [] for n in counts}
    totals: dict[int, list[dict[str, float]]] = {n: [] for n in counts}
    for _ in range(repeat):
        for n in counts:
            measured = _measure(n, warmup, duration)
            rates[n].append(measured["calls_per_s"])
            totals[n].append(measured)
    base = statistics.median(rates[counts[0]])
    return [
        {
            "system": "uvrpc",
            "case": "workers",
            "workers": n,
            "payload": PAYLOAD,
            "inflight": INFLIGHT,
            "processes": CLIENTS,
            "busy_us": BUSY_SECONDS * 1e6,
            "rounds": repeat,
            "calls_per_s": statistics.median(rates[n]),
            "calls_per_s_all": rates[n],
            "speedup": statistics.median(rates[n]) / base,
            "calls": int(sum(m["calls"] for m in totals[n])),
            "mismatches": int(sum(m["mismatches"] for m in totals[n])),
        }
        for n in counts
    ]


def render(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a small text table."""
    work = f"{BUSY_SECONDS * 1e6:,.0f} us of Python per call"
    lines = [f"case     workers  calls/s  speed-up  ({work})"]
    for row in rows:
        lines.append(
            f"workers  {row['workers']:>7}  {row['calls_per_s']:>7,.0f}  "
            f"{row['speedup']:>7.2f}x"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve :class:`BusyEcho` from N workers behind a broker."""
    (count,) = sys.argv[1:] if argv is None else argv
    supervise(["uvrpc.bench.scaling:BusyEcho"], int(count), ["tcp://127.0.0.1:*"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
