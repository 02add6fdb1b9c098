"""Metrics: counts, errors and latency histograms, in-process and over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from calculator import CalculatorClient, CalculatorSyncClient
from calculator_server import Calculator
from conftest import EXAMPLES, server_thread
from feed import FeedClient, Tick
from feed_server import Feed

import uvrpc
import uvrpc.testing
from uvrpc.metrics import (
    DEFAULT_BUCKETS,
    MetricsRegistry,
    prometheus_text,
    serve_merged_metrics,
    serve_metrics,
)

ADD = "calculator.Calculator.add"
DIVIDE = "calculator.Calculator.divide"


Sample = tuple[str, frozenset[tuple[str, str]]]

SAMPLE = re.compile(r"([a-z_]+)(?:\{(.*)\})? (\S+)")


def samples(text: str) -> dict[Sample, float]:
    """The samples of a Prometheus text exposition, by name and labels."""
    found: dict[Sample, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            match = SAMPLE.fullmatch(line)
            assert match is not None, line
            name, labels, value = match.groups()
            pairs = frozenset(re.findall(r'(\w+)="([^"]*)"', labels or ""))
            found[name, pairs] = float(value)
    return found


def sample(name: str, **labels: str) -> Sample:
    """The key of a sample in what :func:`samples` returns."""
    return name, frozenset(labels.items())


async def make_calls(calc: CalculatorClient) -> None:
    """Three adds and two failing divides."""
    for n in range(3):
        assert await calc.add(a=n, b=1) == n + 1
    for _ in range(2):
        with pytest.raises(uvrpc.RemoteError):
            await calc.divide(a=1, b=0)


def test_counts_errors_and_histogram_of_both_sides() -> None:
    metrics = MetricsRegistry()

    async def main() -> None:
        channel = uvrpc.testing.memory_channel(
            Calculator(),
            interceptors=[metrics.interceptor],
            server_interceptors=[metrics.interceptor],
        )
        async with channel:
            await make_calls(CalculatorClient(channel))

    asyncio.run(asyncio.wait_for(main(), 10))
    snapshot = metrics.snapshot()
    for side in ("server", "client"):
        add, divide = snapshot[side][ADD], snapshot[side][DIVIDE]
        assert add["calls"] == 3 and add["errors"] == {}
        assert divide["calls"] == 2 and divide["errors"] == {"UNKNOWN": 2}
        latency = add["latency"]
        assert latency["count"] == 3 and latency["sum"] > 0
        buckets = latency["buckets"]
        assert list(buckets) == [*metrics.buckets, float("inf")]
        assert buckets[float("inf")] == 3
        counts = list(buckets.values())
        assert counts == sorted(counts)  # cumulative
    assert snapshot["servers"] == {}


class WrongResults(Calculator):
    """Answers ``add`` with a value its callers refuse: text for an i64, or an
    object that cannot be encoded at all when ``b`` is 0."""

    async def add(self, *, a: int, b: int) -> int:
        return "forty-two" if b else object()  # type: ignore[return-value]


def test_a_result_not_of_the_declared_type_is_counted_as_its_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The reply is made after the interceptors return: they counted the call OK
    while its caller got INTERNAL."""
    metrics = MetricsRegistry()

    async def main() -> None:
        async with uvrpc.Server(
            WrongResults(), interceptors=[metrics.interceptor]
        ) as server:
            endpoint = server.bind("inproc://wrong-results")
            async with CalculatorClient(endpoint, timeout=5) as calc:
                for b in (1, 0):
                    with pytest.raises(uvrpc.InternalError):
                        await calc.add(a=1, b=b)

    with caplog.at_level("ERROR", logger="uvrpc"):
        asyncio.run(asyncio.wait_for(main(), 10))
    add = metrics.snapshot()["server"][ADD]
    assert add["calls"] == 2 and add["errors"] == {"INTERNAL": 2}
    # Logged once each, as without interceptors.
    assert (
        len([r for r in caplog.records if "its caller gets INTERNAL" in r.message]) == 2
    )


