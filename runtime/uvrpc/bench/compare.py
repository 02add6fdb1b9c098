"""Compare two source trees of uvrpc on one machine, in alternating rounds.

``python -m uvrpc.bench.compare --before DIR --after DIR`` measures each tree in
subprocesses whose ``PYTHONPATH`` is that tree's ``runtime`` and ``generator`` (and
whose working directory and script directory stay off ``sys.path``), so that the two
trees never mix. Each round takes every step below with both trees, one after the
other, the first of them alternating from round to round so that a drift of the
host's speed does not favour either. The steps:

- ``uvrpc bench --cases ... --systems uvrpc,uvrpc-sync`` of that tree (its own
  runner, whatever it has become): calls/s per case, and p50 for ping-pong;
- :mod:`uvrpc.bench.cpuprobe`, this tree's copy, run against the tree: µs of CPU
  per call of the async client (64 calls in flight) and of the server serving it,
  then of the blocking client (ping-pong) and of the server serving that, each the
  lowest of ten slices of the window; client and server pinned to cores of their own;
- with ``--micro``, the tree's ``python -m uvrpc.bench.micro`` table.

The report has, per metric, each tree's median over the rounds with its spread, the
after/before ratio of the medians, the median and range of each round's own ratio
(a round's two figures ran seconds apart: that range is the noise of the
comparison), and how much slower the after tree is by that median, in the direction
that matters for the metric.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .report import size_label

__all__ = ["Row", "bench_metrics", "higher_is_better", "main", "render", "summarise"]

PROBE = Path(__file__).with_name("cpuprobe.py")
SYSTEMS = ("uvrpc", "uvrpc-sync")

Samples = dict[str, list[float]]
"""Metric name to its value in each round, in round order."""


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` is an improvement (rates) or not (µs)."""
    return metric.endswith("calls/s")


@dataclass(frozen=True)
class Row:
    """One metric of the comparison."""

    metric: str
    before: float
    """Median over rounds."""
    before_min: float
    before_max: float
    after: float
    after_min: float
    after_max: float
    ratio: float
    """``after / before`` of the medians."""
    round_ratio: float
    """Median of each round's ``after / before``: the two figures of a round ran
    seconds apart, so a drift of the host's speed between rounds cancels out."""
    round_ratio_min: float
    """Smallest ``after / before`` of one round's pair."""
    round_ratio_max: float
    slower_pct: float
    """How much worse the after tree is by :attr:`round_ratio`, in %: fewer calls/s
    or more µs (negative: better)."""


def _slower_pct(metric: str, ratio: float) -> float:
    return (1 / ratio - 1) * 100 if higher_is_better(metric) else (ratio - 1) * 100


def summarise(before: Samples, after: Samples) -> list[Row]:
    """One :class:`Row` per metric both trees measured, in ``before``'s order.

    The i-th values of a metric in ``before`` and ``after`` are taken to come from
    the same round.
    """
    rows = []
    for metric, olds in before.items():
        news = after.get(metric)
        if not news or not olds:
            continue
        old, new = statistics.median(olds), statistics.median(news)
        ratio = new / old
        pairs = [n / o for o, n in zip(olds, news, strict=False) if o]
        paired = statistics.median(pairs) if pairs else ratio
        rows.append(
            Row(
                metric,
                old,
                min(olds),
                max(olds),
                new,
                min(news),
                max(news),
                ratio,
                paired,
                min(pairs, default=ratio),
                max(pairs, default=ratio),
                _slower_pct(metric, paired),
            )
        )
    return rows


