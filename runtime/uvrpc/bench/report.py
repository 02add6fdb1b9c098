"""Turning samples into rows: medians over rounds, ratios, a table and JSON.

The plot is drawn by :mod:`uvrpc.bench.plot`.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import zmq

from .cases import CASES
from .measure import percentile
from .runner import Sample
from .systems import SYSTEMS

__all__ = [
    "as_json_ready",
    "environment",
    "number_cell",
    "ratio_cell",
    "render_table",
    "rows",
    "size_label",
    "spread_cell",
]

_VERSIONED = (
    "uvrpc",
    "pyzmq",
    "msgpack",
    "pydantic",
    "grpcio",
    "thriftpy2",
    "uvloop",
    "matplotlib",
)


def environment() -> dict[str, dict[str, Any]]:
    """The ``machine`` and ``versions`` parts of the JSON report."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    versions = {"python": platform.python_version(), "libzmq": zmq.zmq_version()}
    for name in _VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    machine = {
        "platform": platform.platform(),
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_implementation(),
    }
    return {"machine": machine, "versions": versions}


def as_json_ready(value: Any) -> Any:
    """``value`` with NaN replaced by ``None`` (JSON has no NaN)."""
    if isinstance(value, float) and value != value:
        return None
    return value


def _median(values: Sequence[float]) -> float | None:
    finite = [v for v in values if v == v]
    return statistics.median(finite) if finite else None


def rows(samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """One row per (system, case, payload): medians over rounds, with ratios."""
    grouped: dict[tuple[str, str, int], list[Sample]] = {}
    for sample in samples:
        m = sample.measurement
        grouped.setdefault((m.system.name, m.case.name, m.payload), []).append(sample)
    table: list[dict[str, Any]] = []
    for (system, case, payload), group in grouped.items():
        rates = [s.calls / s.seconds for s in group]
        latencies = [s.latencies_us for s in group]
        measurement = group[0].measurement
        calls_per_s = statistics.median(rates)
        table.append(
            {
                "system": system,
                "case": case,
                "payload": payload,
                "inflight": measurement.case.inflight,
                "processes": measurement.case.processes,
                "rounds": len(group),
                "calls_per_s": calls_per_s,
                "calls_per_s_min": min(rates),
                "calls_per_s_max": max(rates),
                "mb_per_s": calls_per_s * payload / 1e6,
                "p50_us": _median([percentile(x, 0.5) for x in latencies if x]),
                "p99_us": _median([percentile(x, 0.99) for x in latencies if x]),
                "p999_us": _median([percentile(x, 0.999) for x in latencies if x]),
                "mismatches": sum(s.mismatches for s in group),
                "calls": sum(s.calls for s in group),
            }
        )
        if measurement.case.stream:  # a stream's calls are its items
            table[-1]["items_per_s"] = calls_per_s
    index = {(r["system"], r["case"], r["payload"]): r for r in table}
    for row in table:
        row_system = SYSTEMS[row["system"]]
        peers = (("zmq_raw", row_system.raw_peer), ("grpc", row_system.grpc_peer))
        for key, peer in peers:
            other = index.get((peer or "", row["case"], row["payload"]))
            row[f"ratio_vs_{key}"] = (
                row["calls_per_s"] / other["calls_per_s"]
                if other and other["calls_per_s"]
                else None
            )
        raw = index.get((row_system.raw_peer or "", row["case"], row["payload"]))
        row["p50_vs_zmq_raw"] = (
            row["p50_us"] / raw["p50_us"]
            if raw and row["p50_us"] and raw["p50_us"]
            else None
        )
    return table


def size_label(payload: int) -> str:
    """A payload's size as a table shows it: ``64 B``, ``64 KiB``, ``1 MiB``."""
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if payload >= scale and payload % scale == 0:
            return f"{payload // scale} {unit}"
    return f"{payload} B"


def number_cell(value: float | None, digits: int = 0) -> str:
    """A figure as a table cell, with thousands separators; empty for none."""
    return "" if value is None else f"{value:,.{digits}f}"


def spread_cell(row: Mapping[str, Any]) -> str:
    """A row's rounds as a table cell: the least and the most calls (or items)
    per second, ``27,110-30,509``."""
    return (
        f"{number_cell(row['calls_per_s_min'])}-{number_cell(row['calls_per_s_max'])}"
    )


def ratio_cell(value: float | None) -> str:
    """A ratio as a table cell (``0.89x``); empty for none."""
    return "" if value is None else f"{value:.2f}x"


def render_table(table: Sequence[dict[str, Any]], markdown: bool = False) -> str:
    """The results as an aligned text table (or a Markdown one).

    A stream case's rate is of items; the rate's header says which the table
    holds.
    """
    streams = {r["case"] in CASES and bool(CASES[r["case"]].stream) for r in table}
    rate = {frozenset({True}): "items/s", frozenset({True, False}): "calls or items/s"}
    headers = [
        "case",
        "payload",
        "system",
        rate.get(frozenset(streams), "calls/s"),
        "min-max",
        "p50 µs",
        "p99 µs",
        "p99.9 µs",
        "MB/s",
        "x zmq-raw",
        "p50 x raw",
        "x grpc",
    ]
    lines = [
        [
            r["case"],
            size_label(r["payload"]),
            r["system"],
            number_cell(r["calls_per_s"]),
            spread_cell(r),
            number_cell(r["p50_us"]),
            number_cell(r["p99_us"]),
            number_cell(r["p999_us"]),
            number_cell(r["mb_per_s"], 1),
            ratio_cell(r["ratio_vs_zmq_raw"]),
            ratio_cell(r["p50_vs_zmq_raw"]),
            ratio_cell(r["ratio_vs_grpc"]),
        ]
        for r in table
    ]
    if markdown:
        rule = ["---", "---:", "---", *["---:"] * (len(headers) - 3)]
        return "\n".join(
            "| " + " | ".join(cells) + " |" for cells in [headers, rule, *lines]
        )
    widths = [
        max(len(row[i]) for row in [headers, *lines]) for i in range(len(headers))
    ]
    text = []
    for cells in [headers, *lines]:
        padded = [
            cell.ljust(w) if i < 3 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ]
        text.append("  ".join(padded).rstrip())
    return "\n".join(text)
