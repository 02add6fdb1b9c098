"""Closing a SyncChannel ends the calls and streams other threads have open on
it, as a gRPC channel's close does (``client/closing.py``): a call waiting for
its reply or for a server fails with ChannelClosed within moments, not at its
deadline, the server is told to stop its handler, and every socket is closed as
the close returns."""

from __future__ import annotations

import gc
import queue
import threading
import time
import weakref
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import zmq
from conftest import server_thread
from echo import EchoSyncClient
from feed import FeedSyncClient, Tick
from feed_server import Feed
from test_sync_threads import HeldEcho  # holds the calls whose data starts "hold"

import uvrpc
from uvrpc.client.sync_connection import SyncConnection

SOON = 5.0
"""Seconds within which a closed channel's call ends: far below the calls'
30 s deadlines, far above the 50 ms the wake-up takes."""


def ended_soon(future: Future[Any]) -> BaseException:
    """The exception ``future`` ended with, within :data:`SOON` seconds."""
    error = future.exception(SOON)
    assert error is not None, f"it returned {future.result()!r}"
    return error


def terminates(context: zmq.Context[zmq.Socket[bytes]]) -> bool:
    """Whether ``context`` can be terminated: every socket made in it is closed
    (``term`` blocks while one is open)."""
    done = threading.Event()

    def term() -> None:
        context.term()
        done.set()

    threading.Thread(target=term, daemon=True).start()
    return done.wait(SOON)


def test_a_call_another_thread_waits_on_ends_as_the_channel_closes() -> None:
    service = HeldEcho()
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    with server_thread(service) as server, ThreadPoolExecutor(1) as pool:
        channel = uvrpc.SyncChannel(server.endpoint, context=context)
        held = pool.submit(
            lambda: EchoSyncClient(channel).echo(data=b"hold", timeout=30)
        )
        try:
            assert service.started.wait(SOON)
            channel.close()  # no RuntimeError; the woken thread gave its socket up
            assert terminates(context), "a socket of the closed channel is open"
            error = ended_soon(held)
            assert isinstance(error, uvrpc.ChannelClosed)
            assert str(error) == (
                "UNAVAILABLE: the channel was closed during echo.Echo.echo"
            )
            assert service.cancelled.wait(SOON), "the server was not told"
            with pytest.raises(uvrpc.ChannelClosed, match="the channel is closed"):
                EchoSyncClient(channel).echo(data=b"late", timeout=1)
        finally:
            service.release.set()


def test_a_call_waiting_for_a_server_ends_as_the_channel_closes(
    tmp_path: Path,
) -> None:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    channel = uvrpc.SyncChannel(
        f"ipc://{tmp_path}/nobody", context=context, wait_for_ready=True
    )
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(
            lambda: EchoSyncClient(channel).echo(data=b"x", timeout=30)
        )
        time.sleep(0.2)  # inside its wait for a server (or not yet: either holds)
        channel.close()
        error = ended_soon(waiting)
    assert isinstance(error, uvrpc.ChannelClosed)
    assert "closed" in str(error)
    assert terminates(context)


def test_streams_of_other_threads_end_as_the_channel_closes() -> None:
    """A server stream between its steps, a bidirectional one waiting for its
    caller's next item, and a client stream whose caller is producing one: each
    raises ChannelClosed at its next step (the server hearing of a stream
    between its steps: the last test)."""
    feed = Feed()
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    with server_thread(feed) as server, ThreadPoolExecutor(3) as pool:
        channel = uvrpc.SyncChannel(server.endpoint, context=context)
        client = FeedSyncClient(channel)
        opened = threading.Barrier(4)
        closed = threading.Event()

        def server_stream() -> None:
            ticks = client.ticks(count=10**6, timeout=30)
            next(ticks)
            opened.wait(SOON)
            closed.wait(SOON)
            for _ in ticks:  # items buffered before the close may come first
                pass

        outgoing: queue.Queue[Tick | None] = queue.Queue()

        def chat_items() -> Iterator[Tick]:
            while (tick := outgoing.get()) is not None:
                yield tick

        def bidi_stream() -> None:
            echoes = client.echo(ticks=chat_items(), timeout=30)
            outgoing.put(Tick(seq=1))
            assert next(echoes).seq == 1
            opened.wait(SOON)
            next(echoes)  # waits for an item that never comes

        def upload_items() -> Iterator[Tick]:
            yield Tick(seq=0)
            opened.wait(SOON)
            closed.wait(SOON)
            yield Tick(seq=1)
            raise AssertionError("the upload took an item after the close")

        def client_stream() -> None:
            client.upload(ticks=upload_items(), timeout=30)

        streams = [pool.submit(f) for f in (server_stream, bidi_stream, client_stream)]
        try:
            opened.wait(SOON)
            channel.close()
            closed.set()
            errors = [ended_soon(stream) for stream in streams]
        finally:
            closed.set()
            outgoing.put(None)
    assert [type(error) for error in errors] == [uvrpc.ChannelClosed] * 3, errors
    assert terminates(context)


