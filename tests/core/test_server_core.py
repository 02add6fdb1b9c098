"""The server's protocol core, driven with plain frames: no socket, no event loop.

What a server makes of each message it may receive (a request ready to run, a
message of a stream, or a refusal with the reply to send or none), the frames it
answers with, and a stream call's protocol state: the credit both ways, the
client's items and how the call ends.
"""

from __future__ import annotations

import time
from typing import Any

import msgpack
import pytest
from conformance_server import Conformance
from feed import Tick
from feed_server import Feed
from golden.conformance import NotFound
from golden.conformance import Rejected as RejectedByService

import uvrpc
from uvrpc.core.credit import check_window
from uvrpc.core.server import (
    RefusedStreamMessage,
    Rejected,
    Request,
    ServerProtocol,
    StreamMessage,
    closing_error,
    error_reply,
    overloaded_error,
    refusal,
)
from uvrpc.core.server_streams import Arrival, ServerStream, StreamLimits
from uvrpc.wire.limits import HEADER_READ_MAX
from uvrpc.wire.protocol import (
    KIND_CANCEL,
    KIND_CREDIT,
    KIND_END,
    KIND_ITEM,
    NIL_BODY,
    StreamHeader,
)

V = uvrpc.PROTOCOL_VERSION
S = uvrpc.Status
ID = b"\x00caller"
"""The routing frame a ROUTER prepends: whom to answer."""


def pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def request(
    call_id: int, route: str, args: Any, *rest: Any, version: int = V
) -> list[bytes]:
    """A request as a ROUTER receives it: ``[identity, b"", header, body]``."""
    return [ID, b"", pack([version, 1, call_id, route, *rest]), pack(args)]


def stream_message(kind: int, call_id: int, body: Any = None, n: int = 0) -> list[Any]:
    return [ID, b"", pack([V, kind, call_id, n]), pack(body)]


def error_of(reply: list[bytes] | None) -> tuple[list[Any], dict[str, Any]]:
    """The header and body of error reply frames ``[header, body]``."""
    assert reply is not None
    return msgpack.unpackb(reply[-2]), msgpack.unpackb(reply[-1], raw=False)


def rejected(protocol: ServerProtocol, frames: list[Any]) -> Rejected:
    with pytest.raises(Rejected) as caught:
        protocol.receive(frames)
    return caught.value


@pytest.fixture
def protocol() -> ServerProtocol:
    return ServerProtocol([Feed()], max_message_size=4096, max_metadata=64)


# --- requests -----------------------------------------------------------------


def test_a_good_unary_request_is_ready_to_run(protocol: ServerProtocol) -> None:
    before = time.monotonic()
    end, message = protocol.receive(request(7, "feed.Feed.ping", {"1": 5}, 2500))
    assert end == 1  # the delimiter: the envelope is frames[:2]
    assert type(message) is Request
    assert (message.call_id, message.params, message.timeout_ms) == (7, {"n": 5}, 2500)
    assert message.route.method.route == "feed.Feed.ping"
    assert message.route.stream is None
    assert message.call is not None and message.call.deadline is not None
    assert before + 2.5 <= message.call.deadline <= time.monotonic() + 2.5


def test_a_message_without_routing_frames_is_read_the_same(
    protocol: ServerProtocol,
) -> None:
    frames = request(7, "feed.Feed.ping", {"1": 5}, None)[1:]
    end, message = protocol.receive(frames, routed=False)
    assert end == 0
    assert type(message) is Request and message.params == {"n": 5}


def test_attachments_come_between_the_envelope_and_the_header(
    protocol: ServerProtocol,
) -> None:
    frames = request(7, "feed.Feed.notify", {"1": "hi"}, None)
    frames.insert(2, b"an attachment")
    end, message = protocol.receive(frames)
    assert end == 1 and type(message) is Request


def test_a_oneway_request_is_ready_to_run(protocol: ServerProtocol) -> None:
    _, message = protocol.receive(request(0, "feed.Feed.notify", {"1": "hi"}, None))
    assert type(message) is Request
    assert message.call_id == 0 and message.params == {"text": "hi"}


def test_a_stream_request_carries_its_window(protocol: ServerProtocol) -> None:
    _, message = protocol.receive(request(3, "feed.Feed.ticks", {"1": 2}, None, 16))
    assert type(message) is Request
    assert message.window == 16
    assert message.route.stream is not None
    assert message.route.stream.route == "feed.Feed.ticks"


