"""A broker reads batches and sends them: the calls of a batch reach their servers
as one batch per server, their replies come back as one; a peer that does not
announce batches is never sent one; a hostile batch is dropped whole and counted.

The ZeroMQ messages are counted on raw sockets on both sides of the broker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import msgpack
import pytest
import zmq
from calculator_server import Calculator
from conftest import server_thread

import uvrpc
from uvrpc.broker import Broker
from uvrpc.core.coalesce import BATCH_MESSAGES
from uvrpc.transport.coalesce import announce_batches
from uvrpc.wire.batch import KIND_BATCH, encode_batch, split_batch
from uvrpc.wire.protocol import encode_ready_header, encode_reply_header
from uvrpc.wire.status import Status

V = uvrpc.PROTOCOL_VERSION
SERVICE = "calculator.Calculator"
ADD = f"{SERVICE}.add"
WAIT_MS = 10_000  # only ever waited out when a test is failing
CALLS = BATCH_MESSAGES  # as many as one batch holds: they travel as one


def add_request(call_id: int) -> tuple[bytes, bytes]:
    header = msgpack.packb([V, 1, call_id, ADD, 60_000])
    return header, msgpack.packb({"1": call_id, "2": 1})


def reply(call_id: int) -> tuple[bytes, bytes]:
    return encode_reply_header(call_id, 0), msgpack.packb(call_id + 1)


def dealer(*, batches: bool) -> zmq.Socket[bytes]:
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    if batches:
        announce_batches(sock)
    return sock


def receive(sock: zmq.Socket[bytes]) -> list[bytes]:
    assert sock.poll(WAIT_MS, zmq.POLLIN), "nothing arrived"
    return sock.recv_multipart()


def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for ``condition`` (the broker's thread changes what it reads)."""
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.005)


def kind(header: bytes) -> int:
    return int(msgpack.unpackb(header)[1])


def call_ids(messages: list[tuple[bytes, bytes]]) -> list[int]:
    return [msgpack.unpackb(header)[2] for header, _ in messages]


class Rig:
    """A broker on loopback TCP (``inproc://`` carries no handshake properties),
    raw servers connected to its backend and raw clients to its frontend."""

    def __init__(self, **options: Any) -> None:
        self.broker = Broker(["tcp://127.0.0.1:*"], ["tcp://127.0.0.1:*"], **options)
        self.sockets: list[zmq.Socket[bytes]] = []

    def server(self, *, batches: bool) -> zmq.Socket[bytes]:
        sock = dealer(batches=batches)
        self.sockets.append(sock)
        sock.connect(self.broker.backends[0])
        sock.send_multipart([b"", encode_ready_header([SERVICE])])
        count = len(self.sockets)
        until(lambda: self.broker.servers == count, "the server's READY")
        return sock

    def client(self, *, batches: bool) -> zmq.Socket[bytes]:
        sock = dealer(batches=batches)
        self.sockets.append(sock)
        sock.connect(self.broker.frontends[0])
        return sock

    def close(self) -> None:
        self.broker.close()
        for sock in self.sockets:
            sock.close(linger=0)


@pytest.fixture
def rig() -> Iterator[Rig]:
    made = Rig()
    made.broker.start()
    try:
        yield made
    finally:
        made.close()


def test_a_batch_of_calls_reaches_the_server_as_one_and_its_replies_come_back_as_one(
    rig: Rig,
) -> None:
    server = rig.server(batches=True)
    client = rig.client(batches=True)
    ids = list(range(1, CALLS + 1))
    client.send_multipart([b"", *encode_batch([add_request(n) for n in ids])])

    frames = receive(server)  # [client, b"", header, body]
    assert len(frames) == 4 and frames[1] == b""
    assert msgpack.unpackb(frames[2]) == [V, KIND_BATCH, 0, CALLS]
    requests = split_batch(frames[2], frames[3])
    assert call_ids(requests) == ids  # in order, each as it was sent
    assert [bytes(body) for _, body in requests] == [add_request(n)[1] for n in ids]

    server.send_multipart([frames[0], b"", *encode_batch([reply(n) for n in ids])])
    answer = receive(client)  # [b"", header, body]
    assert len(answer) == 3
    assert msgpack.unpackb(answer[1]) == [V, KIND_BATCH, 0, CALLS]
    replies = split_batch(answer[1], answer[2])
    assert call_ids(replies) == ids
    assert [msgpack.unpackb(body) for _, body in replies] == [n + 1 for n in ids]
    until(lambda: rig.broker.stats.replies == CALLS, "the replies counted")
    assert rig.broker.stats.requests == CALLS and rig.broker.in_flight == 0
    assert not server.poll(0) and not client.poll(0)


