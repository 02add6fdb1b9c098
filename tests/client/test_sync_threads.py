"""Threads share a SyncChannel: a thread calling while another is inside a call, or
has a stream open, is served over a spare connection at once, instead of waiting
for the other's call or corrupting its reply (``client/sync_channel.py``,
``client/spares.py``); threads taking turns use one connection."""

from __future__ import annotations

import asyncio
import os
import select
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import server_thread
from echo import EchoServer, EchoSyncClient
from feed import FeedSyncClient, Tick, Total
from feed_server import Feed

import uvrpc
import uvrpc.testing
from uvrpc.client.feeder import Feeder


class HeldEcho(EchoServer):
    """Holds calls whose data starts with ``hold`` until the test lets them go;
    counts the calls in its handler at once."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.cancelled = threading.Event()
        self.inside = 0
        self.most_inside = 0

    async def echo(self, *, data: memoryview) -> memoryview:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        try:
            if bytes(data[:4]) == b"hold":
                self.started.set()
                try:
                    await asyncio.to_thread(self.release.wait, 10)
                except asyncio.CancelledError:
                    self.cancelled.set()
                    raise
            else:
                await asyncio.sleep(0.005)  # long enough for calls to overlap
            return data
        finally:
            self.inside -= 1


def held_call(
    channel: uvrpc.SyncChannel, release: Callable[[], None], *, after: float
) -> bytes:
    """Make a held echo call on this thread, ``release`` run on another thread
    ``after`` seconds from now; what the call returned."""
    timer = threading.Timer(after, release)
    timer.start()
    try:
        return bytes(EchoSyncClient(channel).echo(data=b"hold", timeout=10))
    finally:
        timer.join()


def test_a_second_thread_calling_during_a_call_is_answered_meanwhile() -> None:
    service = HeldEcho()
    with (
        server_thread(service) as server,
        uvrpc.SyncChannel(server.endpoint) as channel,
        ThreadPoolExecutor(1) as pool,
    ):
        client = EchoSyncClient(channel)
        first = pool.submit(lambda: bytes(client.echo(data=b"hold 1", timeout=10)))
        try:
            assert service.started.wait(10), "the first call reached its handler"
            # Answered while the first call is still held: it did not wait for it.
            assert bytes(client.echo(data=b"second", timeout=10)) == b"second"
            assert not first.done()
        finally:
            service.release.set()
        assert first.result(10) == b"hold 1"  # the first call's reply is intact
        assert channel.dropped_replies == 0
        assert bytes(client.echo(data=b"after", timeout=10)) == b"after"


def test_a_pool_of_threads_calls_at_once_on_one_channel() -> None:
    service = HeldEcho()
    threads, calls = 4, 25
    with (
        server_thread(service) as server,
        uvrpc.SyncChannel(server.endpoint) as channel,
        ThreadPoolExecutor(threads) as pool,
    ):
        client = EchoSyncClient(channel)
        start = threading.Barrier(threads)

        def caller(worker: int) -> list[bytes]:
            start.wait(10)
            return [
                bytes(client.echo(data=b"%d:%d" % (worker, n), timeout=10))
                for n in range(calls)
            ]

        results = list(pool.map(caller, range(threads)))
        assert results == [
            [b"%d:%d" % (worker, n) for n in range(calls)] for worker in range(threads)
        ]
        # Each call waits in its handler: calls of several threads overlapped.
        assert service.most_inside > 1
        assert channel.dropped_replies == 0
    with pytest.raises(uvrpc.Unavailable, match="closed"):
        client.echo(data=b"late", timeout=1)


def test_an_open_stream_does_not_wait_behind_another_threads_call() -> None:
    """Another thread's call goes over a spare connection while a stream is open:
    the stream's steps do not wait for it, nor its calls for the stream."""
    service = HeldEcho()
    with (
        server_thread(service, Feed()) as server,
        uvrpc.SyncChannel(server.endpoint) as channel,
        ThreadPoolExecutor(2) as pool,
    ):
        ticks = FeedSyncClient(channel).ticks(count=3, timeout=10)
        assert next(ticks).seq == 0  # the stream is open, between its steps
        held = pool.submit(
            lambda: bytes(EchoSyncClient(channel).echo(data=b"hold", timeout=10))
        )
        try:
            assert service.started.wait(10), "the call reached its handler"
            assert next(ticks).seq == 1  # not behind the held call
            other = pool.submit(
                lambda: [
                    t.seq for t in FeedSyncClient(channel).ticks(count=2, timeout=10)
                ]
            )
            assert other.result(10) == [0, 1]
            assert not held.done()
        finally:
            service.release.set()
        assert held.result(10) == b"hold"
        assert [tick.seq for tick in ticks] == [2]
        assert channel.stale_messages == 0


