"""Errors that describe what a peer sent stay small, however much it sent.

A request of a million bad list elements is refused with one problem, not a
million, and costs no more memory than its own body; an error lists at most
``MAX_PROBLEMS`` problems and says how many more there are; a route, a metadata key
or a map key a peer sent is echoed cut to ``MAX_ECHO`` characters.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import msgpack
import pytest
from feed_server import Feed
from golden.all_types import _SHOWCASE_GET_MATRIX
from pydantic import ValidationError
from showcase_server import Showcase

import uvrpc
from uvrpc.core.calls import decode_reply
from uvrpc.core.server import Rejected, ServerProtocol
from uvrpc.wire.limits import MAX_ECHO, MAX_PROBLEMS, echo
from uvrpc.wire.protocol import encode_reply_header, parse_reply_header

V = uvrpc.PROTOCOL_VERSION
S = uvrpc.Status
ID = b"\x00caller"
FETCH = "all_types.Showcase.fetch"
MIRROR = "all_types.Showcase.mirror"
MILLION = 1_000_000


def pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def request(call_id: int, route: str, args: Any, *rest: Any) -> list[bytes]:
    return [ID, b"", pack([V, 1, call_id, route, *rest]), pack(args)]


def refused(protocol: ServerProtocol, frames: list[bytes]) -> tuple[Any, bytes]:
    """The header and the raw body of the error reply to ``frames``."""
    with pytest.raises(Rejected) as caught:
        protocol.receive(frames)
    reply = caught.value.reply
    assert reply is not None
    return msgpack.unpackb(reply[-2]), reply[-1]


@pytest.fixture
def protocol() -> ServerProtocol:
    return ServerProtocol([Showcase(), Feed()], max_metadata=1 << 30)


def test_a_million_bad_elements_are_one_problem(protocol: ServerProtocol) -> None:
    frames = request(4, FETCH, {"1": [None] * MILLION, "2": 1})
    assert len(frames[-1]) < 1 << 20  # under a mebibyte on the wire
    tracemalloc.start()
    try:
        head, body = refused(protocol, frames)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The decoded body alone is a list of a million pointers (8 MB); collecting
    # every problem took hundreds of megabytes.
    assert peak < 24 << 20
    assert head == [V, 2, 4, S.INVALID_ARGUMENT]
    assert len(body) < 1024
    error = msgpack.unpackb(body)
    assert error["message"] == (
        f"invalid argument 'names.0' of {FETCH}: Input should be a valid string"
    )
    assert error["details"] == {
        "field_path": "names.0",
        "errors": [
            {"field_path": "names.0", "message": "Input should be a valid string"}
        ],
    }


def test_an_error_lists_the_first_problems_and_counts_the_rest(
    protocol: ServerProtocol,
) -> None:
    # Every one of the 19 fields of Scalars has the wrong type.
    value: dict[str, Any] = {str(wire_id): [] for wire_id in range(1, 20)}
    head, body = refused(protocol, request(4, MIRROR, {"1": value}))
    error = msgpack.unpackb(body)
    assert head == [V, 2, 4, S.INVALID_ARGUMENT]
    problems = error["details"]["errors"]
    assert len(problems) == MAX_PROBLEMS
    assert [p["field_path"] for p in problems[:2]] == ["value.flag", "value.tiny"]
    assert error["details"]["more"] == 19 - MAX_PROBLEMS
    assert error["message"] == (
        f"invalid argument 'value.flag' of {MIRROR}: Input should be a valid "
        "boolean (and 18 more)"
    )


def test_a_long_unknown_route_is_echoed_cut(protocol: ServerProtocol) -> None:
    route = "feed.Feed." + "m" * (8 << 20)
    head, body = refused(protocol, request(4, route, {}))
    assert head == [V, 2, 4, S.UNIMPLEMENTED]
    assert len(body) < 1024
    message = msgpack.unpackb(body)["message"]
    assert message == f"unknown method '{echo(route)}'"
    assert message.endswith(f"… ({len(route):,} characters)'")


def test_a_long_unknown_service_is_echoed_cut(protocol: ServerProtocol) -> None:
    route = "s" * (8 << 20) + ".m"
    _, body = refused(protocol, request(4, route, {}))
    assert len(body) < 2 * MAX_ECHO + 200


def test_a_long_metadata_key_is_echoed_cut(protocol: ServerProtocol) -> None:
    key = "K" * (4 << 20)
    frames = request(4, "feed.Feed.ping", {"1": 1}, None, None, {key: "v"})
    head, body = refused(protocol, frames)
    assert head == [V, 2, 4, S.INVALID_ARGUMENT]
    assert len(body) < 1024
    assert (
        f"metadata key '{echo(key)}' is not lowercase"
        in msgpack.unpackb(body)["message"]
    )


def test_a_long_map_key_in_a_field_path_is_cut() -> None:
    from golden.all_types import Containers

    key = "k" * 10_000
    with pytest.raises(ValidationError) as caught:
        Containers.model_validate({"1": {key: {}}})
    error = uvrpc.wire.validation.invalid_argument("r", caught.value)
    assert error.details["field_path"] == f"index.{echo(key)}.[key]"
    assert len(error.message) < 2 * MAX_ECHO


def test_echo_keeps_short_text_and_cuts_long_text() -> None:
    assert echo("feed.Feed.ping") == "feed.Feed.ping"
    assert echo("x" * MAX_ECHO) == "x" * MAX_ECHO
    assert (
        echo("x" * (MAX_ECHO + 1)) == "x" * MAX_ECHO + f"… ({MAX_ECHO + 1} characters)"
    )
    assert echo(b"\x00") == "b'\\x00'"


def test_a_reply_of_a_million_bad_elements_is_one_problem() -> None:
    # A server's reply is the client's input: the same bound holds there.
    body = pack([[None] * MILLION])
    header = parse_reply_header(encode_reply_header(4, 0))
    with pytest.raises(uvrpc.InternalError) as caught:
        decode_reply(_SHOWCASE_GET_MATRIX, header, body, ())
    assert str(caught.value.message) == (
        "reply of all_types.Showcase.getMatrix does not match its declared type: "
        "Input should be a valid integer at '0.0'"
    )
