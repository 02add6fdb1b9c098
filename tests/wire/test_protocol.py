"""Raw frames against a live server: the wire protocol of ``docs/protocol.md``.

Each malformed message either gets an error reply with the right status (when the
sender can be addressed and the call identified) or is dropped and counted; the
server keeps serving correct callers either way.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
import zmq
from calculator import CalculatorClient, CalculatorSyncClient
from calculator_server import Calculator
from conftest import RunningServer, server_thread
from fake_peers import close_when_gone, watch_disconnects
from raw_frames import ADD, V, decode, exchange, next_reply, request

import uvrpc


@pytest.fixture
def server() -> Iterator[RunningServer]:
    with server_thread(Calculator()) as running:
        yield running


def test_a_request_and_its_reply(server: RunningServer) -> None:
    reply = exchange(server.endpoint, request(7, ADD, {"1": 2, "2": 3}))
    assert reply is not None and len(reply) == 3
    assert decode(reply) == ([V, 2, 7, 0], 5)


def test_extra_header_elements_are_ignored(server: RunningServer) -> None:
    header = msgpack.packb([V, 1, 8, ADD, 5000, {"future": "field"}])
    reply = exchange(server.endpoint, [b"", header, msgpack.packb({"1": 1, "2": 1})])
    assert reply is not None and decode(reply) == ([V, 2, 8, 0], 2)


def _array(*elements: bytes) -> bytes:
    """A msgpack array of already encoded elements (a non-UTF-8 string among
    them, which no encoder writes)."""
    assert len(elements) < 16
    return bytes([0x90 + len(elements)]) + b"".join(elements)


_NOT_UTF8 = b"\xa2\xff\xfe"
"""A msgpack string whose bytes are not UTF-8."""


@pytest.mark.parametrize(
    "late",
    [msgpack.packb({1: "x"}), _NOT_UTF8],
    ids=["integer-map-key", "not-utf-8"],
)
def test_elements_after_those_read_are_ignored_whatever_they_hold(
    server: RunningServer, late: bytes
) -> None:
    """What a strict decode refuses, after the elements this version reads, is
    a later version's business: the request is answered as usual."""
    read = [msgpack.packb(f) for f in (V, 1, 8, ADD, 5000, None, None, None)]
    header = _array(*read, late)
    reply = exchange(server.endpoint, [b"", header, msgpack.packb({"1": 1, "2": 1})])
    assert reply is not None and decode(reply) == ([V, 2, 8, 0], 2)


@pytest.mark.parametrize(
    "header",
    [
        msgpack.packb([V, 1, 14, ADD, None, None, {1: "v"}]),  # metadata key
        _array(*[msgpack.packb(f) for f in (V, 1, 14)], _NOT_UTF8),  # the route
    ],
    ids=["integer-metadata-key", "route-not-utf-8"],
)
def test_a_request_header_a_strict_decode_refuses_is_answered(
    server: RunningServer, header: bytes
) -> None:
    reply = exchange(server.endpoint, [b"", header, msgpack.packb({"1": 1, "2": 1})])
    assert reply is not None
    head, error = decode(reply)
    assert head == [V, 2, 14, uvrpc.Status.INVALID_ARGUMENT]
    assert error["message"].startswith("request header of call 14 has a malformed ")
    assert error["message"].endswith("; the request did not run")


def test_other_protocol_version_gets_a_clear_error(server: RunningServer) -> None:
    reply = exchange(server.endpoint, request(9, ADD, {}, version=V + 1))
    assert reply is not None
    header, body = decode(reply)
    assert header == [V, 2, 9, uvrpc.Status.UNIMPLEMENTED]
    assert body["message"] == (
        f"protocol version {V + 1} is not supported; this peer speaks version {V}"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xc1", "malformed msgpack: FormatError"),  # a reserved byte: no words
        (b"\x92\x01", "malformed msgpack"),
        (b"\x81\xa11\xa2\xff\xfe", "malformed msgpack"),  # {"1": non-UTF-8 str}
        (msgpack.packb({"1": msgpack.ExtType(5, b"x")}), "extension type 5"),
        (msgpack.packb({"1": 1, "2": 2}) + b"\x00", "malformed msgpack"),
    ],
)
def test_malformed_body_is_invalid_argument(
    server: RunningServer, body: bytes, message: str
) -> None:
    header = msgpack.packb([V, 1, 11, ADD, None])
    reply = exchange(server.endpoint, [b"", header, body])
    assert reply is not None
    head, error = decode(reply)
    assert head == [V, 2, 11, uvrpc.Status.INVALID_ARGUMENT]
    assert error["message"].startswith(f"request of {ADD} is malformed")
    assert message in error["message"]


