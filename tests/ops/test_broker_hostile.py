"""Hostile frames never hurt a broker.

A broken or malicious client throws mutated requests, stream messages and batches
at the frontend, and a peer on the backend that never said READY throws the same
at the backend. The broker logs no error (no traceback per message), follows no
call that no reply will end, and a well-behaved client behind it is answered
correctly throughout.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq
from conftest import server_thread
from feed import FeedSyncClient
from feed_server import Feed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import uvrpc
from uvrpc.broker import Broker
from uvrpc.wire.batch import encode_batch
from uvrpc.wire.limits import BACKSTOP_MIN

V = uvrpc.PROTOCOL_VERSION
PING = "feed.Feed.ping"

# Values a peer may put in a header, the usual and the wrong: other versions and
# kinds, negative and huge call ids, routes of no service or no string,
# timeouts of every type, and what a later field may hold. Never a READY (7): a
# backend peer that says READY is a server, trusted with calls.
VERSIONS = st.sampled_from([V, V, V, V + 1, "3", None])
KINDS = st.sampled_from([1, 1, 1, 2, 3, 4, 5, 6, 8, 9, 10, -1, None])
CALL_IDS = st.sampled_from([1, 2, 3, 0, -1, 2**64 - 1, "1", None])
FIELDS: st.SearchStrategy[Any] = st.sampled_from(
    [PING, "x.Y.z", "", 7, None, 100, -1, 1.5, "x", b"b", [], {}, {"k": "v"}, 2**63]
)
BODIES = st.sampled_from(
    [msgpack.packb({"1": 1}), msgpack.packb({}), msgpack.packb(None), b"\xc1", b""]
)


@st.composite
def header(draw: st.DrawFn) -> bytes:
    """A header a peer may send: most often a request's or a stream message's
    shape, each field usual or wrong; sometimes any prefix of any fields."""
    if draw(st.integers(0, 2)):
        kind = draw(st.sampled_from([1, 1, 1, 3, 5, 6]))
        fields = [V, kind, draw(CALL_IDS), draw(st.sampled_from([PING, 0]))]
        fields += draw(st.lists(FIELDS, max_size=4))
        return msgpack.packb(fields)
    fields = [draw(VERSIONS), draw(KINDS), draw(CALL_IDS)]
    fields += draw(st.lists(FIELDS, max_size=6))
    return msgpack.packb(fields[: draw(st.integers(0, len(fields)))])


@st.composite
def message(draw: st.DrawFn) -> list[bytes]:
    """The frames a peer's DEALER sends: a delimiter (mostly), attachments
    (sometimes), then a header and body, or a batch of a few."""
    frames = [b""] if draw(st.integers(0, 9)) else []
    frames += draw(st.lists(st.sampled_from([b"", b"att", b"\x00\x01"]), max_size=2))
    if draw(st.integers(0, 5)):
        return [*frames, draw(header()), draw(BODIES)]
    inner = draw(st.lists(st.tuples(header(), BODIES), min_size=1, max_size=4))
    return [*frames, *(bytes(frame) for frame in encode_batch(inner))]


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.005)


def test_hostile_peers_on_either_side_never_hurt_a_broker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = uuid.uuid4().hex
    front, back = f"inproc://front-{name}", f"inproc://back-{name}"
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    with (
        caplog.at_level(logging.WARNING),
        Broker([front], [back], unknown_service_grace=0) as broker,
        server_thread(Feed(), bind=f"inproc://feed-{name}") as running,
        FeedSyncClient(front, timeout=10) as honest,
    ):
        assert running.loop is not None and running.server is not None
        running.loop.call_soon_threadsafe(running.server.connect, back)
        until(lambda: broker.servers == 1, "the feed server")
        peers: dict[str, zmq.Socket[bytes]] = {}
        for side, endpoint in (("client", front), ("server", back)):
            sock = peers[side] = context.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(endpoint)
        calls = 0

        @settings(
            max_examples=200,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(side=st.sampled_from(["client", "server"]), frames=message())
        def throw(side: str, frames: list[bytes]) -> None:
            nonlocal calls
            sock = peers[side]
            sock.send_multipart(frames)
            while sock.poll(0, zmq.POLLIN):
                sock.recv_multipart()
            calls += 1
            if calls % 20 == 0:
                assert honest.ping(n=calls) == calls

        try:
            throw()
            # Every call it followed ends: answered by the server, or refused.
            until(lambda: broker.in_flight == 0, "the calls followed to end")
            assert honest.ping(n=7) == 7
        finally:
            for sock in peers.values():
                sock.close()
        assert broker.servers == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors[0].getMessage()


def test_a_clients_frame_beyond_twice_the_limit_drops_its_connection(
    tmp_path: Path,
) -> None:
    """A broker bounds a client's frame as a server bounds it (``docs/limits.md``):
    one of more than twice ``max_message_size`` (512 KiB at least) drops that
    client's connection, where the broker took any size and buffered it whole
    before a server could refuse it."""
    backend = f"ipc://{tmp_path / 'back.sock'}"
    with (
        Broker(["tcp://127.0.0.1:*"], [backend], max_message_size=1024) as broker,
        server_thread(Feed(), bind=f"ipc://{tmp_path / 'feed.sock'}") as running,
    ):
        assert running.loop is not None and running.server is not None
        running.loop.call_soon_threadsafe(running.server.connect, backend)
        until(lambda: broker.servers == 1, "the feed server")
        front = broker.frontends[0]
        header = msgpack.packb([V, 1, 1, PING, None])
        body = msgpack.packb({"1": bytes(BACKSTOP_MIN)})  # a wrong type, too
        sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        try:
            sock.connect(front)
            sock.send_multipart([b"", header, body])
            # Taken, it would be answered INVALID_ARGUMENT by the server.
            assert not sock.poll(1000, zmq.POLLIN)
        finally:
            sock.close()
        with FeedSyncClient(front, timeout=10) as honest:
            assert honest.ping(n=3) == 3
        assert broker.stats.requests == 1


# A reply a client takes though the broker reads no call in it: another protocol
# version (a client reads every version's error), or an element malformed (the
# client fails the call it names).
FORGED = {
    "another version": (
        msgpack.packb([V + 1, 2, 2, uvrpc.Status.NOT_FOUND]),
        msgpack.packb({"message": "forged", "details": {}}),
    ),
    "a malformed element": (msgpack.packb([V, 2, 2, 0, {1: "x"}]), b"\xc0"),
    "the same version": (
        msgpack.packb([V, 2, 2, uvrpc.Status.NOT_FOUND]),
        msgpack.packb({"message": "forged", "details": {}}),
    ),
}


@pytest.mark.parametrize("case", FORGED)
def test_no_server_ends_a_call_another_server_runs(case: str) -> None:
    """A peer on the backend that learned a client's identity from a call it
    served cannot end that client's call on another server, whatever version or
    shape its message's header has: the caller gets its own server's answer."""
    name = uuid.uuid4().hex
    front, back = f"inproc://front-{name}", f"inproc://back-{name}"
    forger: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    forger.setsockopt(zmq.LINGER, 0)
    with (
        Broker([front], [back], unknown_service_grace=0) as broker,
        FeedSyncClient(front, timeout=10) as client,
    ):
        try:
            forger.connect(back)
            forger.send_multipart([b"", msgpack.packb([V, 7, 0, 0, ["feed.Feed"]])])
            until(lambda: broker.servers == 1, "the forger")
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                first = pool.submit(client.ping, n=1)  # call 1, to the forger
                assert forger.poll(10_000, zmq.POLLIN)
                client_id, *request = forger.recv_multipart()
                reply = msgpack.packb([V, 2, 1, 0])
                forger.send_multipart([client_id, *request[:-2], reply, b"\x01"])
                assert first.result(10) == 1
                forger.send_multipart([b"", msgpack.packb([V, 8, 0, 0])])  # LEAVING
                until(lambda: broker.servers == 0, "the forger to leave")
                with server_thread(Feed(), bind=f"inproc://feed-{name}") as running:
                    assert running.loop is not None and running.server is not None
                    running.loop.call_soon_threadsafe(running.server.connect, back)
                    until(lambda: broker.servers == 1, "the honest server")
                    second = pool.submit(client.ping, n=-5)  # call 2, half a second
                    until(lambda: broker.in_flight == 1, "call 2 to be followed")
                    forger.send_multipart([client_id, b"", *FORGED[case]])
                    assert second.result(10) == -5
                    until(lambda: broker.stats.dropped == 1, "the forgery dropped")
        finally:
            forger.close()


def test_a_batch_header_a_strict_decode_refuses_is_dropped_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The broker reads a header leniently, past an element a strict decode
    refuses (an integer map key): such a batch header is dropped as any
    malformed batch is, logged as a warning, never as an error with a traceback
    for each message a peer sends."""
    name = uuid.uuid4().hex
    front, back = f"inproc://front-{name}", f"inproc://back-{name}"
    batch = [
        b"",
        msgpack.packb([V, 9, 0, 1, {1: 2}]),
        msgpack.packb([msgpack.packb([V, 1, 1, PING, None]), msgpack.packb({"1": 1})]),
    ]
    with (
        caplog.at_level(logging.WARNING),
        Broker([front], [back], unknown_service_grace=0) as broker,
        server_thread(Feed(), bind=f"inproc://feed-{name}") as running,
        FeedSyncClient(front, timeout=10) as honest,
    ):
        assert running.loop is not None and running.server is not None
        running.loop.call_soon_threadsafe(running.server.connect, back)
        until(lambda: broker.servers == 1, "the feed server")
        sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        try:
            sock.connect(front)
            for _ in range(3):
                sock.send_multipart(batch)
            until(lambda: broker.stats.dropped == 3, "the batches dropped")
            assert not sock.poll(100, zmq.POLLIN)
        finally:
            sock.close()
        assert honest.ping(n=7) == 7
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors[0].getMessage()
    assert any(
        "a batch header is not valid msgpack" in r.getMessage() for r in caplog.records
    )


