"""Hostile input never hurts a server.

Each message here is one a broken or malicious peer could send. The server answers
with the right status when it can tell whom and which call to answer, and drops
and counts the message otherwise; either way it never crashes, leaks no handler or
stream, and answers a well-behaved client correctly right after. The last test
throws random mutations of valid requests at a live server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq
from calculator import CalculatorSyncClient
from calculator_server import Calculator
from conformance_server import Conformance
from conftest import RunningServer, server_thread
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import uvrpc

V = uvrpc.PROTOCOL_VERSION
C = "conformance.Conformance."
INVALID = uvrpc.Status.INVALID_ARGUMENT
UNIMPLEMENTED = uvrpc.Status.UNIMPLEMENTED


def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def header(call_id: int, method: str, *rest: Any) -> bytes:
    return msgpack.packb([V, 1, call_id, C + method, None, *rest])


def body(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def nested(depth: int) -> bytes:
    return b"\x81\xa11" + b"\x91" * depth + b"\x00"


def tree(depth: int) -> bytes:
    """A Node ``depth`` levels deep through ``next``: {"1": "x", "2": {...}}."""
    return b"\x81\xa11" + b"\x82\xa11\xa1x\xa12" * depth + b"\x81\xa11\xa1x"


SCALARS = {"1": True, "2": 0, "3": 0, "4": 0, "5": 0, "6": 0.0, "7": 0.0, "8": ""}


def scalars(**changes: Any) -> dict[str, Any]:
    return {"1": {**SCALARS, "9": b"", **changes}}


# (frames after the delimiter, status, what the message or field path says)
ANSWERED: dict[str, tuple[list[bytes], int, str]] = {
    "not msgpack": ([header(5, "echoI64"), b"\xc1"], INVALID, "malformed msgpack"),
    "truncated body": (
        [header(5, "echoI64"), body({"1": 2**40})[:-2]],
        INVALID,
        "malformed msgpack",
    ),
    "two values": (
        [header(5, "echoI64"), body({"1": 1}) + b"\x01"],
        INVALID,
        "malformed msgpack",
    ),
    "2^32-element array in 10 bytes": (
        [header(5, "echoMatrix"), b"\x81\xa11\xdd\xff\xff\xff\xff\x00"],
        INVALID,
        "exceeds max_array_len",
    ),
    "2^32-entry map in 10 bytes": (
        [header(5, "echoNested"), b"\x81\xa11\xdf\xff\xff\xff\xff\x00"],
        INVALID,
        "exceeds max_map_len",
    ),
    "4 GiB bin in 10 bytes": (
        [header(5, "echoBytes"), b"\x81\xa11\xc6\xff\xff\xff\xff\x00"],
        INVALID,
        "malformed msgpack",
    ),
    "4 GiB str in 10 bytes": (
        [header(5, "echoString"), b"\x81\xa11\xdb\xff\xff\xff\xff\x00"],
        INVALID,
        "malformed msgpack",
    ),
    "10^5 levels of nesting": (
        [header(5, "echoMatrix"), nested(100_000)],
        INVALID,
        "nested deeper than 1024 levels",
    ),
    "1000 levels of nesting": (
        [header(5, "echoMatrix"), nested(1000)],
        INVALID,
        "matrix.0.0",
    ),
    "a recursive message 1000 deep": (
        [header(5, "echoTree"), tree(1000)],
        INVALID,
        "root.next",
    ),
    "ext type 5": (
        [header(5, "echoI64"), body({"1": msgpack.ExtType(5, b"x")})],
        INVALID,
        "extension type 5",
    ),
    "timestamp ext -1": (
        [header(5, "echoI64"), body({"1": msgpack.Timestamp(1, 0)})],
        INVALID,
        "value",
    ),
    "attachment 7 of none": (
        [header(5, "echoBytes"), body({"1": msgpack.ExtType(1, b"\0\0\0\7")})],
        INVALID,
        "attachment 7 is referenced but none were sent",
    ),
    "attachment 2^64-1 of one": (
        [b"data", header(5, "echoBytes"), body({"1": msgpack.ExtType(1, b"\xff" * 8)})],
        INVALID,
        "attachment 18446744073709551615 is referenced",
    ),
    "non-UTF-8 str": (
        [header(5, "echoString"), b"\x81\xa11\xa2\xff\xfe"],
        INVALID,
        "malformed msgpack",
    ),
    "non-UTF-8 key": ([header(5, "echoString"), b"\x81\xa2\xff\xfe\x01"], INVALID, ""),
    "enum value out of range": (
        [header(5, "echoColors"), body({"1": [7]})],
        INVALID,
        "colors",
    ),
    "i8 out of range": (
        [header(5, "echoScalars"), body(scalars(**{"2": 200}))],
        INVALID,
        "value.tiny",
    ),
    "i64 out of range": (
        [header(5, "echoI64"), body({"1": 2**64 - 1})],
        INVALID,
        "value",
    ),
    "float out of range": (
        [header(5, "echoFloat"), body({"1": 1e300})],
        INVALID,
        "value",
    ),
    "a bool for an int": ([header(5, "echoI64"), body({"1": True})], INVALID, "value"),
    "an int for a string": ([header(5, "echoString"), body({"1": 5})], INVALID, "text"),
    "a str for bytes": (
        [header(5, "echoScalars"), body(scalars(**{"9": "text"}))],
        INVALID,
        "value.blob",
    ),
    "a list for a message": (
        [header(5, "echoTree"), body({"1": [1]})],
        INVALID,
        "root",
    ),
    "a body that is not a map": ([header(5, "echoI64"), body([1, 2])], INVALID, ""),
    "unknown method": ([header(5, "nope"), body({})], UNIMPLEMENTED, "unknown method"),
    "unknown service": (
        [msgpack.packb([V, 1, 5, "x.Y.z", None]), body({})],
        UNIMPLEMENTED,
        "unknown service 'x.Y'",
    ),
    "another protocol version": (
        [msgpack.packb([V + 7, 1, 5, C + "ping", None]), body({})],
        UNIMPLEMENTED,
        f"protocol version {V + 7} is not supported",
    ),
    "a stream without a window": (
        [header(5, "count"), body({"1": 0, "2": 3})],
        INVALID,
        "window",
    ),
    # A header that names its call is answered, whatever else is wrong with it:
    # its caller (or a broker following the call) would wait for it forever.
    "route an int": ([msgpack.packb([V, 1, 5, 7, None]), body({})], INVALID, "route"),
    "route bytes": (
        [msgpack.packb([V, 1, 5, b"x", None], use_bin_type=True), b"\x80"],
        INVALID,
        "malformed route",
    ),
    "timeout a str": (
        [msgpack.packb([V, 1, 5, C + "ping", "1"]), body({})],
        INVALID,
        "or timeout (integer ms, or nil)",
    ),
    "timeout a float": (
        [msgpack.packb([V, 1, 5, C + "ping", 1.5]), body({})],
        INVALID,
        "request header of call 5 has a malformed route",
    ),
    "send stamp a str": (
        [msgpack.packb([V, 1, 5, C + "ping", 100, None, None, "x"]), body({})],
        INVALID,
        "malformed send stamp",
    ),
    "a stream with a negative window": (
        [header(5, "count", -1), body({"1": 0, "2": 3})],
        INVALID,
        "window",
    ),
}

# Frames after the delimiter (None: no delimiter at all) of messages nobody can
# be answered for.
DROPPED: dict[str, list[bytes] | None] = {
    "no delimiter": None,
    "nothing after the delimiter": [],
    "one frame": [header(5, "ping")],
    "empty frames": [b"", b"", b""],
    "truncated header": [header(5, "ping")[:-3], body({})],
    "header not an array": [msgpack.packb({"0": V}), body({})],
    "header of three": [msgpack.packb([V, 1, 5]), body({})],
    "version a str": [msgpack.packb(["3", 1, 5, C + "ping", None]), body({})],
    "kind 7": [msgpack.packb([V, 7, 5, C + "ping", None]), body({})],
    "kind a str": [msgpack.packb([V, "1", 5, C + "ping", None]), body({})],
    "call id a str": [msgpack.packb([V, 1, "5", C + "ping", None]), body({})],
    "call id negative": [msgpack.packb([V, 1, -1, C + "ping", None]), body({})],
    "call id a float": [msgpack.packb([V, 1, 5.0, C + "ping", None]), body({})],
    "oneway, its route an int": [msgpack.packb([V, 1, 0, 7, None]), body({})],
    "oneway and malformed": [msgpack.packb([V, 1, 0, C + "record", None]), b"\xc1"],
    "oneway unknown method": [msgpack.packb([V, 1, 0, C + "nope", None]), b"\x80"],
    "oneway stream": [msgpack.packb([V, 1, 0, C + "count", None, 4]), body({})],
    "credit of -1": [msgpack.packb([V, 6, 5, -1]), b"\xc0"],
    "credit of a str": [msgpack.packb([V, 6, 5, "1"]), b"\xc0"],
}

# Stream messages of calls that do not exist: ignored and counted as stale.
STALE = {
    "ITEM": [msgpack.packb([V, 3, 99, 0]), body(1)],
    "END": [msgpack.packb([V, 4, 99, 0]), b"\xc0"],
    "CANCEL": [msgpack.packb([V, 5, 99, 0]), b"\xc0"],
    "CREDIT": [msgpack.packb([V, 6, 99, 2**64 - 1]), b"\xc0"],
    "ITEM of call id 0": [msgpack.packb([V, 3, 0, 0]), b"\xc1"],
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with server_thread(Conformance(), bind=f"ipc://{tmp_path / 'hostile'}") as s:
        yield s


def send(endpoint: str, frames: list[bytes], wait: float) -> list[bytes] | None:
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(endpoint)
        sock.send_multipart(frames)
        if not sock.poll(int(wait * 1000), zmq.POLLIN):
            return None
        return list(sock.recv_multipart())
    finally:
        sock.close()


def still_serves(running: RunningServer) -> None:
    """Nothing leaked, the counters add up, and a normal client is answered."""
    server = running.server
    assert server is not None and server.stream_host is not None
    stats = running.stats
    host = server.stream_host
    wait_for(lambda: server.in_flight == 0 and host.active == 0)
    wait_for(lambda: stats.received == accounted(stats))
    with _client(running.endpoint) as client:
        assert client.echo_i64(value=-(2**63)) == -(2**63)


def accounted(stats: uvrpc.ServerStats) -> int:
    """What became of the messages of a server without running streams: every
    one was replied to, dropped, stale or a oneway call that ran."""
    done = stats.replied + stats.dropped + stats.stale + stats.oneway
    return done + stats.undeliverable


def _client(endpoint: str) -> Any:
    from golden.conformance import ConformanceSyncClient

    return ConformanceSyncClient(endpoint, timeout=10)


@pytest.mark.parametrize("case", ANSWERED)
def test_an_answerable_bad_request_gets_its_status(
    server: RunningServer, case: str
) -> None:
    frames, status, says = ANSWERED[case]
    reply = send(server.endpoint, [b"", *frames], wait=5)
    assert reply is not None
    head = msgpack.unpackb(reply[-2])
    error = msgpack.unpackb(reply[-1], raw=False)
    assert head == [V, 2, 5, status]
    path = error["details"].get("field_path", "")
    assert says in error["message"] or says in path, error
    if status == INVALID and "field_path" in error["details"]:
        assert error["message"].startswith(f"invalid argument '{path}'")
    assert server.stats.rejected == 1
    still_serves(server)


@pytest.mark.parametrize("case", DROPPED)
def test_an_unanswerable_message_is_dropped_and_counted(
    server: RunningServer, case: str
) -> None:
    rest = DROPPED[case]
    frames = [b"no delimiter"] if rest is None else [b"", *rest]
    assert send(server.endpoint, frames, wait=0.2) is None
    wait_for(lambda: server.stats.dropped == 1)
    still_serves(server)


@pytest.mark.parametrize("case", STALE)
def test_a_stream_message_of_no_call_is_counted_stale(
    server: RunningServer, case: str
) -> None:
    assert send(server.endpoint, [b"", *STALE[case]], wait=0.2) is None
    wait_for(lambda: server.stats.stale == 1)
    still_serves(server)


def test_bad_stream_messages_of_a_live_call(server: RunningServer) -> None:
    """Junk sent into a running stream ends that call with an error, never the
    server: an ITEM to a stream that takes none, a CREDIT with a bad count."""
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(server.endpoint)
    junk = {
        9: [msgpack.packb([V, 3, 9, 0]), b"\xc1"],
        10: [msgpack.packb([V, 6, 10, -5]), b"\xc0"],
    }
    says = {9: "takes no more items", 10: "call 10 has a malformed count"}
    try:
        for call_id, frames in junk.items():
            sock.send_multipart(
                [b"", header(call_id, "count", 1), body({"1": 0, "2": 100})]
            )
            assert sock.poll(5000, zmq.POLLIN)
            assert msgpack.unpackb(sock.recv_multipart()[-2])[:3] == [V, 3, call_id]
            sock.send_multipart([b"", *frames])
            assert sock.poll(5000, zmq.POLLIN)
            reply = sock.recv_multipart()
            assert msgpack.unpackb(reply[-2]) == [V, 2, call_id, INVALID]
            assert says[call_id] in msgpack.unpackb(reply[-1])["message"]
    finally:
        sock.close()
    assert server.stats.dropped == 1  # the CREDIT of -5
    assert server.server is not None
    host = server.server.stream_host
    assert host is not None
    wait_for(
        lambda: (
            host.active == 0
            and server.server is not None
            and server.server.in_flight == 0
        )
    )
    with _client(server.endpoint) as client:
        assert client.echo_i64(value=1) == 1


# --- fuzzing --------------------------------------------------------------------

ADD = "calculator.Calculator.add"
VALID: list[list[bytes]] = [
    [b"", msgpack.packb([V, 1, 1, ADD, None]), body({"1": 2, "2": 3})],
    [b"", msgpack.packb([V, 1, 2, ADD, 5000]), body({"1": -1, "2": 2**62})],
    [
        b"",
        msgpack.packb([V, 1, 3, "calculator.Calculator.divide", None]),
        body({"1": 1, "2": 0}),
    ],
    [
        b"",
        msgpack.packb([V, 1, 4, "calculator.Calculator.apply", None]),
        body({"1": 4, "2": 1.5, "3": 0.5}),
    ],
    [b"", msgpack.packb([V, 1, 0, ADD, None]), body({"1": 1, "2": 1})],
    [b"", b"attached", msgpack.packb([V, 1, 5, ADD, None]), body({"1": 1, "2": 1})],
    [b"", msgpack.packb([V, 6, 7, 3]), b"\xc0"],
]


@st.composite
def mutated(draw: st.DrawFn) -> list[bytes]:
    """A valid request, mutated a few times."""
    frames = list(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(["flip", "cut", "insert", "delete", "swap", "random"])
        )
        index = draw(st.integers(0, len(frames) - 1))
        frame = frames[index]
        if kind == "flip" and frame:
            bit = draw(st.integers(0, len(frame) * 8 - 1))
            changed = bytearray(frame)
            changed[bit // 8] ^= 1 << (bit % 8)
            frames[index] = bytes(changed)
        elif kind == "cut":
            frames[index] = frame[: draw(st.integers(0, len(frame)))]
        elif kind == "insert":
            frames.insert(index, draw(st.binary(max_size=16)))
        elif kind == "delete" and len(frames) > 1:
            del frames[index]
        elif kind == "swap":
            try:
                fields = msgpack.unpackb(frame)
            except Exception:
                continue
            if isinstance(fields, list) and len(fields) >= 2:
                i = draw(st.integers(0, len(fields) - 1))
                j = draw(st.integers(0, len(fields) - 1))
                fields[i], fields[j] = fields[j], fields[i]
                frames[index] = msgpack.packb(fields)
        elif kind == "random":
            frames[index] = draw(st.binary(max_size=32))
    return frames


def test_mutated_requests_never_hurt_the_server(tmp_path: Path) -> None:
    with server_thread(Calculator(), bind=f"ipc://{tmp_path / 'fuzz'}") as running:
        sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(running.endpoint)
        sent = 0

        @settings(
            max_examples=300,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(frames=mutated())
        def throw(frames: list[bytes]) -> None:
            nonlocal sent
            sock.send_multipart(frames)
            sent += 1
            while sock.poll(0, zmq.POLLIN):
                sock.recv_multipart()

        try:
            throw()
            wait_for(lambda: running.stats.received == sent)
            stats = running.stats
            wait_for(lambda: stats.received == accounted(stats))
            assert running.server is not None
            assert running.server.in_flight == 0
        finally:
            sock.close()
        with CalculatorSyncClient(running.endpoint, timeout=10) as calc:
            assert calc.add(a=40, b=2) == 42
            assert calc.divide(a=7, b=2) == 3