def test_a_timestamp_is_no_idl_type(server: RunningServer) -> None:
    body = {"1": msgpack.Timestamp(1, 0), "2": 1}
    reply = exchange(server.endpoint, request(12, ADD, body))
    assert reply is not None
    head, error = decode(reply)
    assert head == [V, 2, 12, uvrpc.Status.INVALID_ARGUMENT]
    assert error["details"]["field_path"] == "a"


@pytest.mark.parametrize(
    "frames",
    [
        [b"no delimiter at all"],
        [b"", msgpack.packb([V, 1, 3, ADD, None])],  # no body
        [b"", b"\xc1", b"\x80"],  # header is not msgpack
        [b"", msgpack.packb("hello"), b"\x80"],  # header is not an array
        [b"", msgpack.packb([V, 1, "id", ADD]), b"\x80"],  # call id not an int
        [b"", msgpack.packb([V, 2, 3, 0]), b"\x80"],  # a reply sent as a request
    ],
)
def test_unaddressable_messages_are_dropped_and_counted(
    server: RunningServer, frames: list[bytes]
) -> None:
    assert exchange(server.endpoint, frames, wait=0.3) is None
    deadline = time.monotonic() + 5
    while server.stats.dropped < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.stats.dropped == 1
    with CalculatorSyncClient(server.endpoint, timeout=10) as calc:
        assert calc.add(a=2, b=2) == 4


def test_a_stream_of_garbage_does_not_stop_service(server: RunningServer) -> None:
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(server.endpoint)
    try:
        for n in range(500):
            sock.send_multipart([b"", bytes([n % 256]) * (n % 7), bytes(n % 5)])
        with CalculatorSyncClient(server.endpoint, timeout=10) as calc:
            assert calc.add(a=20, b=22) == 42
    finally:
        sock.close()


def test_a_caller_that_reads_slowly_loses_no_reply() -> None:
    """Replies beyond the caller's high-water mark wait for room; none is dropped."""
    calls = 3000  # well past the ~1,000 messages the inproc pipe holds
    endpoint = "inproc://uvrpc-slow-reader"
    with server_thread(Calculator(), bind=endpoint) as server:
        sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVHWM, 10)
        sock.connect(endpoint)
        try:
            for call_id in range(1, calls + 1):  # call id 0 would be oneway
                sock.send_multipart(request(call_id, ADD, {"1": call_id, "2": 1}))
            deadline = time.monotonic() + 10
            while server.stats.received < calls and time.monotonic() < deadline:
                time.sleep(0.01)
            assert server.stats.received == calls
            assert server.stats.replied < calls  # the rest are waiting for room
            replies: dict[int, Any] = {}
            while len(replies) < calls and sock.poll(5000, zmq.POLLIN):
                header, body = decode(next_reply(sock))
                replies[header[2]] = body
        finally:
            sock.close()
        assert replies == {call_id: call_id + 1 for call_id in range(1, calls + 1)}
        assert server.stats.undeliverable == 0


def fake_server(reply_header: list[Any], reply_body: Any) -> tuple[str, Any]:
    """A ROUTER answering the first request with the given frames, on a thread."""
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    monitor = watch_disconnects(sock)
    sock.bind("tcp://127.0.0.1:*")
    endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)

    def answer() -> None:
        try:
            if sock.poll(10_000, zmq.POLLIN):
                identity, _, header, _ = sock.recv_multipart()
                call_id = msgpack.unpackb(header)[2]
                fields = [call_id if f == "CALL_ID" else f for f in reply_header]
                sock.send_multipart(
                    [identity, b"", msgpack.packb(fields), msgpack.packb(reply_body)]
                )
        finally:
            close_when_gone(sock, monitor)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return endpoint, thread


def test_a_successful_reply_in_another_version_fails_clearly() -> None:
    endpoint, thread = fake_server([V + 1, 2, "CALL_ID", 0], 5)
    with CalculatorSyncClient(endpoint, timeout=10) as calc:
        with pytest.raises(uvrpc.Unimplemented) as caught:
            calc.add(a=2, b=3)
    thread.join(10)
    assert caught.value.message == (
        f"the server replied to calculator.Calculator.add in protocol version {V + 1}; "
        f"this client speaks version {V}"
    )


