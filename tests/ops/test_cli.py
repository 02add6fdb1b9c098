"""The ``uvrpc`` command: ``serve`` and ``version``, errors without tracebacks."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from calculator import CalculatorSyncClient
from conftest import EXAMPLES

import uvrpc


def uvrpc_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "uvrpc", *args]


def test_version() -> None:
    result = subprocess.run(uvrpc_cmd("version"), capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        f"uvrpc {uvrpc.__version__}",
        f"protocol {uvrpc.PROTOCOL_VERSION}",
        f"generated-code API {uvrpc.GENERATED_CODE_API}",
    ]


def test_serve_answers_calls_and_stops_on_sigterm(tmp_path: Path) -> None:
    socket = tmp_path / "calc.sock"
    server = subprocess.Popen(
        uvrpc_cmd(
            "serve",
            "calculator_server:Calculator",
            "--bind",
            "tcp://127.0.0.1:*",
            "--bind",
            f"ipc://{socket}",
        ),
        cwd=EXAMPLES / "calculator",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        tcp = server.stdout.readline().strip()
        ipc = server.stdout.readline().strip()
        assert tcp.startswith("tcp://127.0.0.1:") and ipc == f"ipc://{socket}"
        for endpoint in (tcp, ipc):
            with CalculatorSyncClient(endpoint, timeout=10) as calc:
                assert calc.add(a=2, b=3) == 5
        server.send_signal(signal.SIGTERM)
        assert server.wait(10) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        assert server.stdout is not None and server.stderr is not None
        server.stdout.close()
        server.stderr.close()


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("calculator_server", "expected MODULE:CLASS, got 'calculator_server'"),
        ("no_such_module:X", "cannot import 'no_such_module'"),
        ("calculator:Op", "calculator:Op is not a subclass of a generated"),
        (
            "calculator:CalculatorServer",
            "calculator:CalculatorServer does not implement: add, apply, call_count",
        ),
    ],
)
def test_serve_reports_mistakes_in_one_line(target: str, message: str) -> None:
    result = subprocess.run(
        uvrpc_cmd("serve", target),
        cwd=EXAMPLES / "calculator",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"uvrpc: error: {message}")
    assert "Traceback" not in result.stderr


def test_serve_reports_a_bad_endpoint() -> None:
    result = subprocess.run(
        uvrpc_cmd("serve", "calculator_server:Calculator", "--bind", "bogus://x"),
        cwd=EXAMPLES / "calculator",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "uvrpc: error: bad endpoint 'bogus://x': transport 'bogus'" in result.stderr
    assert "Traceback" not in result.stderr
