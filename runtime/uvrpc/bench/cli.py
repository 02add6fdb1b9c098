"""The command line of ``uvrpc bench`` (also ``python -m uvrpc.bench``)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .arguments import at_least_zero, positive
from .cases import CASES
from .plot import NothingToPlot, write_plot
from .report import as_json_ready, environment, render_table, rows
from .runner import Measurement, Sample, plan, run_round
from .systems import SYSTEMS, systems_for

__all__ = ["main"]


def _names(value: str, known: Sequence[str], what: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})"
        )
    return names


def _unwritable(path: Path) -> str | None:
    """Why a report cannot be written at ``path`` (its directory is missing or
    not writable, or it is a directory), or ``None`` if it can be."""
    directory = path.parent
    if path.is_dir():
        return "is a directory"
    if not directory.is_dir():
        return f"no such directory: {directory}"
    if not os.access(directory, os.W_OK):
        return f"cannot write into {directory}"
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uvrpc bench",
        description="Echo and stream benchmark of uvrpc, raw pyzmq, gRPC and Thrift "
        "in one run.",
    )
    parser.add_argument(
        "--cases",
        type=lambda v: _names(v, [*CASES, "workers", "broker", "brokers"], "case"),
        default=[*CASES, "broker"],
        help=f"comma-separated, of: {', '.join(CASES)}; "
        "broker (one server bound directly and behind a broker, 1, 8 and 64 "
        "calls in flight, uvrpc only); "
        "workers (a CPU-bound service on 1 and 2 worker processes, uvrpc only); "
        "brokers (calls spread over 1 and 2 brokers, uvrpc only). "
        "Default: all but workers and brokers",
    )
    parser.add_argument(
        "--systems",
        type=lambda v: _names(v, list(SYSTEMS), "system"),
        help="comma-separated system names, a '+uvloop' one included (default: all "
        "installed); with --uvloop, each one's '+uvloop' row too",
    )
    parser.add_argument(
        "--duration", type=positive(float), default=3.0, help="seconds per case"
    )
    parser.add_argument(
        "--warmup", type=at_least_zero, default=0.5, help="seconds, excluded"
    )
    parser.add_argument(
        "--repeat", type=positive(int), default=1, help="rounds; medians kept"
    )
    parser.add_argument("--uvloop", action="store_true", help="add uvloop rows")
    parser.add_argument("--ipc", action="store_true", help="ZeroMQ systems on ipc://")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write results")
    parser.add_argument(
        "--plot",
        type=Path,
        metavar="PATH",
        help="write a PNG of the cases measured: the sweep as lines against "
        "payload size, the other cases as bars (workers and brokers are not drawn)",
    )
    parser.add_argument(
        "--markdown", action="store_true", help="print the tables as Markdown"
    )
    return parser


def _progress(total: int) -> tuple[Callable[[Measurement], None], Callable[[], None]]:
    """A progress display (rich when installed) and the function that closes it."""
    try:
        from rich.console import Console
        from rich.progress import Progress
    except ImportError:
        done = 0

        def plain(m: Measurement) -> None:
            nonlocal done
            done += 1
            print(
                f"[{done}/{total}] {m.system.name} {m.case.name} {m.payload} B",
                file=sys.stderr,
                flush=True,
            )

        return plain, lambda: None
    # On stderr, so that standard output is the table alone; and only on a terminal,
    # so that logs and captured output hold no progress-bar debris.
    console = Console(stderr=True)
    if not console.is_terminal:
        # Not even started: rich before 14.3 writes a newline when a disabled
        # display stops.
        return lambda m: None, lambda: None
    bar = Progress(console=console, transient=True)
    task = bar.add_task("benchmark", total=total)
    bar.start()

    def advance(m: Measurement) -> None:
        bar.update(
            task,
            advance=1,
            description=f"{m.system.name:<22} {m.case.name:<10} {m.payload:>8} B",
        )

    return advance, bar.stop


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the table; write JSON and a plot if asked.

    SIGTERM ends it as Ctrl-C does, stopping the processes it started (exit
    143): its default action killed this process alone, and left the server
    processes it had started serving forever.
    """
    if threading.current_thread() is not threading.main_thread():
        return _main(argv)
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM's handler: unwind, so that every process started is stopped."""
    raise SystemExit(128 + signum)


