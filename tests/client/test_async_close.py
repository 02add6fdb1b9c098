"""Closing an asyncio channel: what waits on it fails with ChannelClosed, the
server hears of its calls where it can, and the socket is closed whatever loop
the close runs on."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
import time
import weakref
from pathlib import Path

import pytest
import zmq
from calculator import CalculatorClient
from conftest import server_thread
from feed import FeedClient, Tick
from feed_server import Feed
from test_cancel import Stuck
from test_sync_close import terminates

import uvrpc


def test_a_wait_for_a_server_ends_as_the_channel_closes(tmp_path: Path) -> None:
    async def main() -> None:
        channel = uvrpc.Channel(f"ipc://{tmp_path}/nobody")
        waiting = asyncio.ensure_future(channel.ready())
        await asyncio.sleep(0.05)  # waiting (or not yet: either holds)
        await channel.close()
        with pytest.raises(uvrpc.ChannelClosed):
            await waiting
        with pytest.raises(uvrpc.ChannelClosed):
            await channel.ready(timeout=None)

    asyncio.run(asyncio.wait_for(main(), 10))


def test_a_channel_spread_over_servers_sends_its_close_no_cancel(
    tmp_path: Path,
) -> None:
    """Its socket sends each message to whichever server is next: a CANCEL
    would reach another server than its call's (which counts it stale) while
    the call's own handler ran on. None is sent."""

    async def main() -> None:
        services = [Stuck(), Stuck()]
        async with (
            uvrpc.Server(services[0]) as first,
            uvrpc.Server(services[1]) as second,
        ):
            endpoints = [
                server.bind(f"ipc://{tmp_path}/{n}.sock")
                for n, server in enumerate((first, second))
            ]
            channel = uvrpc.Channel(endpoints)
            await channel.ready(timeout=10)
            while channel.connections < 2:
                await asyncio.sleep(0.01)
            calc = CalculatorClient(channel)
            # Three: the CANCELs' turn would start at the server after the last call's.
            calls = [asyncio.ensure_future(calc.add(a=n, b=0)) for n in range(3)]
            for service in services:
                await service.started.wait()
            await channel.close()
            for call in calls:
                with pytest.raises(uvrpc.ChannelClosed):
                    await call
            await asyncio.sleep(0.2)  # a CANCEL sent would have arrived by now
            assert first.stats.stale == second.stats.stale == 0

    asyncio.run(asyncio.wait_for(main(), 20))


def test_a_channel_whose_loop_is_gone_is_closed_from_another(tmp_path: Path) -> None:
    """A stream left open as its loop ended: a close run on a new loop closes
    the socket, and raises nothing."""
    kept: list[object] = []
    with server_thread(Feed()) as server:
        channel = uvrpc.Channel(server.endpoint)

        async def leave_a_stream_open() -> None:
            ticks = FeedClient(channel).ticks(count=10**6, timeout=30)
            kept.append(ticks)  # open, never closed
            async for _ in ticks:
                break

        asyncio.run(leave_a_stream_open())
        asyncio.run(channel.close())
        assert channel._dealer is not None and channel._dealer._sock.closed


