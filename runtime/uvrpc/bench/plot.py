"""``uvrpc bench --plot``: a picture of whatever cases were measured.

The payload sweep is drawn as lines against payload size, one per system; the
fixed-size cases (``pingpong``, ``pipelined``, ``pipelined-8``, ``concurrent``,
``large``) as bars, a group per case and a bar per system; the stream cases as bars
too, a group per case and item size; the ``broker`` case as bars, a group per
number of calls in flight and a bar per path. A figure has a row of two panels for
each of the four that were measured: throughput on the left, median latency on the
right (a latency panel only where some row has a latency; cases with many calls in
flight record none), or for the streams items per second on the left and MB/s on
the right. Rows come from :func:`uvrpc.bench.report.rows` or from the ``cases`` of
a ``--json`` report, where a missing number is ``None`` rather than NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cases import CASES
from .report import size_label

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["NothingToPlot", "figure", "write_plot"]

SWEEP = "sweep"
"""The case drawn against payload size."""
BROKER = "broker"
"""The case drawn by path, direct or through a broker (:mod:`uvrpc.bench.brokered`)."""


class NothingToPlot(Exception):
    """The rows hold no case the plot draws; the message says so in one line."""


def _number(value: Any) -> float | None:
    """A row's value as a number to draw, or None (missing, NaN, not positive:
    the axes are logarithmic)."""
    if isinstance(value, int | float) and math.isfinite(value) and value > 0:
        return float(value)
    return None


def _systems(table: Sequence[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(r["system"] for r in table))


def _style(systems: list[str], system: str) -> dict[str, Any]:
    import matplotlib.pyplot as plt

    palette = plt.get_cmap("tab20")  # 20 distinct colours: rows outnumber tab10's
    return {"color": palette(systems.index(system) % 20), "label": system}


def _sweep(
    table: Sequence[dict[str, Any]], systems: list[str], panels: list[Axes]
) -> None:
    """The sweep: MB/s and p50 against payload size, a line per system."""
    throughput, *latency = panels
    for system in systems:
        points = sorted((r["payload"], r) for r in table if r["system"] == system)
        style = {
            **_style(systems, system),
            "linestyle": "--" if system.endswith("+uvloop") else "-",
            "marker": "o",
        }
        for axes, key in zip(panels, ("mb_per_s", "p50_us"), strict=False):
            drawn = [(p, _number(r[key])) for p, r in points]
            kept = [(p, v) for p, v in drawn if v is not None]
            if kept:
                axes.plot([p for p, _ in kept], [v for _, v in kept], **style)
    throughput.set_title("echo throughput against payload, one call in flight")
    throughput.set_ylabel("MB/s (payload, one way)")
    for axes in panels:
        axes.set_xscale("log", base=2)
        axes.set_xlabel("payload bytes")
    for axes in latency:
        axes.set_title("echo latency (median) against payload")
        axes.set_ylabel("p50 µs")


def _bars(
    table: Sequence[dict[str, Any]], systems: list[str], panels: list[Axes]
) -> None:
    """The fixed-size cases: calls/s and p50 as bars, a group per case."""
    by_key = {(r["case"], r["system"]): r for r in table}
    width = 0.8 / len(systems)
    for axes, key in zip(panels, ("calls_per_s", "p50_us"), strict=False):
        # Only the cases that have this number: many calls in flight record no
        # latency, and an empty slot would read as a missing measurement.
        cases = [
            name
            for name in CASES
            if any(r["case"] == name and _number(r[key]) is not None for r in table)
        ]
        for index, system in enumerate(systems):
            spots = [
                (position + (index - (len(systems) - 1) / 2) * width, value)
                for position, case in enumerate(cases)
                if (row := by_key.get((case, system))) is not None
                and (value := _number(row[key])) is not None
            ]
            if spots:
                axes.bar(
                    [x for x, _ in spots],
                    [v for _, v in spots],
                    width=width,
                    **_style(systems, system),
                )
        axes.set_xticks(range(len(cases)), cases)
        axes.set_xlabel("case")
    panels[0].set_title("calls per second, by case")
    panels[0].set_ylabel("calls/s")
    for axes in panels[1:]:
        axes.set_title("latency (median), by case")
        axes.set_ylabel("p50 µs")


def _streams(
    table: Sequence[dict[str, Any]], systems: list[str], panels: list[Axes]
) -> None:
    """The stream cases: items/s and MB/s as bars, a group per case and item size."""
    by_key = {(r["case"], r["payload"], r["system"]): r for r in table}
    groups = sorted(
        {(r["case"], r["payload"]) for r in table},
        key=lambda group: (list(CASES).index(group[0]), group[1]),
    )
    width = 0.8 / len(systems)
    for axes, key in zip(panels, ("calls_per_s", "mb_per_s"), strict=True):
        for index, system in enumerate(systems):
            spots = [
                (position + (index - (len(systems) - 1) / 2) * width, value)
                for position, (case, payload) in enumerate(groups)
                if (row := by_key.get((case, payload, system))) is not None
                and (value := _number(row[key])) is not None
            ]
            if spots:
                axes.bar(
                    [x for x, _ in spots],
                    [v for _, v in spots],
                    width=width,
                    **_style(systems, system),
                )
        labels = [
            f"{case.removesuffix('-stream')}\n{size_label(payload)}"
            for case, payload in groups
        ]
        axes.set_xticks(range(len(groups)), labels)
        axes.set_xlabel("stream, item size")
    panels[0].set_title("stream items per second, by case")
    panels[0].set_ylabel("items/s")
    panels[1].set_title("stream throughput, by case")
    panels[1].set_ylabel("MB/s (items, one way)")


def _broker(
    table: Sequence[dict[str, Any]], systems: list[str], panels: list[Axes]
) -> None:
    """The ``broker`` case: calls/s and p50 as bars, a group per number of calls
    in flight and a bar per path (bound directly, through the broker)."""
    paths = list(dict.fromkeys(r["path"] for r in table))
    width = 0.8 / len(paths)
    for axes, key in zip(panels, ("calls_per_s", "p50_us"), strict=False):
        shapes = sorted({r["inflight"] for r in table if _number(r[key]) is not None})
        for index, path in enumerate(paths):
            spots = [
                (
                    shapes.index(r["inflight"])
                    + (index - (len(paths) - 1) / 2) * width,
                    v,
                )
                for r in table
                if r["path"] == path and (v := _number(r[key])) is not None
            ]
            if spots:
                style = {**_style(paths, path), "label": f"uvrpc, {path}"}
                axes.bar([x for x, _ in spots], [v for _, v in spots], width, **style)
        axes.set_xticks(range(len(shapes)), [f"{n} in flight" for n in shapes])
        axes.set_xlabel("calls in flight, 64 B")
    panels[0].set_title("calls per second, bound directly and through a broker")
    panels[0].set_ylabel("calls/s")
    for axes in panels[1:]:
        axes.set_title("latency (median), bound directly and through a broker")
        axes.set_ylabel("p50 µs")


def figure(table: Sequence[dict[str, Any]]) -> Figure:
    """The figure of ``table``'s rows (rows of other cases are left out).

    Raises:
        NothingToPlot: no row is of a case the plot draws.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = [r for r in table if r["case"] in CASES]
    sweep = [r for r in drawn if r["case"] == SWEEP]
    streams = [r for r in drawn if CASES[r["case"]].stream]
    fixed = [r for r in drawn if r["case"] != SWEEP and not CASES[r["case"]].stream]
    broker = [r for r in table if r["case"] == BROKER]
    sections = [
        (rows, draw)
        for rows, draw in (
            (sweep, _sweep),
            (fixed, _bars),
            (streams, _streams),
            (broker, _broker),
        )
        if rows
    ]
    if not sections:
        measured = sorted({str(r["case"]) for r in table})
        raise NothingToPlot(
            f"nothing to plot: it draws the cases {', '.join([*CASES, BROKER])}; "
            f"the results hold {', '.join(measured) or 'no rows'}"
        )
    figure, grid = plt.subplots(
        len(sections), 2, figsize=(13, 5 * len(sections)), squeeze=False
    )
    for (rows, draw), line in zip(sections, grid, strict=True):
        systems = _systems(rows)
        panels = list(line)
        if draw is not _streams and not any(
            _number(r["p50_us"]) is not None for r in rows
        ):
            panels[1].remove()  # no latency measured: one panel, not an empty one
            panels = panels[:1]
        draw(rows, systems, panels)
        for axes in panels:
            axes.set_yscale("log")
            axes.grid(True, which="both", alpha=0.3)
        if panels[-1].get_legend_handles_labels()[0]:
            panels[-1].legend(fontsize=8)
    figure.tight_layout()
    return figure


def write_plot(table: Sequence[dict[str, Any]], path: Path) -> None:
    """Draw ``table`` (see :func:`figure`) into the PNG file ``path``.

    Raises:
        NothingToPlot: no row is of a case the plot draws.
    """
    import matplotlib.pyplot as plt

    drawn = figure(table)
    try:
        drawn.savefig(path, dpi=110)
    finally:
        plt.close(drawn)
