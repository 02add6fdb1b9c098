"""Batches: their frames (wire/batch.py) and when messages join one
(core/coalesce.py), without sockets."""

from __future__ import annotations

import logging
from typing import Any

import msgpack
import pytest
from golden import conformance

from uvrpc.core.client import ClientCore
from uvrpc.core.coalesce import BATCH_MESSAGES, Coalescer
from uvrpc.wire.batch import (
    KIND_BATCH,
    MAX_BATCH,
    BatchBuilder,
    batch_count,
    encode_batch,
    is_batch_header,
    split_batch,
)
from uvrpc.wire.buffers import BodyEncoder
from uvrpc.wire.errors import ProtocolError
from uvrpc.wire.methods import StreamingMethod, Unary
from uvrpc.wire.protocol import KIND_ITEM, encode_reply_header, encode_stream_header
from uvrpc.wire.version import PROTOCOL_VERSION

V = PROTOCOL_VERSION


def reply(call_id: int, value: Any) -> tuple[bytes, bytes]:
    return encode_reply_header(call_id, 0), msgpack.packb(value)


# --- the frames --------------------------------------------------------------


def test_a_batch_splits_into_the_messages_it_was_built_from() -> None:
    big = b"x" * 70_000  # a bin32 frame among bin8 and bin16 ones
    messages = [reply(1, 5), (b"h" * 300, big), reply(3, None)]
    header, body = encode_batch(messages)
    assert msgpack.unpackb(header) == [V, KIND_BATCH, 0, 3]
    assert batch_count(header) == 3
    assert is_batch_header(header)
    assert split_batch(header, body) == messages


def test_any_valid_msgpack_of_a_batch_is_read() -> None:
    header = msgpack.packb([V, KIND_BATCH, 0, 1, "later"])  # shortest ints, extra
    body = msgpack.packb([b"h", b"b"], use_bin_type=True)
    assert is_batch_header(header)
    assert batch_count(header) == 0  # not one this runtime wrote: decoded instead
    assert split_batch(header, body) == [(b"h", b"b")]


def test_other_headers_are_not_batches() -> None:
    assert not is_batch_header(encode_reply_header(1, 0))
    assert not is_batch_header(msgpack.packb([V + 1, KIND_BATCH, 0, 1]))
    assert not is_batch_header(b"\xc1")  # not msgpack
    assert batch_count(encode_reply_header(1, 0)) == 0


def header_of(count: Any) -> bytes:
    return msgpack.packb([V, KIND_BATCH, 0, count])


@pytest.mark.parametrize(
    ("header", "body", "error"),
    [
        (header_of(0), msgpack.packb([]), "a batch must hold at least one message"),
        (header_of(-1), msgpack.packb([]), "at least one message, not -1"),
        (header_of("2"), msgpack.packb([]), "at least one message, not '2'"),
        (
            header_of(MAX_BATCH + 1),
            b"",
            f"a batch of {MAX_BATCH + 1:,} messages is over the limit of {MAX_BATCH:,}",
        ),
        (
            header_of(2),
            encode_batch([reply(1, 1), reply(2, 2)])[1][:-3],
            "the body of a batch of 2 is malformed",
        ),
        (
            header_of(3),
            encode_batch([reply(1, 1), reply(2, 2)])[1],
            "a batch of 3 messages must hold 6 frames, not 4",
        ),
        (header_of(1), msgpack.packb({"a": 1}), "must hold 2 frames, not dict"),
        (
            header_of(1),
            msgpack.packb([b"h", "text"], use_bin_type=True),
            "a batch of 1 holds a frame that is not binary",
        ),
        (
            msgpack.packb([V, KIND_BATCH, 0, 1, {1: 2}]),
            encode_batch([reply(1, 1)])[1],
            "a batch header is not valid msgpack",
        ),
    ],
    ids=[
        "empty",
        "negative",
        "not-an-int",
        "oversized-count",
        "truncated",
        "short-of-its-count",
        "not-a-list",
        "not-binary",
        "integer-map-key-in-header",
    ],
)
def test_a_hostile_batch_is_refused_with_what_is_wrong(
    header: bytes, body: bytes, error: str
) -> None:
    with pytest.raises(ProtocolError, match=error.replace("(", r"\(")):
        split_batch(header, body)