def test_a_batch_for_one_server_goes_on_as_it_came_and_so_do_its_replies(
    rig: Rig,
) -> None:
    # Encoded otherwise than a broker encodes a batch (its count a fixint, its
    # frames an array16 of bin8): one taken apart and built again would differ.
    ids = list(range(1, 9))
    requests = [add_request(n) for n in ids]
    header = msgpack.packb([V, KIND_BATCH, 0, len(ids)])
    body = msgpack.packb([frame for message in requests for frame in message])
    assert [header, body] != encode_batch(requests)
    server = rig.server(batches=True)
    client = rig.client(batches=True)
    client.send_multipart([b"", header, body])
    frames = receive(server)
    assert frames[1:] == [b"", header, body]
    until(lambda: rig.broker.in_flight == len(ids), "the calls to be followed")
    assert rig.broker.stats.requests == len(ids)

    replies = [reply(n) for n in ids]
    header = msgpack.packb([V, KIND_BATCH, 0, len(ids)])
    body = msgpack.packb([frame for message in replies for frame in message])
    server.send_multipart([frames[0], b"", header, body])
    assert receive(client) == [b"", header, body]
    until(lambda: rig.broker.in_flight == 0, "the calls to end")
    assert rig.broker.stats.replies == len(ids)
    assert rig.broker.stats.dropped == 0


def test_a_batch_over_its_clients_share_is_taken_call_by_call() -> None:
    rig = Rig(max_calls_per_client=5)
    rig.broker.start()
    try:
        server = rig.server(batches=True)
        client = rig.client(batches=True)
        ids = list(range(1, 9))
        client.send_multipart([b"", *encode_batch([add_request(n) for n in ids])])
        frames = receive(server)
        assert call_ids(split_batch(frames[2], frames[3])) == ids[:5]
        refused = split_batch(*receive(client)[1:])
        assert call_ids(refused) == ids[5:]
        statuses = {msgpack.unpackb(header)[3] for header, _ in refused}
        assert statuses == {int(Status.RESOURCE_EXHAUSTED)}
        assert rig.broker.stats.refused == 3 and rig.broker.in_flight == 5
    finally:
        rig.close()


def test_a_batch_with_a_oneway_call_is_taken_call_by_call(rig: Rig) -> None:
    server = rig.server(batches=True)
    client = rig.client(batches=True)
    oneway = msgpack.packb([V, 1, 0, ADD, 60_000]), msgpack.packb({"1": 0, "2": 1})
    client.send_multipart([b"", *encode_batch([add_request(1), oneway])])
    frames = receive(server)
    assert call_ids(split_batch(frames[2], frames[3])) == [1, 0]
    until(lambda: rig.broker.stats.requests == 1, "the call to be handed on")
    assert rig.broker.in_flight == 1  # the oneway call is not followed


def test_a_batch_with_a_negative_call_id_is_taken_call_by_call(rig: Rig) -> None:
    """A request of a negative call id is no call (its server drops it): the
    broker hands it on unfollowed, as it came alone, never to be held for good."""
    server = rig.server(batches=True)
    client = rig.client(batches=True)
    client.send_multipart([b"", *encode_batch([add_request(1), add_request(-1)])])
    frames = receive(server)
    assert call_ids(split_batch(frames[2], frames[3])) == [1, -1]
    until(lambda: rig.broker.stats.requests > 0, "the call to be handed on")
    # The call of id -1 is not followed.
    assert (rig.broker.stats.requests, rig.broker.in_flight) == (1, 1)


