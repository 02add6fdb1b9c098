"""Stream calls on a channel connected to several endpoints are refused at once.

ZeroMQ's DEALER sends each message to whichever connected server is next: a
stream's items, CREDITs and END would be shared among the servers, and a server
that is not running the call drops them as stale (a client stream summed half
its items, with no error; a server stream stopped after one window). Such a
channel refuses stream calls before sending anything, naming a channel to one
server or a broker instead; its unary calls are shared among the servers as
``docs/scaling.md`` says.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from conftest import server_thread
from feed import FeedClient, Tick
from feed_server import Feed

import uvrpc


async def _server_stream(client: FeedClient) -> None:
    async with client.ticks(count=3, size=1) as ticks:
        async for _ in ticks:
            pass


async def _client_stream(client: FeedClient) -> None:
    await client.upload(ticks=[Tick(seq=1)], label="x")


async def _bidi_stream(client: FeedClient) -> None:
    async def items() -> AsyncIterator[Tick]:
        yield Tick(seq=1)

    async with client.echo(ticks=items()) as echoes:
        async for _ in echoes:
            pass


STREAMS: dict[str, Callable[[FeedClient], Awaitable[None]]] = {
    "server": _server_stream,
    "client": _client_stream,
    "bidi": _bidi_stream,
}


@pytest.mark.parametrize("kind", STREAMS)
def test_a_stream_on_a_channel_to_several_endpoints_is_refused(kind: str) -> None:
    async def main() -> None:
        with server_thread(Feed()) as first, server_thread(Feed()) as second:
            endpoints = [first.endpoint, second.endpoint]
            async with uvrpc.Channel(endpoints) as channel:
                client = FeedClient(channel, timeout=5)
                # Unary calls are shared among the servers, as documented.
                assert [await client.ping(n=n) for n in range(4)] == [0, 1, 2, 3]
                with pytest.raises(uvrpc.FailedPrecondition) as refused:
                    await asyncio.wait_for(STREAMS[kind](client), 5)
                assert channel.streaming == 0
            message = refused.value.message
            assert message.startswith("feed.Feed.")
            assert "connected to several endpoints" in message
            assert first.endpoint in message and second.endpoint in message
            assert "uvrpc broker" in message
            # Nothing of the stream reached either server.
            assert first.server is not None and second.server is not None
            assert first.server.stats.streams == second.server.stats.streams == 0

    asyncio.run(main())


@pytest.mark.parametrize("kind", STREAMS)
def test_a_stream_on_a_channel_to_one_endpoint_runs(kind: str) -> None:
    async def main() -> None:
        with server_thread(Feed()) as only:
            async with uvrpc.Channel([only.endpoint]) as channel:
                await asyncio.wait_for(STREAMS[kind](FeedClient(channel, timeout=5)), 5)

    asyncio.run(main())
