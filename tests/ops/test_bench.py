"""``uvrpc bench`` smoke test: every case and system for a fraction of a second.

Correctness, not speed: every system answers, every reply is the payload it was
sent, and the JSON report has the documented schema.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from uvrpc.bench import runner
from uvrpc.bench.brokered import IN_FLIGHT, PATHS, topology
from uvrpc.bench.cases import CASES
from uvrpc.bench.measure import Meter
from uvrpc.bench.runner import WORKER, plan, serving
from uvrpc.bench.spec import ClientSpec
from uvrpc.bench.systems import systems_for

# Every test here runs uvrpc bench's processes (pyproject.toml, the 'bench' marker).
pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parents[2]
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


# It runs every system of every case, the peers' servers included, each for a
# short window (a window holds at least one call, however slow: test below): its
# time goes to starting processes. The suite's per-test guard against hangs is
# set to the run's own subprocess timeout here.
@pytest.mark.timeout(300)
def test_every_case_and_system_echoes_correctly(tmp_path: Path) -> None:
    report, plot = tmp_path / "bench.json", tmp_path / "bench.png"
    result = subprocess.run(
        [sys.executable, "-m", "uvrpc", "bench", "--uvloop"]
        + ["--duration", "0.03", "--warmup", "0.01"]
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
    cases = [r for r in data["cases"] if r["case"] != "broker"]
    rows = {(r["system"], r["case"], r["payload"]): r for r in cases}
    assert set(rows) == expected
    assert_broker_rows([r for r in data["cases"] if r["case"] == "broker"])
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
    assert "broker CPU" in result.stdout and "x direct" in result.stdout


def assert_broker_rows(rows: list[dict[str, Any]]) -> None:
    """The ``broker`` case's rows: each shape on each path, every reply checked,
    and the broker's path with its CPU per call and its ratio to the direct one."""
    assert [(r["inflight"], r["path"]) for r in rows] == [
        (n, path) for n in IN_FLIGHT for path in PATHS
    ]
    for row in rows:
        key = (row["inflight"], row["path"])
        assert row["mismatches"] == 0, key
        assert row["calls"] > 0 and row["calls_per_s"] > 0, key
        assert (row["p50_us"] is not None) is (row["inflight"] == 1), key
        if row["path"] == "direct":
            assert row["broker_cpu_us_per_call"] is None, key
            assert row["ratio_vs_direct"] is None, key
            assert row["ratio_vs_direct_all"] is None, key
            continue
        direct = next(
            r
            for r in rows
            if r["path"] == "direct" and r["inflight"] == row["inflight"]
        )
        assert row["ratio_vs_direct"] == pytest.approx(
            row["calls_per_s"] / direct["calls_per_s"]
        )
        assert row["ratio_vs_direct_all"] == pytest.approx(
            [
                rate / direct_rate
                for rate, direct_rate in zip(
                    row["calls_per_s_all"], direct["calls_per_s_all"], strict=True
                )
            ]
        )
        if row["inflight"] == 1:
            assert row["p50_vs_direct"] == pytest.approx(
                row["p50_us"] / direct["p50_us"]
            )
        if sys.platform == "linux":  # read from /proc
            assert row["broker_cpu_us_per_call"] > 0, key


def test_a_window_with_no_call_in_it_is_closed_by_the_first_call_after_it() -> None:
    # A window of no length: every call ends after it.
    meter = Meter(start_at=None, warmup=0.0, duration=0.0, latencies=True)
    sent = time.perf_counter()
    assert meter.record(sent, reply_ok=True) is True
    assert meter.record(sent, reply_ok=True) is True  # the window is closed
    result = meter.finish()
    assert result.calls == 1 and len(result.latencies_us) == 1
    assert result.seconds >= 0 and result.latencies_us[0] > 0


def test_calls_after_a_window_with_calls_in_it_are_not_counted() -> None:
    meter = Meter(start_at=None, warmup=0.0, duration=3600.0, latencies=False)
    assert meter.record(time.perf_counter(), reply_ok=False) is False
    meter.window_end = time.perf_counter()  # the hour is over
    assert meter.record(time.perf_counter(), reply_ok=True) is True
    result = meter.finish()
    assert result.calls == 1 and result.mismatches == 1