def test_a_request_of_another_version_is_answered_in_this_one(
    protocol: ServerProtocol,
) -> None:
    refused = rejected(protocol, request(4, "x", {}, None, version=V + 1))
    head, error = error_of(refused.reply)
    assert head == [V, 2, 4, S.UNIMPLEMENTED]
    assert error["message"] == (
        f"protocol version {V + 1} is not supported; this peer speaks version {V}"
    )
    assert refused.end == 1


def test_an_unknown_service_names_the_services_served(
    protocol: ServerProtocol,
) -> None:
    head, error = error_of(rejected(protocol, request(4, "no.Such.m", {}, None)).reply)
    assert head == [V, 2, 4, S.UNIMPLEMENTED]
    assert error["message"] == (
        "unknown service 'no.Such' (method 'no.Such.m'); this server serves feed.Feed"
    )


def test_an_unknown_method_of_a_served_service(protocol: ServerProtocol) -> None:
    refused = rejected(protocol, request(4, "feed.Feed.nope", {}, None))
    assert error_of(refused.reply)[1]["message"] == "unknown method 'feed.Feed.nope'"


@pytest.mark.parametrize(
    "frames",
    [
        [ID, b"", b"\xc1", pack({})],  # not msgpack
        [ID, b"", pack([V, 1]), pack({})],  # too short for any version
        [ID, b"", pack([V, 1, -4, "feed.Feed.ping", None]), pack({})],  # no call id
        [ID, b"", pack([V, 9, 4, 0]), pack({})],  # no kind a client sends
        [ID, b"", pack([V, 1, 0, 99, None]), pack({})],  # oneway: never answered
    ],
    ids=["not-msgpack", "short", "negative-id", "bad-kind", "oneway"],
)
def test_a_malformed_header_is_dropped(
    protocol: ServerProtocol, frames: list[bytes]
) -> None:
    refused = rejected(protocol, frames)
    assert refused.reply is None and not refused.oversized


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ([99, None], "route (a string) or timeout"),
        (["feed.Feed.ping", 2.5], "route (a string) or timeout"),
        (["feed.Feed.ping", 100, None, None, -1], "send stamp"),
    ],
    ids=["route", "timeout", "send-stamp"],
)
def test_a_malformed_request_header_that_names_its_call_is_answered(
    protocol: ServerProtocol, fields: list[Any], says: str
) -> None:
    """Its caller, or a broker that follows the call, would wait forever."""
    head, error = error_of(
        rejected(protocol, [ID, b"", pack([V, 1, 4, *fields]), pack({})]).reply
    )
    assert head == [V, 2, 4, S.INVALID_ARGUMENT]
    assert error["message"].startswith("request header of call 4 has a malformed ")
    assert says in error["message"] and "the request did not run" in error["message"]


@pytest.mark.parametrize(
    "frames",
    [[b"no delimiter"], [ID, b"", pack([V, 1, 4, "feed.Feed.ping", None])]],
    ids=["no-envelope", "no-body"],
)
def test_frames_that_are_no_message_are_dropped(
    protocol: ServerProtocol, frames: list[bytes]
) -> None:
    refused = rejected(protocol, frames)
    assert (refused.reply, refused.end, refused.oversized) == (None, -1, False)


def test_a_malformed_body_is_invalid_argument(protocol: ServerProtocol) -> None:
    frames = request(4, "feed.Feed.ping", {}, None)
    frames[-1] = b"\xc1"
    head, error = error_of(rejected(protocol, frames).reply)
    assert head == [V, 2, 4, S.INVALID_ARGUMENT]
    assert error["message"].startswith("request of feed.Feed.ping is malformed: ")


def test_invalid_params_name_the_field(protocol: ServerProtocol) -> None:
    refused = rejected(protocol, request(4, "feed.Feed.ping", {"1": "five"}, None))
    head, error = error_of(refused.reply)
    assert head == [V, 2, 4, S.INVALID_ARGUMENT]
    assert error["details"]["field_path"] == "n"
    assert error["message"].startswith("invalid argument 'n' of feed.Feed.ping: ")


