"""Bidirectional streams of the blocking client (``SyncChannel.bidi_stream``)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import feed
import pytest
from conftest import RunningServer, server_thread
from feed import FeedSyncClient, Tick
from feed_server import Feed

import uvrpc

ECHO = next(
    method
    for method in vars(feed).values()
    if getattr(method, "route", "") == "feed.Feed.echo"
)


def wait_for(condition: Any, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)


@pytest.fixture
def running() -> Iterator[tuple[RunningServer, Feed]]:
    service = Feed()
    with server_thread(service, stream_window=4) as server:
        yield server, service


def test_items_flow_both_ways_beyond_either_window(
    running: tuple[RunningServer, Feed],
) -> None:
    server, _ = running
    with uvrpc.SyncChannel(server.endpoint, stream_window=3) as channel:
        items = (Tick(seq=n, data=bytes([n % 256]) * 100) for n in range(200))
        got = list(channel.bidi_stream(ECHO, {}, items, 10))
        assert [tick.seq for tick in got] == list(range(200))
        assert bytes(got[7].data) == bytes([7]) * 100
        assert list(channel.bidi_stream(ECHO, {}, [], 10)) == []


def test_the_items_may_wait_for_the_replies(
    running: tuple[RunningServer, Feed],
) -> None:
    """A chat: each item is made from the reply to the one before, so the
    caller's iterable blocks until the caller took that reply."""
    server, _ = running
    turns: queue.Queue[Tick | None] = queue.Queue()
    turns.put(Tick(seq=0))

    def items() -> Iterator[Tick]:
        while (tick := turns.get(timeout=10)) is not None:
            yield tick

    with FeedSyncClient(server.endpoint, timeout=10) as client:
        seen = []
        for tick in client.echo(ticks=items()):
            seen.append(tick.seq)
            turns.put(Tick(seq=tick.seq + 1) if tick.seq < 9 else None)
        assert seen == list(range(10))
        assert client.ping(n=3) == 3


def test_closing_early_cancels_the_call(running: tuple[RunningServer, Feed]) -> None:
    server, service = running
    with uvrpc.SyncChannel(server.endpoint) as channel:
        stream = channel.bidi_stream(ECHO, {}, (Tick(seq=n) for n in range(10**6)), 10)
        assert next(stream).seq == 0
        stream.close()
        wait_for(service.cancelled.is_set)
        assert channel.call(PING, {"1": 4}, 5) == 4


def test_items_that_raise_cancel_the_call_and_raise(
    running: tuple[RunningServer, Feed],
) -> None:
    server, service = running

    def items() -> Iterator[Tick]:
        yield Tick(seq=0)
        raise ValueError("no more ticks here")

    with uvrpc.SyncChannel(server.endpoint) as channel:
        with pytest.raises(ValueError, match="no more ticks here"):
            list(channel.bidi_stream(ECHO, {}, items(), 10))
        wait_for(service.cancelled.is_set)
        assert channel.call(PING, {"1": 5}, 5) == 5


def test_the_deadline_ends_a_call_whose_items_block(
    running: tuple[RunningServer, Feed],
) -> None:
    server, service = running
    release = threading.Event()

    def items() -> Iterator[Tick]:
        yield Tick(seq=0)
        release.wait(10)  # the caller's iterable blocks past the deadline

    with uvrpc.SyncChannel(server.endpoint) as channel:
        started = time.monotonic()
        got = []
        with pytest.raises(uvrpc.DeadlineExceeded, match="did not finish within"):
            for tick in channel.bidi_stream(ECHO, {}, items(), 0.3):
                got.append(tick.seq)
        assert got == [0] and time.monotonic() - started < 2
        wait_for(service.cancelled.is_set)
        release.set()


def test_a_bad_item_from_the_server_reads_as_the_async_clients(
    running: tuple[RunningServer, Feed],
) -> None:
    server, _ = running
    expects_ints: uvrpc.BidiStreaming[Any, Any, Any] = uvrpc.BidiStreaming(
        route=ECHO.route,
        handler=ECHO.handler,
        params=ECHO.params,
        stream=ECHO.stream,
        request_item=ECHO.request_item,
        reply_item=uvrpc.types.I32,
    )
    with uvrpc.SyncChannel(server.endpoint) as channel:
        with pytest.raises(
            uvrpc.InternalError,
            match=r"an item of feed.Feed.echo does not match its declared type: "
            r"Input should be a valid integer",
        ):
            list(channel.bidi_stream(expects_ints, {}, [Tick(seq=1)], 5))


PING = next(
    method
    for method in vars(feed).values()
    if getattr(method, "route", "") == "feed.Feed.ping"
)