def test_histogram_buckets_hold_known_durations() -> None:
    metrics = MetricsRegistry(buckets=[0.1, 1.0])
    for seconds in (0.05, 0.1, 0.5, 2.0):
        metrics.record("server", "a.B.c", uvrpc.Status.OK, seconds)
    metrics.record("server", "a.B.c", uvrpc.Status.NOT_FOUND, 0.01)
    method = metrics.snapshot()["server"]["a.B.c"]
    assert method["latency"]["buckets"] == {0.1: 3, 1.0: 4, float("inf"): 5}
    assert method["latency"]["sum"] == pytest.approx(2.66)
    assert method["errors"] == {"NOT_FOUND": 1}
    with pytest.raises(ValueError):
        MetricsRegistry(buckets=[1.0, 0.5])


def test_stream_calls_and_server_stats() -> None:
    metrics = MetricsRegistry()

    async def main() -> None:
        async with uvrpc.Server(Feed(), interceptors=[metrics.interceptor]) as server:
            metrics.watch_server(server, "feed")
            endpoint = server.bind("tcp://127.0.0.1:*")
            async with FeedClient(endpoint) as client:
                assert [t.seq async for t in client.ticks(count=3, size=0)] == [0, 1, 2]

                async def items() -> AsyncIterator[Tick]:
                    yield Tick(seq=1)

                assert (await client.upload(ticks=items(), label="")).count == 1
                assert await client.ping(n=5) == 5

    asyncio.run(asyncio.wait_for(main(), 10))
    snapshot = metrics.snapshot()
    server = snapshot["server"]
    assert server["feed.Feed.ticks"]["calls"] == 1
    assert server["feed.Feed.upload"]["calls"] == 1
    assert server["feed.Feed.ping"]["calls"] == 1
    stats = snapshot["servers"]["feed"]
    assert stats["streams"] == 2
    assert stats["received"] >= 3 and stats["replied"] >= 3


def test_sync_client_metrics() -> None:
    metrics = MetricsRegistry()
    with server_thread(Calculator()) as s:
        with CalculatorSyncClient(s.endpoint, interceptors=[metrics.interceptor]) as c:
            assert c.add(a=1, b=2) == 3
            with pytest.raises(uvrpc.RemoteError):
                c.divide(a=1, b=0)
    client = metrics.snapshot()["client"]
    assert client[ADD]["calls"] == 1
    assert client[DIVIDE]["errors"] == {"UNKNOWN": 1}


def test_grpc_names_export_the_calls_as_go_grpc_prometheus_does() -> None:
    metrics = MetricsRegistry(grpc_names=True)

    async def main() -> None:
        async with uvrpc.Server(Feed(), interceptors=[metrics.interceptor]) as server:
            endpoint = server.bind("tcp://127.0.0.1:*")
            async with FeedClient(
                endpoint, timeout=10, interceptors=[metrics.interceptor]
            ) as client:
                assert [t.seq async for t in client.ticks(count=2, size=0)] == [0, 1]
                assert await client.ping(n=5) == 5
                assert await client.ping(n=6) == 6
                await client.notify(text="hi")  # oneway: unary to gRPC

    asyncio.run(asyncio.wait_for(main(), 30))
    found = samples(prometheus_text(metrics))
    ping = {"grpc_service": "feed.Feed", "grpc_method": "ping", "grpc_type": "unary"}
    ticks = {
        "grpc_service": "feed.Feed",
        "grpc_method": "ticks",
        "grpc_type": "server_stream",
    }
    for side in ("server", "client"):
        handled = f"grpc_{side}_handled_total"
        assert found[sample(handled, **ping, grpc_code="OK")] == 2
        assert found[sample(handled, **ticks, grpc_code="OK")] == 1
        assert found[sample(f"grpc_{side}_handling_seconds_count", **ping)] == 2
        assert (
            found[sample(f"grpc_{side}_handling_seconds_bucket", **ping, le="+Inf")]
            == 2
        )
        # uvrpc's own names are still there.
        assert (
            found[sample("uvrpc_calls_total", side=side, route="feed.Feed.ping")] == 2
        )
    notify = {
        "grpc_service": "feed.Feed",
        "grpc_method": "notify",
        "grpc_type": "unary",
    }
    # (counted on the client: the server may close before it reads the request)
    assert found[sample("grpc_client_handled_total", **notify, grpc_code="OK")] == 1
    # Without the option, no gRPC name is exported.
    plain = MetricsRegistry()
    plain.record("server", "a.B.c", uvrpc.Status.OK, 0.1)
    assert not any(
        name.startswith("grpc_") for name, _ in samples(prometheus_text(plain))
    )