def test_a_oneway_request_that_cannot_run_is_dropped(
    protocol: ServerProtocol,
) -> None:
    refused = rejected(protocol, request(0, "feed.Feed.notify", {"1": 5}, None))
    assert refused.reply is None


def test_a_stream_cannot_be_oneway(protocol: ServerProtocol) -> None:
    refused = rejected(protocol, request(0, "feed.Feed.ticks", {"1": 2}, None, 4))
    assert refused.reply is None
    assert str(refused) == "feed.Feed.ticks is a stream: it cannot be oneway"


@pytest.mark.parametrize(
    ("metadata", "status", "says"),
    [
        ([1, 2], S.INVALID_ARGUMENT, "the metadata of a request of feed.Feed.ping"),
        ({"Upper": "x"}, S.INVALID_ARGUMENT, "metadata key 'Upper'"),
        ({"k": 1}, S.INVALID_ARGUMENT, "metadata value of 'k' is a int"),
        ({"k": "x" * 64}, S.RESOURCE_EXHAUSTED, "at most 64 are allowed"),
    ],
    ids=["not-a-map", "key", "value", "too-large"],
)
def test_bad_metadata_is_refused(
    protocol: ServerProtocol, metadata: Any, status: int, says: str
) -> None:
    frames = request(4, "feed.Feed.ping", {"1": 1}, None, None, metadata)
    head, error = error_of(rejected(protocol, frames).reply)
    assert head == [V, 2, 4, status]
    assert says in error["message"]


def test_good_metadata_reaches_the_call(protocol: ServerProtocol) -> None:
    frames = request(4, "feed.Feed.ping", {"1": 1}, None, None, {"k": b"v"})
    _, message = protocol.receive(frames)
    assert type(message) is Request and message.call is not None
    assert message.call.metadata == {"k": b"v"}


# --- size ---------------------------------------------------------------------


def test_an_oversized_request_is_refused_without_decoding_its_body(
    protocol: ServerProtocol,
) -> None:
    frames = request(4, "feed.Feed.ping", {}, None)
    frames[-1] = b"\xc1" * 5000  # not msgpack: decoding it would say so
    refused = rejected(protocol, frames)
    assert refused.oversized
    head, error = error_of(refused.reply)
    assert head == [V, 2, 4, S.RESOURCE_EXHAUSTED]
    assert error["message"].startswith("request of feed.Feed.ping is 5,0")
    assert "more than the 4,096 bytes this server takes" in error["message"]


def test_an_oversized_oneway_request_is_dropped(protocol: ServerProtocol) -> None:
    frames = request(0, "feed.Feed.notify", {"1": "x" * 5000}, None)
    refused = rejected(protocol, frames)
    assert refused.oversized and refused.reply is None


def test_an_oversized_message_with_a_huge_header_is_dropped_unread(
    protocol: ServerProtocol,
) -> None:
    frames = [ID, b"", b"\xc1" * (HEADER_READ_MAX + 1), b""]
    refused = rejected(protocol, frames)
    assert refused.oversized and refused.reply is None


def test_a_stream_message_whose_header_is_malformed_ends_its_call(
    protocol: ServerProtocol,
) -> None:
    """Dropped, a CREDIT of -1 would leave its stream waiting for credit."""
    end, message = protocol.receive([ID, b"", pack([V, KIND_CREDIT, 4, -1]), b"\xc0"])
    assert end == 1
    assert type(message) is RefusedStreamMessage and message.call_id == 4
    assert not message.oversized
    assert message.error.status == S.INVALID_ARGUMENT
    assert message.error.message == (
        "stream message header of call 4 has a malformed count (a non-negative "
        "integer); the call was ended"
    )


def test_an_oversized_stream_message_ends_its_call(protocol: ServerProtocol) -> None:
    frames = stream_message(KIND_ITEM, 9, {"1": 0, "2": b"x" * 5000})
    end, message = protocol.receive(frames)
    assert end == 1
    assert type(message) is RefusedStreamMessage and message.call_id == 9
    assert message.oversized
    assert message.error.status == S.RESOURCE_EXHAUSTED
    assert message.error.message.startswith("a message of stream call 9 is ")


# --- messages of streams ------------------------------------------------------


