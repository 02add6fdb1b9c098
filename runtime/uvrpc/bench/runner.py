"""Running the benchmark: servers and clients in processes of their own, in rounds.

A round measures every system once in every case it supports: it starts the system's
server (its stream server for the stream cases), hands one client process the list
of single-process measurements, runs the multi-process cases with their processes
starting together, and stops the server.
Rounds repeat the whole suite so that a drift in the machine's speed spreads over
every system instead of favouring the ones measured first.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from .cases import Case
from .measure import Result
from .spec import ClientSpec
from .systems import System

__all__ = ["Measurement", "Sample", "plan", "run_clients", "run_round"]

WORKER = [sys.executable, "-m", "uvrpc.bench.worker"]
START_LEAD = 0.05
"""Seconds between the last of a multi-process case's clients saying it is ready
and their agreed start time: each one's time to read that time, make its
connection and begin its warm-up (which a late start eats into)."""


@dataclass(frozen=True)
class Measurement:
    """One cell of the results: a system in a case at a payload size."""

    system: System
    case: Case
    payload: int


@dataclass(frozen=True)
class Sample:
    """What one round measured for one :class:`Measurement`."""

    measurement: Measurement
    calls: int
    seconds: float
    mismatches: int
    latencies_us: list[float]


def plan(systems: Sequence[System], cases: Sequence[Case]) -> list[Measurement]:
    """Every measurement of a round, system by system."""
    return [
        Measurement(system, case, payload)
        for system in systems
        for case in cases
        if case.inflight <= system.max_inflight and (not case.stream or system.streams)
        for payload in case.payloads
    ]


@contextmanager
def serving(
    command: Sequence[str],
    name: str,
    pids: list[int] | None = None,
    *,
    prints_endpoint: bool = True,
) -> Iterator[str]:
    """Run a server process whose first line of output is its endpoint; yield the
    endpoint (``""`` for a process that prints none), then stop the process
    (terminate, kill after 10 s). Its pid is appended to ``pids``, if given."""
    process = subprocess.Popen(list(command), stdout=subprocess.PIPE, text=True)
    if pids is not None:
        pids.append(process.pid)
    try:
        assert process.stdout is not None
        endpoint = process.stdout.readline().strip() if prints_endpoint else ""
        if prints_endpoint and not endpoint:
            raise RuntimeError(f"the {name} did not start")
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _server(system: System, bind: str, streams: bool) -> AbstractContextManager[str]:
    command = [*WORKER, "server", system.name, "--bind", bind]
    return serving(
        [*command, "--streams"] if streams else command, f"{system.name} server"
    )


def run_clients(
    system: System, batches: Sequence[list[ClientSpec]], *, together: bool = False
) -> list[list[Result]]:
    """Run one client process per batch, all at once; return each one's results.

    ``together``: the processes' first warm-ups start at one time, agreed once
    every one of them has imported what it measures with and says it is ready
    (each spec's ``start_at`` is set to it), so no process's start-up eats into
    another's window and no fixed lead has to guess how long start-up takes. A
    process that dies before it is ready fails the run at once.

    Raises:
        RuntimeError: a client process failed.
    """
    with tempfile.TemporaryDirectory(prefix="uvrpc-bench-results-") as scratch:
        paths = [Path(scratch) / f"client-{n}.json" for n in range(len(batches))]
        processes: list[subprocess.Popen[str]] = []
        try:
            if together:
                _start_together(system, batches, paths, processes)
            else:
                for batch, path in zip(batches, paths, strict=True):
                    process = _client(system, path, None)
                    processes.append(process)
                    _tell(process, _specs(batch), last=True)
            statuses = [process.wait() for process in processes]
        except BaseException:
            _stop(processes)
            raise
        if any(statuses):
            raise RuntimeError(f"a {system.name} client failed: exit {statuses}")
        return [
            [Result(**raw) for raw in json.loads(path.read_text())] for path in paths
        ]


def _stop(processes: list[subprocess.Popen[str]]) -> None:
    """Kill the client processes still running, reap them all, and close the
    pipes to their standard input."""
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()


def _start_together(
    system: System,
    batches: Sequence[list[ClientSpec]],
    paths: list[Path],
    processes: list[subprocess.Popen[str]],
) -> None:
    """Start a client process per batch (appended to ``processes``), wait until
    each is ready, and tell them all one start time."""
    ready_read, ready_write = os.pipe()
    try:
        try:
            for batch, path in zip(batches, paths, strict=True):
                process = _client(system, path, ready_write)
                processes.append(process)
                _tell(process, _specs(batch), last=False)
        finally:
            # Only the children hold the write end now: once each has said it is
            # ready or died, the pipe ends, and the read below cannot hang.
            os.close(ready_write)
        if not _all_ready(ready_read, len(processes)):
            # The ones still waiting for a start time are stopped (exit -9).
            _stop(processes)
            statuses = [process.returncode for process in processes]
            raise RuntimeError(
                f"a {system.name} client failed before it was ready: exit {statuses}"
            )
    finally:
        os.close(ready_read)
    start_at = time.time() + START_LEAD
    for process in processes:
        _tell(process, repr(start_at), last=True)


def _client(system: System, path: Path, ready_fd: int | None) -> subprocess.Popen[str]:
    """A client process of ``system`` writing its results to ``path``, saying on
    ``ready_fd`` (if given) when it is ready to start."""
    command = [*WORKER, "client", system.name, "--results", str(path)]
    if ready_fd is not None:
        command += ["--ready-fd", str(ready_fd)]
    return subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        text=True,
        pass_fds=() if ready_fd is None else (ready_fd,),
    )


def _specs(batch: list[ClientSpec]) -> str:
    return json.dumps([spec.to_json() for spec in batch])


def _tell(process: subprocess.Popen[str], line: str, *, last: bool) -> None:
    """Write a line to a client's standard input (and close it if ``last``). A
    client that has died is not told: its exit status reports it."""
    assert process.stdin is not None
    try:
        process.stdin.write(line + "\n")
        process.stdin.flush()
        if last:
            process.stdin.close()
    except BrokenPipeError:
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()


def _all_ready(ready_read: int, count: int) -> bool:
    """Read a byte from each of ``count`` clients; False if the pipe ends first
    (every client has closed it, one having died before it was ready)."""
    received = 0
    while received < count:
        chunk = os.read(ready_read, count - received)
        if not chunk:
            return False
        received += len(chunk)
    return True


def _bind_for(system: System, ipc: bool, scratch: Path, streams: bool) -> str:
    zmq_system = system.name.startswith(("uvrpc", "zmq-raw"))
    if ipc and zmq_system:
        return f"ipc://{scratch / system.name}{'-streams' if streams else ''}.sock"
    return "tcp://127.0.0.1:*"


def run_round(
    measurements: Sequence[Measurement],
    *,
    warmup: float,
    duration: float,
    ipc: bool,
    progress: Callable[[Measurement], None],
) -> list[Sample]:
    """Measure each of ``measurements`` once."""
    samples: list[Sample] = []
    by_server: dict[tuple[str, bool], list[Measurement]] = {}
    for measurement in measurements:
        key = (measurement.system.name, bool(measurement.case.stream))
        by_server.setdefault(key, []).append(measurement)
    with tempfile.TemporaryDirectory(prefix="uvrpc-bench-") as scratch:
        for (_, streams), group in by_server.items():
            system = group[0].system
            bind = _bind_for(system, ipc, Path(scratch), streams)
            with _server(system, bind, streams) as endpoint:
                samples.extend(
                    _measure_system(system, group, endpoint, warmup, duration, progress)
                )
    return samples


def _measure_system(
    system: System,
    group: list[Measurement],
    endpoint: str,
    warmup: float,
    duration: float,
    progress: Callable[[Measurement], None],
) -> Iterator[Sample]:
    def spec(m: Measurement) -> ClientSpec:
        return ClientSpec(
            endpoint,
            m.payload,
            m.case.inflight,
            warmup,
            duration,
            stream=m.case.stream,
        )

    single = [m for m in group if m.case.processes == 1]
    if single:
        (results,) = run_clients(system, [[spec(m) for m in single]])
        for measurement, result in zip(single, results, strict=True):
            progress(measurement)
            yield _sample(measurement, [result])
    for measurement in (m for m in group if m.case.processes > 1):
        batches = [[spec(measurement)]] * measurement.case.processes
        results = [r for (r,) in run_clients(system, batches, together=True)]
        progress(measurement)
        yield _sample(measurement, results)


def _sample(measurement: Measurement, results: list[Result]) -> Sample:
    """Aggregate the results of a measurement's client processes."""
    return Sample(
        measurement=measurement,
        calls=sum(r.calls for r in results),
        seconds=max(r.seconds for r in results),
        mismatches=sum(r.mismatches for r in results),
        latencies_us=sorted(x for r in results for x in r.latencies_us),
    )
