"""A call whose caller gave up leaves nothing behind to run later.

A request is never queued for a server that is not connected (the channels'
sockets set ``ZMQ_IMMEDIATE``), so a server that comes up after the call failed
never sees it; and an async unary call that expires tells its server (CANCEL), as
a blocking one does.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import msgpack
import pytest
import zmq
from feed import FeedClient, FeedSyncClient
from raw_frames import V

import uvrpc
from uvrpc.protocol import KIND_CANCEL, KIND_REQUEST, encode_reply_header, send_stamp

PING = "feed.Feed.ping"


def router(endpoint: str) -> zmq.Socket[bytes]:
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(endpoint)
    return sock


def take(sock: zmq.Socket[bytes]) -> tuple[bytes, list[object]]:
    """The next message's sender and header (10 s at most)."""
    assert sock.poll(10_000), "nothing arrived"
    frames = sock.recv_multipart()
    return frames[0], msgpack.unpackb(frames[-2])


def answer(sock: zmq.Socket[bytes], identity: bytes, call_id: int, n: int) -> None:
    sock.send_multipart(
        [identity, b"", encode_reply_header(call_id, 0), msgpack.packb(n)]
    )


def test_an_async_call_made_while_no_server_is_up_never_reaches_a_later_one(
    tmp_path: Path,
) -> None:
    endpoint = f"ipc://{tmp_path / 'later.sock'}"

    async def main() -> None:
        async with FeedClient(endpoint) as client:
            # It says it never went, as a blocking call does, not that no reply
            # came, which leaves open whether it ran.
            with pytest.raises(uvrpc.DeadlineExceeded, match="could not be sent"):
                await client.ping(n=1, timeout=0.2)
            with pytest.raises(uvrpc.DeadlineExceeded, match="could not be sent"):
                await client.start_ping(n=1, timeout=0.2)
            sock = router(endpoint)
            try:
                second = asyncio.ensure_future(client.ping(n=2, timeout=30))
                identity, header = await asyncio.to_thread(take, sock)
                # The first message the new server gets is the second call's.
                assert header[1] == KIND_REQUEST and header[3] == PING
                assert header[2] == 3, f"a failed call reached the server: {header}"
                answer(sock, identity, 3, 2)
                assert await second == 2
            finally:
                sock.close()

    asyncio.run(asyncio.wait_for(main(), 30))


def test_a_blocking_call_made_while_no_server_is_up_never_reaches_a_later_one(
    tmp_path: Path,
) -> None:
    endpoint = f"ipc://{tmp_path / 'later.sock'}"
    with FeedSyncClient(endpoint) as client:
        with pytest.raises(uvrpc.DeadlineExceeded, match="could not be sent"):
            client.ping(n=1, timeout=0.2)
        sock = router(endpoint)
        seen: list[list[object]] = []

        def serve() -> None:
            identity, header = take(sock)
            seen.append(header)
            answer(sock, identity, int(header[2]), 2)  # type: ignore[call-overload]

        server = threading.Thread(target=serve, daemon=True)
        server.start()
        try:
            assert client.ping(n=2, timeout=30) == 2
            server.join(10)
            assert seen[0][2] == 2, f"the failed call reached the server: {seen}"
        finally:
            sock.close()


def test_an_async_unary_call_that_expires_sends_its_server_a_cancel() -> None:
    sock = router("tcp://127.0.0.1:*")
    endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)

    async def main() -> None:
        async with FeedClient(endpoint) as client:
            call = asyncio.ensure_future(client.ping(n=1, timeout=0.3))
            identity, header = await asyncio.to_thread(take, sock)
            assert header[:4] == [V, KIND_REQUEST, 1, PING]
            with pytest.raises(uvrpc.DeadlineExceeded, match="got no reply"):
                await call  # the server never answers
            # The server hears that the caller gave up: a handler still running
            # is cancelled, whatever the server's clock says.
            sender, cancel = await asyncio.to_thread(take, sock)
            assert sender == identity and cancel[:3] == [V, KIND_CANCEL, 1]

    try:
        asyncio.run(asyncio.wait_for(main(), 30))
    finally:
        sock.close()


def test_a_request_that_waited_for_a_server_goes_with_the_time_it_has_left(
    tmp_path: Path,
) -> None:
    endpoint = f"ipc://{tmp_path / 'later.sock'}"

    async def main() -> None:
        async with FeedClient(endpoint) as client:
            call = asyncio.ensure_future(client.ping(n=1, timeout=5))
            await asyncio.sleep(0.5)  # no server yet: the request waits
            before_bind = send_stamp()
            sock = router(endpoint)
            try:
                identity, header = await asyncio.to_thread(take, sock)
                # Its timeout counts from when it went, as does its stamp: a
                # server on a new connection, with no other request to compare
                # it with, still gives it no more time than its caller waits.
                assert header[:4] == [V, KIND_REQUEST, 1, PING]
                assert isinstance(header[4], int) and header[4] <= 4_500
                assert isinstance(header[7], int) and header[7] >= before_bind
                answer(sock, identity, 1, 1)
                assert await call == 1
            finally:
                sock.close()

    asyncio.run(asyncio.wait_for(main(), 30))


def test_a_blocking_request_that_waited_for_a_server_goes_with_the_time_left(
    tmp_path: Path,
) -> None:
    endpoint = f"ipc://{tmp_path / 'later.sock'}"
    with FeedSyncClient(endpoint) as client:
        results: list[int] = []
        started: list[float] = []

        def call() -> None:
            started.append(time.monotonic())
            results.append(client.ping(n=1, timeout=5))

        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        time.sleep(0.5)  # no server yet: the request waits
        before_bind = send_stamp()
        sock = router(endpoint)
        try:
            identity, header = take(sock)
            waited = time.monotonic() - started[0]
            assert waited > 0.3  # it did wait for a server
            assert header[:4] == [V, KIND_REQUEST, 1, PING]
            # At most the time left when it went (the call's clock started a
            # moment after ``started``: a few ms of slack).
            assert isinstance(header[4], int)
            assert header[4] <= 5_000 - waited * 1000 + 20
            assert isinstance(header[7], int) and header[7] >= before_bind
            answer(sock, identity, 1, 1)
            caller.join(10)
            assert results == [1]
        finally:
            sock.close()