def test_two_threads_chat_over_bidirectional_streams_at_once() -> None:
    """Both streams are open at once, each on its own thread, and each gets
    its own echoes back, in order."""
    with (
        server_thread(Feed()) as server,
        uvrpc.SyncChannel(server.endpoint) as channel,
        ThreadPoolExecutor(2) as pool,
    ):
        both = threading.Barrier(2)

        def chat(worker: int) -> list[int]:
            replies = []
            outgoing = [Tick(seq=worker * 100 + n, data=b"") for n in range(5)]
            echoes = FeedSyncClient(channel).echo(ticks=iter(outgoing), timeout=10)
            for tick in echoes:
                replies.append(tick.seq)
                if len(replies) == 1:
                    both.wait(10)  # both streams are open now
            return replies

        first, second = pool.map(chat, range(2))
        assert first == list(range(5))
        assert second == list(range(100, 105))


def test_a_stream_stepped_during_its_threads_call_waits_for_the_call() -> None:
    """The thread that opened a stream calls on its socket; another thread steps
    the stream meanwhile: the step waits for the call instead of failing."""
    service = HeldEcho()
    order: list[str] = []
    with (
        server_thread(service, Feed()) as server,
        uvrpc.SyncChannel(server.endpoint) as channel,
        ThreadPoolExecutor(1) as pool,
    ):
        ticks = FeedSyncClient(channel).ticks(count=2, timeout=10)
        assert next(ticks).seq == 0

        stepping = threading.Event()

        def step() -> int:
            assert service.started.wait(10), "the call reached its handler"
            stepping.set()
            seq = next(ticks).seq
            order.append("stepped")
            return seq

        def let_go() -> None:
            stepping.wait(10)
            time.sleep(0.1)  # the step is waiting (or the order shows it did not)
            order.append("released")
            service.release.set()

        stepped = pool.submit(step)
        assert held_call(channel, let_go, after=0) == b"hold"
        assert stepped.result(10) == 1
        assert order == ["released", "stepped"]
        assert list(ticks) == []


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
        assert channel._spares.made == []  # turns took one connection


def test_a_stream_relayed_into_a_bidi_call_on_its_socket_fails_at_once() -> None:
    """The bidirectional call's thread holds the socket while it waits for its
    items, which the relayed stream's next step would wait for in turn."""
    with (
        server_thread(Feed()) as server,
        uvrpc.SyncChannel(server.endpoint) as channel,
    ):
        feed = FeedSyncClient(channel)
        ticks = feed.ticks(count=3, timeout=10)
        assert next(ticks).seq == 0
        began = time.monotonic()
        with pytest.raises(RuntimeError, match="open the stream on another"):
            list(feed.echo(ticks=ticks, timeout=10))
        assert time.monotonic() - began < 5  # at once, not at the deadline


def test_a_thread_closes_the_channel_its_own_stream_is_open_on() -> None:
    service = HeldEcho()
    with (
        server_thread(service, Feed()) as server,
        ThreadPoolExecutor(1) as pool,
    ):
        channel = uvrpc.SyncChannel(server.endpoint)
        held = pool.submit(
            lambda: bytes(EchoSyncClient(channel).echo(data=b"hold", timeout=10))
        )
        assert service.started.wait(10)
        ticks = FeedSyncClient(channel).ticks(count=3, timeout=10)
        assert next(ticks).seq == 0  # on a spare: the channel's own is busy
        service.release.set()
        assert held.result(10) == b"hold"
        channel.close()  # this thread's stream is no other thread's call
        with pytest.raises(uvrpc.Unavailable, match="closed"):
            EchoSyncClient(channel).echo(data=b"late", timeout=1)
        with pytest.raises(uvrpc.Unavailable, match="closed"):
            next(ticks)  # not a ZMQError from the closed socket


def test_a_spare_made_with_no_connect_timeout_waits_for_its_handshake() -> None:
    """A spare is made as threads collide, before its handshake: while the
    channel's own connection is up, its first call waits for it."""
    service = HeldEcho()
    with (
        server_thread(service) as server,
        uvrpc.SyncChannel(server.endpoint, connect_timeout=0) as channel,
        ThreadPoolExecutor(1) as pool,
    ):
        client = EchoSyncClient(channel)
        assert bytes(client.echo(data=b"up", timeout=10, wait_for_ready=True)) == b"up"
        assert channel.connected
        held = pool.submit(lambda: bytes(client.echo(data=b"hold", timeout=10)))
        try:
            assert service.started.wait(10)
            assert channel.connected  # read without the other thread's socket
            assert bytes(client.echo(data=b"spare", timeout=10)) == b"spare"
        finally:
            service.release.set()
        assert held.result(10) == b"hold"


