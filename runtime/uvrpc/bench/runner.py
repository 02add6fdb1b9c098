"""Running the benchmark: servers and clients in processes of their own, in rounds.

A round measures every system once in every case it supports: it starts the system's
server (its stream server for the stream cases), hands one client process the list
of single-process measurements, runs the multi-process cases with their processes
starting together, and stops the server.
Rounds repeat the whole suite so that a drift in the machine's speed spreads over
every system instead of favouring the ones measured first.
"""

from __future__ import annotations

import json
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

__all__ = ["Measurement", "Sample", "plan", "run_round"]

WORKER = [sys.executable, "-m", "uvrpc.bench.worker"]
START_LEAD = 2.0
"""Seconds between launching a multi-process case and its agreed start time."""


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


def _clients(system: System, batches: Sequence[list[ClientSpec]]) -> list[list[Result]]:
    """Run one client process per batch, all at once; return each one's results."""
    with tempfile.TemporaryDirectory(prefix="uvrpc-bench-results-") as scratch:
        paths = [Path(scratch) / f"client-{n}.json" for n in range(len(batches))]
        processes = []
        for batch, path in zip(batches, paths, strict=True):
            process = subprocess.Popen(
                [*WORKER, "client", system.name, "--results", str(path)],
                stdin=subprocess.PIPE,
                text=True,
            )
            assert process.stdin is not None
            process.stdin.write(json.dumps([spec.to_json() for spec in batch]))
            process.stdin.close()
            processes.append(process)
        statuses = [process.wait() for process in processes]
        if any(statuses):
            raise RuntimeError(f"a {system.name} client failed: exit {statuses}")
        return [
            [Result(**raw) for raw in json.loads(path.read_text())] for path in paths
        ]


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
    def spec(m: Measurement, start_at: float | None = None) -> ClientSpec:
        return ClientSpec(
            endpoint,
            m.payload,
            m.case.inflight,
            warmup,
            duration,
            start_at,
            m.case.stream,
        )

    single = [m for m in group if m.case.processes == 1]
    if single:
        (results,) = _clients(system, [[spec(m) for m in single]])
        for measurement, result in zip(single, results, strict=True):
            progress(measurement)
            yield _sample(measurement, [result])
    for measurement in (m for m in group if m.case.processes > 1):
        start_at = time.time() + START_LEAD
        batches = [[spec(measurement, start_at)]] * measurement.case.processes
        results = [r for (r,) in _clients(system, batches)]
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
