"""``docs/health.md``'s examples run as written: the program that goes unready on
SIGTERM, the check and watch clients against it, and the Pod spec's probe commands.

Rewritten, mechanically: the fixed ``:5555`` of the examples becomes the endpoint
the program printed (it binds a free port on loopback instead).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import EXAMPLES, ROOT
from docblocks import blocks, environment

from uvrpc.cli import health

HEALTH = ROOT / "docs" / "health.md"
FIXED = "tcp://127.0.0.1:5555"
SERVICE = "calculator.Calculator"


def probe_commands() -> list[list[str]]:
    """The ``exec`` commands of the Pod spec."""
    (spec,) = blocks(HEALTH, "yaml")
    return [
        json.loads(line.partition("command:")[2])
        for line in spec.text.splitlines()
        if "command:" in line and "uvrpc" in line
    ]


def test_the_examples_run(tmp_path: Path) -> None:
    check, watch, program = blocks(HEALTH, "python")
    assert "add_signal_handler" in program.text
    serve = tmp_path / "serve.py"
    serve.write_text(program.text.replace("tcp://0.0.0.0:5555", "tcp://127.0.0.1:*"))
    env = environment([EXAMPLES / "calculator"])
    server = subprocess.Popen(
        [sys.executable, str(serve)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    follower = None
    try:
        assert server.stdout is not None
        endpoint = server.stdout.readline().strip()
        assert endpoint.startswith("tcp://127.0.0.1:"), endpoint

        # The check prints whether the service is ready.
        (tmp_path / "check.py").write_text(check.text.replace(FIXED, endpoint))
        ready = subprocess.run(
            [sys.executable, "check.py"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (ready.returncode, ready.stdout) == (0, "True\n"), ready.stderr

        # The probes' commands, as the kubelet would run them.
        commands = probe_commands()
        assert [c[:2] for c in commands] == [["uvrpc", "health"]] * 2
        for argv in commands:
            arguments = [endpoint if a == FIXED else a for a in argv[2:]]
            assert health.main(arguments) == 0

        # The watch follows the service as the program drains.
        (tmp_path / "watch.py").write_text(watch.text.replace(FIXED, endpoint))
        follower = subprocess.Popen(
            [sys.executable, "watch.py"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert follower.stdout is not None
        assert follower.stdout.readline() == "SERVING\n"

        server.send_signal(signal.SIGTERM)
        readiness = [endpoint, SERVICE, "--timeout", "5"]
        hang_guard = time.monotonic() + 60
        while (status := health.main(readiness)) == 0:
            assert time.monotonic() < hang_guard, "SIGTERM changed nothing"
        # Unready while it still serves: the probe's answer, not a failed call.
        assert status == 4
        assert follower.stdout.readline() == "NOT_SERVING\n"

        # Then the program closes with its grace and exits cleanly.
        _, server_errors = server.communicate(timeout=60)
        assert server.returncode == 0, server_errors
        _, errors = follower.communicate(timeout=60)
        # The watch ends with its final reply, or with the connection if the
        # socket closed before it read that (docs/health.md).
        assert follower.returncode == 0 or "Unavailable" in errors, errors
    finally:
        for process in (server, follower):
            if process is not None and process.returncode is None:
                process.kill()
                process.communicate()
