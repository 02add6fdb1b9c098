"""The ``broker`` case of ``uvrpc bench``: what a broker costs a call.

One echo server (``uvrpc serve``) is measured bound directly and connected to a
``uvrpc broker`` process, from one client process with many calls in flight, the
two paths alternating in each round. Beside the calls per second, the broker's row
carries the CPU time its process spent per call (its Python thread and libzmq's I/O
thread together; Linux only), read from ``/proc`` before and after the client ran.
That time covers the warm-up too, so it is divided by the calls of the window
scaled to warm-up and window together (the rate is steady by then).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from .measure import Result
from .runner import START_LEAD, _clients, serving
from .scaling import wait_for_servers
from .spec import ClientSpec
from .systems import SYSTEMS

__all__ = ["PATHS", "measure_broker", "render"]

PATHS = ("direct", "broker")
"""The two ways a client reaches the server."""
PAYLOAD = 64
INFLIGHT = 32
"""Calls in flight from the client process."""
_TARGET = "uvrpc.bench.systems.uvrpc_echo:Echo"
_UVRPC = [sys.executable, "-m", "uvrpc"]


class _Measured(NamedTuple):
    result: Result
    cpu_us: float | None
    """The broker's CPU time per call, in µs (``None``: direct, or not Linux)."""


def _cpu_seconds(pid: int) -> float | None:
    """User and system CPU time of process ``pid`` so far (``None`` off Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_client(endpoint: str, warmup: float, duration: float) -> Result:
    asyncio.run(wait_for_servers(endpoint, 1))
    start_at = time.time() + START_LEAD
    spec = ClientSpec(endpoint, PAYLOAD, INFLIGHT, warmup, duration, start_at)
    ((result,),) = _clients(SYSTEMS["uvrpc"], [[spec]])
    return result


def _measure(path: str, warmup: float, duration: float) -> _Measured:
    if path == "direct":
        command = [*_UVRPC, "serve", _TARGET, "--bind", "tcp://127.0.0.1:*"]
        with serving(command, "server") as endpoint:
            return _Measured(_run_client(endpoint, warmup, duration), None)
    with tempfile.TemporaryDirectory(prefix="uvrpc-bench-broker-") as scratch:
        backend = f"ipc://{Path(scratch) / 'backend.sock'}"
        broker_command = [*_UVRPC, "broker", "--frontend", "tcp://127.0.0.1:*"]
        broker_command += ["--backend", backend]
        pids: list[int] = []
        with (
            serving(broker_command, "broker", pids) as frontend,
            serving(
                [*_UVRPC, "serve", _TARGET, "--connect", backend],
                "server",
                prints_endpoint=False,
            ),
        ):
            before = _cpu_seconds(pids[0])
            result = _run_client(frontend, warmup, duration)
            after = _cpu_seconds(pids[0])
    cpu_us = None
    if before is not None and after is not None and result.calls:
        served = result.calls * (warmup + duration) / duration
        cpu_us = (after - before) * 1e6 / served
    return _Measured(result, cpu_us)


def measure_broker(
    *, warmup: float, duration: float, repeat: int
) -> list[dict[str, Any]]:
    """One row per path: the median over ``repeat`` rounds (the paths alternate
    within each round), with the broker's CPU time per call."""
    measured: dict[str, list[_Measured]] = {p: [] for p in PATHS}
    for _ in range(repeat):
        for path in PATHS:
            measured[path].append(_measure(path, warmup, duration))
    rows = []
    for path in PATHS:
        rates = [m.result.calls / m.result.seconds for m in measured[path]]
        cpu = [m.cpu_us for m in measured[path] if m.cpu_us is not None]
        rows.append(
            {
                "system": "uvrpc",
                "case": "broker",
                "path": path,
                "payload": PAYLOAD,
                "inflight": INFLIGHT,
                "rounds": repeat,
                "calls_per_s": statistics.median(rates),
                "calls_per_s_all": rates,
                "broker_cpu_us_per_call": statistics.median(cpu) if cpu else None,
                "calls": sum(m.result.calls for m in measured[path]),
                "mismatches": sum(m.result.mismatches for m in measured[path]),
            }
        )
    return rows


def render(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a small text table."""
    lines = ["case    path     calls/s  broker CPU/call"]
    for row in rows:
        cpu = row["broker_cpu_us_per_call"]
        cost = "" if cpu is None else f"{cpu:,.1f} us"
        lines.append(f"broker  {row['path']:<7} {row['calls_per_s']:>8,.0f}  {cost}")
    return "\n".join(lines)