@pytest.mark.parametrize("kind", [KIND_ITEM, KIND_END, KIND_CANCEL, KIND_CREDIT])
def test_stream_messages_are_handed_on_undecoded(
    protocol: ServerProtocol, kind: int
) -> None:
    _, message = protocol.receive(stream_message(kind, 9, n=3))
    assert type(message) is StreamMessage
    assert (message.header.kind, message.header.call_id, message.header.n) == (
        kind,
        9,
        3,
    )
    assert message.body == NIL_BODY
    assert message.cancels == (kind == KIND_CANCEL)


# --- messages of a batch ------------------------------------------------------


@pytest.mark.parametrize(
    "frames",
    [
        request(7, "feed.Feed.ping", {"1": 5}, 2500),
        stream_message(KIND_ITEM, 9, {"1": 3}),
        stream_message(KIND_CREDIT, 9, n=4),
        [ID, b"", pack([V, KIND_CREDIT, 4, -1]), b"\xc0"],
    ],
    ids=["request", "item", "credit", "malformed-stream-header"],
)
def test_a_message_of_a_batch_is_read_as_it_would_be_alone(
    protocol: ServerProtocol, frames: list[bytes]
) -> None:
    """The server reads a batch's messages without measuring each again: what
    it learns of each is what the message alone would have told it."""
    _, alone = protocol.receive(frames)
    batched = protocol.receive_batched(frames[-2], frames[-1], frames[:2])
    assert type(batched) is type(alone)
    if type(alone) is Request:
        assert type(batched) is Request
        assert (batched.call_id, batched.params, batched.timeout_ms) == (
            alone.call_id,
            alone.params,
            alone.timeout_ms,
        )
        assert batched.route is alone.route
    elif type(alone) is StreamMessage:
        assert type(batched) is StreamMessage
        assert (batched.header, batched.body) == (alone.header, alone.body)
        assert not batched.attachments and not alone.attachments
    else:
        assert type(alone) is RefusedStreamMessage
        assert type(batched) is RefusedStreamMessage
        assert (batched.call_id, batched.oversized) == (alone.call_id, alone.oversized)
        assert batched.error.message == alone.error.message


@pytest.mark.parametrize(
    ("frames", "answered"),
    [
        ([ID, b"", b"\xc1", pack({})], False),
        (request(4, "feed.Feed.nope", {}, None), True),
        (request(4, "feed.Feed.ping", {"1": "five"}, None), True),
    ],
    ids=["malformed", "unknown-method", "invalid-params"],
)
def test_a_message_of_a_batch_is_refused_as_it_would_be_alone(
    protocol: ServerProtocol, frames: list[bytes], answered: bool
) -> None:
    alone = rejected(protocol, frames)
    with pytest.raises(Rejected) as caught:
        protocol.receive_batched(frames[-2], frames[-1], frames[:2])
    batched = caught.value
    assert batched.end == alone.end == 1  # the envelope is the batch's
    assert batched.reply == alone.reply
    assert (batched.reply is not None) == answered


# --- replies ------------------------------------------------------------------


def ping(protocol: ServerProtocol, call_id: int = 7) -> Request:
    _, message = protocol.receive(request(call_id, "feed.Feed.ping", {"1": 5}, 1500))
    assert type(message) is Request
    return message


def test_a_reply_carries_the_result(protocol: ServerProtocol) -> None:
    frames = protocol.reply(ping(protocol), 5)
    assert msgpack.unpackb(frames[0]) == [V, 2, 7, S.OK]
    assert msgpack.unpackb(frames[1]) == 5
    protocol.settle(frames[-1], True)


def test_a_reply_carries_the_trailers_set(protocol: ServerProtocol) -> None:
    call = ping(protocol)
    assert call.call is not None
    call.call.set_trailer("x-sum", "5")
    frames = protocol.reply(call, 5)
    assert msgpack.unpackb(frames[0]) == [V, 2, 7, S.OK, {"x-sum": "5"}]
    protocol.settle(frames[-1], True)


def test_an_error_reply_carries_the_trailers_set(protocol: ServerProtocol) -> None:
    call = ping(protocol)
    assert call.call is not None
    call.call.set_trailer("x-why", b"\x00")
    head, error = error_of(protocol.failed_reply(call, uvrpc.NotFound("gone")))
    assert head == [V, 2, 7, S.NOT_FOUND, {"x-why": b"\x00"}]
    assert error == {"message": "gone", "details": {}}


