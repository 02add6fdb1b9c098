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
    ],
)
def test_a_bad_command_line_is_refused_before_anything_starts(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit:
        processcpu.main(args)
    assert exit.value.code == 2
    assert "processcpu" in capsys.readouterr().err
