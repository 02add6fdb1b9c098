"""The figures the project publishes, written from one ``uvrpc bench`` run's JSON.

The benchmark section of ``README.md`` and the targets of ``docs/performance.md`` sit
between marker comments (:data:`BEGIN`, :data:`END`). ``python -m
uvrpc.bench.published`` rewrites both from ``docs/bench.json``; with ``--check`` it
changes nothing and fails if either differs. So a published table holds the figures
of the run beside it and of no other, and a test keeps it that way.

Usage::

    uvrpc bench --repeat 3 --uvloop --json docs/bench.json --plot docs/bench.png
    python -m uvrpc.bench.published          # rewrite README.md, docs/performance.md
    python -m uvrpc.bench.published --check  # exit 1 if they are stale
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .brokered import render as render_brokered
from .report import number_cell, ratio_cell, render_table, size_label, spread_cell

__all__ = [
    "BEGIN",
    "END",
    "TARGETS",
    "Target",
    "main",
    "performance_section",
    "readme_section",
    "replace_section",
    "targets",
]

BEGIN = "<!-- bench:begin: written by python -m uvrpc.bench.published -->"
"""The line before a section this module writes."""
END = "<!-- bench:end -->"
"""The line after it."""

UNARY_CASES = ("pingpong", "pipelined", "pipelined-8", "concurrent", "large")
"""The unary cases in the README's first table, in this order."""
STREAM_CASES = ("server-stream", "client-stream", "bidi-stream")
"""The stream cases in its second table."""

Row = dict[str, Any]


@dataclass(frozen=True)
class Target:
    """A goal for one figure of a run, and what the run measured."""

    figure: str
    """What is measured, in words."""
    goal: float
    """The ratio to reach."""
    at_most: bool
    """Whether the ratio must stay at or below :attr:`goal` (a latency), rather
    than reach it (a rate)."""
    measured: float | None
    """The run's ratio; ``None`` if the run has no such row."""

    @property
    def met(self) -> bool:
        """Whether the run met the goal."""
        if self.measured is None:
            return False
        return (
            self.measured <= self.goal if self.at_most else self.measured >= self.goal
        )


@dataclass(frozen=True)
class _Goal:
    figure: str
    goal: float
    at_most: bool
    pick: Callable[[Row], bool]
    field: str


def _row(system: str, case: str, payload: int) -> Callable[[Row], bool]:
    def pick(row: Row) -> bool:
        return (row["system"], row["case"], row["payload"]) == (system, case, payload)

    return pick


def _broker(inflight: int) -> Callable[[Row], bool]:
    def pick(row: Row) -> bool:
        return (
            row["case"] == "broker"
            and row.get("path") == "broker"
            and row["inflight"] == inflight
        )

    return pick


TARGETS: tuple[_Goal, ...] = (
    _Goal(
        "pipelined 64 B, 64 in flight: calls/s x raw pyzmq (task client)",
        1.0,
        False,
        _row("uvrpc", "pipelined", 64),
        "ratio_vs_zmq_raw",
    ),
    _Goal(
        "pipelined 64 B, 8 in flight: calls/s x raw pyzmq (task client)",
        0.9,
        False,
        _row("uvrpc", "pipelined-8", 64),
        "ratio_vs_zmq_raw",
    ),
    *(
        _Goal(
            f"{case} 64 B: items/s x gRPC",
            10.0,
            False,
            _row("uvrpc", case, 64),
            "ratio_vs_grpc",
        )
        for case in STREAM_CASES
    ),
    *(
        _Goal(
            f"{case} 64 KiB: items/s x raw pyzmq",
            0.8,
            False,
            _row("uvrpc", case, 64 << 10),
            "ratio_vs_zmq_raw",
        )
        for case in STREAM_CASES
    ),
    *(
        _Goal(
            f"through a broker, {n} in flight: calls/s x direct",
            0.8,
            False,
            _broker(n),
            "ratio_vs_direct",
        )
        for n in (64, 8)
    ),
    _Goal(
        "ping-pong, async client: p50 x raw pyzmq (asyncio)",
        1.15,
        True,
        _row("uvrpc", "pingpong", 64),
        "p50_vs_zmq_raw",
    ),
    _Goal(
        "ping-pong, blocking client: p50 x raw pyzmq (blocking)",
        1.15,
        True,
        _row("uvrpc-sync", "pingpong", 64),
        "p50_vs_zmq_raw",
    ),
)
"""Every target, and where its figure is in a run's rows."""


def targets(report: dict[str, Any]) -> list[Target]:
    """Each of :data:`TARGETS` with the ratio ``report`` measured for it."""
    found = []
    for goal in TARGETS:
        row = next((r for r in report["cases"] if goal.pick(r)), None)
        value = None if row is None else row.get(goal.field)
        found.append(Target(goal.figure, goal.goal, goal.at_most, value))
    return found


