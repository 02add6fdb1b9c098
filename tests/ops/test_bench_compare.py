"""``python -m uvrpc.bench.compare``: the arithmetic and the table, without running
any benchmark."""

from __future__ import annotations

import pytest

from uvrpc.bench.compare import (
    Row,
    bench_metrics,
    higher_is_better,
    render,
    summarise,
)
from uvrpc.bench.cpuprobe import _Mark, per_call


def test_rates_are_better_higher_and_costs_lower() -> None:
    assert higher_is_better("pipelined uvrpc calls/s")
    assert not higher_is_better("pingpong uvrpc p50 µs")
    assert not higher_is_better("CPU server, ping-pong, µs/call")


def test_a_case_of_several_sizes_names_each_size() -> None:
    def row(
        case: str, payload: int, rate: float, p50: float | None = None
    ) -> dict[str, object]:
        return {
            "case": case,
            "payload": payload,
            "system": "uvrpc",
            "calls_per_s": rate,
            "p50_us": p50,
        }

    metrics = bench_metrics(
        [
            row("pingpong", 64, 9000.0, 110.0),
            row("client-stream", 64, 100000.0),
            row("client-stream", 65536, 30000.0),
        ]
    )
    assert metrics == {
        "pingpong uvrpc calls/s": 9000.0,
        "pingpong uvrpc p50 µs": 110.0,
        "client-stream 64 B uvrpc calls/s": 100000.0,
        "client-stream 64 KiB uvrpc calls/s": 30000.0,
    }


def test_medians_ratio_and_each_rounds_ratio() -> None:
    before = {"pipelined uvrpc calls/s": [100.0, 110.0, 90.0], "x µs": [10.0, 10.0]}
    after = {"pipelined uvrpc calls/s": [95.0, 99.0, 90.0], "x µs": [10.5, 11.0]}
    rate, cost = summarise(before, after)
    assert (rate.before, rate.before_min, rate.before_max) == (100.0, 90.0, 110.0)
    assert (rate.after, rate.after_min, rate.after_max) == (95.0, 90.0, 99.0)
    assert rate.ratio == pytest.approx(0.95)
    assert rate.round_ratio == pytest.approx(0.95)
    assert (rate.round_ratio_min, rate.round_ratio_max) == (0.9, 1.0)
    # 5% fewer calls/s is 1/0.95 - 1 = 5.26% more time per call
    assert rate.slower_pct == pytest.approx(5.263, abs=1e-3)
    assert cost.ratio == pytest.approx(1.075)
    assert cost.slower_pct == pytest.approx(7.5)


def test_each_rounds_ratio_cancels_a_drift_between_rounds() -> None:
    # The host ran twice as fast in the second round; the after tree is 2% slower
    # in both. The medians of a tree mix the two speeds; each round's ratio does not.
    (row,) = summarise({"x µs": [10.0, 5.0, 5.0]}, {"x µs": [10.2, 5.1, 10.2]})
    assert row.ratio == pytest.approx(2.04)
    assert row.round_ratio == pytest.approx(1.02)
    assert row.slower_pct == pytest.approx(2.0)


def test_a_metric_only_one_tree_has_is_left_out() -> None:
    assert summarise({"a µs": [1.0], "b µs": [2.0]}, {"a µs": [1.0]}) == [
        Row("a µs", 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0)
    ]


def test_the_markdown_table_flags_what_is_slower_than_the_tolerance() -> None:
    rows = summarise(
        {"fast µs": [10.0, 10.0], "slow µs": [10.0, 10.0], "r calls/s": [100.0]},
        {"fast µs": [9.0, 9.5], "slow µs": [10.4, 10.6], "r calls/s": [98.0]},
    )
    lines = render(rows, tolerance=3.0, markdown=True).splitlines()
    assert lines[0].startswith("| metric | before |")
    assert lines[1].startswith("| --- | ---: |")
    fast, slow, rate = lines[2:]
    assert fast.startswith("| fast µs | 10.00 | ±0.0% | 9.25 | ±2.7% | 0.925 |")
    assert fast.endswith("| -7.5% | ok |")
    assert slow.endswith("| 1.050 (1.040–1.060) | +5.0% | SLOWER |")
    assert rate.endswith("| +2.0% | ok |")
    text = render(rows, tolerance=3.0)
    assert "SLOWER" in text and "|" not in text


def test_the_probe_reports_the_whole_window_and_its_best_slice() -> None:
    marks = [
        _Mark(calls=0, client=0.0, server=0.0, wall=0.0),
        _Mark(calls=100, client=0.002, server=0.001, wall=0.003),
        _Mark(calls=200, client=0.003, server=0.003, wall=0.005),
    ]
    result = per_call(marks)
    assert result["calls"] == 200
    assert result["client_us"] == pytest.approx(15.0)
    assert result["client_us_best"] == pytest.approx(10.0)
    assert result["server_us_best"] == pytest.approx(10.0)
    assert result["wall_us"] == pytest.approx(25.0)