@pytest.mark.parametrize(
    "inner",
    [
        encode_batch([reply(1, 1)])[0],
        msgpack.packb([V, KIND_BATCH, 0, 1]),
        # The kind as a uint8 rather than a fixint: still a batch.
        bytes([0x94, V, 0xCC, KIND_BATCH, 0, 1]),
    ],
    ids=["as-written", "shortest", "wide-kind"],
)
def test_a_batch_in_a_batch_is_refused(inner: bytes) -> None:
    inner_body = encode_batch([reply(1, 1)])[1]
    header, body = encode_batch([reply(1, 1), (inner, bytes(inner_body))])
    with pytest.raises(ProtocolError, match="message 1 of a batch of 2 is a batch"):
        split_batch(header, body)


@pytest.mark.parametrize(
    "inner",
    [
        msgpack.packb([V, KIND_BATCH]),
        msgpack.packb([V, KIND_BATCH, 0]),
        msgpack.packb({V: KIND_BATCH}),
        msgpack.packb([V, KIND_BATCH, 0, 1]) + b"\xc1",
    ],
    ids=["two-elements", "three-elements", "a-map", "not-msgpack"],
)
def test_a_message_that_only_starts_like_a_batch_is_taken_alone(inner: bytes) -> None:
    """Only what a reader takes for a batch when it comes alone
    (``is_batch_header``) is a batch in a batch: anything else is a message of
    the batch, dropped alone as it would be, not with the whole batch (which a
    broker may have bundled with other servers' messages)."""
    assert not is_batch_header(inner)
    header, body = encode_batch([reply(1, 1), (inner, b"\xc0")])
    assert [part for part, _ in split_batch(header, body)][1] == inner


def test_a_builder_copies_what_it_is_given() -> None:
    builder = BatchBuilder()
    body = bytearray(b"\x05")
    builder.add(encode_reply_header(1, 0), body)
    body[0] = 0x06  # the sender reuses its buffer once add() returned
    assert split_batch(*builder.frames())[0][1] == b"\x05"
    assert (builder.count, builder.size) == (1, 14)


# --- the rule: which messages join one -----------------------------------------


def message(call_id: int) -> list[Any]:
    return [b"", *reply(call_id, call_id)]


def test_the_first_message_of_a_turn_goes_at_once() -> None:
    rule = Coalescer()
    assert rule.offer(b"", message(1), 0) == ([], False)
    assert rule.end_turn() == []  # nothing was held
    assert not rule.turn_open
    assert rule.offer(b"", message(2), 0) == ([], False)  # a new turn
    assert rule.turn_open


def test_the_later_messages_of_a_turn_go_as_one_batch() -> None:
    rule = Coalescer()
    rule.offer(b"", message(1), 0)
    for call_id in range(2, 6):
        assert rule.offer(b"", message(call_id), 0) == ([], True)
    [(peer, sent)] = rule.end_turn()
    assert peer == b""
    assert sent[0] == b""
    assert split_batch(sent[1], sent[2]) == [reply(n, n) for n in range(2, 6)]


def test_one_held_message_goes_as_itself() -> None:
    rule = Coalescer()
    rule.offer(b"", message(1), 0)
    rule.offer(b"", message(2), 0)
    assert rule.end_turn() == [(b"", [b"", *reply(2, 2)])]


def test_each_peer_has_its_own_turn_and_batch() -> None:
    rule = Coalescer()
    routed = {peer: [peer, b"", *reply(1, 1)] for peer in (b"a", b"b")}
    for peer, frames in routed.items():
        assert rule.offer(peer, frames, 1) == ([], False)
        assert rule.offer(peer, frames, 1) == ([], True)
        assert rule.offer(peer, frames, 1) == ([], True)
    held = dict(rule.end_turn())
    assert set(held) == {b"a", b"b"}
    for key, sent in held.items():
        assert sent[:2] == [key, b""]
        assert batch_count(sent[2]) == 2


