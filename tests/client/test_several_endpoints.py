"""Stream calls on a channel connected to several endpoints.

ZeroMQ's DEALER sends each message to whichever connected server is next: over
one socket to several servers, a stream's items, CREDITs and END would be shared
among them, and a server that is not running the call drops them as stale (a
client stream summed half its items, with no error; a server stream stopped
after one window). Such a channel runs each stream call on a socket of its own
to one server, the connected ones in turn, so every message of the call reaches
the server running it; its unary calls are shared among the servers as
``docs/scaling.md`` says. The blocking channel connects to one endpoint, and says
what to do instead when given several.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from conftest import RunningServer, server_thread
from feed import FeedClient, Tick
from feed_server import Feed

import uvrpc

ITEMS = 600
"""Items of each stream: more than a window of the server's and the client's,
so credit has to reach the server running the call."""


async def _server_stream(client: FeedClient) -> None:
    async with client.ticks(count=ITEMS, size=1) as ticks:
        seqs = [tick.seq async for tick in ticks]
    assert seqs == list(range(ITEMS))


async def _client_stream(client: FeedClient) -> None:
    total = await client.upload(ticks=[Tick(seq=n) for n in range(ITEMS)], label="x")
    assert total.count == ITEMS


async def _bidi_stream(client: FeedClient) -> None:
    async def items() -> AsyncIterator[Tick]:
        for n in range(ITEMS):
            yield Tick(seq=n)

    async with client.echo(ticks=items()) as echoes:
        seqs = [tick.seq async for tick in echoes]
    assert seqs == list(range(ITEMS))


STREAMS: dict[str, Callable[[FeedClient], Awaitable[None]]] = {
    "server": _server_stream,
    "client": _client_stream,
    "bidi": _bidi_stream,
}


async def _connected(channel: uvrpc.Channel, servers: int) -> None:
    """Wait until the channel sees ``servers`` connections."""
    assert await channel.ready(5)
    deadline = time.monotonic() + 5
    while channel.connections < servers:
        assert time.monotonic() < deadline, "the servers did not connect"
        await asyncio.sleep(0.01)


@contextlib.contextmanager
def _two_servers() -> Iterator[tuple[RunningServer, RunningServer]]:
    with server_thread(Feed()) as first, server_thread(Feed()) as second:
        yield first, second


def _streams_run(server: RunningServer) -> int:
    assert server.server is not None
    return server.server.stats.streams


@pytest.mark.parametrize("kind", STREAMS)
def test_each_stream_runs_whole_on_one_of_the_servers_in_turn(kind: str) -> None:
    async def main() -> None:
        with _two_servers() as (first, second):
            async with uvrpc.Channel([first.endpoint, second.endpoint]) as channel:
                await _connected(channel, 2)
                client = FeedClient(channel, timeout=10)
                # Unary calls are shared among the servers, as documented.
                assert [await client.ping(n=n) for n in range(4)] == [0, 1, 2, 3]
                for _ in range(2):
                    await asyncio.wait_for(STREAMS[kind](client), 10)
                assert channel.streaming == 0
                # Two at once, too.
                await asyncio.wait_for(
                    asyncio.gather(STREAMS[kind](client), STREAMS[kind](client)), 10
                )
            assert _streams_run(first) == _streams_run(second) == 2

    asyncio.run(main())


def test_streams_go_to_the_servers_connected() -> None:
    async def main() -> None:
        with server_thread(Feed()) as only:
            nobody = "tcp://127.0.0.1:1"  # refused at once: no server listens there
            async with uvrpc.Channel([nobody, only.endpoint]) as channel:
                await _connected(channel, 1)
                client = FeedClient(channel, timeout=10)
                for kind in STREAMS:
                    await asyncio.wait_for(STREAMS[kind](client), 10)
            assert _streams_run(only) == 3

    asyncio.run(main())


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_closing_the_channel_closes_the_streams_sockets() -> None:
    async def main() -> None:
        with _two_servers() as (first, second):
            endpoints = [first.endpoint, second.endpoint]
            before = _open_fds()
            channel = uvrpc.Channel(endpoints)
            await _connected(channel, 2)
            client = FeedClient(channel, timeout=10)
            stream = client.ticks(count=10**6, size=1)
            assert (await anext(stream)).seq == 0
            await _server_stream(client)
            await channel.close()
            with pytest.raises(uvrpc.Unavailable):
                await anext(stream)  # failed as the channel closed
            with pytest.raises(uvrpc.Unavailable, match="closed"):
                await _server_stream(client)
            # libzmq closes sockets in its own thread: their descriptors go soon.
            deadline = time.monotonic() + 5
            while _open_fds() > before:
                assert time.monotonic() < deadline, "a stream's socket stayed open"
                await asyncio.sleep(0.01)

    asyncio.run(main())


@pytest.mark.parametrize("kind", STREAMS)
def test_a_stream_on_a_channel_to_one_endpoint_runs(kind: str) -> None:
    async def main() -> None:
        with server_thread(Feed()) as only:
            async with uvrpc.Channel([only.endpoint]) as channel:
                await asyncio.wait_for(
                    STREAMS[kind](FeedClient(channel, timeout=5)), 10
                )

    asyncio.run(main())


@pytest.mark.parametrize(
    "target",
    ["tcp://127.0.0.1:5555,tcp://127.0.0.1:5556", ["ipc:///a", "ipc:///b"]],
    ids=["commas", "list"],
)
def test_a_blocking_channel_refuses_several_endpoints_saying_what_to_do(
    target: Any,
) -> None:
    """Only the asyncio channel spreads calls over several endpoints: the blocking
    one says so, rather than call the list a malformed endpoint."""
    with pytest.raises(ValueError, match="connects to one endpoint") as refused:
        uvrpc.SyncChannel(target)
    assert "uvrpc broker" in str(refused.value)
    assert "uvrpc.Channel" in str(refused.value)


def test_a_blocking_channel_given_a_list_of_one_names_the_str_to_pass() -> None:
    with pytest.raises(
        TypeError, match=r"as a str, not a list: SyncChannel\('ipc:///a'\)"
    ):
        uvrpc.SyncChannel(["ipc:///a"])  # type: ignore[arg-type]


def test_a_close_cancelled_as_it_lingers_still_ends_the_streams() -> None:
    """The stream calls' channels close even when the close waiting for the
    shared socket's linger is cancelled (a timeout around it, a task group
    cancelled): their calls fail rather than wait for ever, and their sockets
    close, a second close() returning at once."""

    async def main() -> None:
        with _two_servers() as (first, second):
            endpoints = [first.endpoint, second.endpoint]
            before = _open_fds()
            channel = uvrpc.Channel(endpoints)
            await _connected(channel, 2)
            client = FeedClient(channel, timeout=None)
            stream = client.ticks(count=10**6, size=1)
            assert (await anext(stream)).seq == 0
            closing = asyncio.ensure_future(channel.close())
            await asyncio.sleep(0)  # it waits for the linger now
            closing.cancel()
            with pytest.raises(asyncio.CancelledError):
                await closing
            with pytest.raises(uvrpc.Unavailable):
                async with asyncio.timeout(5):
                    async for _ in stream:
                        pass
            await channel.close()
            deadline = time.monotonic() + 5
            while _open_fds() > before:
                assert time.monotonic() < deadline, "a stream's socket stayed open"
                await asyncio.sleep(0.01)

    asyncio.run(main())


def test_a_server_back_takes_streams_once_its_stream_socket_reconnected() -> None:
    """A server that comes back is seen by the shared socket before the socket
    of its streams has reconnected (each reconnects on its own); a stream made
    meanwhile goes to a server connected on both, and does not fail at once as
    if none were up."""

    async def main() -> None:
        with server_thread(Feed()) as second:
            first = server_thread(Feed())
            endpoint = first.__enter__().endpoint
            endpoints = [endpoint, second.endpoint]
            async with uvrpc.Channel(endpoints, connect_timeout=0.2) as channel:
                await _connected(channel, 2)
                client = FeedClient(channel, timeout=10)
                for _ in range(2):
                    await _server_stream(client)  # one on each server's socket
                first.__exit__(None, None, None)
                await asyncio.sleep(1.5)  # its stream socket finds it gone
                with server_thread(Feed(), bind=endpoint):
                    deadline = time.monotonic() + 5
                    while channel.connections < 2:
                        assert time.monotonic() < deadline, "it did not come back"
                        await asyncio.sleep(0.001)
                    for _ in range(4):
                        await asyncio.wait_for(_server_stream(client), 10)

    asyncio.run(main())
