"""``docs/security.md``'s examples run as written.

Its shell block runs line by line in a scratch directory (key files land there),
with ``examples/calculator`` on ``PYTHONPATH`` for the example server and its
generated module; its Python blocks run as files saved there. Rewritten,
mechanically: the fixed ``:5555`` ports of ``--bind``/``bind()`` become ``*`` on
loopback, and the client's ``tcp://host:5555`` becomes the endpoint the server
printed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT
from docblocks import blocks, command, run, serving

SECURITY = ROOT / "docs" / "security.md"
PATH = [EXAMPLES / "calculator"]
BINDS = {
    "tcp://0.0.0.0:5555": "tcp://127.0.0.1:*",
    "tcp://127.0.0.1:5555": "tcp://127.0.0.1:*",
}


def bind_anywhere(text: str) -> str:
    """``text`` with its fixed ports free."""
    for fixed, free in BINDS.items():
        text = text.replace(fixed, free)
    return text


def test_the_examples_run(tmp_path: Path) -> None:
    (shell,) = blocks(SECURITY, "sh")
    python = blocks(SECURITY, "python")
    servers = [b for b in python if "serve_forever" in b.text]
    clients = [b for b in python if "tcp://host:5555" in b.text]
    # The per-method authorization example runs in its own test
    # (tests/transport/test_security.py::test_the_authorization_example_runs).
    authorization = [b for b in python if "peer_key" in b.text]
    others = [
        b
        for b in python
        if b not in servers and b not in clients and b not in authorization
    ]
    assert (len(servers), len(clients), len(others)) == (1, 1, 1)

    with contextlib.ExitStack() as stack:
        endpoints = []
        for line in shell.text.splitlines():
            argv = shlex.split(line.partition("  # ")[0])
            name, *rest = argv
            if name == "mkdir":
                run(argv, tmp_path)
                continue
            assert name == "uvrpc", line
            if rest[0] == "keygen":
                public = run(command(name) + rest, tmp_path).strip()
                assert re.fullmatch(r"[\x21-\x7e]{40}", public), public
                continue
            assert rest[0] == "serve"
            rest = [bind_anywhere(arg) for arg in rest]
            endpoints.append(
                stack.enter_context(
                    serving(command(name) + rest, tmp_path, tmp_path / "cli.log", PATH)
                )
            )
        (tmp_path / "server.py").write_text(bind_anywhere(servers[0].text))
        endpoints.append(
            stack.enter_context(
                serving(
                    [sys.executable, "server.py"],
                    tmp_path,
                    tmp_path / "server.log",
                    PATH,
                )
            )
        )
        for endpoint in endpoints:
            # Bound on every interface; reached on loopback.
            reachable = endpoint.replace("0.0.0.0", "127.0.0.1")
            script = tmp_path / "client.py"
            script.write_text(clients[0].text.replace("tcp://host:5555", reachable))
            out = run([sys.executable, "client.py"], tmp_path, PATH)
            assert out == "42\n42\n"

    (tmp_path / "heartbeat.py").write_text(bind_anywhere(others[0].text))
    assert run([sys.executable, "heartbeat.py"], tmp_path, PATH) == "True\n"


@pytest.mark.typecheck
def test_the_authorization_example_type_checks(tmp_path: Path) -> None:
    """It is a whole program, which a reader checks as the README says code
    using uvrpc is checked (``mypy --strict``): its interceptor left ``proceed``
    and its result unannotated."""
    (block,) = [b for b in blocks(SECURITY, "python") if "peer_key" in b.text]
    program = tmp_path / "authorize.py"
    program.write_text(block.text)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary"]
        + ["--config-file", os.devnull, "--cache-dir", str(tmp_path / "cache")]
        + [str(program)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "MYPYPATH": os.pathsep.join(map(str, PATH))},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
