"""The published benchmark figures: README.md and docs/performance.md hold exactly
what ``python -m uvrpc.bench.published`` writes from ``docs/bench.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from uvrpc.bench import published

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_and_performance_tables_are_the_runs() -> None:
    status = published.main(
        [
            "--check",
            "--json",
            str(ROOT / "docs" / "bench.json"),
            "--readme",
            str(ROOT / "README.md"),
            "--performance",
            str(ROOT / "docs" / "performance.md"),
        ]
    )
    assert status == 0, "run python -m uvrpc.bench.published"


def row(system: str, case: str, payload: int, **fields: Any) -> dict[str, Any]:
    base = {
        "system": system,
        "case": case,
        "payload": payload,
        "inflight": 64,
        "calls_per_s": 1000.0,
        "calls_per_s_min": 900.0,
        "calls_per_s_max": 1100.0,
        "mb_per_s": 0.064,
        "p50_us": None,
        "p99_us": None,
        "p999_us": None,
        "ratio_vs_zmq_raw": None,
        "ratio_vs_grpc": None,
        "p50_vs_zmq_raw": None,
    }
    return base | fields


def report(*rows: dict[str, Any]) -> dict[str, Any]:
    return {
        "machine": {"cores": 2, "cpu": "Some CPU", "platform": "Linux"},
        "versions": {"python": "3.11.7", "libzmq": "4.3.5", "pyzmq": "27.3.0"},
        "settings": {
            "command": "uvrpc bench --repeat 3",
            "repeat": 3,
            "duration": 2.0,
            "transport": "tcp",
        },
        "cases": list(rows),
    }


def test_each_target_reads_its_own_row_and_bound() -> None:
    found = {
        t.figure: t
        for t in published.targets(
            report(
                row("uvrpc", "pipelined", 64, ratio_vs_zmq_raw=1.02),
                row("uvrpc+uvloop", "pipelined", 64, ratio_vs_zmq_raw=0.5),
                row("uvrpc", "pipelined-8", 64, ratio_vs_zmq_raw=0.89),
                row("uvrpc", "server-stream", 64, ratio_vs_grpc=10.5),
                row("uvrpc", "bidi-stream", 65536, ratio_vs_zmq_raw=0.8),
                row("uvrpc", "pingpong", 64, p50_vs_zmq_raw=1.15),
                row("uvrpc-sync", "pingpong", 64, p50_vs_zmq_raw=1.16),
                row("uvrpc", "broker", 64, path="direct", ratio_vs_direct=None),
                row("uvrpc", "broker", 64, path="broker", ratio_vs_direct=0.81),
            )
        )
    }
    assert len(found) == len(published.TARGETS)
    met = {figure for figure, t in found.items() if t.met}
    assert met == {
        "pipelined 64 B, 64 in flight: calls/s x raw pyzmq (task client)",
        "server-stream 64 B: items/s x gRPC",
        "bidi-stream 64 KiB: items/s x raw pyzmq",
        "ping-pong, async client: p50 x raw pyzmq (asyncio)",
        "through a broker, 64 in flight: calls/s x direct",
    }
    unmeasured = found["client-stream 64 B: items/s x gRPC"]
    assert unmeasured.measured is None and not unmeasured.met
    table = published.render_targets(list(found.values()))
    assert (
        "| ping-pong, blocking client: p50 x raw pyzmq (blocking) "
        "| ≤ 1.15x | 1.16x | no |" in table
    )
    assert (
        "| client-stream 64 B: items/s x gRPC | ≥ 10.00x | not measured | no |" in table
    )


def test_the_readme_section_names_the_run_and_leaves_out_uvloop_rows() -> None:
    text = published.readme_section(
        report(
            row("uvrpc", "pipelined", 64, ratio_vs_zmq_raw=1.02),
            row("uvrpc+uvloop", "pipelined", 64),
            row("uvrpc", "server-stream", 65536, ratio_vs_zmq_raw=0.9),
            row(
                "uvrpc",
                "broker",
                64,
                path="broker",
                ratio_vs_direct=0.81,
                p50_vs_direct=None,
                broker_cpu_us_per_call=27.5,
            ),
        )
    )
    assert "uvrpc bench --repeat 3" in text and "2-core Some CPU" in text
    assert "uvloop" not in text
    assert "| server-stream | 64 KiB | uvrpc | 1,000 | 900-1,100 |" in text
    assert "| pipelined | 64 B | 64 | broker | 1,000 | 900-1,100 |" in text
    assert "| 0.81x |  | 27.5 |" in text


def test_a_section_is_replaced_between_its_markers_only() -> None:
    text = f"before\n{published.BEGIN}\nold\n{published.END}\nafter\n"
    assert published.replace_section(text, "new", "F") == (
        f"before\n{published.BEGIN}\nnew\n{published.END}\nafter\n"
    )
    with pytest.raises(ValueError, match="^F: needs one line"):
        published.replace_section("no markers", "new", "F")


def test_check_reports_a_stale_file_and_rewriting_mends_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "bench.json"
    run.write_text(json.dumps(report(row("uvrpc", "pipelined", 64))))
    readme, perf = tmp_path / "README.md", tmp_path / "performance.md"
    for path in (readme, perf):
        path.write_text(f"# x\n{published.BEGIN}\nold\n{published.END}\n")
    args = ["--json", str(run), "--readme", str(readme), "--performance", str(perf)]
    assert published.main([*args, "--check"]) == 1
    assert "differ from" in capsys.readouterr().err
    assert "old" in readme.read_text()
    assert published.main(args) == 0
    assert published.main([*args, "--check"]) == 0
    assert "old" not in readme.read_text() and "uvrpc bench" in perf.read_text()
    perf.write_text("no markers\n")
    assert published.main(args) == 2
    assert "needs one line" in capsys.readouterr().err
