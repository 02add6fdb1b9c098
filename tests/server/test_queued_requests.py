"""A request that waited in the server's socket past its deadline is never run.

The server's loop is held up (a handler that blocks it: a stop, a long pause)
while requests with short deadlines reach its socket. When it reads them, their
send stamps say how long they waited, measured against the earlier requests of
the same connection, and that time counts against their deadlines: the unary
call is answered DEADLINE_EXCEEDED and the oneway one dropped, neither handler
started; a request with time left runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import msgpack
import zmq
from conftest import server_thread
from feed_server import Feed

import uvrpc
from uvrpc.protocol import ONEWAY_CALL_ID, RequestHeaders, send_stamp

PING = RequestHeaders("feed.Feed.ping")
NOTIFY = RequestHeaders("feed.Feed.notify")
TICKS = RequestHeaders("feed.Feed.ticks")
STALL = 1_000_000
"""The ``n`` of the ping that blocks the server's loop."""
STALL_FOR = 1.0
"""Seconds it blocks the loop: over three times the short deadline."""
SHORT_MS = 300


class StallingFeed(Feed):
    """``ping(STALL)`` blocks the loop; every ping records that it ran."""

    def __init__(self) -> None:
        super().__init__()
        self.ran: list[int] = []
        self.stalled = threading.Event()

    async def ping(self, *, n: int) -> int:
        if n == STALL:
            self.stalled.set()
            time.sleep(STALL_FOR)  # the whole loop waits, as in a stopped process
        self.ran.append(n)
        return n


@contextmanager
def dealer_to(endpoint: str) -> Iterator[zmq.Socket[bytes]]:
    """A raw DEALER connected to ``endpoint``, closed at the end."""
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(endpoint)
        yield sock
    finally:
        sock.close()


def send(
    sock: zmq.Socket[bytes],
    headers: RequestHeaders,
    call_id: int,
    body: object,
    timeout_ms: int | None,
) -> None:
    header = headers.encode(call_id, timeout_ms, None, send_stamp())
    sock.send_multipart([b"", header, msgpack.packb(body)])


def replies(sock: zmq.Socket[bytes], count: int) -> dict[int, int]:
    """The statuses of the next ``count`` replies, by call id."""
    statuses = {}
    for _ in range(count):
        assert sock.poll(10_000), "no reply"
        header = msgpack.unpackb(sock.recv_multipart()[-2])
        statuses[header[2]] = header[3]
    return statuses


def test_requests_that_waited_past_their_deadline_in_the_socket_never_run() -> None:
    feed = StallingFeed()
    with server_thread(feed) as server:
        with dealer_to(server.endpoint) as sock:
            # Calls answered at once: the connection's baseline.
            for call_id in (1, 2, 3):
                send(sock, PING, call_id, {"1": call_id}, 10_000)
                assert replies(sock, 1) == {call_id: uvrpc.Status.OK}
            send(sock, PING, 4, {"1": STALL}, None)
            assert feed.stalled.wait(10)
            # The loop is blocked: these wait in the socket for about a second.
            send(sock, PING, 5, {"1": 5}, SHORT_MS)
            send(sock, NOTIFY, ONEWAY_CALL_ID, {"1": "late"}, SHORT_MS)
            send(sock, PING, 6, {"1": 6}, 30_000)
            assert replies(sock, 3) == {
                4: uvrpc.Status.OK,
                5: uvrpc.Status.DEADLINE_EXCEEDED,
                6: uvrpc.Status.OK,
            }
        assert feed.ran == [1, 2, 3, STALL, 6]
        assert feed.notes == []
        assert server.stats.expired == 2  # the unary call and the oneway one


def test_a_request_whose_deadline_passed_in_queues_says_it_was_not_run() -> None:
    """Its handler never started: "did not finish within 0.3 s" would send its
    caller looking for a slow handler."""
    feed = StallingFeed()
    with server_thread(feed) as server:
        with dealer_to(server.endpoint) as sock:
            send(sock, PING, 1, {"1": 1}, 10_000)  # the connection's baseline
            assert replies(sock, 1) == {1: uvrpc.Status.OK}
            send(sock, PING, 2, {"1": STALL}, None)
            assert feed.stalled.wait(10)
            send(sock, PING, 3, {"1": 3}, SHORT_MS)  # waits in the socket
            answers = {}
            for _ in range(2):
                assert sock.poll(10_000), "no reply"
                frames = sock.recv_multipart()
                answers[msgpack.unpackb(frames[-2])[2]] = msgpack.unpackb(frames[-1])
    assert answers[3]["message"] == (
        f"feed.Feed.ping was not run: its deadline ({SHORT_MS / 1000:g} s) passed "
        "before it started"
    )
    assert feed.ran == [1, STALL]


def test_a_request_with_a_timeout_already_passed_is_not_run_and_says_so() -> None:
    """A peer's timeout of 0 or less (its clock, its arithmetic) is answered
    DEADLINE_EXCEEDED saying that its deadline had passed, not "did not finish
    within -0.005 s", and its handler never starts."""
    feed = StallingFeed()
    with server_thread(feed) as server:
        with dealer_to(server.endpoint) as sock:
            for call_id, timeout_ms in ((1, -5), (2, 0)):
                # A negative one, as a peer's own encoder may write it.
                fields = msgpack.unpackb(PING.encode(call_id, 1, None, send_stamp()))
                fields[4] = timeout_ms
                header = msgpack.packb(fields)
                sock.send_multipart([b"", header, msgpack.packb({"1": call_id})])
                assert sock.poll(10_000), "no reply"
                frames = sock.recv_multipart()
                header = msgpack.unpackb(frames[-2])
                assert (header[2], header[3]) == (
                    call_id,
                    uvrpc.Status.DEADLINE_EXCEEDED,
                )
                message = msgpack.unpackb(frames[-1])
                text = str(message)
                assert "feed.Feed.ping was not run: its deadline had passed" in text
                assert f"(a timeout of {timeout_ms / 1000:g} s)" in text
            # A stream's opening too.
            fields = msgpack.unpackb(TICKS.encode_stream(4, 1, 8))
            fields[4] = -5
            body = msgpack.packb({"1": 1, "2": 0})
            sock.send_multipart([b"", msgpack.packb(fields), body])
            while True:
                assert sock.poll(10_000), "no reply"
                frames = sock.recv_multipart()
                header = msgpack.unpackb(frames[-2])
                if header[3] != uvrpc.Status.OK:  # past any credit
                    break
            assert header[3] == uvrpc.Status.DEADLINE_EXCEEDED
            assert "feed.Feed.ticks was not run: its deadline had passed" in str(
                msgpack.unpackb(frames[-1])
            )
            send(sock, PING, 3, {"1": 3}, 10_000)
            assert replies(sock, 1) == {3: uvrpc.Status.OK}
        assert feed.ran == [3]