def _value(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def _spread(median: float, low: float, high: float) -> str:
    return f"±{(high - low) / 2 / median * 100:.1f}%" if median else ""


def render(rows: Sequence[Row], tolerance: float, markdown: bool = False) -> str:
    """The comparison as an aligned text table, or a Markdown one.

    A row is flagged ``SLOWER`` when the after tree is worse by more than
    ``tolerance`` percent.
    """
    headers = [
        "metric",
        "before",
        "spread",
        "after",
        "spread",
        "after/before",
        "rounds' ratio (range)",
        "slower by",
        "",
    ]
    lines = [
        [
            r.metric,
            _value(r.before),
            _spread(r.before, r.before_min, r.before_max),
            _value(r.after),
            _spread(r.after, r.after_min, r.after_max),
            f"{r.ratio:.3f}",
            f"{r.round_ratio:.3f} ({r.round_ratio_min:.3f}–{r.round_ratio_max:.3f})",
            f"{r.slower_pct:+.1f}%",
            "SLOWER" if r.slower_pct > tolerance else "ok",
        ]
        for r in rows
    ]
    if markdown:
        rule = ["---", *["---:"] * (len(headers) - 2), "---"]
        return "\n".join(
            "| " + " | ".join(cells) + " |" for cells in [headers, rule, *lines]
        )
    widths = [max(len(line[i]) for line in [headers, *lines]) for i in range(9)]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i in (0, 8) else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()
        for cells in [headers, *lines]
    )


