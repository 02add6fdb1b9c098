"""A blocking call on the loop of the server it calls is refused at once.

Made on the thread of a running loop, a blocking call blocks that loop until it
returns: when the loop also runs the server the call goes to, the server cannot
answer, and the call waited for its deadline (for ever without one, ZeroMQ's
heartbeats keeping the connection alive). It raises a RuntimeError that says
why and what to do instead, before anything is sent; a blocking call from that
loop to another server still runs (it only holds the loop meanwhile).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from conftest import server_thread
from feed import FeedSyncClient
from feed_server import Feed

import uvrpc


def test_a_blocking_call_to_a_server_on_its_own_loop_is_refused() -> None:
    async def main() -> None:
        async with uvrpc.Server(Feed()) as server:
            endpoint = server.bind("tcp://127.0.0.1:*")
            with FeedSyncClient(endpoint) as client:  # no timeout: it would hang
                started = time.monotonic()
                with pytest.raises(RuntimeError) as refused:
                    client.ping(n=1)
                with pytest.raises(RuntimeError):
                    list(client.ticks(count=2, size=1))
                assert time.monotonic() - started < 5
            assert server.stats.received == 0  # nothing was sent
            # From another thread, the same call is answered by this loop.
            with FeedSyncClient(endpoint, timeout=5) as client:
                assert await asyncio.to_thread(client.ping, n=2) == 2
        message = str(refused.value)
        assert f"feed.Feed.ping to {endpoint}" in message
        assert "running asyncio loop serves" in message
        assert "asyncio.to_thread" in message

    asyncio.run(main())


def test_a_blocking_call_from_a_serving_loop_to_another_server_runs() -> None:
    async def main() -> None:
        with server_thread(Feed()) as other:
            async with uvrpc.Server(Feed()) as server:
                server.bind("tcp://127.0.0.1:*")
                with FeedSyncClient(other.endpoint, timeout=5) as client:
                    assert client.ping(n=3) == 3

    asyncio.run(main())


def test_a_closed_server_no_longer_counts_for_its_loop(tmp_path: Path) -> None:
    async def main() -> None:
        server = uvrpc.Server(Feed())
        await server.start()
        # Not tcp://127.0.0.1:*: the port a closed server frees may be bound by
        # another process at once (the suites of CI run side by side), or taken
        # by the client's own connection (a TCP self-connect), and either is a
        # connection that drops rather than none.
        endpoint = server.bind(f"ipc://{tmp_path / 'closed.sock'}")
        await server.close()
        with uvrpc.SyncChannel(endpoint, connect_timeout=0.2) as channel:
            # Nobody serves it, here or not: no connection within the connect
            # timeout, well before the call's deadline (were they equal, either
            # could end the call first).
            with pytest.raises(uvrpc.Unavailable, match="no connection"):
                FeedSyncClient(channel, timeout=10).ping(n=1)

    asyncio.run(main())


def test_a_blocking_oneway_call_to_a_server_on_its_own_loop_is_sent() -> None:
    # A oneway call waits for no answer: the loop it blocks need not answer it.
    async def main() -> None:
        service = Feed()
        async with uvrpc.Server(service) as server:
            endpoint = server.bind("tcp://127.0.0.1:*")
            with FeedSyncClient(endpoint, timeout=5) as client:
                client.notify(text="sent")
                for _ in range(100):
                    if service.notes:
                        break
                    await asyncio.sleep(0.02)
        assert service.notes == ["sent"]

    asyncio.run(main())


@pytest.mark.parametrize(
    ("bind", "host"),
    [("tcp://0.0.0.0:*", "127.0.0.1"), ("tcp://127.0.0.1:*", "localhost")],
)
def test_a_blocking_call_naming_the_server_otherwise_is_refused(
    bind: str, host: str
) -> None:
    # The endpoint the server reports is not the only one that reaches it: a
    # server bound to all addresses is reached at 127.0.0.1, and a loopback one
    # at localhost, as most clients name it.
    async def main() -> None:
        async with uvrpc.Server(Feed()) as server:
            port = server.bind(bind).rpartition(":")[2]
            target = f"tcp://{host}:{port}"
            with FeedSyncClient(target, timeout=5) as client:
                started = time.monotonic()
                with pytest.raises(RuntimeError, match="running asyncio loop serves"):
                    client.ping(n=1)
                assert time.monotonic() - started < 1
            assert server.stats.received == 0

    asyncio.run(main())


def test_another_loopback_address_is_another_server() -> None:
    async def main() -> None:
        with server_thread(Feed()) as other:
            port = other.endpoint.rpartition(":")[2]
            async with uvrpc.Server(Feed()) as server:
                try:
                    server.bind(f"tcp://127.0.0.2:{port}")
                except OSError:
                    pytest.skip("127.0.0.2 cannot be bound here")
                with FeedSyncClient(other.endpoint, timeout=5) as client:
                    assert client.ping(n=4) == 4

    asyncio.run(main())