def test_another_channels_feeder_stepping_a_stream_waits_for_its_call() -> None:
    """A feeder thread (of a bidirectional call elsewhere) steps a stream whose
    socket its opener's call holds: it waits for the call, as any thread would;
    only a feeder of a call on that very connection would wait for itself."""
    service = HeldEcho()
    with (
        server_thread(service, Feed()) as server,
        uvrpc.SyncChannel(server.endpoint) as channel,
    ):
        ticks = FeedSyncClient(channel).ticks(count=2, timeout=10)
        assert next(ticks).seq == 0

        def items() -> Iterator[int]:
            assert service.started.wait(10)
            yield next(ticks).seq

        feeder = Feeder(items(), "uvrpc test items", object())
        assert held_call(channel, service.release.set, after=0.3) == b"hold"
        ready, _, _ = select.select([feeder.fd], [], [], 10)
        assert ready, "the feeder read no item"
        assert feeder.take() == 1
        assert feeder.error is None
        feeder.stop()


def test_a_streams_items_read_during_another_call_stop_at_its_deadline() -> None:
    """Items the socket read while this thread waited in another call are not
    served once the stream's deadline passed: it fails, as the asyncio
    client's does, instead of yielding what was read meanwhile."""
    with (
        server_thread(Feed(delay=0.01)) as server,
        uvrpc.SyncChannel(server.endpoint) as channel,
    ):
        feed = FeedSyncClient(channel)
        ticks = feed.ticks(count=1000, timeout=2)
        assert next(ticks).seq == 0
        assert feed.ping(n=-30, timeout=10) == -30  # 3 s, on the socket
        with pytest.raises(uvrpc.DeadlineExceeded, match="within 2 s"):
            next(ticks)


def test_a_client_stream_notices_its_deadline_between_items() -> None:
    """It stops taking items once its deadline passed, though the server would
    take more, rather than reading the caller's iterable to its end."""
    taken: list[int] = []

    def slow_items() -> Iterator[Tick]:
        for seq in range(8):
            time.sleep(0.2)
            taken.append(seq)
            yield Tick(seq=seq)

    with (
        server_thread(Feed()) as server,
        uvrpc.SyncChannel(server.endpoint) as channel,
    ):
        with pytest.raises(uvrpc.DeadlineExceeded):
            FeedSyncClient(channel).upload(ticks=slow_items(), timeout=0.5)
    # The third item comes at 0.6 s at the soonest: past the deadline, the last.
    assert len(taken) <= 3


class RefusingFeed(Feed):
    """Fails every upload at once, taking none of its items."""

    async def upload(self, *, ticks: AsyncIterator[Tick], label: str) -> Total:
        raise uvrpc.FailedPrecondition(f"no uploads to {label}")


def test_a_client_streams_reply_ends_it_while_its_caller_is_producing_an_item() -> None:
    """The server's error reaches the caller at once, as gRPC's blocking call's
    does, not when the caller's iterable next yields (nor, if that is past the
    deadline, as DEADLINE_EXCEEDED): the items are read on a thread of their
    own."""
    release = threading.Event()

    def stuck_items() -> Iterator[Tick]:
        yield Tick(seq=0)
        release.wait(30)  # the caller's own code, producing the next item
        yield Tick(seq=1)

    try:
        with (
            server_thread(RefusingFeed()) as server,
            uvrpc.SyncChannel(server.endpoint) as channel,
        ):
            started = time.monotonic()
            with pytest.raises(uvrpc.FailedPrecondition, match="no uploads to x"):
                FeedSyncClient(channel).upload(
                    ticks=stuck_items(), label="x", timeout=20
                )
            assert time.monotonic() - started < 10  # not at the item, nor at 20 s
    finally:
        release.set()


def test_a_client_streams_deadline_holds_while_its_caller_is_producing_an_item() -> (
    None
):
    release = threading.Event()

    def stuck_items() -> Iterator[Tick]:
        yield Tick(seq=0)
        release.wait(30)
        yield Tick(seq=1)

    feed = Feed()
    try:
        with (
            server_thread(feed) as server,
            uvrpc.SyncChannel(server.endpoint) as channel,
        ):
            started = time.monotonic()
            with pytest.raises(uvrpc.DeadlineExceeded):
                FeedSyncClient(channel).upload(ticks=stuck_items(), timeout=0.5)
            assert time.monotonic() - started < 10
            told = time.monotonic() + 10  # and the server was told
            while not feed.cancelled.is_set():
                assert time.monotonic() < told, "the upload was not cancelled"
                time.sleep(0.01)
    finally:
        release.set()


