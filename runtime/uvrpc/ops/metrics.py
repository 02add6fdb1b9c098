"""Metrics of calls: counts, errors by status and latency histograms, per method.

A :class:`MetricsRegistry` holds the numbers; a :class:`MetricsInterceptor`
records each call into one, on a server, an asyncio channel or a blocking channel
(it has the three interceptor methods). Read them in-process with
:meth:`MetricsRegistry.snapshot` (plain dicts), or in Prometheus' text format with
:func:`prometheus_text` and over HTTP with :func:`serve_metrics`; those two need
the ``prometheus_client`` package (``pip install 'uvrpc[metrics]'``)::

    metrics = uvrpc.metrics.MetricsRegistry()
    async with uvrpc.Server(Calculator(), interceptors=[metrics.interceptor]) as s:
        metrics.watch_server(s)
        url, stop = uvrpc.metrics.serve_metrics(metrics)  # http://127.0.0.1:PORT/metrics

Each registry exports through a ``prometheus_client`` registry of its own, never
the process-wide default one. :func:`serve_merged_metrics` serves the metrics of
several processes (the workers of ``uvrpc serve --workers N --metrics``) on one
endpoint, each process's samples labelled with its name.

Exported series (``side`` is ``server`` or ``client``):

- ``uvrpc_calls_total{side, route}``: calls ended, whatever their status;
- ``uvrpc_errors_total{side, route, status}``: calls that ended with an error,
  by status name (``NOT_FOUND``, ...);
- ``uvrpc_call_duration_seconds{side, route}``: a histogram of the calls'
  durations (``_bucket{le}``, ``_sum``, ``_count``);
- ``uvrpc_server_<counter>_total{server}``: the :class:`~uvrpc.ServerStats` of
  each watched server (``received``, ``replied``, ``rejected``, ...), read when
  scraped.

``MetricsRegistry(grpc_names=True)`` also exports the calls under the names and
labels of go-grpc-prometheus (``grpc_server_handled_total{grpc_type,
grpc_service, grpc_method, grpc_code}``, ``grpc_server_handling_seconds``, and
the client's), so that dashboards made for gRPC servers read them.
"""

from __future__ import annotations

import bisect
import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..interceptors.base import (
    ClientCallInfo,
    Proceed,
    ServerCallInfo,
    SyncProceed,
    status_of,
)
from ..wire.status import Status

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import CollectorRegistry

    from ..server.server import Server, ServerStats

__all__ = [
    "DEFAULT_BUCKETS",
    "MetricsInterceptor",
    "MetricsRegistry",
    "prometheus_text",
    "serve_merged_metrics",
    "serve_metrics",
]