def test_a_window_with_a_call_limit_closes_at_that_call() -> None:
    meter = Meter(start_at=None, warmup=0.0, duration=3600.0, latencies=False, calls=3)
    assert [meter.record(time.perf_counter(), reply_ok=True) for _ in range(3)] == [
        False,
        False,
        True,
    ]
    assert meter.record(time.perf_counter(), reply_ok=False) is True  # not counted
    result = meter.finish()
    assert result.calls == 3 and result.mismatches == 1
    assert 0 <= result.seconds < 3600


def test_a_client_started_with_others_waits_for_the_time_they_agree_on(
    tmp_path: Path,
) -> None:
    results = tmp_path / "results.json"
    spec = ClientSpec("", 64, 1, warmup=0.05, duration=0.1)
    with serving([*WORKER, "server", "uvrpc"], "uvrpc server") as endpoint:
        ready_read, ready_write = os.pipe()
        client = subprocess.Popen(
            [*WORKER, "client", "uvrpc", "--results", str(results)]
            + ["--ready-fd", str(ready_write)],
            stdin=subprocess.PIPE,
            text=True,
            pass_fds=(ready_write,),
        )
        os.close(ready_write)
        try:
            assert client.stdin is not None
            specs = [dataclasses.replace(spec, endpoint=endpoint).to_json()]
            client.stdin.write(json.dumps(specs) + "\n")
            client.stdin.flush()
            assert os.read(ready_read, 1) == b"r"  # its system is imported
            assert os.read(ready_read, 1) == b""  # and it has let go of the pipe
            time.sleep(0.2)
            assert client.poll() is None  # it waits for the start time
            start_at = time.time() + 0.3
            client.stdin.write(f"{start_at!r}\n")
            client.stdin.close()
            assert client.wait(60) == 0
            # Its window began at the time it was given, not when it read it.
            assert time.time() >= start_at + spec.warmup + spec.duration
        finally:
            os.close(ready_read)
            client.kill()
            client.wait()
    (result,) = json.loads(results.read_text())
    assert result["calls"] > 0 and result["mismatches"] == 0


def test_a_client_that_dies_before_it_is_ready_fails_the_run_not_hangs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from uvrpc.bench.systems import SYSTEMS

    # Each "client" exits at once, before it says it is ready.
    monkeypatch.setattr(runner, "WORKER", [sys.executable, "-c", "raise SystemExit(3)"])
    spec = ClientSpec("tcp://127.0.0.1:1", 64, 1, warmup=0.0, duration=0.1)
    failed = r"a uvrpc client failed before it was ready: exit \[3, 3\]"
    with pytest.raises(RuntimeError, match=failed):
        runner.run_clients(SYSTEMS["uvrpc"], [[spec]] * 2, together=True)


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


def test_a_missing_peer_is_skipped_and_none_left_is_an_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from uvrpc.bench import cli
    from uvrpc.bench.systems import SYSTEMS

    absent = dataclasses.replace(SYSTEMS["thrift"], requires="uvrpc_no_such_peer")
    monkeypatch.setitem(SYSTEMS, "thrift", absent)
    # Nothing left to measure: an error, not an empty table and success.
    assert cli.main(["--systems", "thrift", "--cases", "pingpong"]) == 2
    assert capsys.readouterr().err == (
        "uvrpc bench: skipping thrift: uvrpc_no_such_peer is not installed "
        "(pip install 'uvrpc[bench]')\n"
        "uvrpc bench: error: no system left to measure\n"
    )