def test_when_several_are_expected_the_first_is_held_too() -> None:
    rule = Coalescer()
    rule.expect(b"", 3)  # a batch of three requests came: three replies follow
    for call_id in (1, 2, 3):
        assert rule.offer(b"", message(call_id), 0) == ([], True)
    [(_, sent)] = rule.end_turn()
    assert split_batch(sent[1], sent[2]) == [reply(n, n) for n in (1, 2, 3)]
    # Expected once only: the next turn's first message goes at once.
    assert rule.offer(b"", message(4), 0) == ([], False)


def test_what_is_still_expected_at_the_end_of_a_turn_is_forgotten() -> None:
    rule = Coalescer()
    rule.expect(b"a", 5)
    rule.expect(b"b", 1)  # one expected is a lone one: it goes at once
    assert rule.offer(b"b", [b"b", *message(1)], 1) == ([], False)
    assert rule.offer(b"a", [b"a", *message(1)], 1) == ([], True)
    assert len(rule.end_turn()) == 1
    assert rule.offer(b"a", [b"a", *message(2)], 1) == ([], False)


def test_a_message_with_attachments_goes_alone_after_what_was_held() -> None:
    rule = Coalescer()
    rule.offer(b"", message(1), 0)
    rule.offer(b"", message(2), 0)
    rule.offer(b"", message(3), 0)
    with_attachment = [b"", b"a" * 10, *reply(4, 4)]
    before, held = rule.offer(b"", with_attachment, 0)
    assert not held  # the caller sends it, after the batch
    [batch] = before
    assert split_batch(batch[1], batch[2]) == [reply(2, 2), reply(3, 3)]
    assert rule.end_turn() == []


def test_a_large_message_goes_alone() -> None:
    rule = Coalescer(part_max=100)
    rule.offer(b"", message(1), 0)
    large = [b"", encode_reply_header(2, 0), b"x" * 101]
    assert rule.offer(b"", large, 0) == ([], False)


def test_a_full_batch_goes_at_once() -> None:
    rule = Coalescer(max_count=3)
    rule.offer(b"", message(1), 0)
    assert rule.offer(b"", message(2), 0) == ([], True)
    assert rule.offer(b"", message(3), 0) == ([], True)
    before, held = rule.offer(b"", message(4), 0)
    assert held
    [batch] = before
    assert batch_count(batch[1]) == 3
    assert rule.end_turn() == []  # the turn goes on; nothing more held
    rule = Coalescer(max_bytes=28)  # each message here is 14 bytes
    rule.offer(b"", message(1), 0)
    assert rule.offer(b"", message(2), 0) == ([], True)
    before, _ = rule.offer(b"", message(3), 0)
    assert batch_count(before[0][1]) == 2


def test_a_window_of_calls_leaves_as_batches_of_at_most_batch_messages() -> None:
    # 64 replies expected (a batch of 64 requests came): they leave in order, as
    # full batches while the turn goes on, then the rest when it ends; the peer
    # starts on the first while the sender makes the next.
    assert BATCH_MESSAGES == 32
    rule = Coalescer()
    rule.expect(b"", 70)
    sent = []
    for call_id in range(70):
        before, held = rule.offer(b"", message(call_id), 0)
        assert held
        sent += before
    assert [batch_count(batch[1]) for batch in sent] == [32, 32]
    sent += [batch for _, batch in rule.end_turn()]
    assert [batch_count(batch[1]) for batch in sent] == [32, 32, 6]
    replies = [r for batch in sent for r in split_batch(batch[1], batch[2])]
    assert replies == [reply(n, n) for n in range(70)]