DEFAULT_BUCKETS: tuple[float, ...] = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""Upper bounds of the latency buckets, in seconds: a 1-2.5-5 series from 5 ms
to 10 s, as Prometheus' defaults span (less their 75 ms, 0.75 s and 7.5 s), with
five finer ones below, where local calls land."""

SIDES = ("server", "client")


class _Method:
    """What one side recorded of one route."""

    __slots__ = ("buckets", "calls", "errors", "kind", "seconds")

    def __init__(self, buckets: int, kind: str) -> None:
        self.kind = kind
        self.calls = 0
        self.errors: dict[str, int] = {}
        self.buckets = [0] * (buckets + 1)  # the last one is +Inf
        self.seconds = 0.0


class MetricsRegistry:
    """Counts, errors and latency histograms of calls, per side and route.

    Thread-safe: blocking channels on other threads may record into the registry
    a server records into.

    Args:
        buckets: the upper bounds of the latency histogram's buckets, in seconds,
            increasing (``+Inf`` is added).
        grpc_names: export the calls under go-grpc-prometheus' names and labels
            too (``grpc_server_handled_total`` and the others, see
            ``docs/interceptors.md``), besides uvrpc's own.
    """

    def __init__(
        self, buckets: Sequence[float] = DEFAULT_BUCKETS, *, grpc_names: bool = False
    ) -> None:
        bounds = tuple(float(b) for b in buckets)
        if list(bounds) != sorted(set(bounds)) or not bounds:
            raise ValueError("buckets must be distinct and increasing")
        self.buckets = bounds
        """The upper bounds of the latency buckets, in seconds."""
        self.grpc_names = grpc_names
        """Whether the gRPC-named series are exported too."""
        self._lock = threading.Lock()
        self._methods: dict[tuple[str, str], _Method] = {}
        self._servers: dict[str, Server] = {}
        self._prometheus: CollectorRegistry | None = None
        self.interceptor = MetricsInterceptor(self)
        """An interceptor recording into this registry, for every side."""

    def record(
        self,
        side: str,
        route: str,
        status: Status,
        seconds: float,
        kind: str = "unary",
    ) -> None:
        """Count one call of ``route`` that ended with ``status`` after
        ``seconds`` (the interceptor calls this). ``kind`` is the method's
        (:attr:`~uvrpc.ServerCallInfo.kind`), the same for every call of a
        route."""
        index = bisect.bisect_left(self.buckets, seconds)
        with self._lock:
            method = self._methods.get((side, route))
            if method is None:
                method = _Method(len(self.buckets), kind)
                self._methods[side, route] = method
            method.calls += 1
            method.buckets[index] += 1
            method.seconds += seconds
            if status is not Status.OK:
                name = status.name
                method.errors[name] = method.errors.get(name, 0) + 1

    def watch_server(self, server: Server, name: str = "") -> None:
        """Export ``server``'s :class:`~uvrpc.ServerStats` too, labelled ``name``
        (read when scraped or snapshot: nothing is added per call)."""
        with self._lock:
            self._servers[name] = server

    def snapshot(self) -> dict[str, Any]:
        """Everything recorded so far, as plain dicts::

            {"server": {route: {"kind": "unary", "calls": 3, "errors": {"UNKNOWN": 1},
                                "latency": {"count": 3, "sum": 0.0021,
                                            "buckets": {0.0001: 0, ..., inf: 3}}}},
             "client": {...},
             "servers": {name: {"received": 3, "replied": 3, ...}}}

        Bucket counts are cumulative (a call is in every bucket whose bound it
        does not exceed), as Prometheus counts them.
        """
        bounds = (*self.buckets, float("inf"))
        result: dict[str, Any] = {side: {} for side in SIDES}
        with self._lock:
            for (side, route), method in sorted(self._methods.items()):
                cumulative: dict[float, int] = {}
                total = 0
                for bound, count in zip(bounds, method.buckets, strict=True):
                    total += count
                    cumulative[bound] = total
                result.setdefault(side, {})[route] = {
                    "kind": method.kind,
                    "calls": method.calls,
                    "errors": dict(method.errors),
                    "latency": {
                        "count": method.calls,
                        "sum": method.seconds,
                        "buckets": cumulative,
                    },
                }
            servers = dict(self._servers)
        result["servers"] = {
            name: _stats(server.stats) for name, server in sorted(servers.items())
        }
        return result

    @property
    def prometheus(self) -> CollectorRegistry:
        """This registry's own ``prometheus_client`` registry, made on first use.

        Raises:
            ImportError: ``prometheus_client`` is not installed.
        """
        if self._prometheus is None:
            from prometheus_client.registry import CollectorRegistry

            registry = CollectorRegistry(auto_describe=False)
            registry.register(_Collector(self))
            self._prometheus = registry
        return self._prometheus


def _stats(stats: ServerStats) -> dict[str, int]:
    return {f.name: getattr(stats, f.name) for f in dataclasses.fields(stats)}


class MetricsInterceptor:
    """Records every call into a :class:`MetricsRegistry`: on a server, an
    asyncio channel or a blocking channel (stream and started calls included,
    timed whole: until their last reply).

    A registry has one already, its :attr:`~MetricsRegistry.interceptor`.
    """

    def __init__(self, registry: MetricsRegistry) -> None:
        self.registry = registry

    async def intercept_server(self, call: ServerCallInfo, proceed: Proceed) -> Any:
        """Time the call the server served; record its status."""
        started = time.perf_counter()
        try:
            result = await proceed()
        except BaseException as exc:
            status = status_of(exc, call.call)
            seconds = time.perf_counter() - started
            self.registry.record("server", call.route, status, seconds, call.kind)
            raise
        seconds = time.perf_counter() - started
        self.registry.record("server", call.route, Status.OK, seconds, call.kind)
        return result

    async def intercept_client(self, call: ClientCallInfo, proceed: Proceed) -> Any:
        """Time the call the channel made; record its status."""
        started = time.perf_counter()
        try:
            result = await proceed()
        except BaseException as exc:
            seconds = time.perf_counter() - started
            self.registry.record(
                "client", call.route, status_of(exc), seconds, call.kind
            )
            raise
        seconds = time.perf_counter() - started
        self.registry.record("client", call.route, Status.OK, seconds, call.kind)
        return result

    def intercept_sync(self, call: ClientCallInfo, proceed: SyncProceed) -> Any:
        """Time the call the blocking channel made; record its status."""
        started = time.perf_counter()
        try:
            result = proceed()
        except BaseException as exc:
            seconds = time.perf_counter() - started
            self.registry.record(
                "client", call.route, status_of(exc), seconds, call.kind
            )
            raise
        seconds = time.perf_counter() - started
        self.registry.record("client", call.route, Status.OK, seconds, call.kind)
        return result


class _Collector:
    """Turns a :class:`MetricsRegistry`'s snapshot into Prometheus metrics."""

    def __init__(self, registry: MetricsRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        from prometheus_client.metrics_core import (
            CounterMetricFamily,
            HistogramMetricFamily,
        )

        snapshot = self._registry.snapshot()
        calls = CounterMetricFamily(
            "uvrpc_calls", "Calls ended, by side and route.", labels=["side", "route"]
        )
        errors = CounterMetricFamily(
            "uvrpc_errors",
            "Calls that ended with an error, by side, route and status.",
            labels=["side", "route", "status"],
        )
        durations = HistogramMetricFamily(
            "uvrpc_call_duration_seconds",
            "How long calls took, by side and route.",
            labels=["side", "route"],
        )
        for side in SIDES:
            for route, method in snapshot[side].items():
                calls.add_metric([side, route], method["calls"])
                for status, count in sorted(method["errors"].items()):
                    errors.add_metric([side, route, status], count)
                latency = method["latency"]
                durations.add_metric(
                    [side, route],
                    buckets=[
                        (_bound(bound), count)
                        for bound, count in latency["buckets"].items()
                    ],
                    sum_value=latency["sum"],
                )
        yield calls
        yield errors
        yield durations
        if self._registry.grpc_names:
            yield from _grpc_families(snapshot)
        servers: dict[str, dict[str, int]] = snapshot["servers"]
        if servers:
            for field in dataclasses.fields(_server_stats_type()):
                counter = CounterMetricFamily(
                    f"uvrpc_server_{field.name}",
                    f"The server's ServerStats.{field.name}.",
                    labels=["server"],
                )
                for name, stats in servers.items():
                    counter.add_metric([name], stats[field.name])
                yield counter


_GRPC_TYPES = {"oneway": "unary"}
"""go-grpc-prometheus' ``grpc_type`` of each uvrpc kind that has another name
(gRPC has no oneway calls: they count as unary ones, as their spans do)."""


def _grpc_families(snapshot: dict[str, Any]) -> Iterable[Metric]:
    """The calls of ``snapshot`` under go-grpc-prometheus' names and labels."""
    from prometheus_client.metrics_core import (
        CounterMetricFamily,
        HistogramMetricFamily,
    )

    labels = ["grpc_type", "grpc_service", "grpc_method"]
    for side in SIDES:
        handled = CounterMetricFamily(
            f"grpc_{side}_handled",
            f"Calls ended on the {side}, by status (grpc_code).",
            labels=[*labels, "grpc_code"],
        )
        handling = HistogramMetricFamily(
            f"grpc_{side}_handling_seconds",
            f"How long calls took on the {side}.",
            labels=labels,
        )
        for route, method in snapshot[side].items():
            service, _, name = route.rpartition(".")
            names = [_GRPC_TYPES.get(method["kind"], method["kind"]), service, name]
            errors: dict[str, int] = method["errors"]
            handled.add_metric([*names, "OK"], method["calls"] - sum(errors.values()))
            for status, count in sorted(errors.items()):
                handled.add_metric([*names, status], count)
            latency = method["latency"]
            handling.add_metric(
                names,
                buckets=[
                    (_bound(bound), count)
                    for bound, count in latency["buckets"].items()
                ],
                sum_value=latency["sum"],
            )
        yield handled
        yield handling


def _server_stats_type() -> type[ServerStats]:
    from ..server.server import ServerStats

    return ServerStats


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def prometheus_text(registry: MetricsRegistry) -> str:
    """``registry``'s metrics in Prometheus' text exposition format.

    Raises:
        ImportError: ``prometheus_client`` is not installed.
    """
    from prometheus_client.exposition import generate_latest

    return generate_latest(registry.prometheus).decode()


def serve_metrics(
    registry: MetricsRegistry, host: str = "127.0.0.1", port: int = 0
) -> tuple[str, Callable[[], None]]:
    """Serve ``registry``'s metrics over HTTP, on a thread, for Prometheus to
    scrape.

    Listens on ``host`` (loopback by default) and ``port`` (0: a free one).
    Returns the URL to scrape (``http://127.0.0.1:PORT/metrics``) and a function
    that stops the server and closes its socket.

    Raises:
        ImportError: ``prometheus_client`` is not installed.
        OSError: the address cannot be bound.
    """
    return _serve(registry.prometheus, host, port)


def _serve(
    registry: CollectorRegistry, host: str, port: int
) -> tuple[str, Callable[[], None]]:
    from prometheus_client.exposition import start_http_server

    try:
        server, thread = start_http_server(port, host, registry)
    except OSError as exc:
        raise OSError(
            exc.errno, f"cannot serve metrics on {host}:{port}: {exc.strerror}"
        ) from None
    url = f"http://{host}:{server.server_port}/metrics"

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return url, stop


def serve_merged_metrics(
    sources: Callable[[], Mapping[str, str]],
    label: str,
    host: str = "127.0.0.1",
    port: int = 0,
    timeout: float = 2.0,
) -> tuple[str, Callable[[], None]]:
    """Serve, on one endpoint, the metrics other processes serve on theirs.

    ``sources()`` is called at each scrape and maps each source's name to the
    URL of its metrics (such as :func:`serve_metrics` returns); every sample read
    from a source gets the label ``label="<name>"``. ``uvrpc_<label>_up{label}``
    says whether each source answered within ``timeout`` seconds (1) or not (0);
    one that did not adds no other sample to that scrape. Listens on ``host`` and
    ``port`` as :func:`serve_metrics` does and returns the same.

    Raises:
        ImportError: ``prometheus_client`` is not installed.
        OSError: the address cannot be bound.
    """
    from prometheus_client.registry import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_MergedCollector(sources, label, timeout))
    return _serve(registry, host, port)


