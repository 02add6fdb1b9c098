"""The parent of ``uvrpc serve --workers``: what it tells an operator when its
workers do not behave (``runtime/uvrpc/ops/workers.py``)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from uvrpc.cli import main
from uvrpc.ops.workers import SCRATCH_ENV, SUPERVISOR_ENV, watch_supervisor

TESTS = Path(__file__).resolve().parents[1]

# A worker that never acts on SIGTERM (the signal stays blocked, so its loop's
# handler never runs), as a worker whose handler holds its loop does not.
DEAF = """\
import os
import signal

from pid_echo import PidEcho

if "UVRPC_SUPERVISOR_PID" in os.environ:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


class Deaf(PidEcho):
    pass
"""

# The parent, with a short wait for its workers to stop.
SUPERVISE = """\
import logging
import sys

import uvrpc.ops.workers as workers

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
workers.STOP_GRACE = 0.5
workers.supervise(["deaf:Deaf"], 1, [sys.argv[1]])
"""


def test_a_worker_killed_for_not_stopping_is_said_so(tmp_path: Path) -> None:
    """A worker still there after its time to stop is killed with a warning
    naming it: its calls are lost with it, and the log said nothing before."""
    (tmp_path / "deaf.py").write_text(DEAF)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(TESTS)])}
    with subprocess.Popen(
        [sys.executable, "-c", SUPERVISE, f"ipc://{tmp_path / 'front'}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as parent:
        assert parent.stderr is not None
        try:
            # Its workers started, then connected (pytest's timeout bounds it).
            started = parent.stderr.readline()
            while "a server connected" not in parent.stderr.readline():
                pass
            parent.send_signal(signal.SIGTERM)
            assert parent.wait(30) == 0
        finally:
            if parent.poll() is None:
                parent.kill()
        log = parent.stderr.read()
    worker = int(started.split()[2])  # "INFO worker PID started"
    said = f"WARNING worker {worker} did not stop within 0.5 s of SIGTERM: killed"
    assert said in log


def test_a_temporary_directory_too_deep_for_a_socket_is_named(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The workers' broker listens on an ipc:// socket in the temporary
    directory: one whose path is too long for a socket is refused in a line
    that says so and what to do, not as a "bad endpoint" the command line never
    gave."""
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    status = main(
        ["serve", "pid_echo:PidEcho", "--workers", "2", "--bind", "tcp://127.0.0.1:*"]
    )
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("uvrpc: error: --workers serves its workers on an ipc://")
    assert "set TMPDIR to a shorter directory" in err
    assert "bad endpoint" not in err
    assert len(err.splitlines()) == 1
    assert list(deep.iterdir()) == []  # its directory removed


def test_a_worker_whose_parent_died_as_it_started_removes_its_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that finds its supervisor gone already when it begins to watch
    (killed while its workers started) removes the supervisor's temporary
    directory, as one that sees it go does; it was left behind. One whose
    supervisor still runs (a handler's subprocess, which inherited the
    variables) leaves it alone."""
    scratch = tmp_path / "uvrpc-workers-x"
    scratch.mkdir()
    monkeypatch.setenv(SCRATCH_ENV, str(scratch))
    gone = subprocess.Popen([sys.executable, "-c", ""])
    gone.wait()

    async def watch(parent: int) -> bool:
        monkeypatch.setenv(SUPERVISOR_ENV, str(parent))
        stop = asyncio.Event()
        watching = asyncio.ensure_future(watch_supervisor(stop))
        await asyncio.wait_for(asyncio.shield(watching), 5)
        return stop.is_set()

    assert asyncio.run(watch(os.getpid()))  # not this test's parent: it stops
    assert scratch.exists()
    assert asyncio.run(watch(gone.pid))
    assert not scratch.exists()
