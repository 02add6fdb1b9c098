"""The stream cases of ``uvrpc bench``: every system's stream rows, and checks that
catch a server sending wrong, missing or miscounted items.

Correctness, not speed: windows are a fraction of a second.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pytest
import zmq

from uvrpc.bench.cases import CASES
from uvrpc.bench.runner import plan
from uvrpc.bench.spec import ClientSpec
from uvrpc.bench.stream_echo import Tally
from uvrpc.bench.systems import (
    grpc_streams,
    systems_for,
    uvrpc_streams,
    zmq_raw_streams,
)
from uvrpc.bench.systems._streaming import ITEMS
from uvrpc.testing import ServerThread
from uvrpc.wire.limits import STREAM_WINDOW

ROOT = Path(__file__).resolve().parents[2]
STREAM_CASES = ("server-stream", "client-stream", "bidi-stream")
KINDS = ("server", "client", "bidi")


def test_the_stream_cases_are_planned_for_the_systems_that_stream() -> None:
    measured = {
        (m.system.name, m.case.name, m.payload)
        for m in plan(systems_for(uvloop=True), [CASES[c] for c in STREAM_CASES])
    }
    base = ("uvrpc", "zmq-raw", "grpc")
    systems = (*base, *(f"{s}+uvloop" for s in base))
    assert measured == {
        (system, case, payload)
        for system in systems
        for case in STREAM_CASES
        for payload in (64, 64 << 10)
    }


# Three systems' stream servers and client processes, for short windows.
@pytest.mark.timeout(300)
def test_every_stream_case_of_every_system_checks_its_items(tmp_path: Path) -> None:
    report, plot = tmp_path / "streams.json", tmp_path / "streams.png"
    result = subprocess.run(
        [sys.executable, "-m", "uvrpc", "bench", "--cases", ",".join(STREAM_CASES)]
        + ["--systems", "uvrpc,zmq-raw,grpc,uvrpc-sync"]
        + ["--duration", "0.03", "--warmup", "0.01"]
        + ["--json", str(report), "--plot", str(plot)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {
        (r["system"], r["case"], r["payload"]): r
        for r in json.loads(report.read_text())["cases"]
    }
    # The blocking row has no stream cases: it is left out, not failed.
    assert set(rows) == {
        (system, case, payload)
        for system in ("uvrpc", "zmq-raw", "grpc")
        for case in STREAM_CASES
        for payload in (64, 64 << 10)
    }
    for key, row in rows.items():
        assert row["mismatches"] == 0, key
        assert row["calls"] > 0 and row["items_per_s"] == row["calls_per_s"], key
        assert row["mb_per_s"] == pytest.approx(row["items_per_s"] * key[2] / 1e6)
        assert row["inflight"] == STREAM_WINDOW and row["p50_us"] is None, key
        if key[0] == "uvrpc":
            assert row["ratio_vs_zmq_raw"] and row["ratio_vs_grpc"], key
    assert plot.read_bytes().startswith(b"\x89PNG")
    assert "bidi-stream" in result.stdout


class Faulty(uvrpc_streams.Streams):
    """Every stream wrong, in the way ``fault`` says: ``short`` streams miss items
    (a server stream ends after one, an echo drops the first, a tally counts one
    item too few), ``changed`` ones send a wrong first item."""

    def __init__(self, fault: str) -> None:
        self.fault = fault

    async def repeat(self, *, data: memoryview, n: int) -> AsyncIterator[memoryview]:
        if self.fault == "short":
            yield data
            return
        yield memoryview(bytes(len(data)))
        for _ in range(n - 1):
            yield data

    async def tally(self, *, items: AsyncIterator[memoryview]) -> Tally:
        tally = await super().tally(items=items)
        return Tally(items=tally.items, same=tally.same - 1, first=tally.first)

    async def echo(
        self, *, items: AsyncIterator[memoryview]
    ) -> AsyncIterator[memoryview]:
        first = True
        async for item in items:
            if first and self.fault == "changed":
                yield memoryview(bytes(len(item)))
            elif not first:
                yield item
            first = False


def spec(endpoint: str, kind: str) -> ClientSpec:
    """A whole stream and one item more, however long the host takes: a window of
    time could close on a short stream's first item, before its end is seen."""
    return ClientSpec(
        endpoint, 64, 32, warmup=0.0, duration=60.0, stream=kind, calls=ITEMS + 1
    )


