"""The ``brokers`` case of ``uvrpc bench``: calls spread over several brokers.

One broker reads every message in one Python thread, so one core bounds what it
can forward. Past that, run more brokers: every server connects to each of them
(``uvrpc serve … --connect B1 --connect B2``), every client connects its channel to
all of their frontends (``Channel("tcp://b1,tcp://b2")``, which sends each call to
the next connected one in turn). This case measures 1 and 2 brokers
(:data:`BROKERS`) connected that way, with the same :data:`SERVERS` echo servers
and :data:`CLIENTS` client processes of :data:`INFLIGHT` calls each, started
together; the counts alternate within each round. Rows carry the brokers' CPU time
per call, all of them together (read as in :mod:`uvrpc.bench.brokered`), and the
speed-up over the first count.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from .brokered import broker_cpu, cpu_per_call, topology
from .runner import run_clients
from .spec import ClientSpec
from .systems import SYSTEMS

__all__ = ["BROKERS", "CLIENTS", "INFLIGHT", "SERVERS", "measure_brokers", "render"]

BROKERS = (1, 2)
"""The broker counts measured."""
SERVERS = 2
"""Echo servers, each connected to every broker."""
CLIENTS = 2
"""Client processes, each connected to every broker."""
INFLIGHT = 64
"""Calls in flight per client process."""
PAYLOAD = 64


def _measure(brokers: int, warmup: float, duration: float) -> dict[str, Any]:
    with topology(brokers, SERVERS) as running:
        spec = ClientSpec(running.endpoint, PAYLOAD, INFLIGHT, warmup, duration)
        batches = [[spec]] * CLIENTS
        before = broker_cpu(running.broker_pids)
        results = [r for (r,) in run_clients(SYSTEMS["uvrpc"], batches, together=True)]
        after = broker_cpu(running.broker_pids)
    calls = sum(r.calls for r in results)
    return {
        "calls": calls,
        "calls_per_s": calls / max(r.seconds for r in results),
        "cpu_us": cpu_per_call(before, after, calls, warmup, duration),
        "mismatches": sum(r.mismatches for r in results),
    }


def measure_brokers(
    *, warmup: float, duration: float, repeat: int, counts: Sequence[int] = BROKERS
) -> list[dict[str, Any]]:
    """One row per broker count: medians over ``repeat`` rounds (the counts
    alternate within each round), with the speed-up over the first count."""
    measured: dict[int, list[dict[str, Any]]] = {n: [] for n in counts}
    for _ in range(repeat):
        for n in counts:
            measured[n].append(_measure(n, warmup, duration))
    rates = {n: [m["calls_per_s"] for m in measured[n]] for n in counts}
    base = statistics.median(rates[counts[0]])
    rows = []
    for n in counts:
        cpu = [m["cpu_us"] for m in measured[n] if m["cpu_us"] is not None]
        rows.append(
            {
                "system": "uvrpc",
                "case": "brokers",
                "brokers": n,
                "servers": SERVERS,
                "payload": PAYLOAD,
                "inflight": INFLIGHT,
                "processes": CLIENTS,
                "rounds": repeat,
                "calls_per_s": statistics.median(rates[n]),
                "calls_per_s_all": rates[n],
                "speedup": statistics.median(rates[n]) / base,
                "broker_cpu_us_per_call": statistics.median(cpu) if cpu else None,
                "calls": sum(m["calls"] for m in measured[n]),
                "mismatches": sum(m["mismatches"] for m in measured[n]),
            }
        )
    return rows


def render(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a small text table."""
    shape = f"{SERVERS} servers, {CLIENTS} clients x {INFLIGHT} in flight"
    lines = [f"case     brokers  calls/s  speed-up  broker CPU/call  ({shape})"]
    for row in rows:
        cpu = row["broker_cpu_us_per_call"]
        cost = "" if cpu is None else f"{cpu:,.1f} us"
        lines.append(
            f"brokers  {row['brokers']:>7}  {row['calls_per_s']:>7,.0f}  "
            f"{row['speedup']:>7.2f}x  {cost:>15}"
        )
    return "\n".join(lines)
