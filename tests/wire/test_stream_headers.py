"""Stream message headers: the fixed layout uvrpc writes is read without a msgpack
decoder (one header is read per item), and reads as any other encoding of the same
header does."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from uvrpc.wire import protocol
from uvrpc.wire.errors import ProtocolError
from uvrpc.wire.protocol import (
    KIND_CANCEL,
    KIND_CREDIT,
    KIND_END,
    KIND_ITEM,
    ReplyHeader,
    StreamHeader,
    encode_stream_header,
    parse_client_header,
    parse_server_header,
)
from uvrpc.wire.version import PROTOCOL_VERSION

CASES = [
    (KIND_ITEM, 0, 0),
    (KIND_ITEM, 7, 0),
    (KIND_CREDIT, 2**64 - 1, 32),
    (KIND_CREDIT, 12, 2**32 - 1),
]


@pytest.mark.parametrize(("kind", "call_id", "n"), CASES)
@pytest.mark.parametrize("parse", [parse_client_header, parse_server_header])
def test_the_fixed_layout_reads_as_the_same_header_in_short_integers(
    parse: Any, kind: int, call_id: int, n: int
) -> None:
    fixed = encode_stream_header(kind, call_id, n)
    short = msgpack.packb([PROTOCOL_VERSION, kind, call_id, n])
    assert short != fixed
    expected = StreamHeader(kind, call_id, n)
    assert parse(fixed) == parse(short) == expected
    assert parse(memoryview(fixed)) == expected


def test_the_fixed_layout_is_read_without_a_msgpack_decoder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoded: list[object] = []
    unpackb = msgpack.unpackb

    def counting(buf: Any, **kwargs: Any) -> Any:
        decoded.append(bytes(buf))
        return unpackb(buf, **kwargs)

    monkeypatch.setattr(msgpack, "unpackb", counting)
    assert parse_client_header(encode_stream_header(KIND_ITEM, 3)) == StreamHeader(
        KIND_ITEM, 3, 0
    )
    assert parse_server_header(encode_stream_header(KIND_END, 3)) == StreamHeader(
        KIND_END, 3, 0
    )
    assert decoded == []
    short = msgpack.packb([PROTOCOL_VERSION, KIND_ITEM, 3, 0])
    parse_client_header(short)
    assert decoded == [short]  # any other encoding: the general path


@pytest.mark.parametrize("kind", [KIND_END, KIND_CANCEL])
def test_a_kind_a_server_never_sends_is_refused_in_the_fixed_layout(kind: int) -> None:
    with pytest.raises(ProtocolError, match="not a reply header"):
        parse_client_header(encode_stream_header(kind, 3))


def test_another_version_in_the_fixed_layout_is_not_read_as_this_one() -> None:
    """A header of the same length in another version goes the general way: a
    reply of that version, which the client answers as such."""
    other = PROTOCOL_VERSION + 1
    header = protocol._STREAM.pack(
        b"\x94" + msgpack.packb(other), KIND_ITEM, 0xCF, 9, 0xCE, 0
    )
    assert len(header) == len(encode_stream_header(KIND_ITEM, 9))
    assert parse_client_header(header) == ReplyHeader(other, 9, 0)


@pytest.mark.parametrize(
    "late", [{1: 2}, {"k": [1, {2: 3}]}], ids=["integer-map-key", "nested"]
)
def test_an_item_with_an_element_a_strict_decode_refuses_is_read(late: Any) -> None:
    """An element after the four a stream header's reader reads is ignored,
    whatever it holds: the item it heads is not lost."""
    header = msgpack.packb([PROTOCOL_VERSION, KIND_ITEM, 7, 0, late])
    assert parse_client_header(header) == StreamHeader(KIND_ITEM, 7, 0)
    assert parse_server_header(header) == StreamHeader(KIND_ITEM, 7, 0)


def test_a_header_of_another_version_is_read_as_its_prefix_whatever_follows() -> None:
    other = PROTOCOL_VERSION + 1
    header = msgpack.packb([other, 2, 9, 0, {1: "x"}])
    assert parse_client_header(header) == ReplyHeader(other, 9, 0)


def test_a_stream_header_whose_count_a_strict_decode_refuses_names_its_call() -> None:
    header = msgpack.packb([PROTOCOL_VERSION, KIND_CREDIT, 7, {1: 2}])
    with pytest.raises(protocol.MalformedHeader, match="of call 7") as caught:
        parse_server_header(header)
    assert (caught.value.kind, caught.value.call_id) == (KIND_CREDIT, 7)


def test_a_kind_of_no_hashable_type_in_a_header_a_strict_decode_refuses() -> None:
    """Read leniently (an integer map key after it), a kind that is a list is
    no kind: the header is refused as any malformed one, not with TypeError."""
    header = msgpack.packb([PROTOCOL_VERSION, [1], 5, {1: 2}])
    for parse in (parse_server_header, parse_client_header):
        with pytest.raises(ProtocolError):
            parse(header)


@pytest.mark.parametrize("kind", [[1], {"a": 1}])
def test_a_kind_of_no_hashable_type_in_a_strictly_valid_header(kind: Any) -> None:
    """A header that decodes strictly but whose kind is a list or map is
    refused as any malformed one, not with TypeError: a server logged a
    traceback for each such message and did not count it, and a blocking
    client's call raised the TypeError itself."""
    for parse in (parse_server_header, parse_client_header):
        header = msgpack.packb([PROTOCOL_VERSION, kind, 5, "a.B.c", None])
        with pytest.raises(ProtocolError):
            parse(header)


@pytest.mark.parametrize("kind", [[1], {"a": 1}])
def test_a_reply_of_another_version_with_an_unhashable_kind_is_refused(
    kind: Any,
) -> None:
    """A reply header of another version whose kind is a list and whose status
    is not an integer is refused as malformed, not with TypeError (a blocking
    client's call raised it)."""
    header = msgpack.packb([PROTOCOL_VERSION + 1, kind, 5, "not a status"])
    with pytest.raises(ProtocolError):
        parse_client_header(header)