FAULTS = pytest.mark.parametrize(
    ("kind", "fault", "least"),
    [
        ("server", "short", 999),  # each stream's 999 missing items
        ("server", "changed", 1),
        ("client", "short", 1),
        ("bidi", "short", 1),
        ("bidi", "changed", 1),
    ],
)


@FAULTS
def test_the_uvrpc_client_counts_every_wrong_item(
    kind: str, fault: str, least: int
) -> None:
    server = ServerThread([Faulty(fault)], "tcp://127.0.0.1:*", timeout=30)
    try:
        result = uvrpc_streams.run_client(spec(server.endpoint, kind), "asyncio")
    finally:
        server.stop(30)
    assert result.calls > 0
    assert result.mismatches >= least


@contextmanager
def faulty_grpc_server(fault: str) -> Iterator[str]:
    """``tests/faulty_grpc_streams.py`` serving, wrong by ``fault``: its endpoint."""
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "faulty_grpc_streams.py"), fault],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        endpoint = process.stdout.readline().strip()
        assert endpoint, "the faulty gRPC server did not start"
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


@FAULTS
def test_the_grpc_client_counts_every_wrong_item(
    kind: str, fault: str, least: int
) -> None:
    with faulty_grpc_server(fault) as endpoint:
        result = grpc_streams.run_client(spec(endpoint, kind), "asyncio")
    assert result.calls > 0
    assert result.mismatches >= least


class Corrupting:
    """A ROUTER socket whose sent frames of ``size`` bytes arrive changed."""

    def __init__(self, sock: zmq.Socket[bytes], size: int) -> None:
        self.sock = sock
        self.size = size

    def send(self, data: Any, flags: int = 0, copy: bool = True) -> None:
        if len(data) == self.size:
            data = bytes(self.size)
        self.sock.send(data, flags, copy=copy)

    def recv(self, flags: int = 0, copy: bool = True) -> Any:
        return self.sock.recv(flags, copy=copy)


@pytest.fixture
def corrupting_raw_server() -> Iterator[str]:
    """The raw stream server on a thread, every 64-byte frame it sends zeroed."""
    sock = zmq_raw_streams.stream_socket(zmq.ROUTER)  # the bench's own socket
    sock.bind("tcp://127.0.0.1:*")
    endpoint = cast(bytes, sock.getsockopt(zmq.LAST_ENDPOINT)).decode()
    server = zmq_raw_streams.StreamServer(cast(Any, Corrupting(sock, 64)))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            if sock.poll(20):
                server.drain()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        stop.set()
        thread.join(30)
        sock.close()


@pytest.mark.parametrize("kind", KINDS)
def test_the_raw_client_counts_every_wrong_item(
    kind: str, corrupting_raw_server: str
) -> None:
    result = zmq_raw_streams.run_client(spec(corrupting_raw_server, kind), "asyncio")
    assert result.calls > 0
    if kind == "client":
        assert result.mismatches >= 1  # the tally's first item
    else:
        assert result.mismatches >= result.calls  # every item, counted or not


def test_the_stream_stubs_are_fresh() -> None:
    """The benchmark measures the generated stubs of idl/stream_echo.idl as they
    are now."""
    result = subprocess.run(
        [sys.executable, "-m", "uvrpc_gen", "--check", "idl/stream_echo.idl"]
        + ["-o", "runtime/uvrpc/bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