def test_a_channel_dropped_unclosed_leaves_later_ones_closing_cleanly() -> None:
    """As for the blocking channel (``test_sync_close.py``): a channel collected
    without close() once its loop ended has its sockets closed as close() does,
    and a later channel's close leaves nothing open in the context."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    with server_thread(Feed()) as server:

        async def call(close: bool) -> None:
            channel = uvrpc.Channel(server.endpoint, context=context)
            assert [t.seq async for t in FeedClient(channel).ticks(count=2)] == [0, 1]
            if close:
                await channel.close()

        asyncio.run(call(close=False))
        gc.collect()
        asyncio.run(call(close=True))
    assert terminates(context)


def _descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _use_each_kind(channel: uvrpc.Channel) -> None:
    client = FeedClient(channel, timeout=10)
    assert await client.ping(n=3) == 3
    assert [t.seq async for t in client.ticks(count=2)] == [0, 1]
    assert (await client.upload(ticks=[Tick(seq=1)], label="x")).count == 1


@pytest.mark.parametrize("endpoints", [1, 2])
def test_channels_dropped_unclosed_on_a_running_loop_are_closed(
    endpoints: int,
) -> None:
    """A channel made per request and never closed was kept, with its sockets
    and descriptors, as long as its loop ran (the loop's readers held it): a
    server doing so ran out of descriptors. Dropped, it is collected and its
    sockets (its stream calls' own, over several endpoints) are closed, while
    the loop runs on."""
    with server_thread(Feed()) as first, server_thread(Feed()) as second:
        targets = [first.endpoint, second.endpoint][:endpoints]

        async def main() -> None:
            channel = uvrpc.Channel(targets)  # the loop's own sockets first
            await _use_each_kind(channel)
            await channel.close()
            before = _descriptors()
            dropped = []
            for _ in range(10):
                channel = uvrpc.Channel(targets)
                await _use_each_kind(channel)
                dropped.append(weakref.ref(channel))
                del channel
            gc.collect()
            assert [ref() for ref in dropped] == [None] * 10
            # Their closes run on the loop, as callbacks; libzmq's threads then
            # close the descriptors (the server's ends too, in this process).
            for _ in range(200):
                if _descriptors() <= before:
                    break
                await asyncio.sleep(0.05)
            assert _descriptors() <= before
            async with uvrpc.Channel(targets) as channel:  # reused descriptors
                await _use_each_kind(channel)

        asyncio.run(main())


def test_a_dropped_channel_lives_while_its_call_is_pending() -> None:
    """Its call's future holds it: a call still running when its caller let go
    of the channel gets its reply."""
    with server_thread(Feed()) as server:

        async def main() -> int:
            channel = uvrpc.Channel(server.endpoint)
            pending = asyncio.ensure_future(FeedClient(channel).ping(n=-3))
            dropped = weakref.ref(channel)
            del channel
            await asyncio.sleep(0.05)
            gc.collect()
            assert dropped() is not None
            result = await asyncio.wait_for(pending, 10)
            gc.collect()
            await asyncio.sleep(0)
            assert dropped() is None
            return result

        assert asyncio.run(main()) == -3


# The scenario abandons a task on a closed loop: Python reports its coroutine
# as it is collected, unable to run its cleanup on that loop.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_channel_whose_loop_closed_under_a_waiting_send_is_closed(
    tmp_path: Path,
) -> None:
    """A call waiting for a server as its loop was closed (not by
    ``asyncio.run``, which would have cancelled it first): the close on a new
    loop closes every socket, raising nothing."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    channel = uvrpc.Channel(
        f"ipc://{tmp_path}/nobody", context=context, wait_for_ready=True
    )
    loop = asyncio.new_event_loop()
    waiting = loop.create_task(CalculatorClient(channel).add(a=1, b=2, timeout=30))
    loop.run_until_complete(asyncio.sleep(0.05))
    assert not waiting.done()
    loop.close()
    asyncio.run(channel.close())
    ended = threading.Event()

    def term() -> None:
        context.term()
        ended.set()

    threading.Thread(target=term, daemon=True).start()
    assert ended.wait(10), "a socket of the channel is still open"
    del waiting, loop, channel
    gc.collect()  # the abandoned task's report comes here, where it is expected


def test_a_close_from_another_thread_than_its_running_loops_is_refused() -> None:
    """Its futures and its socket are its loop's thread's: a close from
    elsewhere would fail the calls without waking their loop."""
    with server_thread(Feed()) as server:
        channel = uvrpc.Channel(server.endpoint)
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def serve_calls() -> int:
            answer = await FeedClient(channel).ping(n=7, timeout=10)
            ready.set()
            while not closing.is_set():
                await asyncio.sleep(0.01)
            return int(await FeedClient(channel).ping(n=8, timeout=10)) + answer

        closing = threading.Event()
        owner = threading.Thread(
            target=lambda: results.append(loop.run_until_complete(serve_calls()))
        )
        results: list[int] = []
        owner.start()
        try:
            assert ready.wait(10)
            with pytest.raises(RuntimeError, match="run_coroutine_threadsafe"):
                asyncio.run(channel.close())
        finally:
            closing.set()
            owner.join(10)
        assert results == [15]  # the channel was left open, and served on
        loop.run_until_complete(channel.close())
        loop.close()


def test_a_ready_that_timed_out_leaves_the_close_nothing_to_report(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Its wait for a connection, failed by the close, is nobody's to read: no
    "Future exception was never retrieved" in the log."""

    async def main() -> None:
        channel = uvrpc.Channel(f"ipc://{tmp_path}/nobody")
        assert await channel.ready(timeout=0.05) is False
        await channel.close()
        gc.collect()  # a future nobody read reports it as it is collected
        await asyncio.sleep(0)

    caplog.set_level(logging.ERROR, logger="asyncio")
    asyncio.run(main())
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


def test_a_close_cancelled_as_it_lingers_still_closes_the_socket() -> None:
    """A close cancelled while it waits for the socket's linger (a timeout
    around it) still lets the socket go: closing its monitor before the socket
    is gone left libzmq's socket, and its descriptors, open for good."""

    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    async def main() -> None:
        with server_thread(Feed()) as first, server_thread(Feed()) as second:
            before = open_fds()
            for target in ([first.endpoint, second.endpoint], first.endpoint) * 3:
                channel = uvrpc.Channel(target)
                assert await channel.ready(5)
                await FeedClient(channel, timeout=5).ping(n=1)
                closing = asyncio.ensure_future(channel.close())
                await asyncio.sleep(0)  # it waits for the linger now
                closing.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await closing
            deadline = time.monotonic() + 5
            while open_fds() > before:
                assert time.monotonic() < deadline, "a closed socket stayed open"
                await asyncio.sleep(0.01)

    asyncio.run(main())
