"""Sockets never cross a fork: channels and servers belong to their process.

A channel created before a fork raises a clear error in the child; one created in
the child works, with the fork and the spawn start methods; a server started in a
``multiprocessing.Process`` serves the parent.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import pickle
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import pytest
from conftest import server_thread
from feed import FeedClient, FeedSyncClient
from feed_server import Feed

import uvrpc

START_METHODS = ("fork", "spawn")


def call_in_child(endpoint: str, results: Connection) -> None:
    """Make a blocking and an async call from a channel created here."""
    with FeedSyncClient(endpoint, timeout=10) as sync_client:
        first = sync_client.ping(n=1)

    async def main() -> int:
        async with FeedClient(endpoint, timeout=10) as client:
            return await client.ping(n=2)

    results.send((first, asyncio.run(main())))


def serve_in_child(parent: Connection) -> None:
    """Send the parent the feed's endpoint, and serve it until told to stop."""

    async def main() -> None:
        async with uvrpc.Server(Feed()) as server:
            parent.send(server.bind("tcp://127.0.0.1:*"))
            await asyncio.get_running_loop().run_in_executor(None, parent.recv)

    asyncio.run(main())


def in_child(context: Any, target: Callable[..., None], *args: Any) -> tuple[Any, Any]:
    """Run ``target(*args, results)`` in a child process of ``context``: what it
    sent on ``results``, and the child once it ended (killed if it outlived its
    answer by 30 s)."""
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=target, args=(*args, send))
    child.start()
    try:
        assert receive.poll(60), "the child did not answer"
        return receive.recv(), child
    finally:
        child.join(30)
        if child.is_alive():
            child.kill()
            child.join()


@pytest.mark.parametrize("method", START_METHODS)
def test_a_client_created_in_a_child_works(method: str) -> None:
    context: Any = multiprocessing.get_context(method)  # ForkContext or SpawnContext
    with server_thread(Feed()) as server:
        # The parent's process-wide context is in use when the child starts.
        with FeedSyncClient(server.endpoint, timeout=10) as client:
            assert client.ping(n=0) == 0
        answer, child = in_child(context, call_in_child, server.endpoint)
        assert answer == (1, 2)
        assert child.exitcode == 0


def use_inherited(
    sync_channel: uvrpc.SyncChannel, channel: uvrpc.Channel, results: Connection
) -> None:
    """Use channels created before the fork; report the errors."""
    errors = []
    try:
        with FeedSyncClient(sync_channel) as client:
            client.ping(n=1)
    except RuntimeError as exc:
        errors.append(str(exc))

    async def main() -> None:
        async with FeedClient(channel) as client:
            await client.ping(n=1)

    try:
        asyncio.run(main())
    except RuntimeError as exc:
        errors.append(str(exc))
    results.send(errors)


def test_a_channel_created_before_a_fork_refuses_to_work_in_the_child() -> None:
    context = multiprocessing.get_context("fork")
    with server_thread(Feed()) as server:
        sync_channel = uvrpc.SyncChannel(server.endpoint)
        channel = uvrpc.Channel(server.endpoint)
        errors, child = in_child(context, use_inherited, sync_channel, channel)
        parent = os.getpid()
        assert errors == [
            f"this SyncChannel was created in process {parent}; create a new one in "
            f"process {child.pid}: ZeroMQ sockets and contexts cannot be used "
            "across a fork",
            f"this Channel was created in process {parent}; create a new one in "
            f"process {child.pid}: ZeroMQ sockets and contexts cannot be used "
            "across a fork",
        ]
        # The parent's channels are untouched.
        with FeedSyncClient(sync_channel, timeout=10) as client:
            assert client.ping(n=3) == 3

        async def main() -> None:
            async with FeedClient(channel, timeout=10) as client:
                assert await client.ping(n=4) == 4
            await channel.close()

        asyncio.run(main())
        sync_channel.close()


def close_inherited(sync_channel: uvrpc.SyncChannel, results: Connection) -> None:
    """Close a channel created before the fork; report how long it took."""
    began = time.monotonic()
    sync_channel.close()
    results.send(time.monotonic() - began)


def test_a_child_closing_an_inherited_channel_neither_waits_nor_disturbs() -> None:
    """A parent's thread was inside a call as the process forked: the child's
    copy of that connection is held by no thread there, and its close does not
    wait for one (nor for its linger: the sockets are the parent's), while the
    parent's call is answered."""
    context = multiprocessing.get_context("fork")
    with server_thread(Feed()) as server:
        sync_channel = uvrpc.SyncChannel(server.endpoint, linger=30)
        client = FeedSyncClient(sync_channel, timeout=30)
        inside = threading.Thread(target=lambda: answers.append(client.ping(n=-10)))
        answers: list[int] = []
        inside.start()
        time.sleep(0.2)  # inside its 1 s call (or not yet: either holds)
        took, _ = in_child(context, close_inherited, sync_channel)
        inside.join(30)
        assert answers == [-10]
        assert took < 10, f"the child's close took {took:.1f} s"  # 30.5 s if it waits
        assert client.ping(n=5) == 5
        sync_channel.close()


