"""Heartbeats: a long handler is never taken for a dead server; a silent one is.

A partition is simulated by a TCP forwarder between client and server that can be
frozen: it stops forwarding without closing anything, as a lost network would.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any

import msgpack
import pytest
import zmq
from conftest import server_thread
from feed import FeedClient
from feed_server import Feed

import uvrpc
from uvrpc.protocol import encode_reply_header

FAST = uvrpc.Heartbeat(interval=0.1, timeout=0.3)


class Forwarder:
    """Forwards TCP connections from a loopback port to ``upstream``; while
    frozen, it holds every byte without closing anything."""

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.removeprefix("tcp://").rpartition(":")
        self._upstream = (host, int(port))
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self.endpoint = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.endpoint = f"tcp://127.0.0.1:{port}"

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        self._writers += [writer, up_writer]
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pump(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter
    ) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await source.read(65536):
                await self._flowing.wait()
                sink.write(data)
                await sink.drain()
        sink.close()

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()


def test_a_handler_longer_than_many_heartbeat_timeouts_is_not_a_dead_server() -> None:
    with server_thread(Feed(), heartbeat=FAST) as server:

        async def main() -> None:
            async with FeedClient(
                uvrpc.Channel(server.endpoint, heartbeat=FAST), timeout=30
            ) as c:
                assert await c.ping(n=-20) == -20  # 2 s: over six timeouts
            await c.channel.close()

        asyncio.run(main())


@pytest.mark.slow
def test_a_30_s_call_with_1_s_heartbeats() -> None:
    with server_thread(Feed()) as server:

        async def main() -> None:
            async with FeedClient(server.endpoint, timeout=60) as c:
                assert await c.ping(n=-300) == -300

        asyncio.run(main())


def test_a_partition_fails_the_pending_call_with_unavailable() -> None:
    with server_thread(Feed(), heartbeat=FAST) as server:

        async def main() -> None:
            forwarder = Forwarder(server.endpoint)
            await forwarder.start()
            channel = uvrpc.Channel(forwarder.endpoint, heartbeat=FAST)
            try:
                async with FeedClient(channel, timeout=60) as c:
                    assert await c.ping(n=1) == 1  # connected through it
                    pending = asyncio.ensure_future(c.ping(n=-50))  # 5 s
                    forwarder.freeze()
                    # Without heartbeats this waits for the 60 s deadline; the
                    # wait_for only keeps a failure of this test short.
                    with pytest.raises(uvrpc.Unavailable, match="dropped"):
                        await asyncio.wait_for(pending, 20)
                    forwarder.thaw()
                    assert await c.ping(n=2) == 2  # reconnected
            finally:
                await channel.close()
                await forwarder.close()

        asyncio.run(main())


def test_a_reply_read_before_the_server_closes_answers_its_call() -> None:
    """A reply the loop has read answers its call, though the server closes the
    connection right after sending it and the disconnection is reported next."""

    async def main() -> None:
        for _ in range(20):
            sock, endpoint, answered, close = _answering_router()
            async with uvrpc.Channel(endpoint) as channel:
                call = FeedClient(channel).start_ping(n=7, timeout=10)
                assert await call == 7
                close.set()
                assert await asyncio.to_thread(answered.wait, 10)
                assert channel.pending == 0
            sock.close(linger=0)

    asyncio.run(main())


def test_a_reply_unread_when_the_connection_drops_fails_its_call() -> None:
    """What is left to the caller: the client's socket sends only to connected
    servers (``ZMQ_IMMEDIATE``, so that nothing is queued for a server that is
    down), and with that option libzmq drops what a dropped connection delivered
    but the client had not read. A client whose loop is blocked while its server
    replies and closes loses the reply: the call fails with ``UNAVAILABLE``, at
    once, never at its deadline or for ever (``docs/reliability.md``)."""

    async def main() -> None:
        blocked = threading.Event()
        sock, endpoint, answered, close = _answering_router(blocked)
        close.set()
        async with uvrpc.Channel(endpoint) as channel:
            assert await channel.ready(10)
            call = FeedClient(channel).start_ping(n=7, timeout=30)
            await asyncio.sleep(0)  # the request goes out
            # The server answers only now: had it answered while the loop still
            # ran (a client preempted under load), the loop would read the reply.
            blocked.set()
            assert answered.wait(10)  # the loop is blocked meanwhile
            # The reply and the disconnection both arrived: ZeroMQ's I/O thread
            # closes its end of the connection once it has told the socket.
            _until_closed_by_client(endpoint)
            started = time.monotonic()
            with pytest.raises(uvrpc.Unavailable, match="dropped"):
                await call
            assert time.monotonic() - started < 10
        sock.close(linger=0)

    asyncio.run(main())


def _until_closed_by_client(endpoint: str) -> None:
    """Wait until this host has no open connection to ``endpoint``'s port that
    is not yet closed on the connecting side (ESTABLISHED or CLOSE_WAIT in
    ``/proc/net/tcp``): the connecting side closes its socket after it handled
    the peer's close. A fixed sleep here failed under load, when the client's
    I/O thread had not run yet."""
    port = int(endpoint.rpartition(":")[2])
    open_states = {"01", "08"}  # ESTABLISHED, CLOSE_WAIT
    deadline = time.monotonic() + 10
    while True:
        with open("/proc/net/tcp") as table:
            rows = [line.split() for line in table.readlines()[1:]]
        if not any(
            int(row[2].rpartition(":")[2], 16) == port and row[3] in open_states
            for row in rows
        ):
            return
        assert time.monotonic() < deadline, "the client never closed its end"
        time.sleep(0.001)


def _answering_router(
    answer_when: threading.Event | None = None,
) -> tuple[zmq.Socket[bytes], str, threading.Event, threading.Event]:
    """A bare server that answers one ping with 7 (once ``answer_when`` is set,
    if given) and closes once ``close`` is set; ``answered`` is set when it has
    closed."""
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 1000)
    sock.bind("tcp://127.0.0.1:*")
    endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
    answered, close = threading.Event(), threading.Event()

    def answer_and_close() -> None:
        try:
            if sock.poll(10_000):
                identity, _, header, _ = sock.recv_multipart()
                if answer_when is not None:
                    answer_when.wait(10)
                call_id = msgpack.unpackb(header)[2]
                reply = [identity, b"", encode_reply_header(call_id, 0)]
                sock.send_multipart([*reply, msgpack.packb(7)])
                close.wait(10)
        finally:
            sock.close()
            answered.set()

    threading.Thread(target=answer_and_close, daemon=True).start()
    return sock, endpoint, answered, close


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"interval": float("nan")}, "interval"),
        ({"interval": 0}, "interval"),
        ({"timeout": float("inf")}, "timeout"),
        ({"ttl": float("nan")}, "ttl"),
        ({"ttl": True}, "ttl"),
    ],
)
def test_a_heartbeat_is_checked_where_it_is_made(
    options: dict[str, Any], named: str
) -> None:
    """A NaN or infinite setting passed the old comparisons and failed only when a
    socket took it: ``cannot convert float NaN to integer`` at a connect."""
    with pytest.raises(ValueError, match=f"heartbeat's {named} must be a finite"):
        uvrpc.Heartbeat(**options)
