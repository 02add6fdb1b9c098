"""``uvrpc bench --plot`` draws whatever cases the results hold: fake results, no
benchmark run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("matplotlib", reason="the plot needs the bench extra")

import matplotlib.pyplot as plt  # noqa: E402

from uvrpc.bench import cli  # noqa: E402
from uvrpc.bench.plot import NothingToPlot, figure, write_plot  # noqa: E402

SYSTEMS = ("uvrpc", "zmq_raw", "grpc")
SWEEP_SIZES = (64, 256, 1024, 4096)


def row(system: str, case: str, payload: int, rate: float) -> dict[str, Any]:
    """A row as a ``--json`` report holds it (a missing number is None)."""
    in_flight = case in ("pipelined", "concurrent")
    latency = None if in_flight else 1e6 / rate
    return {
        "system": system,
        "case": case,
        "payload": payload,
        "inflight": 64 if in_flight else 1,
        "processes": 1,
        "rounds": 1,
        "calls_per_s": rate,
        "calls_per_s_min": rate,
        "calls_per_s_max": rate,
        "mb_per_s": rate * payload / 1e6,
        "p50_us": latency,
        "p99_us": latency,
        "p999_us": latency,
        "mismatches": 0,
        "calls": int(rate),
        "ratio_vs_zmq_raw": None,
        "ratio_vs_grpc": None,
        "p50_vs_zmq_raw": None,
    }


def results(cases: tuple[str, ...], systems: tuple[str, ...] = SYSTEMS) -> list[Any]:
    """The ``cases`` of a fake report, through JSON as ``--json`` writes it."""
    table = []
    for index, system in enumerate(systems):
        rate = 1000.0 * (index + 1)
        for case in cases:
            sizes = SWEEP_SIZES if case == "sweep" else (1 << 20,)
            sizes = (64,) if case in ("pingpong", "pipelined", "concurrent") else sizes
            table += [row(system, case, size, rate) for size in sizes]
    return list(json.loads(json.dumps(table)))


def drawn(table: list[Any]) -> dict[str, tuple[int, int]]:
    """Each panel's title, with how many lines and bars it draws."""
    picture = figure(table)
    try:
        return {
            axes.get_title(): (len(axes.get_lines()), len(axes.patches))
            for axes in picture.axes
        }
    finally:
        plt.close(picture)


def test_the_sweep_alone_is_lines_against_payload() -> None:
    assert drawn(results(("sweep",))) == {
        "echo throughput against payload, one call in flight": (3, 0),
        "echo latency (median) against payload": (3, 0),
    }


def test_pingpong_alone_is_bars() -> None:
    assert drawn(results(("pingpong",))) == {
        "calls per second, by case": (0, 3),
        "latency (median), by case": (0, 3),
    }


def test_one_system_and_one_case() -> None:
    assert drawn(results(("large",), ("uvrpc",))) == {
        "calls per second, by case": (0, 1),
        "latency (median), by case": (0, 1),
    }


def test_cases_without_latency_get_no_empty_latency_panel() -> None:
    assert drawn(results(("pipelined", "concurrent"))) == {
        "calls per second, by case": (0, 6),
    }


def test_every_case_draws_both_sections() -> None:
    every = ("pingpong", "pipelined", "concurrent", "large", "sweep")
    assert drawn(results(every)) == {
        "echo throughput against payload, one call in flight": (3, 0),
        "echo latency (median) against payload": (3, 0),
        "calls per second, by case": (0, 12),
        # pipelined and concurrent record no latency: pingpong and large only.
        "latency (median), by case": (0, 6),
    }


def broker_rows() -> list[Any]:
    """The ``broker`` case's rows as a ``--json`` report holds them."""
    table = []
    for inflight in (1, 8, 64):
        for path, rate in (("direct", 3000.0), ("broker", 2000.0)):
            latency = 1e6 / rate if inflight == 1 else None
            table.append(
                {
                    **row("uvrpc", "broker", 64, rate * inflight),
                    "path": path,
                    "inflight": inflight,
                    "p50_us": latency,
                    "p99_us": latency,
                    "p999_us": latency,
                    "broker_cpu_us_per_call": None if path == "direct" else 40.0,
                    "ratio_vs_direct": None if path == "direct" else 2 / 3,
                    "p50_vs_direct": 1.5
                    if path != "direct" and inflight == 1
                    else None,
                }
            )
    return list(json.loads(json.dumps(table)))


