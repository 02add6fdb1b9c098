"""The ``broker`` case of ``uvrpc bench``: what a broker costs a call.

One echo server (``uvrpc serve``) is measured bound directly and connected to a
``uvrpc broker`` process, with 64-byte calls from one client process in three
shapes (:data:`IN_FLIGHT`): ping-pong (one call in flight, each call's latency
recorded), 8 and 64 calls in flight. A round starts both paths, then measures
each shape on one path and at once on the other, a client process each, the first
path alternating from round to round so that a drift in the host's speed favours
neither (the path not measured is idle: no client is connected to it).

Every row of the broker's path carries the CPU time the broker process spent per
call: every thread of it (its Python thread and libzmq's I/O thread), read from
``/proc/PID/task/*/schedstat`` (nanoseconds; Linux only) just before the client
process starts and just after it ends. That span holds the warm-up too, so the time
is divided by the window's calls scaled to warm-up and window together (the rate is
steady by then; before the warm-up the broker is idle). It also carries its ratio to
the direct path of the same shape, measured in the same rounds.

:func:`topology` starts either path, or several brokers with every server
connected to each (the ``brokers`` case, :mod:`uvrpc.bench.spread`).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from .cpuprobe import cpu_seconds
from .measure import Result, percentile
from .report import number_cell, ratio_cell, spread_cell
from .runner import run_clients, serving
from .scaling import wait_for_servers
from .spec import ClientSpec
from .systems import SYSTEMS

__all__ = [
    "IN_FLIGHT",
    "PATHS",
    "Topology",
    "broker_cpu",
    "cpu_per_call",
    "measure_broker",
    "render",
    "topology",
]

PATHS = ("direct", "broker")
"""The two ways a client reaches the server."""
PAYLOAD = 64
IN_FLIGHT = (1, 8, 64)
"""Calls in flight from the client process, one row per path each: 1 is ping-pong."""
_TARGET = "uvrpc.bench.systems.uvrpc_echo:Echo"
_UVRPC = [sys.executable, "-m", "uvrpc"]


class Topology(NamedTuple):
    """A running server, bound or behind brokers."""

    endpoint: str
    """Where clients connect: the server's endpoint, or every broker's frontend,
    comma-separated (a channel over several endpoints)."""
    broker_pids: list[int]
    """The broker processes (none for a bound server)."""


@contextmanager
def topology(brokers: int, servers: int = 1) -> Iterator[Topology]:
    """Echo servers bound directly (``brokers`` 0: one server) or connected to each
    of ``brokers`` ``uvrpc broker`` processes; every broker is answering when this
    yields, and every process is stopped when it exits."""
    if brokers == 0:
        command = [*_UVRPC, "serve", _TARGET, "--bind", "tcp://127.0.0.1:*"]
        with serving(command, "server") as endpoint:
            asyncio.run(wait_for_servers(endpoint, 1))
            yield Topology(endpoint, [])
        return
    with (
        tempfile.TemporaryDirectory(prefix="uvrpc-bench-broker-") as scratch,
        ExitStack() as stack,
    ):
        pids: list[int] = []
        frontends, connects = [], []
        for n in range(brokers):
            backend = f"ipc://{Path(scratch) / f'backend-{n}.sock'}"
            command = [*_UVRPC, "broker", "--frontend", "tcp://127.0.0.1:*"]
            command += ["--backend", backend]
            frontends.append(stack.enter_context(serving(command, "broker", pids)))
            connects += ["--connect", backend]
        for _ in range(servers):
            command = [*_UVRPC, "serve", _TARGET, *connects]
            stack.enter_context(serving(command, "server", prints_endpoint=False))
        for frontend in frontends:
            asyncio.run(wait_for_servers(frontend, 1))
        yield Topology(",".join(frontends), pids)


def broker_cpu(pids: Sequence[int]) -> float | None:
    """CPU seconds used so far by the processes ``pids``, every thread counted
    (``None`` where ``/proc`` cannot tell)."""
    try:
        return sum(cpu_seconds(pid) for pid in pids)
    except OSError:
        return None


def cpu_per_call(
    before: float | None,
    after: float | None,
    calls: int,
    warmup: float,
    duration: float,
) -> float | None:
    """µs of CPU per call from readings around a client process whose window of
    ``duration`` seconds, after ``warmup``, held ``calls``."""
    if before is None or after is None or not calls:
        return None
    served = calls * (warmup + duration) / duration
    return (after - before) * 1e6 / served


class _Measured(NamedTuple):
    result: Result
    cpu_us: float | None
    """The brokers' CPU time per call, in µs (``None``: direct, or not Linux)."""


