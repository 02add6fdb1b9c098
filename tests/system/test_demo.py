"""The README's demo command works end to end: generate, serve, call, exit 0."""

from __future__ import annotations

import subprocess
import sys

from conftest import EXAMPLES


def test_demo_runs_end_to_end() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "demo.py")],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "wrote calculator.py" in out and "wrote echo.py" in out
    assert "add(a=40, b=2) = 42" in out
    assert "run(program) = 5 after 2 steps" in out
    # The deliberate error reads as one: one line each side, no traceback.
    assert "expected error: divide(a=1, b=0) raised UNKNOWN: ZeroDivisionError" in out
    assert (
        "expected error: handler of calculator.Calculator.divide raised "
        "ZeroDivisionError: integer division or modulo by zero (on purpose)" in out
    )
    assert "Traceback" not in result.stdout + result.stderr
    assert "echo  1048576 bytes: ok" in out
    assert "MISMATCH" not in out
    assert "stopped calculator_server:Calculator (exit status 0); its log:" in out
    # A server with nothing to say is not followed by an empty log.
    assert "stopped echo_server:Echo (exit status 0); it logged nothing" in out
    assert out.rstrip().endswith("demo: every step succeeded")