def test_the_broker_case_is_bars_by_calls_in_flight_and_path() -> None:
    picture = figure(results(("pingpong",)) + broker_rows())
    try:
        panels = {
            axes.get_title(): (
                len(axes.patches),
                [t.get_text() for t in axes.get_xticklabels()],
                axes.get_legend_handles_labels()[1],
            )
            for axes in picture.axes
        }
    finally:
        plt.close(picture)
    assert panels["calls per second, bound directly and through a broker"][:2] == (
        6,
        ["1 in flight", "8 in flight", "64 in flight"],
    )
    # Only ping-pong records latencies: one group, a bar per path.
    assert panels["latency (median), bound directly and through a broker"] == (
        2,
        ["1 in flight"],
        ["uvrpc, direct", "uvrpc, broker"],
    )
    assert panels["calls per second, by case"][:2] == (3, ["pingpong"])


def test_the_broker_table_in_markdown() -> None:
    from uvrpc.bench.brokered import render

    lines = render(broker_rows()[:2], markdown=True).splitlines()
    assert lines == [
        "| case | payload | in flight | path | calls/s | min-max | p50 µs | p99 µs "
        "| x direct | p50 x direct | broker CPU µs/call |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        "| pingpong | 64 B | 1 | direct | 3,000 | 3,000-3,000 | 333 | 333 |  |  |  |",
        "| pingpong | 64 B | 1 | broker | 2,000 | 2,000-2,000 | 500 | 500 | 0.67x "
        "| 1.50x | 40.0 |",
    ]


def test_a_png_is_written(tmp_path: Path) -> None:
    path = tmp_path / "bench.png"
    write_plot(results(("pingpong", "large")), path)
    assert path.read_bytes().startswith(b"\x89PNG")


def test_results_with_no_drawable_case_say_so() -> None:
    workers = [{"system": "uvrpc", "case": "workers", "payload": 64}]
    with pytest.raises(NothingToPlot) as caught:
        figure(workers)
    assert str(caught.value) == (
        "nothing to plot: it draws the cases pingpong, pipelined, pipelined-8, "
        "concurrent, large, sweep, server-stream, client-stream, bidi-stream, "
        "broker; the results hold workers"
    )


@pytest.mark.parametrize(
    ("cases", "plotted"), [(("pingpong",), True), ((), False)], ids=["pingpong", "none"]
)
def test_the_command_plots_what_it_measured(
    cases: tuple[str, ...],
    plotted: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The measurement is faked: the rows are what the plot is given.
    monkeypatch.setattr(cli, "run_round", lambda *args, **kwargs: [])
    monkeypatch.setattr(cli, "rows", lambda samples: results(cases))
    path = tmp_path / "bench.png"
    argv = ["--systems", "uvrpc", "--cases", "pingpong", "--plot", str(path)]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert path.exists() is plotted
    if plotted:
        assert path.read_bytes().startswith(b"\x89PNG")
        assert "no plot" not in err
    else:
        assert err.splitlines()[-1] == (
            "uvrpc bench: no plot written: nothing to plot: it draws the cases "
            "pingpong, pipelined, pipelined-8, concurrent, large, sweep, "
            "server-stream, client-stream, bidi-stream, broker; the results hold no "
            "rows"
        )


def test_a_latency_panel_names_only_the_cases_with_latency() -> None:
    picture = figure(results(("pingpong", "pipelined", "large")))
    try:
        ticks = {
            axes.get_title(): [t.get_text() for t in axes.get_xticklabels()]
            for axes in picture.axes
        }
    finally:
        plt.close(picture)
    assert ticks == {
        "calls per second, by case": ["pingpong", "pipelined", "large"],
        "latency (median), by case": ["pingpong", "large"],
    }


def test_the_stream_cases_are_bars_of_items_and_megabytes_by_item_size() -> None:
    streams = ("server-stream", "client-stream", "bidi-stream")
    table = [
        {**row(system, case, size, 1000.0), "inflight": 32, "p50_us": None}
        for system in SYSTEMS
        for case in streams
        for size in (64, 64 << 10)
    ]
    with_pingpong = results(("pingpong",)) + table
    picture = figure(with_pingpong)
    try:
        panels = {
            axes.get_title(): (
                len(axes.patches),
                [t.get_text() for t in axes.get_xticklabels()],
            )
            for axes in picture.axes
        }
    finally:
        plt.close(picture)
    groups = [
        f"{kind}\n{size}"
        for kind in ("server", "client", "bidi")
        for size in ("64 B", "64 KiB")
    ]
    assert panels == {
        "calls per second, by case": (3, ["pingpong"]),
        "latency (median), by case": (3, ["pingpong"]),
        # A stream row records no latency; its second panel is MB/s.
        "stream items per second, by case": (18, groups),
        "stream throughput, by case": (18, groups),
    }
