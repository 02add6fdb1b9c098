"""A broker's outbox: a turn's messages for a peer that reads batches go as one
batch, per envelope; a peer that announces nothing gets each alone; a held batch
that cannot go hands back the tags of its messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
import zmq

from uvrpc.ops.outbox import Outbox
from uvrpc.transport.coalesce import announce_batches
from uvrpc.wire.batch import KIND_BATCH, split_batch

WAIT_MS = 10_000  # only ever waited out when a test is failing


class FakeRouter:
    """Records what is sent, one list per message; refuses while ``full``."""

    def __init__(self) -> None:
        self.sent: list[list[bytes]] = []
        self.full = False
        self._current: list[bytes] = []

    def send(self, frame: Any, flags: int = 0, copy: bool = True) -> None:
        if not self._current and self.full:
            raise zmq.Again()
        self._current.append(bytes(frame))
        if not flags & zmq.SNDMORE:
            self.sent.append(self._current)
            self._current = []


def routing_frame(*, batches: bool) -> Iterator[zmq.Frame]:
    """A routing id frame as a ROUTER receives it from a peer that does or does
    not announce batches."""
    ctx: zmq.Context[Any] = zmq.Context.instance()
    router: zmq.Socket[bytes] = ctx.socket(zmq.ROUTER)
    dealer: zmq.Socket[bytes] = ctx.socket(zmq.DEALER)
    try:
        for sock in (router, dealer):
            sock.setsockopt(zmq.LINGER, 0)
        if batches:
            announce_batches(dealer)
        port = router.bind_to_random_port("tcp://127.0.0.1")
        dealer.connect(f"tcp://127.0.0.1:{port}")
        dealer.send_multipart([b"", b"hello"])
        assert router.poll(WAIT_MS, zmq.POLLIN)
        frames = router.recv_multipart(copy=False)
        yield frames[0]
    finally:
        router.close(linger=0)
        dealer.close(linger=0)


@pytest.fixture
def reader() -> Iterator[zmq.Frame]:
    yield from routing_frame(batches=True)


@pytest.fixture
def non_reader() -> Iterator[zmq.Frame]:
    yield from routing_frame(batches=False)


def message(n: int) -> list[bytes]:
    return [b"", msgpack.packb([3, 2, n, 0]), msgpack.packb(n)]


def outbox(sock: FakeRouter, end: int, failed: list[Any]) -> Outbox:
    def on_failed(peer: bytes, tags: list[Any], exc: zmq.ZMQError) -> None:
        failed.append((peer, tags, exc.errno))

    return Outbox(sock, end, on_failed)  # type: ignore[arg-type]


def test_a_turn_sends_the_first_message_alone_and_the_rest_as_one_batch(
    reader: zmq.Frame,
) -> None:
    sock = FakeRouter()
    failed: list[Any] = []
    box = outbox(sock, 1, failed)
    box.learn(reader)
    for n in range(5):
        box.send(reader.bytes, message(n), n)
    assert len(sock.sent) == 1  # the first went at once
    box.end_turn()
    assert len(sock.sent) == 2 and box.batches == 1 and not failed
    peer, delimiter, header, body = sock.sent[1]
    assert peer == reader.bytes and delimiter == b""
    assert msgpack.unpackb(header)[1:] == [KIND_BATCH, 0, 4]
    assert [msgpack.unpackb(b) for _, b in split_batch(header, body)] == [1, 2, 3, 4]


def test_while_holding_the_first_message_waits_for_the_batch_too(
    reader: zmq.Frame,
) -> None:
    sock = FakeRouter()
    failed: list[Any] = []
    box = outbox(sock, 1, failed)
    box.learn(reader)
    box.hold = True
    for n in range(3):
        box.send(reader.bytes, message(n), n)
    assert sock.sent == []
    box.end_turn()
    assert len(sock.sent) == 1
    assert msgpack.unpackb(sock.sent[0][2])[1:] == [KIND_BATCH, 0, 3]


def test_a_peer_that_announces_nothing_gets_every_message_alone(
    non_reader: zmq.Frame,
) -> None:
    sock = FakeRouter()
    failed: list[Any] = []
    box = outbox(sock, 1, failed)
    box.learn(non_reader)
    box.hold = True
    for n in range(3):
        box.send(non_reader.bytes, message(n), n)
    box.end_turn()
    assert [msgpack.unpackb(m[3]) for m in sock.sent] == [0, 1, 2]
    assert box.batches == 0


def test_a_server_gets_one_batch_per_caller(reader: zmq.Frame) -> None:
    sock = FakeRouter()
    failed: list[Any] = []
    box = outbox(sock, 2, failed)
    box.learn(reader)
    box.hold = True
    for n in range(6):
        box.send(reader.bytes, [b"caller-%d" % (n % 2), *message(n)], n)
    box.end_turn()
    assert sorted(
        (m[1], [msgpack.unpackb(b) for _, b in split_batch(m[3], m[4])])
        for m in sock.sent
    ) == [(b"caller-0", [0, 2, 4]), (b"caller-1", [1, 3, 5])]


def test_a_batch_that_cannot_go_hands_back_its_messages_tags(
    reader: zmq.Frame,
) -> None:
    sock = FakeRouter()
    failed: list[Any] = []
    box = outbox(sock, 1, failed)
    box.learn(reader)
    for n in range(4):
        box.send(reader.bytes, message(n), ("call", n))
    sock.full = True
    box.end_turn()
    assert failed == [
        (reader.bytes, [("call", 1), ("call", 2), ("call", 3)], zmq.EAGAIN)
    ]
    # A message sent at once that cannot go raises, as a lone send does.
    with pytest.raises(zmq.Again):
        box.send(reader.bytes, message(9), None)


def test_messages_sent_while_a_failed_batch_is_handled_keep_their_own_tags(
    reader: zmq.Frame,
) -> None:
    # A batch that cannot go fails its calls, which may send other callers more
    # (an error, a CANCEL) while the turn's other batches still wait to go.
    sock = FakeRouter()
    failed: list[Any] = []

    def on_failed(peer: bytes, tags: list[Any], exc: zmq.ZMQError) -> None:
        failed.append(tags)
        sock.full = False
        if tags == ["a0", "a1"]:
            box.hold = True
            for n, tag in enumerate(["late0", "late1"]):
                box.send(reader.bytes, [b"caller-1", *message(10 + n)], tag)
            box.hold = False

    box = Outbox(sock, 2, on_failed)  # type: ignore[arg-type]
    box.learn(reader)
    box.hold = True
    for n, (caller, tag) in enumerate(
        [(b"caller-0", "a0"), (b"caller-1", "b0"), (b"caller-0", "a1")]
    ):
        box.send(reader.bytes, [caller, *message(n)], tag)
    box.hold = False
    sock.full = True  # caller-0's batch, the first to go, cannot
    box.end_turn()
    assert failed == [["a0", "a1"]]
    assert [msgpack.unpackb(m[4]) for m in sock.sent] == [1]  # caller-1's own
    assert box.pending
    sock.full = True
    box.end_turn()  # the messages sent while the failure was handled
    assert failed == [["a0", "a1"], ["late0", "late1"]]


def test_a_batch_forwarded_goes_as_it_came_after_what_was_held_for_its_peer(
    reader: zmq.Frame,
) -> None:
    sock = FakeRouter()
    failed: list[Any] = []
    box = outbox(sock, 2, failed)
    box.learn(reader)
    for n in range(3):  # the first goes at once, the others are held
        box.send(reader.bytes, [b"caller-0", *message(n)], ("call", n))
    received = [b"caller-0", b"", b"batch header", b"batch body"]
    assert box.can_forward(reader.bytes, received[:2])
    # What was held for that caller went first, as one batch.
    assert [len(m) for m in sock.sent] == [5, 5]
    assert msgpack.unpackb(sock.sent[1][3])[:2] == [3, KIND_BATCH]
    assert not box.pending
    box.forward(reader.bytes, received, ["a", "b"])
    assert sock.sent[2] == [reader.bytes, *received]  # its frames, as they came
    assert box.batches == 2 and failed == []


def test_a_batch_forwarded_that_cannot_go_hands_back_the_tags_given(
    reader: zmq.Frame, non_reader: zmq.Frame
) -> None:
    sock = FakeRouter()
    failed: list[Any] = []
    box = outbox(sock, 1, failed)
    box.learn(reader)
    box.learn(non_reader)
    assert not box.can_forward(non_reader.bytes, [b""])  # it reads no batches
    assert box.can_forward(reader.bytes, [b""])
    sock.full = True
    box.forward(reader, [b"", b"batch header", b"batch body"], ["a", "b"])
    assert failed == [(reader.bytes, ["a", "b"], zmq.EAGAIN)]


@pytest.mark.parametrize("end", [1, 2])
def test_a_message_that_cannot_join_a_batch_goes_after_what_is_held_for_its_peer(
    reader: zmq.Frame, end: int
) -> None:
    """A message with an attachment goes alone, but never ahead of the smaller
    messages held for the same peer this turn: those are the earlier items of
    the same stream, and they used to reach it after it."""
    sock = FakeRouter()
    failed: list[Any] = []
    box = outbox(sock, end, failed)
    box.learn(reader)
    routing = [b"caller-0"] if end == 2 else []
    for n in range(3):  # the first goes at once, the others are held
        box.send(reader.bytes, [*routing, *message(n)], n)
    delimiter, header, body = message(3)
    box.send(reader.bytes, [*routing, delimiter, b"attachment", header, body], 3)
    box.send(reader.bytes, [*routing, *message(4)], 4)
    box.end_turn()
    seen = []
    for sent in sock.sent:
        header, body = sent[-2], sent[-1]
        if msgpack.unpackb(header)[1] == KIND_BATCH:
            seen += [msgpack.unpackb(b) for _, b in split_batch(header, body)]
        else:
            seen.append(msgpack.unpackb(body))
    assert seen == [0, 1, 2, 3, 4] and failed == []
