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

With ``--metrics HOST:PORT`` each worker serves its own metrics on a free loopback
port and writes that port's URL to a file in the temporary directory (named by
:data:`METRICS_ENV`); the parent serves every worker's metrics on ``HOST:PORT``,
read from the workers at each scrape and labelled ``worker="<n>"`` (``n`` from 0 to
``N-1``, kept by a worker's replacement): one target for Prometheus to scrape.

The parent removes the temporary directory as it stops. A parent killed outright
(SIGKILL, the OOM killer) cannot: its workers, which stop by themselves once it is
gone, remove it instead (named by :data:`SCRATCH_ENV`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import zmq

from ..transport.security import ServerSecurity
from .broker import Broker
from .metrics import serve_merged_metrics
from .signals import stop_on_signals

__all__ = [
    "METRICS_ENV",
    "SCRATCH_ENV",
    "SUPERVISOR_ENV",
    "report_metrics",
    "supervise",
    "watch_supervisor",
]

SUPERVISOR_ENV = "UVRPC_SUPERVISOR_PID"
"""Set in a worker's environment to its parent's pid: a worker whose parent is gone
stops by itself."""

SCRATCH_ENV = "UVRPC_SUPERVISOR_SCRATCH"
"""Set in a worker's environment to its parent's temporary directory (the
backend's socket, the metrics files): a worker whose parent is gone removes it."""

RESTART_DELAY = 1.0
"""Seconds the parent waits before restarting a worker that exited within this
long of its start (one that cannot start at all would otherwise spin)."""

STOP_GRACE = 5.0
"""Seconds workers get to stop after SIGTERM, beyond their grace for running
calls, before they are killed."""

METRICS_ENV = "UVRPC_WORKER_METRICS"
"""Set in a worker's environment when the pool serves metrics: the file to which
the worker writes the URL of its own metrics (:func:`report_metrics`)."""

_log = logging.getLogger("uvrpc.workers")


def supervise(
    targets: Sequence[str],
    count: int,
    endpoints: Sequence[str],
    *,
    uvloop: bool = False,
    worker_args: Sequence[str] = (),
    security: ServerSecurity | None = None,
    metrics: tuple[str, int] | None = None,
    grace: float = 0.0,
) -> None:
    """Serve ``targets`` (each ``MODULE:CLASS``, one per service) from ``count``
    worker processes behind a broker bound to ``endpoints`` until SIGINT,
    SIGTERM or SIGHUP; print each bound endpoint on a line of its own first.

    On any of these each worker is sent SIGTERM and closes with ``grace``
    seconds for its running calls (``uvrpc serve --grace``), whose replies pass
    the broker, which stops last; a worker still there :data:`STOP_GRACE`
    seconds after its grace is killed.

    ``worker_args`` are added to each worker's ``uvrpc serve`` command line;
    ``security`` secures the endpoints clients connect to with CURVE (the backend
    is an ``ipc://`` socket in a directory only this user can open). With
    ``metrics`` (a host and a port, 0 for a free one) every worker's metrics are
    served there, each labelled ``worker="<n>"``; the URL to scrape is printed on
    the line after the endpoints.
    """
    if count < 1:
        raise ValueError("--workers must be at least 1")
    with (
        stop_on_signals() as stop,
        tempfile.TemporaryDirectory(prefix="uvrpc-workers-") as scratch,
        Broker(endpoints, [_backend(Path(scratch))], security=security) as broker,
    ):
        draining: list[threading.Thread] = []

        def drain() -> None:
            # With a grace, the broker refuses new calls from the stop on, with
            # UNAVAILABLE "did not run" (safe to send again), while the calls in
            # flight finish on the workers and their replies pass it. Without it
            # those new calls would wait for a worker that never comes, then see
            # their connection drop as the broker closes ("may have run").
            if grace:
                closing = threading.Thread(
                    target=broker.close, args=(grace + STOP_GRACE,), daemon=True
                )
                closing.start()
                draining.append(closing)

        command = [sys.executable, "-m", "uvrpc", "serve", *targets]
        command += ["--connect", broker.backends[0], *worker_args]
        if grace:
            command += ["--grace", repr(grace)]
        if uvloop:
            command.append("--uvloop")
        if metrics is None:
            _print_endpoints(broker.frontends)
            try:
                _run(command, count, stop, grace, drain, scratch)
            finally:
                for closing in draining:
                    closing.join()
            return
        command += ["--metrics", "127.0.0.1:0"]
        files = [Path(scratch) / f"metrics-{n}.url" for n in range(count)]

        def sources() -> dict[str, str]:
            # An empty URL (a worker yet to report) counts as not answering.
            urls = {}
            for n, file in enumerate(files):
                try:
                    urls[str(n)] = file.read_text()
                except FileNotFoundError:
                    urls[str(n)] = ""
            return urls

        url, stop_metrics = serve_merged_metrics(sources, "worker", *metrics)
        # Printed once the metrics' port is taken too: a script reading the first
        # line sees an endpoint only if the server is starting, not failing.
        _print_endpoints(broker.frontends)
        print(url, flush=True)
        try:
            _run(command, count, stop, grace, drain, scratch, files)
        finally:
            for closing in draining:
                closing.join()
            stop_metrics()


def _backend(scratch: Path) -> str:
    """The ``ipc://`` endpoint of the workers' broker, in ``scratch``.

    Raises:
        ValueError: its path is too long for a socket, saying why: the path is
            not one the command line gave, but the temporary directory's.
    """
    path = scratch / "backend.sock"
    if len(os.fsencode(path)) > zmq.IPC_PATH_MAX_LEN:
        raise ValueError(
            f"--workers serves its workers on an ipc:// socket in the temporary "
            f"directory, and its path, {path}, is longer than the "
            f"{zmq.IPC_PATH_MAX_LEN} bytes a socket's path may have: set TMPDIR "
            "to a shorter directory"
        )
    return f"ipc://{path}"


def _print_endpoints(endpoints: Sequence[str]) -> None:
    for endpoint in endpoints:
        print(endpoint, flush=True)


def _run(
    command: list[str],
    count: int,
    stop: threading.Event,
    grace: float,
    on_stop: Callable[[], None],
    scratch: str,
    metrics_files: Sequence[Path] = (),
) -> None:
    env = {**os.environ, SUPERVISOR_ENV: str(os.getpid()), SCRATCH_ENV: scratch}

    def spawn(slot: int) -> tuple[subprocess.Popen[bytes], float, int]:
        own = {METRICS_ENV: str(metrics_files[slot])} if metrics_files else {}
        process = subprocess.Popen(
            command, env={**env, **own}, stdout=subprocess.DEVNULL
        )
        _log.info("worker %d started", process.pid)
        return process, time.monotonic(), slot

    workers = [spawn(slot) for slot in range(count)]
    waiting: list[tuple[float, int]] = []  # when each slot's new worker may start
    try:
        while not stop.wait(0.05):
            now = time.monotonic()
            for n, (process, started, slot) in enumerate(workers):
                status = process.poll()
                if status is None:
                    continue
                _log.warning("worker %d exited (status %d)", process.pid, status)
                if metrics_files:
                    metrics_files[slot].unlink(missing_ok=True)
                quick = now - started < RESTART_DELAY
                waiting.append((now + RESTART_DELAY if quick else now, slot))
                workers[n] = workers[-1]
                workers.pop()
                break
            while waiting and waiting[0][0] <= now and not stop.is_set():
                workers.append(spawn(waiting.pop(0)[1]))
    finally:
        on_stop()
        for process, _, _ in workers:
            process.terminate()
        deadline = time.monotonic() + grace + STOP_GRACE
        for process, _, _ in workers:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                # Said, as an exit is: the calls it still ran are lost with it,
                # and an operator reading the log should know which worker hung.
                _log.warning(
                    "worker %d did not stop within %g s of SIGTERM: killed",
                    process.pid,
                    grace + STOP_GRACE,
                )
                process.kill()
                process.wait()


def report_metrics(url: str) -> None:
    """Tell this worker's supervisor where its metrics are: write ``url`` to the
    file :data:`METRICS_ENV` names (atomically); nothing outside a pool."""
    path = os.environ.get(METRICS_ENV)
    if path is None:
        return
    partial = Path(f"{path}.{os.getpid()}")
    partial.write_text(url)
    os.replace(partial, path)


async def watch_supervisor(stop: asyncio.Event) -> None:
    """Set ``stop`` when this worker's supervisor, named by
    :data:`SUPERVISOR_ENV`, is gone, and remove its temporary directory
    (:data:`SCRATCH_ENV`), which it had no chance to; return at once outside a
    pool."""
    parent = os.environ.get(SUPERVISOR_ENV)
    if parent is None:
        return
    # A process that inherited the variables from a worker (a handler's own
    # subprocess) has another parent from the start: the directory of a
    # supervisor still running is not its to remove. A worker whose supervisor
    # was killed as it started has another parent from the start too, and
    # removes it.
    supervisor = int(parent)
    ours = os.getppid() == supervisor or not _alive(supervisor)
    scratch = os.environ.get(SCRATCH_ENV) if ours else None
    while not stop.is_set():
        if os.getppid() != supervisor:
            _log.warning("the supervisor is gone: stopping")
            stop.set()
            if scratch is not None:
                # Every worker may try; the others find it gone. Connected
                # sockets outlive the file of the endpoint they were made by.
                shutil.rmtree(scratch, ignore_errors=True)
            return
        await asyncio.sleep(1.0)


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (this one may not signal it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's
    return True
