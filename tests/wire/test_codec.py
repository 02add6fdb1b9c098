"""msgpack's traps, each shut: integer keys, bool vs int, sets, enums, ext types."""

from __future__ import annotations

import array
import collections
import enum
import types
from typing import Any

import msgpack
import pytest
from calculator import Op, Outcome, Program, Step

from uvrpc.codec import (
    ATTACHMENT_EXT_TYPE,
    DecodeError,
    EncodeError,
    new_packer,
    unpack,
)


class Color(enum.IntEnum):
    RED = 1


def roundtrip(value: object) -> Any:
    return unpack(new_packer().pack(value))


def test_integer_map_keys_survive() -> None:
    assert roundtrip({1: "a", -2: "b", 2**40: "c"}) == {1: "a", -2: "b", 2**40: "c"}


def test_bool_stays_bool_and_int_stays_int() -> None:
    decoded = roundtrip([True, 1, False, 0])
    assert decoded == [True, 1, False, 0]
    assert [type(v) for v in decoded] == [bool, int, bool, int]


def test_sets_travel_as_arrays_and_enums_as_ints() -> None:
    assert sorted(roundtrip({3, 1, 2})) == [1, 2, 3]
    assert sorted(roundtrip(frozenset({Color.RED}))) == [1]
    assert type(roundtrip(Color.RED)) is int


def test_bytes_and_str_are_distinct() -> None:
    assert roundtrip([b"\x00\xff", "text"]) == [b"\x00\xff", "text"]


def test_messages_are_keyed_by_field_id() -> None:
    program = Program(start=1.0, steps=[Step(op=Op.SUB, operand=2.0, note="n")])
    wire = roundtrip(program)
    assert wire == {"1": 1.0, "2": [{"1": 2, "2": 2.0, "3": "n"}], "3": {}}
    assert Program.model_validate(wire) == program


def test_sets_inside_messages_come_back_as_sets() -> None:
    outcome = Outcome(value=1.0, steps_run=2, ops_used={Op.ADD, Op.DIV})
    decoded = Outcome.model_validate(roundtrip(outcome))
    assert decoded == outcome and decoded.ops_used == {Op.ADD, Op.DIV}


def test_any_sequence_set_or_mapping_travels_as_an_array_or_a_map() -> None:
    """What the generated annotations of sent containers allow (Sequence,
    AbstractSet, Mapping) is sent as the list, set or map it stands for; a
    buffer, which is a Sequence too, stays bytes."""
    assert roundtrip(collections.deque([b"a", 2])) == [b"a", 2]
    assert roundtrip(types.MappingProxyType({"k": b"v"})) == {"k": b"v"}
    assert roundtrip(collections.ChainMap({"a": 1}, {"b": 2})) == {"a": 1, "b": 2}
    assert sorted(roundtrip({"x": 1, "y": 2}.keys())) == ["x", "y"]
    assert roundtrip(range(3)) == [0, 1, 2]
    assert roundtrip(array.array("B", b"ab")) == b"ab"


def test_unknown_types_are_refused_when_encoding() -> None:
    with pytest.raises(EncodeError, match="type complex"):
        new_packer().pack({"1": 1j})


def test_extension_types_are_refused_when_decoding() -> None:
    with pytest.raises(DecodeError, match="extension type 3"):
        unpack(msgpack.packb(msgpack.ExtType(3, b"")))
    # msgpack decodes its timestamp extension itself, before any hook: it arrives as
    # a Timestamp object, which no IDL type accepts (see test_protocol).
    assert unpack(msgpack.packb(msgpack.Timestamp(1, 0))) == msgpack.Timestamp(1, 0)


def test_attachment_references_resolve_to_read_only_views() -> None:
    frame = bytearray(b"payload")
    body = msgpack.packb({"1": msgpack.ExtType(ATTACHMENT_EXT_TYPE, b"\x00")})
    value = unpack(body, [frame])
    view = value["1"]
    assert isinstance(view, memoryview) and view.readonly
    assert view.obj is frame and bytes(view) == b"payload"
    with pytest.raises(DecodeError, match="attachment 1 is referenced"):
        unpack(msgpack.packb(msgpack.ExtType(ATTACHMENT_EXT_TYPE, b"\x01")), [frame])


def test_truncated_and_trailing_data_are_malformed() -> None:
    with pytest.raises(DecodeError, match="malformed"):
        unpack(b"\x92\x01")
    with pytest.raises(DecodeError, match="malformed"):
        unpack(b"\x01\x02")


def test_the_path_to_what_a_value_that_contains_itself_cannot_send_ends() -> None:
    """Every level of a value that contains itself fails to encode: the walk
    down to what cannot be sent stops where the value meets itself again, where
    it would follow the cycle for ever (or, cut at the deepest a body may nest,
    encode the cycle a thousand times: seconds of a caller's loop)."""
    from uvrpc.wire.codec import unsendable

    cycle: list[Any] = []
    cycle.append(cycle)
    assert unsendable({"value": cycle}) == ["value", "0"]
    inner: dict[str, Any] = {"ok": 1}
    outer = {"a": [1, 2], "b": inner}
    inner["back"] = [outer]
    assert unsendable({"value": outer}) == ["value", "b", "back", "0"]