def test_grpc_names_count_each_status_as_grpc_code() -> None:
    metrics = MetricsRegistry(grpc_names=True)
    for status in (uvrpc.Status.OK, uvrpc.Status.OK, uvrpc.Status.NOT_FOUND):
        metrics.record("server", "a.B.c", status, 0.01, "client_stream")
    found = samples(prometheus_text(metrics))
    labels = {"grpc_service": "a.B", "grpc_method": "c", "grpc_type": "client_stream"}
    assert found[sample("grpc_server_handled_total", **labels, grpc_code="OK")] == 2
    assert (
        found[sample("grpc_server_handled_total", **labels, grpc_code="NOT_FOUND")] == 1
    )
    assert metrics.snapshot()["server"]["a.B.c"]["kind"] == "client_stream"


def test_prometheus_text_and_the_http_endpoint() -> None:
    metrics = MetricsRegistry()
    with server_thread(Calculator(), interceptors=[metrics.interceptor]) as s:
        assert s.server is not None
        metrics.watch_server(s.server)
        with CalculatorSyncClient(s.endpoint) as calc:
            for n in range(3):
                calc.add(a=n, b=n)
            with pytest.raises(uvrpc.RemoteError):
                calc.divide(a=1, b=0)
        url, stop = serve_metrics(metrics)
        try:
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+/metrics", url)
            with urllib.request.urlopen(url, timeout=5) as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/plain")
                text = response.read().decode()
        finally:
            stop()
    found = samples(text)
    add = {"side": "server", "route": ADD}
    divide = {"side": "server", "route": DIVIDE}
    assert found[sample("uvrpc_calls_total", **add)] == 3
    assert found[sample("uvrpc_calls_total", **divide)] == 1
    assert found[sample("uvrpc_errors_total", **divide, status="UNKNOWN")] == 1
    assert not [
        key
        for key in found
        if key[0] == "uvrpc_errors_total" and (("route", ADD) in key[1])
    ]
    duration = "uvrpc_call_duration_seconds"
    assert found[sample(f"{duration}_bucket", **add, le="+Inf")] == 3
    assert found[sample(f"{duration}_count", **add)] == 3
    assert found[sample(f"{duration}_sum", **add)] > 0
    assert found[sample("uvrpc_server_received_total", server="")] == 4
    assert found[sample("uvrpc_server_replied_total", server="")] == 4
    # Its own registry: nothing of the process-wide default one.
    assert "python_gc" not in text and "process_" not in text
    assert prometheus_text(metrics).startswith("# HELP uvrpc_calls_total")


def test_the_endpoint_stops() -> None:
    url, stop = serve_metrics(MetricsRegistry())
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
    stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=5)