def close_inherited_server(server: uvrpc.Server, results: Connection) -> None:
    """Close a server created before the fork; report what it raised."""
    try:
        asyncio.run(server.close())
    except Exception as exc:
        results.send(repr(exc))
    else:
        results.send(None)


def test_a_child_closing_an_inherited_server_leaves_the_parents_serving() -> None:
    """The child's copy of the server shares its socket, and its loop's epoll
    instance, with the parent's: a close there (leaving an ``async with
    Server`` block the fork happened in) must not stop the parent reading."""
    context = multiprocessing.get_context("fork")
    with server_thread(Feed()) as running:
        error, _ = in_child(context, close_inherited_server, running.server)
        assert error is None
        with FeedSyncClient(running.endpoint, timeout=5) as client:
            assert client.ping(n=6) == 6


async def open_channel(endpoint: str) -> uvrpc.Channel:
    """A channel that has made a call on the running loop, which it belongs to."""
    channel = uvrpc.Channel(endpoint)
    assert await FeedClient(channel, timeout=10).ping(n=1) == 1
    return channel


def close_inherited_async(channel: uvrpc.Channel, results: Connection) -> None:
    """Close a channel whose loop was running as the process forked; report what
    it raised."""
    try:
        asyncio.run(channel.close())
    except Exception as exc:
        results.send(repr(exc))
    else:
        results.send(None)


def test_a_child_closing_an_inherited_async_channel_neither_raises_nor_disturbs() -> (
    None
):
    """The child's copy of a loop that ran as the process forked still says it
    runs, in a thread the child does not have: its channel's close is a child's
    copy's (a no-op), not one made from the wrong thread."""
    context = multiprocessing.get_context("fork")
    with server_thread(Feed()) as running:
        assert running.loop is not None
        loop = running.loop
        channel = asyncio.run_coroutine_threadsafe(
            open_channel(running.endpoint), loop
        ).result(10)
        error, _ = in_child(context, close_inherited_async, channel)
        assert error is None
        ping = FeedClient(channel, timeout=5).ping(n=7)
        assert asyncio.run_coroutine_threadsafe(ping, loop).result(10) == 7
        asyncio.run_coroutine_threadsafe(channel.close(), loop).result(10)


@pytest.mark.parametrize("method", START_METHODS)
def test_a_server_in_a_child_process_serves_the_parent(method: str) -> None:
    context: Any = multiprocessing.get_context(method)  # ForkContext or SpawnContext
    pipe, child_end = context.Pipe()
    child = context.Process(target=serve_in_child, args=(child_end,))
    child.start()
    try:
        assert pipe.poll(60), "the server did not start"
        endpoint = pipe.recv()
        with FeedSyncClient(endpoint, timeout=10) as client:
            assert client.ping(n=5) == 5
    finally:
        pipe.send("stop")
        child.join(30)
        if child.is_alive():
            child.kill()
            child.join()
    assert child.exitcode == 0


def test_a_blocking_call_asks_the_os_for_no_process_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # getpid() is a system call (glibc caches nothing): the fork check of every
    # blocking call reads a count that changes in a fork's child instead.
    caller = threading.get_ident()
    asked = 0
    real_getpid = os.getpid

    def getpid() -> int:
        nonlocal asked
        if threading.get_ident() == caller:
            asked += 1
        return real_getpid()

    with server_thread(Feed()) as server:
        with FeedSyncClient(server.endpoint, timeout=10) as client:
            assert client.ping(n=0) == 0
            monkeypatch.setattr(os, "getpid", getpid)
            for n in range(1, 101):
                assert client.ping(n=n) == n
            monkeypatch.undo()
    assert asked == 0


def test_channels_and_servers_refuse_to_be_pickled_saying_so() -> None:
    """multiprocessing's spawn pickles a child's arguments: a channel, a client
    or a server given to one failed naming a lock, a poller or a struct."""
    said = "cannot be pickled or sent to another process: create one in that"
    sync_channel = uvrpc.SyncChannel("tcp://127.0.0.1:1")
    channel = uvrpc.Channel("tcp://127.0.0.1:1")
    server = uvrpc.Server(Feed())
    try:
        for kind, thing in [
            ("SyncChannel", sync_channel),
            ("SyncChannel", FeedSyncClient(sync_channel)),
            ("Channel", channel),
            ("Channel", FeedClient(channel)),
            ("Server", server),
        ]:
            with pytest.raises(TypeError, match=f"^a {kind} {said}"):
                pickle.dumps(thing)
    finally:
        sync_channel.close()
        asyncio.run(channel.close())
        asyncio.run(server.close())