def test_a_spare_made_as_the_channel_closes_is_closed_too() -> None:
    """A thread whose call found the channel's own connection busy may be
    making a spare as another closes the channel: the spare is closed, and its
    call fails as on a closed channel."""
    service = HeldEcho()
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    with server_thread(service) as server, ThreadPoolExecutor(2) as pool:
        channel = uvrpc.SyncChannel(server.endpoint, context=context)
        held = pool.submit(
            lambda: EchoSyncClient(channel).echo(data=b"hold", timeout=30)
        )
        assert service.started.wait(SOON)
        making, made = threading.Event(), threading.Event()
        open_spare = channel._open_spare

        def slow_spare() -> SyncConnection:
            making.set()
            made.wait(SOON)
            return open_spare()

        channel._spares._make = slow_spare
        second = pool.submit(
            lambda: EchoSyncClient(channel).echo(data=b"second", timeout=30)
        )
        try:
            assert making.wait(SOON)
            channel.close()
            made.set()
            assert isinstance(ended_soon(second), uvrpc.ChannelClosed)
            assert isinstance(ended_soon(held), uvrpc.ChannelClosed)
        finally:
            made.set()
            service.release.set()
    assert terminates(context)


def test_a_call_waiting_for_room_to_send_ends_at_once_while_close_lingers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The closing thread lingers for what was sent (held here by a socket
    close that waits, as a long linger would); the call that could not send
    fails at once all the same, not after the linger."""
    blocked, let_close = threading.Event(), threading.Event()
    send_waiting, close_socket = SyncConnection._send_waiting, SyncConnection.close

    def waiting(self: SyncConnection, *args: Any, **kwargs: Any) -> None:
        if self.was_connected:  # no room (not the wait for the first handshake)
            blocked.set()
        send_waiting(self, *args, **kwargs)

    def lingering(self: SyncConnection, linger: float | None = None) -> None:
        let_close.wait(SOON)
        close_socket(self, linger)

    monkeypatch.setattr(SyncConnection, "_send_waiting", waiting)
    monkeypatch.setattr(SyncConnection, "close", lingering)
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    peer = context.socket(zmq.ROUTER)  # takes the connection, never reads
    try:
        peer.setsockopt(zmq.RCVHWM, 1)
        peer.bind("tcp://127.0.0.1:*")
        endpoint = peer.getsockopt_string(zmq.LAST_ENDPOINT)
        channel = uvrpc.SyncChannel(endpoint, context=context, hwm=1, linger=0)
        feed = FeedSyncClient(channel)
        with ThreadPoolExecutor(2) as pool:

            def flood() -> None:
                while True:  # oneway calls, until one finds no room
                    feed.notify(text="x" * 100_000, timeout=60, wait_for_ready=True)

            flooding = pool.submit(flood)
            try:
                assert blocked.wait(SOON), "the flood never filled the pipes"
                closing = pool.submit(channel.close)
                error = ended_soon(flooding)
                assert isinstance(error, uvrpc.ChannelClosed), error
                assert not closing.done(), "the close did not linger"
            finally:
                let_close.set()
            closing.result(SOON)
    finally:
        peer.close(linger=0)
    assert terminates(context)


def test_a_stream_between_its_steps_is_cancelled_at_the_server() -> None:
    """Its thread holds no socket: the close cancels it, and the server hears
    it then (not at its next idle-stream probe, a minute away here)."""
    feed = Feed()
    with server_thread(feed, probe_interval=60) as server:
        channel = uvrpc.SyncChannel(server.endpoint)
        ticks = FeedSyncClient(channel).ticks(count=10**6, timeout=60)
        next(ticks)
        closers = [threading.Thread(target=channel.close) for _ in range(2)]
        for closer in closers:  # two threads at once: one closes, neither fails
            closer.start()
        for closer in closers:
            closer.join(SOON)
            assert not closer.is_alive(), "a close did not return"
        end = time.monotonic() + SOON
        # Its handler waits at a yield, for credit: closed there, it ends.
        while not feed.finished.is_set():
            assert time.monotonic() < end, "the server was not told"
            time.sleep(0.01)
        with pytest.raises(uvrpc.ChannelClosed):
            next(ticks)


def test_a_stream_steps_past_a_close_that_lingers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The closing thread holds the stream's socket while it lingers for what
    was sent: the stream's next step, already cancelled by the close, raises at
    once instead of waiting for the socket (until its deadline)."""
    lingers, let_close = threading.Event(), threading.Event()
    close_socket = SyncConnection.close

    def lingering(self: SyncConnection, linger: float | None = None) -> None:
        lingers.set()  # the closing thread holds the socket now
        let_close.wait(SOON)  # as a long linger would
        close_socket(self, linger)

    monkeypatch.setattr(SyncConnection, "close", lingering)
    with server_thread(Feed()) as server:
        channel = uvrpc.SyncChannel(server.endpoint)
        ticks = FeedSyncClient(channel).ticks(count=10**6, timeout=60)
        next(ticks)
        closer = threading.Thread(target=channel.close)
        closer.start()
        try:
            assert lingers.wait(SOON), "the close never reached the socket"
            began = time.monotonic()
            with pytest.raises(uvrpc.ChannelClosed):
                for _ in ticks:  # items read before the close may come first
                    pass
            assert closer.is_alive(), "the close did not linger"
            assert time.monotonic() - began < SOON
        finally:
            let_close.set()
            closer.join(SOON)