def test_merged_metrics_label_each_source() -> None:
    first, second = MetricsRegistry(), MetricsRegistry()
    first.record("server", ADD, uvrpc.Status.OK, 0.001)
    second.record("server", ADD, uvrpc.Status.OK, 0.001)
    second.record("server", DIVIDE, uvrpc.Status.NOT_FOUND, 0.001)
    url_a, stop_a = serve_metrics(first)
    url_b, stop_b = serve_metrics(second)
    closed_url, stop_closed = serve_metrics(MetricsRegistry())
    stop_closed()
    sources = {"0": url_a, "1": url_b, "2": closed_url, "3": ""}
    url, stop = serve_merged_metrics(lambda: sources, "worker")
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    finally:
        stop()
        stop_a()
        stop_b()
    found = samples(text)
    assert [found[sample("uvrpc_worker_up", worker=n)] for n in "0123"] == [1, 1, 0, 0]
    add = {"side": "server", "route": ADD}
    assert found[sample("uvrpc_calls_total", **add, worker="0")] == 1
    assert found[sample("uvrpc_calls_total", **add, worker="1")] == 1
    errors = sample(
        "uvrpc_errors_total",
        side="server",
        route=DIVIDE,
        status="NOT_FOUND",
        worker="1",
    )
    assert found[errors] == 1
    bucket = sample("uvrpc_call_duration_seconds_bucket", **add, le="+Inf", worker="0")
    assert found[bucket] == 1
    assert not [
        key
        for key in found
        if ("worker", "2") in key[1] and key[0] != "uvrpc_worker_up"
    ]
    assert text.count("# TYPE uvrpc_calls_total counter") == 1


def test_merged_metrics_read_their_sources_at_once() -> None:
    """Sources that hang are waited for together: read one after another, four
    hung workers held a scrape for four timeouts, past Prometheus's own."""
    hung = [socket.create_server(("127.0.0.1", 0)) for _ in range(4)]
    accepted: list[socket.socket] = []
    sources = {
        str(n): f"http://127.0.0.1:{sock.getsockname()[1]}/metrics"
        for n, sock in enumerate(hung)
    }
    url, stop = serve_merged_metrics(lambda: sources, "worker", timeout=60)
    text: list[str] = []

    def scrape_once() -> None:
        with urllib.request.urlopen(url, timeout=60) as response:
            text.append(response.read().decode())

    scraper = threading.Thread(target=scrape_once)
    scraper.start()
    try:
        # Each source is asked before any has answered: a connection to every
        # one of them is open at once, the first still waiting for its answer.
        for sock in hung:
            sock.settimeout(10)
            accepted.append(sock.accept()[0])
    finally:
        for sock in accepted + hung:
            sock.close()
        scraper.join(30)
        stop()
    assert not scraper.is_alive()
    found = samples(text[0])
    assert [found[sample("uvrpc_worker_up", worker=n)] for n in "0123"] == [0] * 4


@contextlib.contextmanager
def uvrpc_serve(tmp_path: Path, *args: str) -> Iterator[tuple[str, str]]:
    """``uvrpc serve`` of the example calculator with ``args``, from its own
    process; the endpoint and the metrics URL it prints. Killed by pid if still
    there at the end; its log goes to ``tmp_path / "serve.log"``."""
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvrpc", "serve", "calculator_server:Calculator"]
        + ["--bind", "tcp://127.0.0.1:*", *args],
        cwd=EXAMPLES / "calculator",
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert process.stdout is not None
        endpoint = process.stdout.readline().strip()
        url = process.stdout.readline().strip()
        assert endpoint.startswith("tcp://127.0.0.1:"), endpoint
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/metrics", url), url
        yield endpoint, url
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()
        log.close()


def scrape(url: str) -> dict[Sample, float]:
    """The samples ``url`` serves."""
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        return samples(response.read().decode())