def _measure(
    running: Topology, inflight: int, warmup: float, duration: float
) -> _Measured:
    """One shape on one running path, in a client process of its own."""
    spec = ClientSpec(running.endpoint, PAYLOAD, inflight, warmup, duration)
    pids = running.broker_pids
    before = broker_cpu(pids) if pids else None
    ((result,),) = run_clients(SYSTEMS["uvrpc"], [[spec]])
    after = broker_cpu(pids) if pids else None
    return _Measured(
        result, cpu_per_call(before, after, result.calls, warmup, duration)
    )


def _median(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None and v == v]
    return statistics.median(kept) if kept else None


def _row(path: str, inflight: int, measured: Sequence[_Measured]) -> dict[str, Any]:
    rates = [m.result.calls / m.result.seconds for m in measured]
    latencies = [sorted(m.result.latencies_us) for m in measured]

    def latency(fraction: float) -> float | None:
        return _median([percentile(x, fraction) for x in latencies if x])

    return {
        "system": "uvrpc",
        "case": "broker",
        "path": path,
        "payload": PAYLOAD,
        "inflight": inflight,
        "processes": 1,
        "rounds": len(measured),
        "calls_per_s": statistics.median(rates),
        "calls_per_s_min": min(rates),
        "calls_per_s_max": max(rates),
        "calls_per_s_all": rates,
        "mb_per_s": statistics.median(rates) * PAYLOAD / 1e6,
        "p50_us": latency(0.5),
        "p99_us": latency(0.99),
        "p999_us": latency(0.999),
        "broker_cpu_us_per_call": _median([m.cpu_us for m in measured]),
        "calls": sum(m.result.calls for m in measured),
        "mismatches": sum(m.result.mismatches for m in measured),
    }


def _ratio(value: float | None, base: float | None) -> float | None:
    return value / base if value is not None and base else None


def measure_broker(
    *,
    warmup: float,
    duration: float,
    repeat: int,
    in_flight: Sequence[int] = IN_FLIGHT,
) -> list[dict[str, Any]]:
    """One row per path and shape, medians over ``repeat`` rounds; the broker's
    rows carry ``ratio_vs_direct`` (calls/s, of the medians), ``p50_vs_direct``
    (ping-pong) and ``ratio_vs_direct_all`` (calls/s, each round's own ratio: the
    two paths of a shape ran back to back, so a drift between rounds cancels)."""
    measured: dict[tuple[str, int], list[_Measured]] = {}
    for round_ in range(repeat):
        with ExitStack() as stack:
            running = {
                path: stack.enter_context(topology(0 if path == "direct" else 1))
                for path in PATHS
            }
            for n in in_flight:
                for path in PATHS if round_ % 2 == 0 else PATHS[::-1]:
                    m = _measure(running[path], n, warmup, duration)
                    measured.setdefault((path, n), []).append(m)
    rows = [_row(path, n, measured[path, n]) for n in in_flight for path in PATHS]
    direct = {r["inflight"]: r for r in rows if r["path"] == "direct"}
    for row in rows:
        base = direct[row["inflight"]]
        through = row["path"] != "direct"
        row["ratio_vs_direct"] = (
            _ratio(row["calls_per_s"], base["calls_per_s"]) if through else None
        )
        row["p50_vs_direct"] = (
            _ratio(row["p50_us"], base["p50_us"]) if through else None
        )
        row["ratio_vs_direct_all"] = (
            [
                _ratio(rate, direct_rate)
                for rate, direct_rate in zip(
                    row["calls_per_s_all"], base["calls_per_s_all"], strict=True
                )
            ]
            if through
            else None
        )
    return rows


def _cells(row: dict[str, Any]) -> list[str]:
    number, ratio = number_cell, ratio_cell
    return [
        "pingpong" if row["inflight"] == 1 else "pipelined",
        f"{row['payload']} B",
        str(row["inflight"]),
        row["path"],
        number(row["calls_per_s"]),
        spread_cell(row),
        number(row["p50_us"]),
        number(row["p99_us"]),
        ratio(row["ratio_vs_direct"]),
        ratio(row["p50_vs_direct"]),
        number(row["broker_cpu_us_per_call"], 1),
    ]


_HEADERS = [
    "case",
    "payload",
    "in flight",
    "path",
    "calls/s",
    "min-max",
    "p50 µs",
    "p99 µs",
    "x direct",
    "p50 x direct",
    "broker CPU µs/call",
]
_LEFT = {0, 3}
"""Columns of words, aligned left (the rest are numbers, aligned right)."""


def render(rows: Sequence[dict[str, Any]], markdown: bool = False) -> str:
    """The rows as an aligned text table (or a Markdown one)."""
    lines = [_HEADERS, *(_cells(r) for r in rows)]
    if markdown:
        rule = ["---", "---:", "---:", "---", *["---:"] * (len(_HEADERS) - 4)]
        lines.insert(1, rule)
        return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)
    widths = [max(len(cells[i]) for cells in lines) for i in range(len(_HEADERS))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i in _LEFT else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()
        for cells in lines
    )
