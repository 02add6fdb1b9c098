"""``python -m uvrpc.bench.processcpu``: CPU per call of each system's client and
server processes, the systems alternating round after round."""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
from typing import Any

import pytest

from uvrpc.bench import processcpu
from uvrpc.bench.systems import SYSTEMS
from uvrpc.wire.limits import STREAM_WINDOW


def assert_split_by_thread(row: dict[str, Any]) -> None:
    """Each process's CPU is split by thread name, the parts adding up to it:
    the interpreter's thread and ZeroMQ's I/O thread both work for every call.
    A client that ended its own context (raw pyzmq's) has its I/O thread's time
    in the part of the threads that ended."""
    for side in ("client", "server"):
        threads = row[f"{side}_threads_us"]
        assert threads["python"] > 0
        io = threads.get("ZMQbg/IO/0", 0.0)
        assert io > 0 or (side == "client" and threads[processcpu.ENDED] > 0)
        assert sum(threads.values()) == pytest.approx(row[f"{side}_us"], abs=0.05)


def test_a_client_thread_that_ends_is_counted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Raw pyzmq's client terminates its own context, and with it its I/O
    # thread, before the reading after its window: the time is still counted.
    args = ["zmq-raw", "--inflight", "8", "--duration", "0.3", "--rounds", "1"]
    assert processcpu.main(args) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # The I/O thread moves every message of the window's calls: a share of the
    # client's time, never nothing. (Another context's idle I/O thread, left
    # by an earlier test in this process, may be listed beside it.)
    assert row["client_threads_us"][processcpu.ENDED] > 0.1 * row["client_us"]


def test_each_round_measures_every_system_in_turn(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["zmq-raw", "uvrpc", "--inflight", "2", "--duration", "0.2"]
    assert processcpu.main([*args, "--rounds", "2"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["system"] for row in rows] == ["zmq-raw", "uvrpc"] * 2
    for row in rows:
        assert row["inflight"] == 2
        assert row["calls_per_s"] > 0
        # Both processes work for every call: neither can spend nothing.
        assert row["client_us"] > 0
        assert row["server_us"] > 0
        assert_split_by_thread(row)


def test_a_stream_case_is_measured_per_item(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["uvrpc", "zmq-raw", "--stream", "server", "--payload", "1024"]
    assert processcpu.main([*args, "--duration", "0.2", "--rounds", "1"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["system"] for row in rows] == ["uvrpc", "zmq-raw"]
    for row in rows:
        assert (row["stream"], row["payload"]) == ("server", 1024)
        assert row["inflight"] == STREAM_WINDOW
        assert row["calls_per_s"] > 0  # items
        assert_split_by_thread(row)


def test_the_server_is_stopped_even_when_the_client_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    servers: list[subprocess.Popen[str]] = []

    class Recorded(subprocess.Popen[str]):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            servers.append(self)

    def failing_client(*_: object) -> None:
        raise RuntimeError("the client broke")

    monkeypatch.setattr(subprocess, "Popen", Recorded)
    monkeypatch.setattr(processcpu, "resolve", lambda _: failing_client)
    with pytest.raises(RuntimeError, match="the client broke"):
        processcpu.measure(SYSTEMS["zmq-raw"], 1, 0.1)
    # Stopped by the measurement's SIGTERM and reaped, not left serving (left
    # running, it would hold the measurement up for ever). A server that had
    # set its handler by then exits 0 on it; one still starting dies of it.
    assert len(servers) == 1
    assert servers[0].returncode in (0, -signal.SIGTERM)


def test_a_system_whose_package_is_missing_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = dataclasses.replace(SYSTEMS["grpc"], requires="no_such_package_here")
    monkeypatch.setitem(SYSTEMS, "grpc", missing)
    with pytest.raises(SystemExit) as exit:
        processcpu.main(["grpc"])
    assert exit.value.code == 2
    assert "grpc needs no_such_package_here" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["no-such-system"],
        ["uvrpc-sync", "--inflight", "2"],
        ["uvrpc", "--rounds", "0"],
        ["uvrpc", "--duration", "0"],
        ["uvrpc", "--payload", "-1"],
        ["uvrpc", "--stream", "sideways"],
        ["uvrpc-sync", "--stream", "server"],
        ["uvrpc", "--stream", "client", "--inflight", "4"],
    ],
)
def test_a_bad_command_line_is_refused_before_anything_starts(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit:
        processcpu.main(args)
    assert exit.value.code == 2
    assert "processcpu" in capsys.readouterr().err