def test_a_batch_the_broker_would_not_read_is_followed_call_by_call() -> None:
    """A batch header is a batch to a server whatever its call id (``[3, 9,
    "x", 2]``). The broker takes it as one too: each call in it is followed and
    held to its client's share, rather than the whole passed on unfollowed."""
    name = uuid.uuid4().hex
    front, back = f"inproc://front-{name}", f"inproc://back-{name}"
    slow = msgpack.packb({"1": -3})  # ping(n=-3): 0.3 s
    calls = [msgpack.packb([V, 1, call_id, PING, None]) for call_id in (1, 2)]
    batch = [
        b"",
        msgpack.packb([V, 9, "x", 2]),
        msgpack.packb([calls[0], slow, calls[1], slow]),
    ]
    with (
        Broker([front], [back], max_calls_per_client=1) as broker,
        server_thread(Feed(), bind=f"inproc://feed-{name}") as running,
    ):
        assert running.loop is not None and running.server is not None
        running.loop.call_soon_threadsafe(running.server.connect, back)
        until(lambda: broker.servers == 1, "the feed server")
        sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        try:
            sock.connect(front)
            sock.send_multipart(batch)
            statuses = {}
            for _ in range(2):
                assert sock.poll(10_000, zmq.POLLIN)
                header = msgpack.unpackb(sock.recv_multipart()[-2])
                statuses[header[2]] = header[3]
        finally:
            sock.close()
        assert statuses == {1: 0, 2: uvrpc.Status.RESOURCE_EXHAUSTED}
        assert broker.stats.requests == 1
        until(lambda: broker.in_flight == 0, "the call to end")