class _MergedCollector:
    """Reads other processes' metrics at each scrape and labels their samples."""

    def __init__(
        self, sources: Callable[[], Mapping[str, str]], label: str, timeout: float
    ) -> None:
        self._sources = sources
        self._label = label
        self._timeout = timeout

    def collect(self) -> Iterable[Metric]:
        from concurrent.futures import ThreadPoolExecutor

        from prometheus_client.metrics_core import GaugeMetricFamily, Metric

        up = GaugeMetricFamily(
            f"uvrpc_{self._label}_up",
            f"1 if the {self._label}'s metrics were read for this scrape, else 0.",
            labels=[self._label],
        )
        sources = sorted(self._sources().items())
        # All at once, a thread each: one after another, N sources that hang
        # would hold a scrape for N timeouts, past Prometheus's own (10 s).
        urls = [url for _, url in sources]
        with ThreadPoolExecutor(max_workers=max(1, len(urls))) as pool:
            read = list(pool.map(_read_metrics, urls, [self._timeout] * len(urls)))
        merged: dict[str, Metric] = {}
        for (name, _), families in zip(sources, read, strict=True):
            if families is None:
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            for family in families:
                into = merged.get(family.name)
                if into is None:
                    into = Metric(family.name, family.documentation, family.type)
                    merged[family.name] = into
                for s in family.samples:
                    labels = {**s.labels, self._label: name}
                    into.add_sample(s.name, labels, s.value, s.timestamp)
        yield up
        yield from merged.values()


def _read_metrics(url: str, timeout: float) -> list[Metric] | None:
    """The metric families ``url`` serves, or ``None`` if it did not answer within
    ``timeout`` seconds or answered with something else than the text format."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            text = response.read().decode()
        return list(text_string_to_metric_families(text))
    except (OSError, ValueError):
        return None
