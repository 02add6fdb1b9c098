"""``uvrpc bench`` smoke test: every case and system for a fraction of a second.

Correctness, not speed: every system answers, every reply is the payload it was
sent, and the JSON report has the documented schema.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from uvrpc.bench.cases import CASES
from uvrpc.bench.runner import plan
from uvrpc.bench.systems import systems_for

ROOT = Path(__file__).resolve().parents[1]
ROW_KEYS = {
    "system",
    "case",
    "payload",
    "calls_per_s",
    "p50_us",
    "p99_us",
    "mb_per_s",
    "ratio_vs_zmq_raw",
    "ratio_vs_grpc",
}


def test_every_case_and_system_echoes_correctly(tmp_path: Path) -> None:
    report, plot = tmp_path / "bench.json", tmp_path / "bench.png"
    result = subprocess.run(
        [sys.executable, "-m", "uvrpc", "bench", "--uvloop"]
        + ["--duration", "0.15", "--warmup", "0.05"]
        + ["--json", str(report), "--plot", str(plot)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipping" not in result.stderr  # the dev extra installs every peer
    data = json.loads(report.read_text())
    assert {"machine", "versions", "settings", "cases"} <= set(data)
    assert data["versions"]["uvrpc"] and data["versions"]["libzmq"]
    expected = {
        (m.system.name, m.case.name, m.payload)
        for m in plan(systems_for(uvloop=True), list(CASES.values()))
    }
    rows = {(r["system"], r["case"], r["payload"]): r for r in data["cases"]}
    assert set(rows) == expected
    for key, row in rows.items():
        assert ROW_KEYS <= set(row), key
        assert row["mismatches"] == 0, key
        assert row["calls"] > 0 and row["calls_per_s"] > 0, key
        if row["inflight"] == 1:
            assert row["p50_us"] > 0 and row["p99_us"] >= row["p50_us"], key
    uvrpc_pingpong = rows[("uvrpc", "pingpong", 64)]
    assert uvrpc_pingpong["ratio_vs_zmq_raw"] is not None
    assert uvrpc_pingpong["ratio_vs_grpc"] is not None
    assert plot.read_bytes().startswith(b"\x89PNG")
    assert "pingpong" in result.stdout and "x zmq-raw" in result.stdout


def test_bench_echo_stubs_are_fresh() -> None:
    """The benchmark measures the generated stubs of idl/echo.idl as they are now."""
    result = subprocess.run(
        [sys.executable, "-m", "uvrpc_gen", "--check", "idl/echo.idl"]
        + ["-o", "runtime/uvrpc/bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
