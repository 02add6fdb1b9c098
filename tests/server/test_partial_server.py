"""A server implementing only some methods of its service.

The generated ``Unimplemented<Service>Server`` answers every method it does not
override with UNIMPLEMENTED naming the route, whatever the method's kind, and the
server goes on serving; reflection still describes every method and health is
unaffected. The abstract ``<Service>Server`` stays the default.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest
from conftest import RunningServer, server_thread
from golden import conformance

import uvrpc
from uvrpc.health import HealthStatus, HealthSyncClient
from uvrpc.reflection import ReflectionSyncClient


class Partial(conformance.UnimplementedConformanceServer):
    """Serves two methods of the conformance service, one unary, one a stream."""

    async def echo_string(self, *, text: str) -> str:
        return text

    async def count(self, *, start: int, n: int) -> AsyncIterator[int]:
        for number in range(start, start + n):
            yield number


@contextlib.contextmanager
def refused(route: str) -> Iterator[None]:
    """The block raises UNIMPLEMENTED naming ``route``."""
    with pytest.raises(uvrpc.Unimplemented) as error:
        yield
    assert error.value.status is uvrpc.Status.UNIMPLEMENTED
    assert error.value.message == (
        f"method {route!r} is not implemented by this server"
    )


@pytest.fixture
def partial() -> Iterator[tuple[RunningServer, conformance.ConformanceSyncClient]]:
    with (
        server_thread(Partial()) as running,
        conformance.ConformanceSyncClient(running.endpoint, timeout=10) as client,
    ):
        yield running, client


def test_each_kind_of_method_left_out_answers_unimplemented(
    partial: tuple[RunningServer, conformance.ConformanceSyncClient],
) -> None:
    running, client = partial
    with refused("conformance.Conformance.ping"):
        client.ping()
    with refused("conformance.Conformance.echoDouble"):
        client.echo_double(value=1.5)
    with refused("conformance.Conformance.sum"):
        client.sum(values=[1, 2, 3])
    with refused("conformance.Conformance.transform"):
        list(client.transform(values=[], add=1))


def test_a_server_stream_left_out_answers_unimplemented() -> None:
    async def count(endpoint: str) -> None:
        async with conformance.ConformanceClient(endpoint, timeout=10) as client:
            async for _ in client.count(start=0, n=1):
                pass

    with server_thread(conformance.UnimplementedConformanceServer()) as running:
        with refused("conformance.Conformance.count"):
            asyncio.run(count(running.endpoint))
        with refused("conformance.Conformance.echoString"):
            asyncio.run(echo(running.endpoint))


async def echo(endpoint: str) -> str:
    async with conformance.ConformanceClient(endpoint, timeout=10) as client:
        return await client.echo_string(text="x")


def test_the_methods_it_implements_are_served_and_it_keeps_serving(
    partial: tuple[RunningServer, conformance.ConformanceSyncClient],
) -> None:
    running, client = partial
    with refused("conformance.Conformance.visits"):
        client.visits()
    assert client.echo_string(text="still here") == "still here"
    assert list(client.count(start=3, n=3)) == [3, 4, 5]
    # A oneway method left out fails on the server alone, where it is counted.
    client.record(event="lost")
    assert client.echo_string(text="after") == "after"
    assert running.stats.oneway_failed == 1


def test_reflection_lists_every_method_and_health_is_unaffected(
    partial: tuple[RunningServer, conformance.ConformanceSyncClient],
) -> None:
    running, _ = partial
    with ReflectionSyncClient(running.endpoint, timeout=10) as reflection:
        [service] = reflection.describe(name="conformance.Conformance")["services"]
    served = [method["name"] for method in service["methods"]]
    assert served == [
        m.route.rpartition(".")[2]
        for m in conformance.ConformanceServer.uvrpc_service.methods
    ]
    assert {"echoString", "count", "sum", "transform", "record"} <= set(served)
    with HealthSyncClient(running.endpoint, timeout=10) as health:
        assert health.check() is HealthStatus.SERVING
        assert health.check(service="conformance.Conformance") is HealthStatus.SERVING


def test_the_default_base_stays_abstract() -> None:
    assert "echo_string" in conformance.ConformanceServer.__abstractmethods__
    assert not conformance.UnimplementedConformanceServer.__abstractmethods__
    with pytest.raises(TypeError, match="abstract"):
        conformance.ConformanceServer()  # type: ignore[abstract]