def test_a_result_that_cannot_be_encoded_is_an_internal_error(
    protocol: ServerProtocol,
) -> None:
    head, error = error_of(protocol.reply(ping(protocol), object()))
    assert head == [V, 2, 7, S.INTERNAL]
    assert error["message"].startswith("the reply of feed.Feed.ping failed: ")


def test_an_expired_call_says_its_timeout(protocol: ServerProtocol) -> None:
    head, error = error_of(protocol.expired_reply(ping(protocol)))
    assert head == [V, 2, 7, S.DEADLINE_EXCEEDED]
    assert error["message"] == (
        "feed.Feed.ping did not finish within 1.5 s (the server's deadline)"
    )


def test_an_undeclared_exception_is_unknown_and_names_its_type() -> None:
    protocol = ServerProtocol([Conformance()])
    fail = protocol.route("conformance.Conformance.fail")
    transform = protocol.route("conformance.Conformance.transform")
    assert fail is not None and transform is not None
    declared = NotFound(key="k")
    assert protocol.handler_error(fail.method, declared) is declared
    # Declared in the IDL, but not by this method: the caller could not read it.
    error = protocol.handler_error(transform.method, declared)
    assert type(error) is uvrpc.RemoteError and error.details == {}
    assert error.message.startswith("NotFound: ")
    error = protocol.handler_error(fail.method, LookupError("which"))
    assert (error.status, error.message) == (S.UNKNOWN, "LookupError: which")
    served = RejectedByService(argument="a", code=1)
    assert protocol.handler_error(transform.method, served) is served


def test_debug_sends_the_traceback() -> None:
    protocol = ServerProtocol([Conformance()], debug=True)
    fail = protocol.route("conformance.Conformance.fail")
    assert fail is not None
    try:
        raise LookupError("which")
    except LookupError as exc:
        error = protocol.handler_error(fail.method, exc)
    assert "Traceback" in error.details["traceback"]
    assert "LookupError: which" in error.details["traceback"]


def test_refusals_of_a_call_that_did_not_run() -> None:
    head, error = error_of(refusal(4, overloaded_error(10_000)).reply)
    assert head == [V, 2, 4, S.RESOURCE_EXHAUSTED]
    assert "runs 10,000 handlers at once (max_in_flight)" in error["message"]
    head, error = error_of(refusal(4, closing_error()).reply)
    assert head == [V, 2, 4, S.UNAVAILABLE]
    assert refusal(0, closing_error()).reply is None  # oneway: nothing is sent


# --- the route table ----------------------------------------------------------


def test_a_service_served_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="service feed.Feed is served twice"):
        ServerProtocol([Feed(), Feed()])


def test_wrap_wraps_unary_handlers_only() -> None:
    wrapped: list[str] = []

    def wrap(method: Any, handler: Any) -> Any:
        wrapped.append(method.route)
        return handler

    protocol = ServerProtocol([Feed()], wrap=wrap)
    assert wrapped == ["feed.Feed.ping", "feed.Feed.notify"]
    assert protocol.services == frozenset({"feed.Feed"})


# --- a stream call's state ----------------------------------------------------


def stream_call(
    protocol: ServerProtocol, route: str, window: int | None = None, n: int | None = 4
) -> ServerStream:
    args: dict[str, Any] = {"1": 2} if route == "feed.Feed.ticks" else {}
    _, message = protocol.receive(request(9, route, args, None, window))
    assert type(message) is Request
    return ServerStream(message, n, protocol.encode)


def arrive(stream: ServerStream, kind: int, body: Any = None, n: int = 0) -> Any:
    return stream.receive(StreamMessage(StreamHeader(kind, 9, n), pack(body), ()))


def tick(seq: int) -> dict[str, Any]:
    return {"1": seq, "2": b""}


def credit_of(frames: list[bytes] | None) -> int:
    assert frames is not None and frames[1] == NIL_BODY
    head = msgpack.unpackb(frames[0])
    assert head[:3] == [V, KIND_CREDIT, 9]
    return int(head[3])


def test_a_client_stream_opens_with_a_credit_of_the_window(
    protocol: ServerProtocol,
) -> None:
    upload = stream_call(protocol, "feed.Feed.upload")
    assert credit_of(upload.open()) == 4
    assert stream_call(protocol, "feed.Feed.ticks", 8).open() is None


