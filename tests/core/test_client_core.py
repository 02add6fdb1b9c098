"""The client's protocol core driven with plain frames: no socket, no loop."""

from __future__ import annotations

from typing import Any, cast

import msgpack
import pytest
from golden import conformance

import uvrpc
from uvrpc.core.calls import encode_stream_request
from uvrpc.core.client import END, WAIT, CallState, ClientCore, finish, trailers_of
from uvrpc.core.context import CallMetadata
from uvrpc.methods import StreamingMethod, Unary
from uvrpc.protocol import (
    KIND_CANCEL,
    KIND_CREDIT,
    KIND_END,
    KIND_ITEM,
    encode_error_body,
    encode_reply_header,
    encode_stream_header,
    parse_request_header,
    parse_server_header,
)
from uvrpc.status import Status
from uvrpc.wire.buffers import BodyEncoder


def method(route: str) -> Any:
    """The golden conformance module's descriptor of ``route``."""
    for value in vars(conformance).values():
        if isinstance(value, Unary | StreamingMethod) and value.route == route:
            return value
    raise LookupError(route)


ECHO = method("conformance.Conformance.echoI64")
FAIL = method("conformance.Conformance.fail")
COUNT = method("conformance.Conformance.count")
SUM = method("conformance.Conformance.sum")
TRANSFORM = method("conformance.Conformance.transform")


class Core(ClientCore):
    """A client core whose request bodies are sent at once: settled."""

    def start_call(self, *args: Any, **options: Any) -> tuple[CallState, list[Any]]:
        state, frames = super().start_call(*args, **options)
        self.encoder.settle(frames[-1], True)
        return state, frames

    def open_stream(self, *args: Any, **options: Any) -> tuple[CallState, list[Any]]:
        state, frames = super().open_stream(*args, **options)
        self.encoder.settle(frames[-1], True)
        return state, frames

    def oneway_request(self, *args: Any, **options: Any) -> list[Any]:
        frames = super().oneway_request(*args, **options)
        self.encoder.settle(frames[-1], True)
        return frames

    def item_frames(self, *args: Any, **options: Any) -> list[Any]:
        frames = super().item_frames(*args, **options)
        self.encoder.settle(frames[-1], True)
        return frames


def core(**options: Any) -> ClientCore:
    return Core(BodyEncoder(), **options)


def reply(
    call_id: int, value: Any, status: int = Status.OK, **trailers: str
) -> list[Any]:
    packed = msgpack.packb(trailers) if trailers else None
    return [b"", encode_reply_header(call_id, status, packed), msgpack.packb(value)]


def error_reply(call_id: int, error: uvrpc.RpcError, **trailers: str) -> list[Any]:
    packed = msgpack.packb(trailers) if trailers else None
    header = encode_reply_header(call_id, error.status, packed)
    return [b"", header, encode_error_body(error)]


def item(call_id: int, value: Any) -> list[Any]:
    return [b"", encode_stream_header(KIND_ITEM, call_id), msgpack.packb(value)]


def credit(call_id: int, n: int) -> list[Any]:
    return [b"", encode_stream_header(KIND_CREDIT, call_id, n), b"\xc0"]


def over(state: CallState) -> bool:
    """Whether a call is over (read fresh: the core changes it)."""
    return state.over


def kinds(client: ClientCore) -> list[tuple[int, ...]]:
    """The control messages in the outbox, as (kind, call id, n)."""
    return [tuple(cast(Any, parse_server_header(bytes(f[1])))) for f in client.outbox]


def test_a_unary_call_registers_and_its_reply_ends_it() -> None:
    client = core()
    state, frames = client.start_call(ECHO, {"1": 5}, 2.0, None)
    assert len(frames) == 3 and frames[0] == b""
    header = parse_request_header(frames[1])
    assert (header.call_id, header.route, header.timeout_ms) == (
        state.call_id,
        ECHO.route,
        2000,
    )
    assert client.calls == {state.call_id: state}
    assert client.receive(reply(state.call_id, 6)) is state
    assert over(state) and client.calls == {}
    assert finish(state) == 6