def test_a_long_service_no_server_serves_is_echoed_cut() -> None:
    """The broker's refusal of a service no server serves repeats the client's
    route cut to 200 characters, as a server's errors do (``docs/limits.md``)."""
    name = uuid.uuid4().hex
    front, back = f"inproc://front-{name}", f"inproc://back-{name}"
    service = "x" * 300_000 + ".Svc"
    with (
        Broker([front], [back], unknown_service_grace=0) as broker,
        server_thread(Feed(), bind=f"inproc://feed-{name}") as running,
    ):
        assert running.loop is not None and running.server is not None
        running.loop.call_soon_threadsafe(running.server.connect, back)
        until(lambda: broker.servers == 1, "the feed server")
        sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        try:
            sock.connect(front)
            header = msgpack.packb([V, 1, 1, f"{service}.m", None])
            sock.send_multipart([b"", header, msgpack.packb({})])
            assert sock.poll(10_000, zmq.POLLIN)
            reply = sock.recv_multipart()
        finally:
            sock.close()
    assert msgpack.unpackb(reply[-2]) == [V, 2, 1, uvrpc.Status.UNIMPLEMENTED]
    message = msgpack.unpackb(reply[-1])["message"]
    assert (
        f"serves '{'x' * 200}… (300,004 characters)'; they serve feed.Feed" in message
    )
    assert len(reply[-1]) < 1000
