"""``uvrpc.Health.watch``: the current answer at once, then each change, until the
caller cancels or the server closes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import pytest
from conformance_server import Conformance
from conftest import server_thread

import uvrpc
import uvrpc.testing
from uvrpc.health import (
    Health,
    HealthClient,
    HealthState,
    HealthStatus,
    HealthSyncClient,
)

SERVICE = "conformance.Conformance"


async def until(predicate: Callable[[], bool]) -> None:
    """Let the loop run until ``predicate()`` holds (the test's timeout bounds it)."""
    while not predicate():
        await asyncio.sleep(0)


def test_watch_sends_the_answer_then_each_change(tmp_path: Path) -> None:
    async def body() -> None:
        async with uvrpc.Server(Conformance()) as server:
            endpoint = server.bind(f"ipc://{tmp_path / 'health.sock'}")
            async with (
                HealthClient(endpoint) as client,
                client.watch(service=SERVICE) as stream,
            ):
                assert await anext(stream) is HealthStatus.SERVING
                server.set_serving(SERVICE, False)
                assert await anext(stream) is HealthStatus.NOT_SERVING
                server.set_serving(SERVICE, True)
                assert await anext(stream) is HealthStatus.SERVING
                # The whole server going NOT_SERVING changes every service's answer.
                server.set_serving("", False)
                assert await anext(stream) is HealthStatus.NOT_SERVING
                # A change that leaves the answer as it was sends nothing: the
                # next item is the next real change.
                server.set_serving(SERVICE, False)
                server.set_serving("", True)
                server.set_serving(SERVICE, True)
                assert await anext(stream) is HealthStatus.SERVING

    asyncio.run(body())


def test_a_watch_of_an_unknown_service_stays_open() -> None:
    async def body() -> None:
        state = HealthState([SERVICE])
        async with (
            uvrpc.testing.memory_channel(Health(state)) as channel,
            HealthClient(channel).watch(service="nope") as stream,
        ):
            assert await anext(stream) is HealthStatus.SERVICE_UNKNOWN
            # Still open: the watch listens, and the server's closing ends it.
            assert state.watchers == 1
            state.closing()
            with pytest.raises(StopAsyncIteration):
                await anext(stream)

    asyncio.run(body())


def test_closing_sends_not_serving_and_ends_the_stream() -> None:
    async def body() -> None:
        state = HealthState([SERVICE])
        async with (
            uvrpc.testing.memory_channel(Health(state)) as channel,
            HealthClient(channel).watch(service=SERVICE) as stream,
        ):
            assert await anext(stream) is HealthStatus.SERVING
            state.closing()
            assert await anext(stream) is HealthStatus.NOT_SERVING
            # The stream ends with its final reply, OK.
            with pytest.raises(StopAsyncIteration):
                await anext(stream)
            assert state.watchers == 0

    asyncio.run(body())


def test_a_change_while_an_item_goes_out_is_sent_next() -> None:
    async def body() -> None:
        state = HealthState([SERVICE])
        watch = Health(state).watch(service=SERVICE)
        # The handler is now held at its first item, as while the item is sent.
        assert await anext(watch) is HealthStatus.SERVING
        state.set_serving(SERVICE, False)
        state.closing()
        assert await anext(watch) is HealthStatus.NOT_SERVING
        with pytest.raises(StopAsyncIteration):
            await anext(watch)
        assert state.watchers == 0

    asyncio.run(body())


def test_a_graceful_close_ends_each_watch_without_waiting_for_the_grace(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        server = uvrpc.Server(Conformance())
        await server.start()
        endpoint = server.bind(f"ipc://{tmp_path / 'health.sock'}")
        async with (
            HealthClient(endpoint) as client,
            client.watch() as stream,
        ):
            assert await anext(stream) is HealthStatus.SERVING
            replied = server.stats.replied
            closing = asyncio.ensure_future(server.close(grace=60))
            seen: list[HealthStatus] = []
            with contextlib.suppress(uvrpc.Unavailable):
                # NOT_SERVING and the end, unless the socket closed before this
                # client read them: then the connection dropped.
                seen.extend([status async for status in stream])
            assert seen in ([], [HealthStatus.NOT_SERVING])
            await closing
            # The watch ended by itself and sent its final reply: it was not
            # cancelled at the end of the grace (which sends nothing).
            assert server.stats.replied == replied + 1
            assert server.health.watchers == 0

    asyncio.run(body())


def test_cancelling_a_watch_stops_its_listener() -> None:
    async def body() -> None:
        state = HealthState([SERVICE])
        async with uvrpc.testing.memory_channel(Health(state)) as channel:
            client = HealthClient(channel)
            async with client.watch() as stream:
                assert await anext(stream) is HealthStatus.SERVING
                assert state.watchers == 1
            await until(lambda: state.watchers == 0)
            # A new watch starts from the current answer.
            state.set_serving("", False)
            async with client.watch() as stream:
                assert await anext(stream) is HealthStatus.NOT_SERVING

    asyncio.run(body())


def test_watches_count_against_the_stream_limit_of_a_caller(tmp_path: Path) -> None:
    async def body() -> None:
        async with uvrpc.Server(Conformance(), max_streams_per_caller=2) as server:
            endpoint = server.bind(f"ipc://{tmp_path / 'health.sock'}")
            async with HealthClient(endpoint) as client:
                first, second = client.watch(), client.watch()
                async with first, second:
                    assert await anext(first) is HealthStatus.SERVING
                    assert await anext(second) is HealthStatus.SERVING
                    with pytest.raises(
                        uvrpc.ResourceExhausted, match="max_streams_per_caller"
                    ):
                        async with client.watch() as third:
                            await anext(third)

    asyncio.run(body())


def test_the_blocking_client_watches() -> None:
    with (
        server_thread(Conformance()) as running,
        HealthSyncClient(running.endpoint) as client,
    ):
        assert running.server is not None and running.loop is not None
        server, loop = running.server, running.loop
        seen: list[HealthStatus] = []
        for status in client.watch(service=SERVICE):
            seen.append(status)
            if len(seen) == 2:
                break
            loop.call_soon_threadsafe(server.set_serving, SERVICE, False)
        assert seen == [HealthStatus.SERVING, HealthStatus.NOT_SERVING]
        # Leaving the loop cancelled the call: the socket is free again.
        assert client.check(service=SERVICE) is HealthStatus.NOT_SERVING