def test_serve_exports_the_metrics_of_its_calls(tmp_path: Path) -> None:
    with uvrpc_serve(tmp_path, "--metrics", "127.0.0.1:0") as (endpoint, url):
        with CalculatorSyncClient(endpoint, timeout=10) as calc:
            for n in range(3):
                assert calc.add(a=n, b=1) == n + 1
            with pytest.raises(uvrpc.RemoteError):
                calc.divide(a=1, b=0)
        found = scrape(url)
    add = {"side": "server", "route": ADD}
    divide = {"side": "server", "route": DIVIDE}
    assert found[sample("uvrpc_calls_total", **add)] == 3
    assert found[sample("uvrpc_calls_total", **divide)] == 1
    assert found[sample("uvrpc_errors_total", **divide, status="UNKNOWN")] == 1
    duration = "uvrpc_call_duration_seconds"
    bounds = {
        dict(labels)["le"]
        for name, labels in found
        if name == f"{duration}_bucket" and ("route", ADD) in labels
    }
    assert bounds == {*(repr(b) for b in DEFAULT_BUCKETS), "+Inf"}
    assert found[sample(f"{duration}_bucket", **add, le="+Inf")] == 3
    assert found[sample(f"{duration}_count", **add)] == 3
    assert found[sample("uvrpc_server_received_total", server="")] == 4


def test_serve_with_workers_exports_every_workers_metrics(tmp_path: Path) -> None:
    workers = "--workers", "2"
    with uvrpc_serve(tmp_path, *workers, "--metrics", "127.0.0.1:0") as (
        endpoint,
        url,
    ):
        add = {"side": "server", "route": ADD}
        adds = 0
        deadline = time.monotonic() + 30
        with CalculatorSyncClient(endpoint, timeout=10) as calc:
            # Call until both workers have answered (the second may connect to
            # the broker after the first has taken calls).
            while True:
                for _ in range(4):
                    calc.add(a=adds, b=1)
                    adds += 1
                found = scrape(url)
                counts = [
                    found.get(sample("uvrpc_calls_total", **add, worker=n), 0)
                    for n in "01"
                ]
                if all(counts):
                    break
                assert time.monotonic() < deadline, (
                    f"one worker took every call: {counts}"
                )
            for _ in range(2):
                with pytest.raises(uvrpc.RemoteError):
                    calc.divide(a=1, b=0)
        found = scrape(url)
    assert found[sample("uvrpc_worker_up", worker="0")] == 1
    assert found[sample("uvrpc_worker_up", worker="1")] == 1
    calls = {n: found[sample("uvrpc_calls_total", **add, worker=n)] for n in "01"}
    assert sum(calls.values()) == adds and all(calls.values())
    duration = "uvrpc_call_duration_seconds"
    for n, count in calls.items():
        assert found[sample(f"{duration}_bucket", **add, le="+Inf", worker=n)] == count
        assert found[sample(f"{duration}_count", **add, worker=n)] == count
    divide = {"side": "server", "route": DIVIDE, "status": "UNKNOWN"}
    errors = [
        found.get(sample("uvrpc_errors_total", **divide, worker=n), 0) for n in "01"
    ]
    assert sum(errors) == 2


@pytest.mark.parametrize(
    "value", ["nonsense", "127.0.0.1", ":9100", "127.0.0.1:http", "127.0.0.1:70000"]
)
def test_serve_refuses_a_bad_metrics_address(value: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "uvrpc", "serve", "calculator_server:Calculator"]
        + ["--metrics", value],
        cwd=EXAMPLES / "calculator",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "uvrpc serve: error: argument --metrics: expected HOST:PORT, such as "
        f"127.0.0.1:9100 (port 0: a free one), got {value!r}"
    )
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_reports_a_metrics_port_in_use(workers: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "uvrpc", "serve", "calculator_server:Calculator"]
            + ["--bind", "tcp://127.0.0.1:*", "--workers", workers]
            + ["--metrics", f"127.0.0.1:{port}"],
            cwd=EXAMPLES / "calculator",
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr == (
        f"uvrpc: error: [Errno 98] cannot serve metrics on 127.0.0.1:{port}: "
        "Address already in use\n"
    )
    # Refused before it served, printing nothing: with --workers too, no endpoint
    # a script would take for a server starting.
    assert result.stdout == ""