def _environment(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{tree / 'runtime'}{os.pathsep}{tree / 'generator'}"
    # Nothing but the tree on sys.path: not the working directory (python -m), not
    # a script's directory (the probe), in this process and the ones it starts.
    env["PYTHONSAFEPATH"] = "1"
    return env


def _run(command: Sequence[str], tree: Path, scratch: Path) -> str:
    result = subprocess.run(
        list(command),
        env=_environment(tree),
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode:
        raise RuntimeError(
            f"{' '.join(command)} failed in {tree} (exit {result.returncode}):\n"
            + result.stdout
            + result.stderr
        )
    return result.stdout


def bench(tree: Path, cases: str, duration: float, scratch: Path) -> dict[str, float]:
    """The tree's own ``uvrpc bench`` on its uvrpc rows: calls/s, ping-pong p50."""
    report = scratch / "bench.json"
    _run(
        [sys.executable, "-m", "uvrpc.bench", "--cases", cases]
        + ["--systems", ",".join(SYSTEMS), "--duration", str(duration)]
        + ["--json", str(report)],
        tree,
        scratch,
    )
    return bench_metrics(json.loads(report.read_text())["cases"])


def bench_metrics(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """The metrics of ``uvrpc bench``'s JSON rows: each row's calls/s, and the
    ping-pong p50. A case measured at several payloads (the streams, at 64 B and
    64 KiB) names its size, so that no size stands in for another."""
    sizes: dict[str, set[int]] = {}
    for row in rows:
        sizes.setdefault(row["case"], set()).add(row["payload"])
    metrics: dict[str, float] = {}
    for row in rows:
        case = row["case"]
        if len(sizes[case]) > 1:
            case = f"{case} {size_label(row['payload'])}"
        name = f"{case} {row['system']}"
        metrics[f"{name} calls/s"] = row["calls_per_s"]
        if row["case"] == "pingpong" and row.get("p50_us"):
            metrics[f"{name} p50 µs"] = row["p50_us"]
    return metrics


def cpu(
    tree: Path, duration: float, cpus: str | None, scratch: Path
) -> dict[str, float]:
    """CPU µs per call of both clients and of the server, from :mod:`cpuprobe`."""
    metrics: dict[str, float] = {}
    for kind, client, shape in (
        ("async", "async client", "pipelined 64"),
        ("sync", "blocking client", "ping-pong"),
    ):
        command = [sys.executable, str(PROBE), kind, "--duration", str(duration)]
        result = json.loads(
            _run(command + (["--cpus", cpus] if cpus else []), tree, scratch)
        )
        # The least disturbed tenth of the window: other processes on a shared
        # host only ever add to a call's CPU, never take from it.
        metrics[f"CPU {client}, {shape}, µs/call"] = result["client_us_best"]
        metrics[f"CPU server, {shape}, µs/call"] = result["server_us_best"]
    return metrics


_MICRO_ROW = re.compile(r"^(\S.*?)\s+(\d+\.\d+)\s+\d+\.\d+$")
_MICRO_CLIENT = re.compile(r"async client alone.*?: (\d+\.\d+) µs")


def micro(tree: Path, scratch: Path) -> dict[str, float]:
    """The uvrpc column of the tree's ``python -m uvrpc.bench.micro`` table."""
    text = _run([sys.executable, "-m", "uvrpc.bench.micro"], tree, scratch)
    metrics = {}
    for line in text.splitlines():
        if row := _MICRO_ROW.match(line.strip()):
            metrics[f"micro {row[1]} µs"] = float(row[2])
        elif alone := _MICRO_CLIENT.search(line):
            metrics["micro async client alone µs"] = float(alone[1])
    return metrics


def _default_cpus() -> str | None:
    # Client and server on cores of their own, each with its zmq I/O thread:
    # unpinned, the four threads migrate and the per-call CPU moved about twice as
    # much between runs on a 2-core host.
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return f"{cores[0]},{cores[1]}" if len(cores) >= 2 else None


def _revision(tree: Path) -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""
    return head + ("+changes" if dirty else "")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m uvrpc.bench.compare",
        description="Compare two uvrpc source trees in alternating rounds.",
    )
    parser.add_argument("--before", type=Path, required=True, help="reference tree")
    parser.add_argument("--after", type=Path, required=True, help="changed tree")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of both trees")
    parser.add_argument(
        "--cases", default="pingpong,pipelined,large", help="uvrpc bench cases"
    )
    parser.add_argument(
        "--duration", type=float, default=3.0, help="seconds per measurement"
    )
    parser.add_argument(
        "--cpus",
        default=_default_cpus(),
        help="CLIENT,SERVER cores of the CPU probe, or 'none' (default: two cores)",
    )
    parser.add_argument("--micro", action="store_true", help="add uvrpc.bench.micro")
    parser.add_argument(
        "--tolerance", type=float, default=3.0, help="%% slower flagged SLOWER"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write results")
    parser.add_argument("--markdown", action="store_true", help="a Markdown table")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the rounds, print the table, write the JSON if asked."""
    args = _parser().parse_args(argv)
    cpus = None if args.cpus in (None, "none") else args.cpus
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    samples: dict[str, Samples] = {"before": {}, "after": {}}
    rounds: list[dict[str, Any]] = []
    steps: list[tuple[str, Callable[[Path, Path], Mapping[str, float]]]] = [
        ("bench", lambda tree, tmp: bench(tree, args.cases, args.duration, tmp)),
        ("cpu", lambda tree, tmp: cpu(tree, args.duration, cpus, tmp)),
    ]
    if args.micro:
        steps.append(("micro", micro))
    for number in range(args.rounds):
        order = ["before", "after"] if number % 2 == 0 else ["after", "before"]
        measured: dict[str, Any] = {"order": order, "before": {}, "after": {}}
        # Both trees take each step in turn, so that the two figures of a pair are
        # seconds apart, not a whole turn of the other tree's steps.
        for step, measure in steps:
            for label in order:
                print(
                    f"round {number + 1}/{args.rounds}: {step} {label}",
                    file=sys.stderr,
                    flush=True,
                )
                with tempfile.TemporaryDirectory(prefix="uvrpc-compare-") as tmp:
                    values = measure(trees[label], Path(tmp))
                measured[label].update(values)
                for metric, value in values.items():
                    samples[label].setdefault(metric, []).append(value)
        rounds.append(measured)
    table = summarise(samples["before"], samples["after"])
    print(render(table, args.tolerance, markdown=args.markdown))
    if args.json:
        report = {
            "trees": {
                label: {"path": str(path), "revision": _revision(path)}
                for label, path in trees.items()
            },
            "settings": {
                "rounds": args.rounds,
                "cases": args.cases,
                "duration": args.duration,
                "cpus": cpus,
                "tolerance_pct": args.tolerance,
                "micro": args.micro,
            },
            "summary": [asdict(row) for row in table],
            "rounds": rounds,
        }
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