def test_items_are_decoded_and_validated(protocol: ServerProtocol) -> None:
    upload = stream_call(protocol, "feed.Feed.upload")
    upload.open()
    arrival, item = arrive(upload, KIND_ITEM, tick(0))
    assert arrival is Arrival.ITEM and item.seq == 0


def test_items_before_the_window_was_granted_count_against_it(
    protocol: ServerProtocol,
) -> None:
    # A client that did not wait for the CREDIT: its items are within the window
    # the CREDIT will grant, and refused past it.
    upload = stream_call(protocol, "feed.Feed.upload")
    for seq in range(4):
        assert arrive(upload, KIND_ITEM, tick(seq))[0] is Arrival.ITEM
    arrival, error = arrive(upload, KIND_ITEM, tick(4))
    assert arrival is Arrival.FAILED and error.status == S.RESOURCE_EXHAUSTED
    assert error.message == (
        "the client sent item 4 of feed.Feed.upload beyond the 4 items it was granted"
    )
    assert credit_of(upload.open()) == 4


def test_an_item_over_the_credit_granted_fails_the_call(
    protocol: ServerProtocol,
) -> None:
    upload = stream_call(protocol, "feed.Feed.upload")
    upload.open()
    for seq in range(4):
        assert arrive(upload, KIND_ITEM, tick(seq))[0] is Arrival.ITEM
    arrival, error = arrive(upload, KIND_ITEM, tick(4))
    assert arrival is Arrival.FAILED
    assert error.status == S.RESOURCE_EXHAUSTED
    assert error.message == (
        "the client sent item 4 of feed.Feed.upload beyond the 4 items it was granted"
    )
    assert upload.failure_reply() == error_reply(9, error)
    assert upload.error is error
    # Once failed, later items change nothing: the first error is replied.
    assert arrive(upload, KIND_ITEM, tick(5)) == (Arrival.IGNORED, None)


def test_the_items_taken_are_granted_again_at_a_quarter_of_the_window(
    protocol: ServerProtocol,
) -> None:
    upload = stream_call(protocol, "feed.Feed.upload", n=8)
    upload.open()
    for seq in range(8):
        arrive(upload, KIND_ITEM, tick(seq))
    assert upload.took() is None
    assert credit_of(upload.took()) == 2
    for seq in range(8, 10):  # the two granted
        assert arrive(upload, KIND_ITEM, tick(seq))[0] is Arrival.ITEM
    assert arrive(upload, KIND_ITEM, tick(10))[0] is Arrival.FAILED


def test_a_bad_item_names_its_index_in_the_stream(protocol: ServerProtocol) -> None:
    upload = stream_call(protocol, "feed.Feed.upload")
    upload.open()
    arrive(upload, KIND_ITEM, tick(0))
    arrival, error = arrive(upload, KIND_ITEM, {"1": "one"})
    assert arrival is Arrival.FAILED and error.status == S.INVALID_ARGUMENT
    assert error.details["field_path"] == "ticks.1.seq"
    assert error.message.startswith(
        "invalid argument 'ticks.1.seq' of feed.Feed.upload"
    )


def test_a_malformed_item_names_its_index(protocol: ServerProtocol) -> None:
    upload = stream_call(protocol, "feed.Feed.upload")
    upload.open()
    message = StreamMessage(StreamHeader(KIND_ITEM, 9, 0), b"\xc1", ())
    arrival, error = upload.receive(message)
    assert arrival is Arrival.FAILED and error.details == {"field_path": "ticks.0"}
    assert error.message.startswith("item 0 of ticks of feed.Feed.upload is malformed")


def test_end_ends_the_clients_stream(protocol: ServerProtocol) -> None:
    upload = stream_call(protocol, "feed.Feed.upload")
    upload.open()
    arrive(upload, KIND_ITEM, tick(0))
    arrive(upload, KIND_ITEM, tick(1))
    assert arrive(upload, KIND_END) == (Arrival.ENDED, None)
    assert upload.ended
    assert upload.took() is None
    assert upload.took() is None  # the stream is over: nothing more is granted
    arrival, error = arrive(upload, KIND_ITEM, tick(2))
    assert arrival is Arrival.FAILED and error.status == S.INVALID_ARGUMENT
    assert error.message == "feed.Feed.upload takes no more items from the client"