def test_a_batch_holds_at_least_one_message_and_at_most_what_a_reader_takes() -> None:
    for count in (0, MAX_BATCH + 1):
        with pytest.raises(
            ValueError, match=f"max_count must be 1 to 1024, not {count}"
        ):
            Coalescer(max_count=count)


def test_held_messages_are_copied() -> None:
    rule = Coalescer()
    rule.offer(b"", message(1), 0)
    body = bytearray(msgpack.packb(2))
    rule.offer(b"", [b"", encode_reply_header(2, 0), body], 0)
    body[0] = 0x07  # reused by the sender once the offer returned
    [(_, sent)] = rule.end_turn()
    assert sent[-1] == msgpack.packb(2)


# --- a client taking a batch ----------------------------------------------------


def echo_method() -> Any:
    for value in vars(conformance).values():
        if (
            isinstance(value, Unary)
            and value.route == "conformance.Conformance.echoI64"
        ):
            return value
    raise AssertionError("no echoI64 in the conformance module")


def client_with_calls(count: int) -> tuple[ClientCore, list[Any]]:
    core = ClientCore(BodyEncoder())
    states = []
    for value in range(count):
        state, frames = core.start_call(echo_method(), {"1": value}, None, None)
        core.encoder.settle(frames[-1], True)
        states.append(state)
    return core, states


def test_a_client_takes_each_reply_of_a_batch() -> None:
    core, states = client_with_calls(3)
    header, body = encode_batch([reply(3, 30), reply(1, 10)])
    assert core.receive([b"", header, body]) is None
    assert core.woken == [states[2], states[0]]
    assert states[0].over and states[2].over and not states[1].over
    assert bytes(states[0].body) == msgpack.packb(10)
    assert core.dropped_replies == 0


def test_a_stream_is_woken_once_for_its_items_in_a_row() -> None:
    """A batch of a stream's items wakes its reader once, not once per item;
    a call whose messages are apart in the batch is woken for each run."""
    core = ClientCore(BodyEncoder())
    count = next(
        value
        for value in vars(conformance).values()
        if isinstance(value, StreamingMethod)
        and value.route == "conformance.Conformance.count"
    )
    state, frames = core.open_stream(count, {"1": 0, "2": 3}, None, None)
    core.encoder.settle(frames[-1], True)
    call, frames = core.start_call(echo_method(), {"1": 1}, None, None)
    core.encoder.settle(frames[-1], True)
    item = (encode_stream_header(KIND_ITEM, state.call_id), msgpack.packb(7))
    header, body = encode_batch([item, item, item, reply(call.call_id, 1), item])
    assert core.receive([b"", header, body]) is None
    assert core.woken == [state, call, state]
    assert state.items is not None and len(state.items) == 4


@pytest.mark.parametrize(
    "frames",
    [
        [b"", header_of(0), msgpack.packb([])],
        [b"", header_of(2), encode_batch([reply(1, 1), reply(2, 2)])[1][:-2]],
        [b"", *encode_batch([reply(1, 1), encode_batch([reply(2, 2)])])],  # type: ignore[list-item]
    ],
    ids=["empty", "truncated", "nested"],
)
def test_a_client_drops_a_hostile_batch_and_goes_on(
    frames: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    core, states = client_with_calls(2)
    assert core.receive(frames) is None
    assert core.woken == []
    assert core.dropped_replies == 1
    assert "dropped a malformed batch" in caplog.text
    assert not any(state.over for state in states)  # nothing of it was taken
    header, body = reply(2, 2)
    assert core.receive([b"", header, body]) is states[1]  # the next one is


def test_a_flood_of_malformed_replies_is_logged_once_per_kind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    core, states = client_with_calls(1)
    with caplog.at_level(logging.WARNING, logger="uvrpc.channel"):
        for _ in range(100):
            assert core.receive([b"", header_of(0), msgpack.packb([])]) is None
            assert core.receive([b"", b"\xc1", b""]) is None
    assert core.dropped_replies == 200 and not states[0].over
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "dropped a malformed batch",
        "dropped a malformed reply",
    ]