def test_an_error_reply_raises_with_its_trailers_everywhere() -> None:
    client = core()
    scope = CallMetadata({})
    state, _ = client.start_call(FAIL, {"1": "x"}, None, scope)
    client.receive(error_reply(state.call_id, uvrpc.NotFound("gone"), why="because"))
    with pytest.raises(uvrpc.NotFound, match="gone") as raised:
        finish(state)
    assert dict(raised.value.trailers) == {"why": "because"}
    assert scope.trailers == {"why": "because"}
    assert dict(trailers_of(state)) == {"why": "because"}


def test_a_started_call_leaves_its_trailers_to_its_handle() -> None:
    client = core()
    scope = CallMetadata({"k": "v"})
    state, frames = client.start_call(ECHO, {"1": 1}, None, scope, started=True)
    assert parse_request_header(frames[1]).metadata == {"k": "v"}
    client.receive(reply(state.call_id, 2, t="1"))
    assert finish(state) == 2
    assert scope.trailers == {} and dict(trailers_of(state)) == {"t": "1"}


def test_replies_of_no_call_are_dropped_and_of_ended_streams_stale() -> None:
    client = core()
    assert client.receive(reply(99, 1)) is None
    assert (client.dropped_replies, client.stale_messages) == (1, 0)
    state, _ = client.open_stream(COUNT, {"1": 0, "2": 3}, None, None)
    client.cancel(state)
    assert client.receive(item(state.call_id, 1)) is None
    assert client.receive(reply(state.call_id, None)) is None
    assert (client.dropped_replies, client.stale_messages) == (1, 2)
    # A credit probe after the end is neither.
    assert client.receive(credit(state.call_id, 0)) is None
    assert (client.dropped_replies, client.stale_messages) == (1, 2)


@pytest.mark.parametrize(
    "frames",
    [
        [b"x"],
        [b"", b"\xff", b""],
        [b"junk", b"\x90", b""],
        [b"", b"\x93\x03\x02\x01", b""],
    ],
)
def test_a_malformed_message_is_dropped(frames: list[bytes]) -> None:
    client = core()
    state, _ = client.start_call(ECHO, {"1": 1}, None, None)
    assert client.receive(frames) is None
    assert client.dropped_replies == 1 and not over(state)


@pytest.mark.parametrize(
    ("fields", "says"),
    [([2, "0"], "status"), ([2, 0, [1]], "trailers"), ([2, 0, {"k": 1}], "trailers")],
)
def test_a_malformed_reply_header_of_a_call_fails_it_at_once(
    fields: list[Any], says: str
) -> None:
    """Dropped, its call would wait for its deadline (or forever) for a reply
    that came."""
    client = core()
    state, _ = client.start_call(ECHO, {"1": 1}, None, None)
    kind, *rest = fields
    header = msgpack.packb([uvrpc.PROTOCOL_VERSION, kind, state.call_id, *rest])
    assert client.receive([b"", header, msgpack.packb(1)]) is state
    with pytest.raises(uvrpc.InternalError, match=f"malformed {says}"):
        finish(state)
    assert client.dropped_replies == 0 and client.calls == {}
    assert client.outbox == []  # the server is done with the call


def test_a_malformed_credit_of_a_stream_fails_and_cancels_it() -> None:
    client = core()
    state, _ = client.open_stream(SUM, {}, None, None)
    header = msgpack.packb([uvrpc.PROTOCOL_VERSION, KIND_CREDIT, state.call_id, -1])
    assert client.receive([b"", header, b"\xc0"]) is state
    with pytest.raises(uvrpc.InternalError, match="malformed count"):
        finish(state)
    assert kinds(client) == [(KIND_CANCEL, state.call_id, 0)]