def _main(argv: Sequence[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.plot is not None and importlib.util.find_spec("matplotlib") is None:
        # Said before the run, not after it.
        parser.error("--plot needs matplotlib: pip install 'uvrpc[bench]'")
    for option, path in (("--json", args.json), ("--plot", args.plot)):
        unwritable = None if path is None else _unwritable(path)
        if unwritable is not None:
            # Said before the run: after it, the measurements would be lost.
            parser.error(f"{option} {path}: {unwritable}")
    if args.systems:
        # The rows named, a '+uvloop' one too (not dropped for want of --uvloop),
        # and with --uvloop the '+uvloop' row of each one named that has one.
        named = set(args.systems)
        if args.uvloop:
            named |= {f"{name}+uvloop" for name in args.systems}
        wanted = [s for s in SYSTEMS.values() if s.name in named]
    else:
        wanted = systems_for(args.uvloop)
    for system in wanted:
        if not system.available:
            missing = system.missing
            extra = "uvloop" if missing == "uvloop" else "bench"
            print(
                f"uvrpc bench: skipping {system.name}: {missing} is not "
                f"installed (pip install 'uvrpc[{extra}]')",
                file=sys.stderr,
            )
    systems = [s for s in wanted if s.available]
    if not systems:
        print("uvrpc bench: error: no system left to measure", file=sys.stderr)
        return 2
    measurements = plan(systems, [CASES[n] for n in args.cases if n in CASES])
    advance, close = _progress(len(measurements) * args.repeat)
    samples: list[Sample] = []
    try:
        for _ in range(args.repeat):
            samples += run_round(
                measurements,
                warmup=args.warmup,
                duration=args.duration,
                ipc=args.ipc,
                progress=advance,
            )
    finally:
        close()
    table = rows(samples)
    if measurements:
        print(render_table(table, markdown=args.markdown))
    if "workers" in args.cases:
        from .scaling import measure_workers, render

        scaling = measure_workers(
            warmup=args.warmup, duration=args.duration, repeat=args.repeat
        )
        print(render(scaling))
        table += scaling
    if "broker" in args.cases:
        from . import brokered

        through_broker = brokered.measure_broker(
            warmup=args.warmup, duration=args.duration, repeat=args.repeat
        )
        # A blank line first: two Markdown tables in a row would merge.
        print(
            ("\n" if measurements else "")
            + brokered.render(through_broker, markdown=args.markdown)
        )
        table += through_broker
    if "brokers" in args.cases:
        from . import spread

        spread_rows = spread.measure_brokers(
            warmup=args.warmup, duration=args.duration, repeat=args.repeat
        )
        print(spread.render(spread_rows))
        table += spread_rows
    if args.json:
        report: dict[str, Any] = environment()
        report["settings"] = {
            "duration": args.duration,
            "warmup": args.warmup,
            "repeat": args.repeat,
            "transport": "ipc" if args.ipc else "tcp",
            "command": "uvrpc bench "
            + " ".join(sys.argv[1:] if argv is None else argv),
        }
        report["cases"] = [{k: as_json_ready(v) for k, v in r.items()} for r in table]
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.plot:
        try:
            write_plot(table, args.plot)
        except NothingToPlot as exc:
            print(f"uvrpc bench: no plot written: {exc}", file=sys.stderr)
    mismatches = sum(r["mismatches"] for r in table)
    if mismatches:
        print(
            f"uvrpc bench: {mismatches} replies differed from their payload",
            file=sys.stderr,
        )
        return 1
    return 0
