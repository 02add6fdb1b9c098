"""The items an asyncio client streams: an async iterable or a plain one.

As grpc.aio does, a client- or bidirectional-streaming call of the asyncio client
takes its items as an async iterable or a plain iterable (a list, a generator).
Anything else raises TypeError at once, naming the method and the parameter,
rather than failing in the task that sends the items, where nobody awaits the
error and the call waits for its deadline. Each test runs against a server on a
thread of its own and over :func:`uvrpc.testing.memory_channel`, and gives up
after a few seconds, so that a hang fails it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any

import pytest
from conftest import server_thread
from feed import FeedClient, FeedSyncClient, Tick, Total
from feed_server import Feed

import uvrpc
import uvrpc.testing

KINDS = ("server", "memory")
LIMIT = 5.0
"""Seconds any one await of a test may take."""


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main``, failing if it hangs or if the loop reports an exception
    nobody retrieved (an item-sending task's, say)."""
    unretrieved: list[dict[str, Any]] = []

    async def watched() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _, context: unretrieved.append(context))
        await asyncio.wait_for(main, 20)

    asyncio.run(watched())
    assert unretrieved == []


@contextlib.asynccontextmanager
async def connect(service: Feed, kind: str) -> AsyncIterator[FeedClient]:
    """A client of ``service``: served on a thread over TCP, or in memory."""
    if kind == "memory":
        async with uvrpc.testing.memory_channel(service) as channel:
            yield FeedClient(channel, timeout=10)
            assert channel.streaming == 0
        return
    with server_thread(service, stream_window=4) as server:
        async with uvrpc.Channel(server.endpoint, stream_window=4) as channel:
            yield FeedClient(channel, timeout=10)
            assert channel.streaming == 0


async def set_within(event: asyncio.Event) -> None:
    """Wait up to :data:`LIMIT` for ``event``, which the service sets on the
    server's loop: on a thread of its own over TCP, where setting an asyncio
    event does not wake this loop, so it is asked every 10 ms."""
    deadline = time.monotonic() + LIMIT
    while not event.is_set():
        assert time.monotonic() < deadline, "the handler was not cancelled"
        await asyncio.sleep(0.01)


def ticks(count: int) -> list[Tick]:
    return [Tick(seq=seq, data=bytes([seq]) * 3) for seq in range(count)]


@pytest.mark.parametrize("kind", KINDS)
def test_a_list_is_sent_as_a_client_stream(kind: str) -> None:
    async def main() -> None:
        service = Feed()
        async with connect(service, kind) as client:
            total = await asyncio.wait_for(client.upload(ticks=ticks(10)), LIMIT)
            assert total == Total(count=10, bytes=30)
            assert [tick.seq for tick in service.received] == list(range(10))
            generated = (Tick(seq=seq) for seq in range(3))
            total = await asyncio.wait_for(client.upload(ticks=generated), LIMIT)
            assert total == Total(count=3, bytes=0)
            empty = await asyncio.wait_for(client.upload(ticks=()), LIMIT)
            assert empty == Total(count=0, bytes=0)

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_a_list_is_sent_as_a_bidirectional_stream(kind: str) -> None:
    async def main() -> None:
        service = Feed()
        async with connect(service, kind) as client:

            async def echoed(items: list[Tick]) -> list[int]:
                async with client.echo(ticks=items) as stream:
                    return [tick.seq async for tick in stream]

            # 20 items through windows of 4: the list waits for credit.
            assert await asyncio.wait_for(echoed(ticks(20)), LIMIT) == list(range(20))
            assert await asyncio.wait_for(echoed([]), LIMIT) == []

    run(main())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "items", [None, 5, "ab", b"\x01\x02"], ids=["None", "int", "str", "bytes"]
)
def test_items_that_are_not_iterable_raise_type_error_at_once(
    kind: str, items: Any
) -> None:
    async def main() -> None:
        service = Feed()
        async with connect(service, kind) as client:
            named = rf"feed\.Feed\.upload: ticks must be .*, not {type(items).__name__}"
            with pytest.raises(TypeError, match=named):
                await asyncio.wait_for(client.upload(ticks=items), LIMIT)
            named = rf"feed\.Feed\.echo: ticks must be .*, not {type(items).__name__}"
            with pytest.raises(TypeError, match=named):
                client.echo(ticks=items)  # at the call, before any await
            assert not service.started.is_set()  # nothing was sent
            assert await asyncio.wait_for(client.ping(n=7), LIMIT) == 7

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_a_sync_generator_raising_fails_the_call_with_its_error(kind: str) -> None:
    async def main() -> None:
        service = Feed()
        async with connect(service, kind) as client:

            def items() -> Iterator[Tick]:
                yield Tick(seq=0)
                yield Tick(seq=1)
                raise OSError("the source broke")

            with pytest.raises(OSError, match="the source broke"):
                await asyncio.wait_for(client.upload(ticks=items()), LIMIT)
            await set_within(service.cancelled)
            service.cancelled.clear()

            async def echo_all() -> None:
                async for _ in client.echo(ticks=items()):
                    pass

            with pytest.raises(OSError, match="the source broke"):
                await asyncio.wait_for(echo_all(), LIMIT)
            await set_within(service.cancelled)

    run(main())