def test_a_batch_is_split_per_server_and_each_share_goes_as_one_batch(
    rig: Rig,
) -> None:
    servers = [rig.server(batches=True), rig.server(batches=True)]
    client = rig.client(batches=True)
    client.send_multipart(
        [b"", *encode_batch([add_request(n) for n in range(1, CALLS + 1)])]
    )
    shares = []
    for server in servers:
        frames = receive(server)
        assert msgpack.unpackb(frames[2])[:2] == [V, KIND_BATCH]
        shares.append(call_ids(split_batch(frames[2], frames[3])))
    # The broker gives each call to the server with the fewest in flight.
    assert sorted(len(share) for share in shares) == [CALLS // 2, CALLS // 2]
    assert sorted(shares[0] + shares[1]) == list(range(1, CALLS + 1))
    assert all(share == sorted(share) for share in shares)  # each in order
    assert not any(server.poll(0) for server in servers)


def test_a_server_that_does_not_announce_batches_is_sent_none(rig: Rig) -> None:
    server = rig.server(batches=False)
    client = rig.client(batches=True)
    client.send_multipart([b"", *encode_batch([add_request(n) for n in range(1, 9)])])
    got = [receive(server) for _ in range(8)]
    assert all(kind(frames[2]) == 1 for frames in got)  # eight lone requests
    assert [msgpack.unpackb(frames[2])[2] for frames in got] == list(range(1, 9))


def test_a_client_that_does_not_announce_batches_is_sent_none(rig: Rig) -> None:
    server = rig.server(batches=True)
    client = rig.client(batches=False)
    for n in range(1, 9):
        client.send_multipart([b"", *add_request(n)])
    requests: list[tuple[bytes, bytes]] = []
    while len(requests) < 8:
        frames = receive(server)
        if kind(frames[2]) == KIND_BATCH:
            requests += split_batch(frames[2], frames[3])
        else:
            requests.append((frames[2], frames[3]))
    peer = frames[0]
    server.send_multipart([peer, b"", *encode_batch([reply(n) for n in range(1, 9)])])
    got = [receive(client) for _ in range(8)]
    assert [kind(frames[1]) for frames in got] == [2] * 8  # eight lone replies
    assert [msgpack.unpackb(frames[1])[2] for frames in got] == list(range(1, 9))


def _nested() -> list[bytes]:
    inner = encode_batch([add_request(1)])
    return encode_batch([(inner[0], bytes(inner[1])), add_request(2)])


HOSTILE = {
    "fewer frames than its count": [
        msgpack.packb([V, KIND_BATCH, 0, 3]),
        msgpack.packb([*add_request(1), *add_request(2)]),
    ],
    "empty": [msgpack.packb([V, KIND_BATCH, 0, 0]), msgpack.packb([])],
    "over the limit": [msgpack.packb([V, KIND_BATCH, 0, 5000]), msgpack.packb([])],
    "a frame that is not bin": [
        msgpack.packb([V, KIND_BATCH, 0, 1]),
        msgpack.packb([add_request(1)[0], "text"]),
    ],
    "truncated": [
        msgpack.packb([V, KIND_BATCH, 0, 1]),
        msgpack.packb(list(add_request(1)))[:-3],
    ],
    "nested": _nested(),
    "an attachment frame": [b"attached", *encode_batch([add_request(1)])],
}


def test_a_hostile_batch_is_dropped_whole_and_counted_while_others_are_served(
    rig: Rig,
) -> None:
    server = rig.server(batches=True)
    hostile = rig.client(batches=True)
    for frames in HOSTILE.values():
        hostile.send_multipart([b"", *frames])
    until(lambda: rig.broker.stats.dropped == len(HOSTILE), "the batches dropped")
    assert rig.broker.stats.requests == 0 and rig.broker.in_flight == 0

    caller = rig.client(batches=True)
    caller.send_multipart([b"", *encode_batch([add_request(7), add_request(8)])])
    frames = receive(server)
    assert call_ids(split_batch(frames[2], frames[3])) == [7, 8]
    server.send_multipart([frames[0], b"", *encode_batch([reply(7), reply(8)])])
    answer = receive(caller)
    assert call_ids(split_batch(answer[1], answer[2])) == [7, 8]
    assert not server.poll(0) and not hostile.poll(0)
    assert rig.broker.stats.dropped == len(HOSTILE)


@pytest.mark.parametrize("sent", ["as a batch", "one by one"])
def test_the_calls_of_a_server_that_goes_fail_together_in_one_batch(
    rig: Rig, sent: str
) -> None:
    server = rig.server(batches=True)
    client = rig.client(batches=True)
    ids = list(range(1, CALLS + 1))
    if sent == "as a batch":
        client.send_multipart([b"", *encode_batch([add_request(n) for n in ids])])
    else:
        for n in ids:
            client.send_multipart([b"", *add_request(n)])
    until(lambda: rig.broker.stats.requests == CALLS, "the calls to be handed on")
    server.close(linger=0)  # its connection drops with the calls it took
    # Not the first failure alone and the others a moment later: a caller that
    # sees one of them fail sees them all failed.
    answer = receive(client)
    assert msgpack.unpackb(answer[1]) == [V, KIND_BATCH, 0, CALLS]
    failures = split_batch(answer[1], answer[2])
    assert sorted(call_ids(failures)) == ids
    statuses = {msgpack.unpackb(header)[3] for header, _ in failures}
    assert statuses == {int(Status.UNAVAILABLE)}
    assert rig.broker.stats.failed == CALLS
    assert rig.broker.in_flight == 0


def test_a_batch_for_a_client_that_is_gone_is_dropped_and_counted(rig: Rig) -> None:
    server = rig.server(batches=True)
    client = rig.client(batches=True)
    ids = list(range(1, 9))
    server.send_multipart([b"gone", b"", *encode_batch([reply(n) for n in ids])])
    until(lambda: rig.broker.stats.dropped == len(ids), "the replies dropped")
    assert rig.broker.stats.replies == 0  # none was handed to a client
    # The broker goes on serving.
    client.send_multipart([b"", *add_request(1)])
    frames = receive(server)
    server.send_multipart([frames[0], b"", *reply(1)])
    assert msgpack.unpackb(receive(client)[1])[2] == 1
    until(lambda: rig.broker.stats.replies == 1, "the reply counted")
    assert rig.broker.stats.dropped == len(ids)


def test_a_server_behind_a_broker_answers_a_batch_with_batches(rig: Rig) -> None:
    with server_thread(Calculator()) as running:
        assert running.loop is not None and running.server is not None
        running.loop.call_soon_threadsafe(
            running.server.connect, rig.broker.backends[0]
        )
        until(lambda: rig.broker.servers == 1, "the server's READY")
        client = rig.client(batches=True)
        ids = list(range(1, CALLS + 1))
        client.send_multipart([b"", *encode_batch([add_request(n) for n in ids])])
        # The server answers in one turn: its first reply alone, the rest as one
        # batch. The broker passes each on, the first of its own turn alone: the
        # replies reach the client in two or three ZeroMQ messages, not 32.
        replies: list[tuple[bytes, bytes]] = []
        messages = 0
        while len(replies) < CALLS:
            answer = receive(client)
            messages += 1
            if msgpack.unpackb(answer[1])[1] == KIND_BATCH:
                replies += split_batch(answer[1], answer[2])
            else:
                replies.append((answer[1], answer[2]))
        assert messages <= 3
        assert sorted(call_ids(replies)) == ids
        assert {msgpack.unpackb(h)[2]: msgpack.unpackb(b) for h, b in replies} == {
            n: n + 1 for n in ids
        }
        assert running.server.stats.received == CALLS
        until(lambda: rig.broker.in_flight == 0, "the calls to end")
        assert not client.poll(0)