def test_a_stream_the_client_does_not_send_takes_no_items(
    protocol: ServerProtocol,
) -> None:
    ticks = stream_call(protocol, "feed.Feed.ticks", 8)
    arrival, error = arrive(ticks, KIND_ITEM, 1)
    assert arrival is Arrival.FAILED
    assert error.message == "feed.Feed.ticks takes no more items from the client"


def test_cancel_cancels(protocol: ServerProtocol) -> None:
    ticks = stream_call(protocol, "feed.Feed.ticks", 8)
    assert arrive(ticks, KIND_CANCEL) == (Arrival.CANCELLED, None)
    assert ticks.failure_reply() is None  # nothing is replied


def test_the_server_sends_only_on_credit(protocol: ServerProtocol) -> None:
    ticks = stream_call(protocol, "feed.Feed.ticks", 1)
    assert ticks.credit.spend()
    assert not ticks.credit.spend()
    assert arrive(ticks, KIND_CREDIT, n=2) == (Arrival.CREDITED, None)
    assert ticks.credit.spend() and ticks.credit.spend()
    assert not ticks.credit.spend()


def test_the_servers_items_are_checked_and_framed(protocol: ServerProtocol) -> None:
    ticks = stream_call(protocol, "feed.Feed.ticks", 8)
    ticks.check_item(Tick(seq=3), 0)
    frames = ticks.encode_item(Tick(seq=3), 0)
    assert msgpack.unpackb(frames[-2]) == [V, KIND_ITEM, 9, 0]
    assert msgpack.unpackb(frames[-1]) == {"1": 3, "2": b""}
    protocol.settle(frames[-1], True)
    with pytest.raises(uvrpc.InternalError) as caught:
        ticks.check_item("not a tick", 2)
    assert caught.value.message.startswith(
        "item 2 of the stream of feed.Feed.ticks does not match its declared type"
    )
    assert credit_of(ticks.probe()) == 0


def test_a_caller_gone_is_owed_no_reply(protocol: ServerProtocol) -> None:
    upload = stream_call(protocol, "feed.Feed.upload")
    assert upload.fail(uvrpc.InvalidArgument("bad"))
    assert not upload.fail(uvrpc.InvalidArgument("worse"))
    upload.abandon()
    assert upload.failure_reply() is None


# --- which stream calls open --------------------------------------------------


def admit(limits: StreamLimits, message: Request, **counts: Any) -> Rejected:
    with pytest.raises(Rejected) as caught:
        limits.admit(
            message, **{"running": False, "active": 0, "of_caller": 0, **counts}
        )
    return caught.value


def test_stream_limits(protocol: ServerProtocol) -> None:
    _, ticks = protocol.receive(request(9, "feed.Feed.ticks", {"1": 2}, None, 8))
    assert type(ticks) is Request
    limits = StreamLimits(4, max_streams=10, max_streams_per_caller=2)
    limits.admit(ticks, running=False, active=9, of_caller=1)
    head, _ = error_of(admit(limits, ticks, running=True).reply)
    assert head == [V, 2, 9, S.FAILED_PRECONDITION]
    head, error = error_of(admit(limits, ticks, active=10).reply)
    assert head == [V, 2, 9, S.RESOURCE_EXHAUSTED]
    # It names the option, as the other limits' refusals do.
    assert (
        error["message"]
        == "this server runs 10 streams at once (max_streams); try later"
    )
    _, error = error_of(admit(limits, ticks, of_caller=2).reply)
    assert (
        "runs 2 streams of one caller at once (max_streams_per_caller)"
        in (error["message"])
    )


def test_a_server_stream_needs_a_window(protocol: ServerProtocol) -> None:
    _, ticks = protocol.receive(request(9, "feed.Feed.ticks", {"1": 2}, None, 0))
    assert type(ticks) is Request
    head, error = error_of(admit(StreamLimits(), ticks).reply)
    assert head == [V, 2, 9, S.INVALID_ARGUMENT]
    assert error["message"] == (
        "a call of feed.Feed.ticks must grant a window of at least one item"
    )


def test_a_window_is_at_least_one_item() -> None:
    assert check_window(1) == 1
    with pytest.raises(ValueError, match="a stream window must be at least 1"):
        StreamLimits(0)