def test_a_row_on_uvloop_without_uvloop_is_skipped_saying_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not left out of the table in silence."""
    from uvrpc.bench import cli
    from uvrpc.bench.systems import SYSTEMS

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "uvloop" else real_find_spec(name, *a),
    )
    assert not SYSTEMS["uvrpc+uvloop"].available
    assert SYSTEMS["uvrpc"].available
    assert (
        cli.main(["--uvloop", "--systems", "uvrpc+uvloop", "--cases", "pingpong"]) == 2
    )
    assert capsys.readouterr().err.startswith(
        "uvrpc bench: skipping uvrpc+uvloop: uvloop is not installed "
        "(pip install 'uvrpc[uvloop]')\n"
    )


@pytest.mark.parametrize(
    ("argument", "planned"),
    [
        (["--systems", "uvrpc,uvrpc+uvloop"], ["uvrpc", "uvrpc+uvloop"]),
        (["--systems", "uvrpc+uvloop", "--uvloop"], ["uvrpc+uvloop"]),
        (
            ["--systems", "uvrpc,zmq-raw,uvrpc-sync", "--uvloop"],
            ["uvrpc", "uvrpc-sync", "zmq-raw", "uvrpc+uvloop", "zmq-raw+uvloop"],
        ),
    ],
)
def test_systems_named_and_their_uvloop_rows_are_measured(
    argument: list[str], planned: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--systems names the rows to run, a '+uvloop' one too, with or without
    --uvloop; --uvloop adds the '+uvloop' row of each system named
    (docs/performance.md, "Streams": 'add --uvloop for the +uvloop rows')."""
    from uvrpc.bench import cli

    ran: list[str] = []

    def run_round(measurements: list[Any], **_: Any) -> list[Any]:
        ran.extend(m.system.name for m in measurements)
        return []

    monkeypatch.setattr(cli, "run_round", run_round)
    assert cli.main([*argument, "--cases", "pingpong"]) == 0
    assert ran == planned


