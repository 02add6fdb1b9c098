"""A channel to an ``inproc://`` endpoint counts as connected only while a uvrpc
server is bound there: libzmq queues what is sent to an inproc endpoint nobody
bound (``ZMQ_IMMEDIATE`` does not apply) and gives no event for it, so a call
would otherwise wait for its deadline and then run on a server bound later.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from feed import FeedClient, FeedSyncClient, Tick
from feed_server import Feed

import uvrpc

NO_WAIT = 0.2


class Counted(Feed):
    """A Feed whose pings are recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.pings: list[int] = []

    async def ping(self, *, n: int) -> int:
        self.pings.append(n)
        return n


def endpoint() -> str:
    return f"inproc://uvrpc-late-{uuid.uuid4().hex}"


def run(main: object) -> None:
    asyncio.run(asyncio.wait_for(main, 30))  # type: ignore[arg-type]


def test_an_async_call_to_an_unbound_inproc_endpoint_fails_fast_and_never_runs() -> (
    None
):
    where = endpoint()
    service = Counted()

    async def main() -> None:
        channel = uvrpc.Channel(where, connect_timeout=NO_WAIT)
        async with FeedClient(channel) as client:
            started = time.monotonic()
            with pytest.raises(uvrpc.Unavailable, match="no connection to inproc://"):
                await client.ping(n=1, timeout=5)
            assert time.monotonic() - started < 2
            assert not channel.connected
            async with uvrpc.Server(service) as server:
                server.bind(where)
                await server.start()
                assert await channel.ready(5)
                assert channel.connections == 1
                assert await client.ping(n=2, timeout=5) == 2
            assert service.pings == [2], "the failed call ran on a later server"
            # The server closed: its endpoint is not connected any more.
            await asyncio.sleep(0.05)
            assert not channel.connected
            started = time.monotonic()
            with pytest.raises(uvrpc.Unavailable):
                await client.ping(n=3, timeout=5)
            assert time.monotonic() - started < 2
            # Nothing is queued in the socket: closing does not linger.
            started = time.monotonic()
        assert time.monotonic() - started < 0.5

    run(main())


def test_a_call_waiting_for_ready_goes_out_once_an_inproc_server_binds() -> None:
    where = endpoint()
    service = Counted()

    async def main() -> None:
        channel = uvrpc.Channel(where, connect_timeout=NO_WAIT)
        async with FeedClient(channel) as client:
            waiting = asyncio.ensure_future(
                client.ping(n=1, timeout=10, wait_for_ready=True)
            )
            await asyncio.sleep(NO_WAIT * 2)
            assert not waiting.done()
            async with uvrpc.Server(service) as server:
                server.bind(where)
                await server.start()
                assert await waiting == 1
            assert service.pings == [1]

    run(main())


def test_a_server_bound_after_the_channel_was_made_is_reached() -> None:
    where = endpoint()

    async def main() -> None:
        channel = uvrpc.Channel(where, connect_timeout=NO_WAIT)
        async with FeedClient(channel) as client:
            async with uvrpc.Server(Counted()) as server:
                server.bind(where)
                await server.start()
                assert await client.ping(n=4, timeout=5) == 4

    run(main())


def test_a_blocking_call_to_an_unbound_inproc_endpoint_fails_fast_and_never_runs() -> (
    None
):
    where = endpoint()
    service = Counted()
    with FeedSyncClient(uvrpc.SyncChannel(where, connect_timeout=NO_WAIT)) as client:
        started = time.monotonic()
        with pytest.raises(uvrpc.Unavailable, match="no connection to inproc://"):
            client.ping(n=1, timeout=5)
        assert time.monotonic() - started < 2

        async def serve() -> list[int]:
            async with uvrpc.Server(service) as server:
                server.bind(where)
                await server.start()
                answer = await asyncio.to_thread(client.ping, n=2, timeout=5)
                assert answer == 2
            return service.pings

        assert asyncio.run(asyncio.wait_for(serve(), 30)) == [2]
        started = time.monotonic()
    assert time.monotonic() - started < 0.5


async def seconds_to_fail_as_its_server_closes(
    call: Callable[[FeedSyncClient], object],
) -> float:
    """Serve Feed on a fresh inproc endpoint, start ``call`` on a blocking
    client in a thread, close the server 0.3 s later, and return how long the
    call took to fail with the dropped connection."""
    where = endpoint()
    server = uvrpc.Server(Feed())
    server.bind(where)
    await server.start()
    channel = uvrpc.SyncChannel(where, connect_timeout=NO_WAIT)
    with FeedSyncClient(channel) as client:
        assert await asyncio.to_thread(client.ping, n=1, timeout=5) == 1

        def failing() -> float:
            started = time.monotonic()
            with pytest.raises(uvrpc.Unavailable, match="connection dropped"):
                call(client)
            return time.monotonic() - started

        waiting = asyncio.ensure_future(asyncio.to_thread(failing))
        await asyncio.sleep(0.3)
        await server.close()
        return await waiting


def test_a_blocking_call_fails_when_its_inproc_server_closes_under_it() -> None:
    # No monitor event says an inproc server closed: the wait looks, as the
    # asyncio channel is told, rather than wait out its deadline.
    async def main() -> None:
        seconds = await seconds_to_fail_as_its_server_closes(
            lambda client: client.ping(n=-50, timeout=10)  # Feed's ping sleeps 5 s
        )
        assert seconds < 3

    run(main())


def test_channels_dropped_unclosed_leave_no_endpoint_behind() -> None:
    import gc

    from uvrpc.client.channel import DealerTransport
    from uvrpc.transport import inproc

    before = len(inproc._ENDPOINTS)
    for _ in range(50):
        DealerTransport(endpoint())  # never closed: collected
    gc.collect()
    DealerTransport(endpoint()).close()  # the next use of the table forgets them
    assert len(inproc._ENDPOINTS) <= before + 1


@pytest.mark.parametrize("kind", ["upload", "echo"])
def test_a_blocking_stream_fails_when_its_inproc_server_closes_while_items_wait(
    kind: str,
) -> None:
    # A client or bidi stream waits for its caller's next item, not in the wait
    # for a reply: it too looks whether its inproc server is still bound.
    release = threading.Event()

    def items() -> Iterator[Tick]:
        yield Tick(seq=0)
        release.wait(10)

    def stream(client: FeedSyncClient) -> object:
        if kind == "upload":
            return client.upload(ticks=items(), timeout=10)
        return list(client.echo(ticks=items(), timeout=10))

    async def main() -> None:
        try:
            assert await seconds_to_fail_as_its_server_closes(stream) < 3
        finally:
            release.set()

    run(main())