def test_a_stream_closed_while_another_thread_holds_its_socket_is_cancelled() -> None:
    """Its thread could not take the socket to cancel it: the next call on the
    socket does, so the server's handler does not run on for ever."""
    service = HeldEcho()
    feed = Feed()
    with (
        server_thread(service, feed) as server,
        uvrpc.SyncChannel(server.endpoint) as channel,
        ThreadPoolExecutor(1) as pool,
    ):
        ticks = FeedSyncClient(channel).ticks(count=10**6)  # no deadline
        assert next(ticks).seq == 0

        def close_then_release() -> None:
            assert service.started.wait(10)  # this thread's call holds the socket
            ticks.close()
            service.release.set()

        closed = pool.submit(close_then_release)
        echoed = EchoSyncClient(channel).echo(data=b"hold", timeout=10)
        assert bytes(echoed) == b"hold"
        closed.result(10)
        assert not feed.finished.is_set()  # not yet: nobody could tell the server
        assert bytes(EchoSyncClient(channel).echo(data=b"next", timeout=10)) == b"next"
        deadline = time.monotonic() + 10
        while not feed.finished.is_set():
            assert time.monotonic() < deadline, "the stream was never cancelled"
            time.sleep(0.01)


def test_closing_an_in_memory_channel_ends_its_calls_then_its_server() -> None:
    """``sync_memory_channel``'s close ends the call another thread is inside,
    then stops the server."""
    service = HeldEcho()
    with (
        uvrpc.testing.sync_memory_channel(service) as channel,
        ThreadPoolExecutor(1) as pool,
    ):
        held = pool.submit(
            lambda: bytes(EchoSyncClient(channel).echo(data=b"hold", timeout=30))
        )
        assert service.started.wait(10)
        channel.close()
        with pytest.raises(uvrpc.ChannelClosed, match="closed during"):
            held.result(10)
        service.release.set()


def _read_settles(read: list[int], count: int) -> None:
    """Wait until ``count`` items were read, then a moment for one too many."""
    deadline = time.monotonic() + 10
    while len(read) < count:
        assert time.monotonic() < deadline, f"the feeder read {len(read)} items"
        time.sleep(0.001)
    time.sleep(0.05)
    assert len(read) == count


@pytest.mark.parametrize("ahead", [1, 4])
def test_a_feeder_reads_ahead_at_most_its_run_and_wakes_once_for_it(ahead: int) -> None:
    """No item is read from the caller's iterable before there is room for it;
    a run of ready items wakes the caller's thread once (its pipe holds one
    wake-up), and the reader reads again once half its room is free, not at
    each item taken: each wake-up costs both threads a switch."""
    read: list[int] = []

    def items() -> Iterator[int]:
        for n in range(100):
            read.append(n)
            yield n

    feeder = Feeder(items(), "uvrpc test items", object(), ahead=ahead)
    try:
        _read_settles(read, ahead)
        assert os.read(feeder.fd, 100) == b"\x01"
        if ahead > 1:
            assert feeder.take() == 0
            _read_settles(read, ahead)  # three of four still ready: no read
            taken = [0, *(feeder.take() for _ in range(ahead - 1))]
        else:
            taken = [feeder.take()]
        assert taken == list(range(ahead))
        _read_settles(read, 2 * ahead)
    finally:
        feeder.stop()


@pytest.mark.parametrize("kind", ["client", "bidi"])
def test_a_stream_whose_items_ended_waits_for_its_server_without_spinning(
    kind: str,
) -> None:
    """Once the caller's items end, the feeder's pipe is at its end and reads
    as ready for ever: the call must stop watching it, or its thread spins a
    core until the server answers."""
    feed = Feed(delay=0.7)  # the handler takes 2.1 s over three items
    with (
        server_thread(feed) as server,
        uvrpc.SyncChannel(server.endpoint) as channel,
    ):
        client = FeedSyncClient(channel)
        ticks = [Tick(seq=n) for n in range(3)]
        started = time.thread_time()
        if kind == "client":
            assert client.upload(ticks=ticks, label="x", timeout=30).count == 3
        else:
            assert [t.seq for t in client.echo(ticks=ticks, timeout=30)] == [0, 1, 2]
        used = time.thread_time() - started
    assert used < 0.5, f"the calling thread used {used:.2f} s of CPU waiting"
