"""A SyncChannel serves one thread at a time: a second thread calling while the
first is inside a call fails at once, instead of corrupting the first's reply
(``client/sync_channel.py``); threads taking turns keep working."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import server_thread
from echo import EchoServer, EchoSyncClient
from feed import FeedSyncClient
from feed_server import Feed

import uvrpc


class HeldEcho(EchoServer):
    """Answers once the test lets it, so a call can be kept in flight."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    async def echo(self, *, data: memoryview) -> memoryview:
        self.started.set()
        await asyncio.to_thread(self.release.wait, 10)
        return data


def test_a_second_thread_calling_during_a_call_fails_at_once() -> None:
    service = HeldEcho()
    with (
        server_thread(service) as server,
        uvrpc.SyncChannel(server.endpoint) as channel,
        ThreadPoolExecutor(1) as pool,
    ):
        client = EchoSyncClient(channel)
        first = pool.submit(lambda: bytes(client.echo(data=b"first", timeout=10)))
        try:
            assert service.started.wait(10), "the first call reached its handler"
            began = time.monotonic()
            with pytest.raises(RuntimeError, match="one thread at a time"):
                client.echo(data=b"second", timeout=10)
            assert time.monotonic() - began < 1  # at once, not at a deadline
            # Nor may it close the socket under the call.
            with pytest.raises(RuntimeError, match="one thread at a time"):
                channel.close()
        finally:
            service.release.set()
        assert first.result(10) == b"first"  # the first call's reply is intact
        assert channel.dropped_replies == 0
        assert bytes(client.echo(data=b"after", timeout=10)) == b"after"


def test_a_stream_stepped_by_a_second_thread_during_a_call_fails_at_once() -> None:
    service = HeldEcho()
    with (
        server_thread(service, Feed()) as server,
        uvrpc.SyncChannel(server.endpoint) as channel,
        ThreadPoolExecutor(1) as pool,
    ):
        ticks = FeedSyncClient(channel).ticks(count=2, timeout=10)
        first = pool.submit(
            lambda: bytes(EchoSyncClient(channel).echo(data=b"x", timeout=10))
        )
        try:
            assert service.started.wait(10), "the call reached its handler"
            with pytest.raises(RuntimeError, match="one thread at a time"):
                next(ticks)
        finally:
            service.release.set()
        assert first.result(10) == b"x"


def test_threads_taking_turns_share_a_channel() -> None:
    service = HeldEcho()
    service.release.set()
    with (
        server_thread(service, Feed()) as server,
        uvrpc.SyncChannel(server.endpoint) as channel,
    ):
        client = EchoSyncClient(channel)
        for turn in range(3):
            with ThreadPoolExecutor(1) as pool:  # a new thread each turn
                data = b"turn %d" % turn
                echoed = pool.submit(client.echo, data=data, timeout=10)
                assert bytes(echoed.result(10)) == data
        ticks = FeedSyncClient(channel).ticks(count=2, timeout=10)
        with ThreadPoolExecutor(1) as pool:  # a stream stepped by two threads
            assert pool.submit(next, ticks).result(10).seq == 0
        assert [tick.seq for tick in ticks] == [1]
