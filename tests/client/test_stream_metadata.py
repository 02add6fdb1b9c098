"""A stream call carries the metadata of the block it was made in.

``client.ticks(...)`` returns its stream at once and sends the request at the first
step, so a stream is often made in one place and read in another: a helper that
makes it inside ``with uvrpc.metadata(...)`` and returns it, or a task that hands
it to another. As a unary call made in the block, it sends that block's headers
and gives the block its trailers, wherever it is read: the headers travel with
the call that was made, not with whatever context its reader has. Checked for
both clients, with and without interceptors, over a server and in memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from conftest import server_thread
from feed import FeedClient, FeedSyncClient, Tick
from feed_server import Feed

import uvrpc
import uvrpc.testing

HEADERS = {"authorization": "Bearer sesame"}


class Watching(Feed):
    """Streams ticks and echoes, noting each call's metadata and setting a trailer."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, Any]] = []

    def _note(self) -> None:
        call = uvrpc.current_call()
        self.seen.append(dict(call.metadata))
        call.set_trailer("x-served", "yes")

    async def ticks(self, *, count: int, size: int) -> AsyncIterator[Tick]:
        self._note()
        for seq in range(count):
            yield Tick(seq=seq)

    async def echo(self, *, ticks: AsyncIterator[Tick]) -> AsyncIterator[Tick]:
        self._note()
        async for tick in ticks:
            yield tick


class PassOn:
    """An interceptor of either client that changes nothing."""

    async def intercept_client(self, call: uvrpc.ClientCallInfo, proceed: Any) -> Any:
        return await proceed()

    def intercept_sync(self, call: uvrpc.ClientCallInfo, proceed: Any) -> Any:
        return proceed()


def made_in_a_block(
    make: Any,
) -> tuple[Any, uvrpc.CallMetadata]:
    """A stream made inside a metadata block, and the block, both left."""
    with uvrpc.metadata(HEADERS) as md:
        stream = make()
    return stream, md


@pytest.mark.parametrize("kind", ["server", "memory"])
@pytest.mark.parametrize("intercepted", [False, True], ids=["plain", "intercepted"])
def test_an_async_stream_read_outside_its_block_sends_its_headers(
    kind: str, intercepted: bool
) -> None:
    service = Watching()
    interceptors = [PassOn()] if intercepted else []

    async def check(client: FeedClient) -> None:
        stream, md = made_in_a_block(lambda: client.ticks(count=2))
        assert [tick.seq async for tick in stream] == [0, 1]
        assert md.trailers == {"x-served": "yes"}
        items = [Tick(seq=7)]
        bidi, md = made_in_a_block(lambda: client.echo(ticks=items))
        async with bidi as echoed:
            assert [tick.seq async for tick in echoed] == [7]
        assert md.trailers == {"x-served": "yes"}

    async def main() -> None:
        if kind == "memory":
            channel = uvrpc.testing.memory_channel(service, interceptors=interceptors)
            async with channel:
                await check(FeedClient(channel, timeout=10))
        else:
            with server_thread(service) as running:
                channel = uvrpc.Channel(running.endpoint, interceptors=interceptors)
                async with channel:
                    await check(FeedClient(channel, timeout=10))

    asyncio.run(asyncio.wait_for(main(), 20))
    assert service.seen == [HEADERS, HEADERS]


@pytest.mark.parametrize("intercepted", [False, True], ids=["plain", "intercepted"])
def test_a_blocking_stream_read_outside_its_block_sends_its_headers(
    intercepted: bool,
) -> None:
    service = Watching()
    interceptors = [PassOn()] if intercepted else []
    with (
        server_thread(service) as running,
        FeedSyncClient(
            running.endpoint, timeout=10, interceptors=interceptors
        ) as client,
    ):
        stream: Iterator[Tick]
        stream, md = made_in_a_block(lambda: client.ticks(count=2))
        assert [tick.seq for tick in stream] == [0, 1]
        assert md.trailers == {"x-served": "yes"}
        bidi, md = made_in_a_block(lambda: client.echo(ticks=[Tick(seq=7)]))
        assert [tick.seq for tick in bidi] == [7]
        assert md.trailers == {"x-served": "yes"}
    assert service.seen == [HEADERS, HEADERS]


class Failing(Watching):
    """Sets its trailer, streams one tick, then fails."""

    async def ticks(self, *, count: int, size: int) -> AsyncIterator[Tick]:
        self._note()
        yield Tick(seq=0)
        raise uvrpc.NotFound("no more")


@pytest.mark.parametrize("kind", ["server", "memory"])
@pytest.mark.parametrize("intercepted", [False, True], ids=["plain", "intercepted"])
def test_an_async_stream_has_its_trailers_once_over(
    kind: str, intercepted: bool
) -> None:
    """As a started unary call's handle has them, and a grpc.aio stream call's
    ``trailing_metadata()``: read outside any metadata block, on the end and on
    the error alike; asked before the end, it says it is not over."""
    interceptors = [PassOn()] if intercepted else []

    async def check(client: FeedClient) -> None:
        stream = client.ticks(count=2)
        with pytest.raises(asyncio.InvalidStateError, match="not over"):
            _ = stream.trailers
        async with stream:
            assert [tick.seq async for tick in stream] == [0, 1]
        assert stream.trailers == {"x-served": "yes"}
        unsent = client.ticks(count=2)
        unsent.cancel()
        assert unsent.trailers == {}

    async def check_failing(client: FeedClient) -> None:
        stream = client.ticks(count=2)
        seen = []
        with pytest.raises(uvrpc.NotFound, match="no more"):
            async for tick in stream:
                seen.append(tick.seq)
        assert (seen, stream.trailers) == ([0], {"x-served": "yes"})

    async def main() -> None:
        for service, checked in ((Watching(), check), (Failing(), check_failing)):
            if kind == "memory":
                channel = uvrpc.testing.memory_channel(
                    service, interceptors=interceptors
                )
                async with channel:
                    await checked(FeedClient(channel, timeout=10))
            else:
                with server_thread(service) as running:
                    channel = uvrpc.Channel(running.endpoint, interceptors=interceptors)
                    async with channel:
                        await checked(FeedClient(channel, timeout=10))

    asyncio.run(asyncio.wait_for(main(), 30))


class Refusing:
    """A client interceptor that refuses every call before it is sent."""

    async def intercept_client(self, call: uvrpc.ClientCallInfo, proceed: Any) -> Any:
        raise uvrpc.PermissionDenied("not this one")


def test_an_async_stream_that_could_not_start_has_no_trailers() -> None:
    """A stream whose call failed before it was sent (its channel closed, its
    interceptors refused it) is over: its trailers are empty, as a cancelled
    unsent one's are, not refused as those of a call still going."""

    async def main() -> None:
        channel = uvrpc.testing.memory_channel(Watching())
        await channel.close()
        stream = FeedClient(channel, timeout=10).ticks(count=2)
        with pytest.raises(uvrpc.ChannelClosed):
            await anext(stream)
        assert stream.trailers == {}
        channel = uvrpc.testing.memory_channel(Watching(), interceptors=[Refusing()])
        async with channel:
            stream = FeedClient(channel, timeout=10).ticks(count=2)
            with pytest.raises(uvrpc.PermissionDenied, match="not this one"):
                await anext(stream)
            assert stream.trailers == {}

    asyncio.run(asyncio.wait_for(main(), 30))