def test_a_channel_dropped_unclosed_leaves_later_ones_closing_cleanly() -> None:
    """A channel collected without close() has its sockets closed as close()
    closes them: pyzmq's own finalizer left libzmq reporting the end of no
    socket closed after it, so each later channel's close waited out its linger
    and left its socket open for good (the context could never terminate)."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    with server_thread(HeldEcho()) as server:
        dropped = EchoSyncClient(uvrpc.SyncChannel(server.endpoint, context=context))
        assert bytes(dropped.echo(data=b"a", timeout=10)) == b"a"
        del dropped
        gc.collect()
        for _ in range(2):
            with uvrpc.SyncChannel(server.endpoint, context=context) as channel:
                echoed = EchoSyncClient(channel).echo(data=b"b", timeout=10)
                assert bytes(echoed) == b"b"
    assert terminates(context)


def test_a_channel_is_freed_as_its_last_reference_goes() -> None:
    """No reference cycle holds a channel: a dropped one closes its sockets at
    once, and a closed one its closing pipe (``client/closing.py``), rather than
    at the garbage collector's next pass, which a process making a client per
    task may not see for long (each holding a connection to the server)."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    gc.disable()
    try:
        with server_thread(HeldEcho()) as server:
            closed = uvrpc.SyncChannel(server.endpoint, context=context)
            assert bytes(EchoSyncClient(closed).echo(data=b"a", timeout=10)) == b"a"
            closed.close()
            gone = weakref.ref(closed)
            del closed
            assert gone() is None
            dropped = uvrpc.SyncChannel(server.endpoint, context=context)
            assert bytes(EchoSyncClient(dropped).echo(data=b"b", timeout=10)) == b"b"
            del dropped
            assert terminates(context)
    finally:
        gc.enable()