def test_an_error_reply_in_another_version_is_read() -> None:
    message = f"protocol version {V} is not supported; this peer speaks version {V + 1}"
    endpoint, thread = fake_server(
        [V + 1, 2, "CALL_ID", 12], {"message": message, "details": {}}
    )
    with CalculatorSyncClient(endpoint, timeout=10) as calc:
        with pytest.raises(uvrpc.Unimplemented, match=message):
            calc.add(a=2, b=3)
    thread.join(10)


@pytest.mark.parametrize("client", ["async", "blocking"])
@pytest.mark.parametrize(
    ("reply_header", "problem"),
    [
        ([V, 2, "CALL_ID", "0"], "malformed status"),
        # Trailers a strict decode refuses (an integer key), in an element read.
        ([V, 2, "CALL_ID", 0, {1: "x"}], "malformed element"),
    ],
    ids=["status", "trailers-key"],
)
def test_a_reply_whose_header_is_malformed_fails_its_call_at_once(
    client: str, reply_header: list[Any], problem: str
) -> None:
    """Not at its deadline: the call's reply came, unreadable."""
    endpoint, thread = fake_server(reply_header, 5)
    started = time.monotonic()
    with pytest.raises(uvrpc.InternalError, match=problem) as caught:
        if client == "blocking":
            with CalculatorSyncClient(endpoint, timeout=60) as calc:
                calc.add(a=2, b=3)
        else:

            async def call() -> None:
                async with uvrpc.Channel(endpoint) as channel:
                    await CalculatorClient(channel, timeout=60).add(a=2, b=3)

            asyncio.run(call())
    thread.join(10)
    assert time.monotonic() - started < 30
    assert "calculator.Calculator.add" in caught.value.message
    assert "reply header of call" in caught.value.message


def test_an_attachment_as_the_document_shows_it() -> None:
    from echo_server import Echo

    payload = bytes(range(256)) * 4096
    header = bytes.fromhex("950301cf0000000000000008ae") + b"echo.Echo.echo"
    header += bytes.fromhex("ce00001388")
    body = bytes.fromhex("81a131d60100000000")
    assert msgpack.unpackb(header) == [V, 1, 8, "echo.Echo.echo", 5000]
    with server_thread(Echo()) as running:
        reply = exchange(running.endpoint, [b"", payload, header, body])
    assert reply is not None and len(reply) == 4
    empty, attachment, reply_header, reply_body = reply
    assert empty == b"" and attachment == payload
    assert msgpack.unpackb(reply_header) == [V, 2, 8, 0]
    assert msgpack.unpackb(reply_body) == msgpack.ExtType(1, b"\x00\x00\x00\x00")


def test_an_attachment_that_was_not_sent_is_invalid(server: RunningServer) -> None:
    ref = msgpack.ExtType(1, (1).to_bytes(4, "big"))
    frames = request(13, ADD, {"1": 1, "2": 2})
    frames[2] = msgpack.packb({"1": ref, "2": 2})
    reply = exchange(server.endpoint, [b"", b"lonely", *frames[1:]])
    assert reply is not None
    head, body = decode(reply)
    assert head == [V, 2, 13, uvrpc.Status.INVALID_ARGUMENT]
    assert "attachment 1 is referenced but only 1 were sent" in body["message"]


def test_an_attachment_referenced_where_none_was_sent_is_named(
    server: RunningServer,
) -> None:
    ref = msgpack.ExtType(1, (0).to_bytes(4, "big"))
    reply = exchange(server.endpoint, request(15, ADD, {"1": ref, "2": 2}))
    assert reply is not None
    head, body = decode(reply)
    assert head == [V, 2, 15, uvrpc.Status.INVALID_ARGUMENT]
    assert "attachment 0 is referenced but none were sent" in body["message"]


def test_a_value_that_is_not_bytes_is_invalid_where_bytes_are_declared() -> None:
    from echo_server import Echo

    with server_thread(Echo()) as running:
        for value, kind in (("text", "str"), (7, "int"), ([1, 2], "list")):
            frames = request(14, "echo.Echo.echo", {"1": value})
            reply = exchange(running.endpoint, frames)
            assert reply is not None
            head, body = decode(reply)
            assert head == [V, 2, 14, uvrpc.Status.INVALID_ARGUMENT]
            assert body["details"]["field_path"] == "data"
            assert f"expected bytes or another buffer, not {kind}" in body["message"]
