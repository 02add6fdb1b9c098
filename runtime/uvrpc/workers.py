"""Worker processes behind a broker: ``uvrpc serve MODULE:CLASS --workers N``.

The parent process runs a :class:`~uvrpc.broker.Broker` whose frontend is bound to
the endpoints clients know, and whose backend is an ``ipc://`` socket in a
temporary directory; it starts ``N`` worker processes (``uvrpc serve MODULE:CLASS
--connect BACKEND``) and starts a new one whenever one exits, until SIGINT or
SIGTERM, when it stops the workers (SIGTERM, then SIGKILL after a grace period) and
the broker. Clients see one server.

A worker that dies fails the calls it had taken at once with ``UNAVAILABLE`` (the
broker sees its connection close); calls sent afterwards go to the workers still
running, and to the new one once it says READY. A worker that stops (SIGTERM) says
LEAVING first, so that no new call reaches it while it stops.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from .broker import Broker
from .security import ServerSecurity

__all__ = ["SUPERVISOR_ENV", "supervise", "watch_supervisor"]

SUPERVISOR_ENV = "UVRPC_SUPERVISOR_PID"
"""Set in a worker's environment to its parent's pid: a worker whose parent is gone
stops by itself."""

RESTART_DELAY = 1.0
"""Seconds the parent waits before restarting a worker that exited within this
long of its start (one that cannot start at all would otherwise spin)."""

STOP_GRACE = 5.0
"""Seconds workers get to stop after SIGTERM before they are killed."""

_log = logging.getLogger("uvrpc.workers")


def supervise(
    target: str,
    count: int,
    endpoints: Sequence[str],
    *,
    uvloop: bool = False,
    worker_args: Sequence[str] = (),
    security: ServerSecurity | None = None,
) -> None:
    """Serve ``target`` (``MODULE:CLASS``) from ``count`` worker processes behind a
    broker bound to ``endpoints`` until SIGINT or SIGTERM; print each bound
    endpoint on a line of its own first.

    ``worker_args`` are added to each worker's ``uvrpc serve`` command line;
    ``security`` secures the endpoints clients connect to with CURVE (the backend
    is an ``ipc://`` socket in a directory only this user can open).
    """
    if count < 1:
        raise ValueError("--workers must be at least 1")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {
        signum: signal.signal(signum, on_signal)
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        with (
            tempfile.TemporaryDirectory(prefix="uvrpc-workers-") as scratch,
            Broker(
                endpoints,
                [f"ipc://{Path(scratch) / 'backend.sock'}"],
                security=security,
            ) as broker,
        ):
            for endpoint in broker.frontends:
                print(endpoint, flush=True)
            command = [sys.executable, "-m", "uvrpc", "serve", target]
            command += ["--connect", broker.backends[0], *worker_args]
            if uvloop:
                command.append("--uvloop")
            _run(command, count, stop)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run(command: list[str], count: int, stop: threading.Event) -> None:
    env = {**os.environ, SUPERVISOR_ENV: str(os.getpid())}

    def spawn() -> tuple[subprocess.Popen[bytes], float]:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        _log.info("worker %d started", process.pid)
        return process, time.monotonic()

    workers = [spawn() for _ in range(count)]
    waiting: list[float] = []  # when each worker to restart may start
    try:
        while not stop.wait(0.05):
            now = time.monotonic()
            for n, (process, started) in enumerate(workers):
                status = process.poll()
                if status is None:
                    continue
                _log.warning("worker %d exited (status %d)", process.pid, status)
                quick = now - started < RESTART_DELAY
                waiting.append(now + RESTART_DELAY if quick else now)
                workers[n] = workers[-1]
                workers.pop()
                break
            while waiting and waiting[0] <= now and not stop.is_set():
                waiting.pop(0)
                workers.append(spawn())
    finally:
        for process, _ in workers:
            process.terminate()
        deadline = time.monotonic() + STOP_GRACE
        for process, _ in workers:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def watch_supervisor(stop: asyncio.Event) -> None:
    """Set ``stop`` when this worker's supervisor, named by
    :data:`SUPERVISOR_ENV`, is gone; return at once outside a pool."""
    parent = os.environ.get(SUPERVISOR_ENV)
    if parent is None:
        return
    while not stop.is_set():
        if os.getppid() != int(parent):
            _log.warning("the supervisor is gone: stopping")
            stop.set()
            return
        await asyncio.sleep(1.0)
