"""The OpenTelemetry interceptor: spans of real calls over sockets, their parents
across processes' worth of hops (a handler's own calls, a broker), their
attributes and statuses; exported to the SDK's in-memory exporter."""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, ParamSpec

import pytest
from calculator import CalculatorClient, CalculatorSyncClient
from calculator_server import Calculator
from feed import FeedClient, Tick
from feed_server import Feed
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode

import uvrpc
from uvrpc.broker import Broker
from uvrpc.ops.otel import OpenTelemetryInterceptor, endpoint_attributes

P = ParamSpec("P")


def in_loop(test: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Run an async test in a loop of its own, for a minute at most."""

    @functools.wraps(test)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(asyncio.wait_for(test(*args, **kwargs), 60))

    return run


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.shutdown()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    # A provider of the test's own: the global one can be set once a process.
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


def by_kind(spans: tuple[ReadableSpan, ...], kind: SpanKind) -> list[ReadableSpan]:
    return [span for span in spans if span.kind is kind]


def ids(span: ReadableSpan) -> tuple[int, int]:
    """A span's trace id and span id."""
    context = span.get_span_context()
    assert context is not None
    return context.trace_id, context.span_id


def parent_of(span: ReadableSpan) -> tuple[int, int]:
    assert span.parent is not None, f"{span.name} has no parent"
    return span.parent.trace_id, span.parent.span_id


class Seen:
    """What a handler saw of the trace: its current span and the baggage."""

    def __init__(self) -> None:
        self.span_ids: list[int] = []
        self.tenants: list[object] = []

    def record(self) -> None:
        self.span_ids.append(trace.get_current_span().get_span_context().span_id)
        self.tenants.append(baggage.get_baggage("tenant"))


class TracedCalculator(Calculator):
    """``add`` asks a feed server to ``ping`` (through an instrumented client);
    ``call_count`` is NOT_FOUND."""

    def __init__(self, seen: Seen, feed: FeedClient | None = None) -> None:
        super().__init__()
        self.seen = seen
        self.feed = feed

    async def add(self, *, a: int, b: int) -> int:
        self.seen.record()
        if self.feed is not None:
            await self.feed.ping(n=a)
        return a + b

    async def call_count(self) -> int:
        raise uvrpc.NotFound("no counter here")


@in_loop
async def test_a_unary_call_makes_a_client_span_and_its_server_child(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    seen = Seen()
    server_tracing = OpenTelemetryInterceptor(tracer_provider=provider)
    async with uvrpc.Server(
        TracedCalculator(seen), interceptors=[server_tracing]
    ) as server:
        endpoint = server.bind("tcp://127.0.0.1:*")
        tracing = OpenTelemetryInterceptor(tracer_provider=provider, endpoint=endpoint)
        token = otel_context.attach(baggage.set_baggage("tenant", "acme"))
        try:
            async with CalculatorClient(
                endpoint, timeout=10, interceptors=[tracing]
            ) as calc:
                assert await calc.add(a=40, b=2) == 42
        finally:
            otel_context.detach(token)

    spans = exporter.get_finished_spans()
    assert len(spans) == 2
    (client,), (served,) = (
        by_kind(spans, SpanKind.CLIENT),
        by_kind(spans, SpanKind.SERVER),
    )
    assert client.name == served.name == "calculator.Calculator/add"
    assert ids(served)[0] == ids(client)[0]  # one trace
    assert parent_of(served) == ids(client)
    assert client.parent is None
    host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
    assert dict(client.attributes or {}) == {
        "rpc.system": "uvrpc",
        "rpc.service": "calculator.Calculator",
        "rpc.method": "add",
        "server.address": host,
        "server.port": int(port),
        "network.transport": "tcp",
        "rpc.uvrpc.status_code": 0,
    }
    assert dict(served.attributes or {}) == {
        "rpc.system": "uvrpc",
        "rpc.service": "calculator.Calculator",
        "rpc.method": "add",
        "rpc.uvrpc.status_code": 0,
    }
    assert client.status.status_code is served.status.status_code is StatusCode.UNSET
    # The handler ran with the server span current, and the client's baggage.
    assert seen.span_ids == [ids(served)[1]]
    assert seen.tenants == ["acme"]


@in_loop
async def test_a_failing_call_marks_both_spans_with_its_status(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = OpenTelemetryInterceptor(tracer_provider=provider)
    async with uvrpc.Server(TracedCalculator(Seen()), interceptors=[tracing]) as server:
        endpoint = server.bind("tcp://127.0.0.1:*")
        async with CalculatorClient(endpoint, timeout=10, interceptors=[tracing]) as c:
            with pytest.raises(uvrpc.RemoteError, match="ZeroDivisionError"):
                await c.divide(a=1, b=0)
            failed = exporter.get_finished_spans()
            exporter.clear()
            with pytest.raises(uvrpc.NotFound):
                await c.call_count()
            not_found = exporter.get_finished_spans()

    (client,), (served,) = (
        by_kind(failed, SpanKind.CLIENT),
        by_kind(failed, SpanKind.SERVER),
    )
    assert parent_of(served) == ids(client)
    for span in (client, served):
        assert span.attributes is not None
        assert span.attributes["rpc.uvrpc.status_code"] == 2  # UNKNOWN
        assert span.attributes["error.type"] == "UNKNOWN"
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description is not None
        assert "ZeroDivisionError" in span.status.description
        assert [event.name for event in span.events] == ["exception"]
    # NOT_FOUND fails the call, so the client's span; but the server answered
    # as it should: its span is no error (the conventions for gRPC).
    (client,), (served,) = (
        by_kind(not_found, SpanKind.CLIENT),
        by_kind(not_found, SpanKind.SERVER),
    )
    assert client.attributes is not None and served.attributes is not None
    assert client.attributes["rpc.uvrpc.status_code"] == 5
    assert served.attributes["rpc.uvrpc.status_code"] == 5
    assert client.status.status_code is StatusCode.ERROR
    assert client.attributes["error.type"] == "NOT_FOUND"
    assert served.status.status_code is StatusCode.UNSET
    assert "error.type" not in served.attributes


@in_loop
async def test_calls_a_handler_makes_nest_under_its_server_span(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = OpenTelemetryInterceptor(tracer_provider=provider)
    seen = Seen()
    async with uvrpc.Server(Feed(), interceptors=[tracing]) as feed_server:
        feed_endpoint = feed_server.bind("tcp://127.0.0.1:*")
        async with FeedClient(
            feed_endpoint, timeout=10, interceptors=[tracing]
        ) as feed:
            async with uvrpc.Server(
                TracedCalculator(seen, feed), interceptors=[tracing]
            ) as server:
                endpoint = server.bind("tcp://127.0.0.1:*")
                async with CalculatorClient(
                    endpoint, timeout=10, interceptors=[tracing]
                ) as calc:
                    assert await calc.add(a=1, b=2) == 3

    spans = {(span.kind, span.name): span for span in exporter.get_finished_spans()}
    assert len(spans) == 4
    add_client = spans[SpanKind.CLIENT, "calculator.Calculator/add"]
    add_server = spans[SpanKind.SERVER, "calculator.Calculator/add"]
    ping_client = spans[SpanKind.CLIENT, "feed.Feed/ping"]
    ping_server = spans[SpanKind.SERVER, "feed.Feed/ping"]
    assert parent_of(add_server) == ids(add_client)
    assert parent_of(ping_client) == ids(add_server)
    assert parent_of(ping_server) == ids(ping_client)
    assert len({ids(span)[0] for span in spans.values()}) == 1


async def ticks(count: int) -> AsyncIterator[Tick]:
    for seq in range(count):
        yield Tick(seq=seq, data=b"x")


@in_loop
async def test_a_stream_call_is_one_span_a_side(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = OpenTelemetryInterceptor(tracer_provider=provider)
    async with uvrpc.Server(Feed(), interceptors=[tracing]) as server:
        endpoint = server.bind("tcp://127.0.0.1:*")
        async with FeedClient(endpoint, timeout=10, interceptors=[tracing]) as feed:
            assert [t.seq async for t in feed.ticks(count=5)] == [0, 1, 2, 3, 4]
            total = await feed.upload(ticks=ticks(4))
            assert total.count == 4
            assert [t.seq async for t in feed.echo(ticks=ticks(3))] == [0, 1, 2]

    spans = exporter.get_finished_spans()
    names = sorted((span.name, span.kind.name) for span in spans)
    assert names == [
        ("feed.Feed/echo", "CLIENT"),
        ("feed.Feed/echo", "SERVER"),
        ("feed.Feed/ticks", "CLIENT"),
        ("feed.Feed/ticks", "SERVER"),
        ("feed.Feed/upload", "CLIENT"),
        ("feed.Feed/upload", "SERVER"),
    ]
    for name in ("feed.Feed/ticks", "feed.Feed/upload", "feed.Feed/echo"):
        client, served = sorted(
            (span for span in spans if span.name == name), key=lambda s: s.kind.name
        )
        assert parent_of(served) == ids(client)
        assert client.attributes is not None and served.attributes is not None
        assert client.attributes["rpc.uvrpc.status_code"] == 0
        # One span covers the whole stream: the server's lies within the client's.
        assert client.start_time is not None and client.end_time is not None
        assert served.start_time is not None and served.end_time is not None
        assert client.start_time <= served.start_time
        assert served.end_time <= client.end_time


def test_a_blocking_client_makes_the_parent_span(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    from conftest import server_thread

    tracing = OpenTelemetryInterceptor(tracer_provider=provider)
    with server_thread(TracedCalculator(Seen()), interceptors=[tracing]) as running:
        with CalculatorSyncClient(
            running.endpoint, timeout=10, interceptors=[tracing]
        ) as calc:
            tracer = provider.get_tracer("test")
            with tracer.start_as_current_span("outer") as outer:
                assert calc.add(a=2, b=3) == 5
    spans = exporter.get_finished_spans()
    (client,), (served,) = (
        by_kind(spans, SpanKind.CLIENT),
        by_kind(spans, SpanKind.SERVER),
    )
    assert parent_of(client) == (
        outer.get_span_context().trace_id,
        outer.get_span_context().span_id,
    )
    assert parent_of(served) == ids(client)


@in_loop
async def test_the_trace_context_survives_a_broker(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = OpenTelemetryInterceptor(tracer_provider=provider)
    seen = Seen()
    with Broker(["tcp://127.0.0.1:*"], ["tcp://127.0.0.1:*"]) as broker:
        async with uvrpc.Server(
            TracedCalculator(seen), interceptors=[tracing]
        ) as server:
            server.connect(broker.backends[0])
            deadline = asyncio.get_running_loop().time() + 20
            while broker.servers < 1:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.01)
            token = otel_context.attach(baggage.set_baggage("tenant", "via-broker"))
            try:
                async with CalculatorClient(
                    broker.frontends[0], timeout=10, interceptors=[tracing]
                ) as calc:
                    assert await calc.add(a=1, b=1) == 2
            finally:
                otel_context.detach(token)
    spans = exporter.get_finished_spans()
    (client,), (served,) = (
        by_kind(spans, SpanKind.CLIENT),
        by_kind(spans, SpanKind.SERVER),
    )
    assert parent_of(served) == ids(client)
    assert seen.tenants == ["via-broker"]
    assert seen.span_ids == [ids(served)[1]]


def test_endpoint_attributes() -> None:
    assert endpoint_attributes("tcp://10.1.2.80:5555") == {
        "server.address": "10.1.2.80",
        "server.port": 5555,
        "network.transport": "tcp",
    }
    assert endpoint_attributes("tcp://[::1]:7")["server.address"] == "::1"
    assert endpoint_attributes("ipc:///tmp/calc.sock") == {
        "server.address": "/tmp/calc.sock",
        "network.transport": "unix",
    }
    assert endpoint_attributes("inproc://calc")["server.address"] == "calc"
    for bad in ("localhost:5555", "tcp://host", "udp://host:1"):
        with pytest.raises(ValueError, match="endpoint"):
            OpenTelemetryInterceptor(endpoint=bad)


def test_without_opentelemetry_the_import_error_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "import uvrpc, uvrpc.server, uvrpc.client\n"
        "try:\n"
        "    import uvrpc.ops.otel\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'uvrpc[otel]'" in done.stdout