def test_an_oversized_reply_fails_its_call_undecoded() -> None:
    client = core(max_message_size=64)
    state, _ = client.start_call(ECHO, {"1": 1}, None, None)
    big = [b"", encode_reply_header(state.call_id, Status.OK), b"\xff" * 100]
    assert client.receive(big) is state
    with pytest.raises(uvrpc.ResourceExhausted, match="the reply of .* this channel"):
        finish(state)
    assert client.outbox == []  # the server is done with the call


def test_an_oversized_item_fails_and_cancels_its_stream() -> None:
    client = core(max_message_size=64)
    state, _ = client.open_stream(COUNT, {"1": 0, "2": 3}, None, None)
    client.receive([b"", encode_stream_header(KIND_ITEM, state.call_id), b"x" * 100])
    assert over(state)
    assert kinds(client) == [(KIND_CANCEL, state.call_id, 0)]
    with pytest.raises(uvrpc.ResourceExhausted, match="a message of"):
        client.take(state)


def test_a_stream_header_that_cannot_be_encoded_gives_its_body_back() -> None:
    """The body is encoded first, into the pooled buffer: a header that then
    fails (a window no msgpack integer holds, which every constructor refuses)
    gives it back, or the next request's body was written after it."""
    encoder = BodyEncoder()
    with pytest.raises(OverflowError):
        encode_stream_request(encoder, 1, COUNT, {"1": 0, "2": 3}, None, 2**64)
    frames = encode_stream_request(encoder, 2, COUNT, {"1": 5, "2": 7}, None, 8)
    assert msgpack.unpackb(frames[-1]) == {"1": 5, "2": 7}


def test_a_stream_request_grants_the_window_in_its_one_header() -> None:
    client = core(stream_window=8)
    scope = CallMetadata({"k": "v"})
    state, frames = client.open_stream(COUNT, {"1": 0, "2": 3}, 1.5, scope)
    header = parse_request_header(frames[-2])
    assert (header.call_id, header.window, header.metadata) == (
        state.call_id,
        8,
        {"k": "v"},
    )
    _, frames = client.open_stream(SUM, {}, None, None)
    assert parse_request_header(frames[-2]).window is None  # the server sends none


def test_items_within_the_window_queue_and_one_beyond_fails_the_call() -> None:
    client = core(stream_window=4)
    state, _ = client.open_stream(COUNT, {"1": 0, "2": 9}, None, None)
    for n in range(4):
        assert client.receive(item(state.call_id, n)) is state
    assert state.buffered_max == 4 and not over(state)
    assert client.receive(item(state.call_id, 4)) is state
    assert over(state) and kinds(client) == [(KIND_CANCEL, state.call_id, 0)]
    with pytest.raises(uvrpc.InternalError, match="more items of .* than the 4"):
        client.take(state)


def test_the_client_grants_what_was_taken_at_a_quarter_of_the_window() -> None:
    client = core(stream_window=8)
    state, _ = client.open_stream(COUNT, {"1": 0, "2": 99}, None, None)
    for n in range(8):
        client.receive(item(state.call_id, n))
    assert client.take(state) == 0 and client.outbox == []
    assert client.take(state) == 1
    assert kinds(client) == [(KIND_CREDIT, state.call_id, 2)]
    client.outbox.clear()
    # What it granted, and no more, may come.
    client.receive(item(state.call_id, 8))
    client.receive(item(state.call_id, 9))
    assert not over(state)
    client.receive(item(state.call_id, 10))
    assert over(state)


def test_a_stream_ends_with_its_reply_after_its_items_and_keeps_trailers() -> None:
    client = core()
    scope = CallMetadata({})
    state, _ = client.open_stream(COUNT, {"1": 0, "2": 1}, None, scope)
    assert client.take(state) is WAIT
    client.receive(item(state.call_id, 7))
    client.receive(reply(state.call_id, None, done="yes"))
    assert client.take(state) == 7
    assert client.take(state) is END
    assert scope.trailers == {"done": "yes"}