@pytest.mark.parametrize(
    ("argument", "said"),
    [
        (["--duration", "0"], "argument --duration: must be more than 0: '0'"),
        (["--repeat", "0"], "argument --repeat: must be more than 0: '0'"),
        (["--warmup", "-1"], "argument --warmup: must be 0 or more: '-1'"),
        (["--duration", "x"], "argument --duration: not a number: 'x'"),
        (["--repeat", "1.5"], "argument --repeat: not a whole number: '1.5'"),
    ],
)
def test_a_run_that_could_measure_nothing_is_refused_before_it_starts(
    argument: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from uvrpc.bench import cli

    with pytest.raises(SystemExit) as exited:
        cli.main(["--systems", "uvrpc", "--cases", "pingpong", *argument])
    assert exited.value.code == 2
    assert capsys.readouterr().err.endswith(f"error: {said}\n")


def test_a_plot_without_matplotlib_is_refused_before_the_run(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """Not after minutes of measuring, as a traceback."""
    from uvrpc.bench import cli

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else real_find_spec(name, *a),
    )
    monkeypatch.setattr(cli, "plan", lambda *a: pytest.fail("the run started"))
    with pytest.raises(SystemExit) as exited:
        cli.main(["--cases", "pingpong", "--plot", str(tmp_path / "x.png")])
    assert exited.value.code == 2
    assert capsys.readouterr().err.endswith(
        "error: --plot needs matplotlib: pip install 'uvrpc[bench]'\n"
    )


@pytest.mark.parametrize(
    ("option", "where", "said"),
    [
        ("--json", "missing/bench.json", "no such directory: "),
        ("--plot", "missing/bench.png", "no such directory: "),
        ("--json", ".", "is a directory"),
    ],
)
def test_a_report_that_cannot_be_written_is_refused_before_the_run(
    option: str,
    where: str,
    said: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """Not after the whole run, as a traceback that loses its measurements."""
    from uvrpc.bench import cli

    monkeypatch.setattr(cli, "plan", lambda *a: pytest.fail("the run started"))
    path = tmp_path / where
    with pytest.raises(SystemExit) as exited:
        cli.main(["--systems", "uvrpc", "--cases", "pingpong", option, str(path)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"error: {option} {path}: {said}" in err
    assert "Traceback" not in err


def _children(pid: int) -> set[int]:
    """The pids of ``pid``'s child processes, from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # The fields after the command's name: state, then the parent's pid.
            if int(stat.read_text().rpartition(")")[2].split()[1]) == pid:
                found.add(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    """Whether ``pid`` is a process that has not ended (a zombie has)."""
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        return state != "Z"
    return False


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_sigterm_stops_the_processes_the_run_started() -> None:
    """SIGTERM's default action killed the command alone: the echo server it had
    started served on, its parent gone, until killed by hand."""
    bench = subprocess.Popen(
        [sys.executable, "-m", "uvrpc", "bench", "--systems", "uvrpc"]
        + ["--cases", "pingpong", "--duration", "60", "--warmup", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    started: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while len(started) < 2 and time.monotonic() < deadline:  # server, client
            started |= _children(bench.pid)
            time.sleep(0.1)
        assert len(started) >= 2, "the run started no server and client"
        time.sleep(1)
        bench.send_signal(signal.SIGTERM)
        status = bench.wait(30)
        deadline = time.monotonic() + 15
        while any(map(_running, started)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in started if _running(pid)]
        assert status == 128 + signal.SIGTERM
        assert bench.stderr is not None
        assert "Traceback" not in bench.stderr.read()
    finally:
        for pid in [bench.pid, *started]:
            if _running(pid):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        bench.wait()
        if bench.stderr is not None:
            bench.stderr.close()


def test_ipc_transport_for_the_zeromq_systems(tmp_path: Path) -> None:
    report = tmp_path / "ipc.json"
    result = subprocess.run(
        [sys.executable, "-m", "uvrpc", "bench", "--ipc", "--cases", "pingpong"]
        + ["--systems", "uvrpc,zmq-raw,uvrpc-sync"]
        + ["--duration", "0.15", "--warmup", "0.05", "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(report.read_text())
    assert data["settings"]["transport"] == "ipc"
    assert {r["system"] for r in data["cases"]} == {"uvrpc", "zmq-raw", "uvrpc-sync"}
    assert all(r["calls"] > 0 and r["mismatches"] == 0 for r in data["cases"])


def test_the_workers_case_reports_one_row_per_worker_count(tmp_path: Path) -> None:
    report = tmp_path / "workers.json"
    result = subprocess.run(
        [sys.executable, "-m", "uvrpc", "bench", "--cases", "workers"]
        + ["--duration", "0.2", "--warmup", "0.05", "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = json.loads(report.read_text())["cases"]
    assert [(r["case"], r["workers"]) for r in rows] == [("workers", 1), ("workers", 2)]
    for row in rows:
        assert {"system", "payload", "calls_per_s", "speedup", "mismatches"} <= set(row)
        assert row["calls"] > 0 and row["calls_per_s"] > 0 and row["mismatches"] == 0
    assert "workers" in result.stdout


def test_the_brokers_case_reports_one_row_per_broker_count(tmp_path: Path) -> None:
    report = tmp_path / "brokers.json"
    result = subprocess.run(
        [sys.executable, "-m", "uvrpc", "bench", "--cases", "brokers"]
        + ["--duration", "0.2", "--warmup", "0.05", "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = json.loads(report.read_text())["cases"]
    assert [(r["case"], r["brokers"]) for r in rows] == [("brokers", 1), ("brokers", 2)]
    for row in rows:
        assert row["calls"] > 0 and row["calls_per_s"] > 0 and row["mismatches"] == 0
        if sys.platform == "linux":  # read from /proc
            assert row["broker_cpu_us_per_call"] > 0
    assert "brokers" in result.stdout


def test_every_broker_of_a_spread_reaches_a_server() -> None:
    import asyncio

    from uvrpc.bench.echo import EchoClient

    async def answered_by_each(endpoints: list[str]) -> list[bytes]:
        replies = []
        for endpoint in endpoints:
            async with EchoClient(endpoint, timeout=30) as client:
                replies.append(bytes(await client.echo(data=endpoint.encode())))
        return replies

    with topology(2, servers=2) as running:
        frontends = running.endpoint.split(",")
        assert len(frontends) == 2 and len(set(running.broker_pids)) == 2
        # Each broker alone reaches a server: a call through it is answered.
        replies = asyncio.run(answered_by_each(frontends))
        assert replies == [f.encode() for f in frontends]


def test_the_tables_rate_header_says_calls_or_items() -> None:
    from uvrpc.bench.report import render_table

    def row(case: str) -> dict[str, Any]:
        return {
            "case": case,
            "payload": 64,
            "system": "uvrpc",
            "calls_per_s": 1000,
            "calls_per_s_min": 900,
            "calls_per_s_max": 1100,
            "p50_us": None,
            "p99_us": None,
            "p999_us": None,
            "mb_per_s": 0.1,
            "ratio_vs_zmq_raw": None,
            "p50_vs_zmq_raw": None,
            "ratio_vs_grpc": None,
        }

    def header(*cases: str) -> str:
        table = render_table([row(case) for case in cases], markdown=True)
        head, rule = table.splitlines()[:2]
        assert head.count("|") == rule.count("|")  # a table Markdown renders
        return head.split(" | ")[3]

    assert header("pipelined") == "calls/s"
    assert header("server-stream", "bidi-stream") == "items/s"
    assert header("pipelined", "client-stream") == "calls or items/s"