def render_targets(found: Sequence[Target]) -> str:
    """The targets as a Markdown table."""
    lines = ["| figure | target | this run | met |", "| --- | ---: | ---: | --- |"]
    for t in found:
        bound = f"{'≤' if t.at_most else '≥'} {t.goal:.2f}x"
        measured = ratio_cell(t.measured) or "not measured"
        lines.append(
            f"| {t.figure} | {bound} | {measured} | {'yes' if t.met else 'no'} |"
        )
    return "\n".join(lines)


def _run_lines(report: dict[str, Any]) -> list[str]:
    """Which run, on which machine, with which versions."""
    settings, machine = report["settings"], report["machine"]
    versions = report["versions"]
    shown = ", ".join(
        f"{name} {versions[name]}"
        for name in ("pyzmq", "msgpack", "pydantic", "grpcio", "thriftpy2", "uvloop")
        if name in versions
    )
    return [
        "The run:",
        "",
        "```sh",
        settings["command"],
        "```",
        "",
        f"Medians of {settings['repeat']} rounds of {settings['duration']:g} s per "
        f"case over {settings['transport']}. Machine: {machine['cores']}-core "
        f"{machine['cpu']}, {machine['platform']}; Python {versions['python']}, "
        f"libzmq {versions['libzmq']}, {shown}.",
    ]


def _stream_table(rows: Sequence[Row]) -> str:
    lines = [
        "| case | item | system | items/s | min-max | MB/s | x zmq-raw | x grpc |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        cells = [
            r["case"],
            size_label(r["payload"]),
            r["system"],
            number_cell(r["calls_per_s"]),
            spread_cell(r),
            number_cell(r["mb_per_s"], 1),
            ratio_cell(r.get("ratio_vs_zmq_raw")),
            ratio_cell(r.get("ratio_vs_grpc")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ordered(rows: Sequence[Row], cases: Sequence[str]) -> list[Row]:
    """The rows of ``cases`` without the ``+uvloop`` systems, in case order."""
    chosen = [r for r in rows if r["case"] in cases and "+" not in r["system"]]
    return sorted(chosen, key=lambda r: cases.index(r["case"]))


def readme_section(report: dict[str, Any]) -> str:
    """The README's benchmark section: the run, its tables, the targets."""
    parts = ["\n".join(_run_lines(report))]
    unary = _ordered(report["cases"], UNARY_CASES)
    if unary:
        parts.append(render_table(unary, markdown=True))
    streams = _ordered(report["cases"], STREAM_CASES)
    if streams:
        parts.append(
            "Streams: items of one stream call after another, 1,000 items a call, "
            "window of 128.\n\n" + _stream_table(streams)
        )
    brokered = [r for r in report["cases"] if r["case"] == "broker"]
    if brokered:
        parts.append(
            "Through `uvrpc broker`, against the same server bound directly"
            ":\n\n" + render_brokered(brokered, markdown=True)
        )
    parts.append("Targets, from this run:\n\n" + render_targets(targets(report)))
    return "\n\n".join(parts)


def performance_section(report: dict[str, Any]) -> str:
    """``docs/performance.md``'s targets: the run and each target's ratio in it."""
    return "\n\n".join(["\n".join(_run_lines(report)), render_targets(targets(report))])


def replace_section(text: str, section: str, where: str) -> str:
    """``text`` with what lies between :data:`BEGIN` and :data:`END` replaced by
    ``section``; ``where`` names the file in the error when the markers are not
    there exactly once each."""
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise ValueError(f"{where}: needs one line {BEGIN!r} and one {END!r}")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{section}\n{END}{tail}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m uvrpc.bench.published",
        description="Write the README's benchmark section and docs/performance.md's "
        "targets from one uvrpc bench run's JSON.",
    )
    parser.add_argument(
        "--json", type=Path, default=Path("docs/bench.json"), help="the run"
    )
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    parser.add_argument("--performance", type=Path, default=Path("docs/performance.md"))
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if stale"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite (or check) both sections; the exit status."""
    args = _parser().parse_args(argv)
    try:
        report = json.loads(args.json.read_text())
        writes = {
            args.readme: readme_section(report),
            args.performance: performance_section(report),
        }
        stale = []
        for path, section in writes.items():
            text = path.read_text()
            new = replace_section(text, section, str(path))
            if new != text:
                stale.append(path)
                if not args.check:
                    path.write_text(new)
    except (OSError, ValueError, KeyError) as exc:
        print(f"uvrpc.bench.published: {exc}", file=sys.stderr)
        return 2
    if args.check and stale:
        names = ", ".join(str(p) for p in stale)
        print(
            f"uvrpc.bench.published: {names} differ from {args.json}; run "
            "python -m uvrpc.bench.published",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