def _broken_ticks() -> Iterator[Tick]:
    yield Tick(seq=0)
    raise OSError("the source broke")


async def _broken_async_ticks() -> AsyncIterator[Tick]:
    yield Tick(seq=0)
    raise OSError("the source broke")


def _raised_in(error: BaseException) -> list[str]:
    """The functions the traceback of ``error`` passes through."""
    return [frame.name for frame in traceback.extract_tb(error.__traceback__)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("make", [_broken_ticks, _broken_async_ticks])
def test_the_error_of_the_items_keeps_its_traceback(kind: str, make: Any) -> None:
    """What the caller's iterable raised is its own bug: the traceback the
    caller sees goes on into the iterable, to the line that raised."""

    async def main() -> None:
        async with connect(Feed(), kind) as client:
            with pytest.raises(OSError) as raised:
                await asyncio.wait_for(client.upload(ticks=make()), LIMIT)
            assert make.__name__ in _raised_in(raised.value)

            async def echo_all() -> None:
                async with client.echo(ticks=make()) as stream:
                    async for _ in stream:
                        pass

            with pytest.raises(OSError) as raised:
                await asyncio.wait_for(echo_all(), LIMIT)
            assert make.__name__ in _raised_in(raised.value)

    run(main())


def test_the_blocking_client_keeps_the_traceback_of_the_items_too() -> None:
    with (
        server_thread(Feed()) as server,
        FeedSyncClient(server.endpoint, timeout=10) as client,
    ):
        with pytest.raises(OSError) as raised:
            client.upload(ticks=_broken_ticks())
        assert "_broken_ticks" in _raised_in(raised.value)
        with pytest.raises(OSError) as raised:
            for _ in client.echo(ticks=_broken_ticks()):
                pass
        assert "_broken_ticks" in _raised_in(raised.value)


@pytest.mark.parametrize("kind", KINDS)
def test_an_endless_sync_generator_waits_for_credit_and_is_closed(kind: str) -> None:
    """The loop reads a plain iterable an item at a time, as the server grants
    credit: an endless generator neither blocks the loop nor runs ahead of the
    window, and is closed when the caller leaves the stream early."""

    async def main() -> None:
        service = Feed()
        closed = asyncio.Event()
        made: list[int] = []

        def endless() -> Iterator[Tick]:
            try:
                seq = 0
                while True:
                    made.append(seq)
                    yield Tick(seq=seq)
                    seq += 1
            finally:
                closed.set()

        async with connect(service, kind) as client:

            async def first_three() -> list[int]:
                got = []
                async with client.echo(ticks=endless()) as stream:
                    async for tick in stream:
                        got.append(tick.seq)
                        if len(got) == 3:
                            break
                return got

            assert await asyncio.wait_for(first_three(), LIMIT) == [0, 1, 2]
            await asyncio.wait_for(closed.wait(), LIMIT)
            assert len(made) < 1000  # held back by credit, not read to the end

    run(main())


def test_interceptors_see_a_plain_iterable_as_an_async_one() -> None:
    """An interceptor of an asyncio channel may wrap ``items`` with ``async
    for``, whatever the caller gave."""
    seen: list[int] = []

    class Watch:
        async def intercept_client(
            self, call: uvrpc.ClientCallInfo, proceed: Any
        ) -> Any:
            if call.items is not None:
                source = call.items

                async def watched() -> AsyncIterator[Any]:
                    async for item in source:  # type: ignore[union-attr]
                        seen.append(item.seq)
                        yield item

                call.items = watched()
            return await proceed()

    async def main() -> None:
        service = Feed()
        channel = uvrpc.testing.memory_channel(service, interceptors=[Watch()])
        async with channel:
            client = FeedClient(channel, timeout=10)
            total = await asyncio.wait_for(client.upload(ticks=ticks(3)), LIMIT)
            assert total.count == 3
            async with client.echo(ticks=ticks(2)) as stream:
                got = [tick.seq async for tick in stream]
            assert got == [0, 1]
            with pytest.raises(TypeError, match="feed.Feed.upload: ticks"):
                await asyncio.wait_for(client.upload(ticks=None), LIMIT)  # type: ignore[arg-type]
        assert seen == [0, 1, 2, 0, 1]

    run(main())


def test_an_interceptor_passing_on_no_iterable_fails_the_call() -> None:
    """What an interceptor puts in ``items`` is checked as the caller's items
    are: a value that is not iterable fails the call with a TypeError instead
    of leaving it waiting for items that never come."""

    class Break:
        async def intercept_client(
            self, call: uvrpc.ClientCallInfo, proceed: Any
        ) -> Any:
            call.items = 42  # type: ignore[assignment]
            return await proceed()

    async def main() -> None:
        service = Feed()
        channel = uvrpc.testing.memory_channel(service, interceptors=[Break()])
        async with channel:
            client = FeedClient(channel, timeout=None)  # no deadline to end a hang
            with pytest.raises(TypeError, match="feed.Feed.upload: ticks .* int"):
                await asyncio.wait_for(client.upload(ticks=ticks(1)), LIMIT)
            with pytest.raises(TypeError, match="feed.Feed.echo: ticks .* int"):
                await asyncio.wait_for(echo_all(client), LIMIT)

    async def echo_all(client: FeedClient) -> None:
        async for _ in client.echo(ticks=ticks(1)):
            pass

    run(main())


async def _no_ticks() -> AsyncIterator[Tick]:
    return
    yield


@pytest.mark.parametrize(
    ("make_items", "expected"),
    [
        (lambda: None, "an iterable of items, not NoneType"),
        (lambda: 5, "an iterable of items, not int"),
        (  # iterable, and an Iterable[str] to a type checker
            lambda: "ab",
            "an iterable of items, not str, which would be sent a character an "
            "item; to send it as one item, put it in a list",
        ),
        (
            lambda: bytearray(2),
            "an iterable of items, not bytearray, which would be sent a byte an "
            "item; to send it as one item, put it in a list",
        ),
        (  # what the asyncio client takes, given to the blocking one
            _no_ticks,
            "an iterable of items (an async iterable is for the asyncio client), "
            "not async_generator",
        ),
    ],
    ids=["None", "int", "str", "bytearray", "async"],
)
def test_a_blocking_client_says_the_same_of_items_it_cannot_iterate(
    make_items: Any, expected: str
) -> None:
    """The blocking client raises at the call too (a bidirectional one before
    its first ``next``), naming the method and the parameter."""
    service = Feed()
    with (
        server_thread(service) as server,
        FeedSyncClient(server.endpoint, timeout=10) as client,
    ):
        items = make_items()
        with pytest.raises(TypeError) as raised:
            client.upload(ticks=items)
        assert str(raised.value) == f"feed.Feed.upload: ticks must be {expected}"
        with pytest.raises(TypeError) as raised:
            client.echo(ticks=items)  # at the call, not at the first next()
        assert str(raised.value) == f"feed.Feed.echo: ticks must be {expected}"
        assert not service.started.is_set()  # nothing was sent
        assert client.ping(n=7) == 7
        if hasattr(items, "aclose"):
            asyncio.run(items.aclose())