def test_a_bad_item_fails_the_call_with_its_first_problem_and_cancels() -> None:
    client = core()
    state, _ = client.open_stream(COUNT, {"1": 0, "2": 1}, None, None)
    client.receive(item(state.call_id, "seven"))
    with pytest.raises(
        uvrpc.InternalError, match="an item of .*count does not match its declared"
    ):
        client.take(state)
    assert over(state) and kinds(client) == [(KIND_CANCEL, state.call_id, 0)]


def test_the_caller_sends_items_only_on_credit() -> None:
    client = core()
    state, _ = client.open_stream(SUM, {}, None, None)
    assert not client.can_send(state)
    assert client.receive(credit(state.call_id, 0)) is None  # a probe
    assert client.receive(credit(state.call_id, 2)) is state
    for n in range(2):
        assert client.can_send(state)
        frames = client.item_frames(state, n, n)
        assert parse_server_header(frames[-2]) == (KIND_ITEM, state.call_id, 0)
    assert not client.can_send(state)
    end = client.end_frames(state)
    assert end is not None
    assert parse_server_header(end[-2]) == (KIND_END, state.call_id, 0)


def test_an_item_that_cannot_be_encoded_is_an_invalid_argument() -> None:
    client = core()
    state, _ = client.open_stream(SUM, {}, None, None)
    client.receive(credit(state.call_id, 1))
    with pytest.raises(uvrpc.InvalidArgument, match="cannot send item 3 of"):
        client.item_frames(state, object(), 3)


def test_a_deadline_fails_and_cancels_the_call() -> None:
    client = core(no_reply="got no reply")
    unary, _ = client.start_call(ECHO, {"1": 1}, 0.5, None)
    stream, _ = client.open_stream(TRANSFORM, {"2": 1}, 0.25, None)
    client.expire(unary)
    client.expire(stream)
    with pytest.raises(uvrpc.DeadlineExceeded, match="got no reply within 0.5 s"):
        finish(unary)
    with pytest.raises(uvrpc.DeadlineExceeded, match="did not finish within 0.25 s"):
        client.take(stream)
    # Each CANCEL says why: the deadline, so the server ends the call expired.
    assert kinds(client) == [
        (KIND_CANCEL, unary.call_id, Status.DEADLINE_EXCEEDED),
        (KIND_CANCEL, stream.call_id, Status.DEADLINE_EXCEEDED),
    ]
    client.outbox.clear()
    # A shell may leave a unary call's deadline to the server, which has it.
    quiet, _ = client.start_call(ECHO, {"1": 1}, 0.5, None)
    client.expire(quiet, cancel=False)
    assert over(quiet) and client.outbox == []


def test_ids_count_up_and_a_oneway_request_registers_nothing() -> None:
    client = core()
    ids = [client.start_call(ECHO, {"1": 1}, None, None)[0].call_id for _ in range(3)]
    assert ids == [1, 2, 3]
    record = method("conformance.Conformance.record")
    frames = client.oneway_request(record, {"1": "e"}, None, None)
    assert parse_request_header(frames[-2]).call_id == 0
    assert len(client.calls) == 3


def test_calls_beyond_max_in_flight_fail_at_once() -> None:
    client = core(max_in_flight=2)
    client.start_call(ECHO, {"1": 1}, None, None)
    client.open_stream(COUNT, {"1": 0, "2": 1}, None, None)
    with pytest.raises(uvrpc.ResourceExhausted, match="max_in_flight"):
        client.start_call(ECHO, {"1": 1}, None, None)
    assert len(client.calls) == 2 and client.streams == 1


def test_failing_every_call_wakes_each_once() -> None:
    client = core()
    a, _ = client.start_call(ECHO, {"1": 1}, None, None)
    b, _ = client.open_stream(COUNT, {"1": 0, "2": 1}, None, None)
    failed = client.fail_all(lambda s: uvrpc.Unavailable(f"gone: {s.method.route}"))
    assert failed == [a, b] and client.calls == {} and client.streams == 0
    assert (
        isinstance(a.error, uvrpc.Unavailable)
        and client.fail_all(lambda s: uvrpc.Unavailable("")) == []
    )
    assert isinstance(b, CallState)
