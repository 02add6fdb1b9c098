"""A generated message behaves as any pydantic model does.

``model_dump``, ``model_dump_json``, ``repr`` and ``model_validate`` speak field
names; the ids are the wire's alone, and the wire's bytes stay what they were.
Binary values are base64 in JSON and shown by size in a repr. A set refuses an
element given twice, from a constructor and from the wire.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import math
import pickle
from typing import Any, cast

import msgpack
import numpy as np
import pytest
from conformance_server import Conformance
from golden import conformance
from golden.all_types import Color, Containers, Item, Scalars, Tree
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import core_schema

import uvrpc
import uvrpc.testing
from uvrpc.wire.buffers import BodyEncoder, BufferPool
from uvrpc.wire.codec import new_packer, outline, unpack
from uvrpc.wire.limits import MAX_ECHO
from uvrpc.wire.message import REPR_BYTES, fail_fast
from uvrpc.wire.protocol import encode_error_body

MIB = 1 << 20


def scalars(**changes: Any) -> Scalars:
    values: dict[str, Any] = {
        "flag": True,
        "tiny": -5,
        "small": 300,
        "medium": -70_000,
        "large": 2**40,
        "single": 1.5,
        "precise": -0.25,
        "text": "héllo",
        "blob": b"\x00\xffuv",
    }
    values.update(changes)
    return Scalars(**values)


def containers() -> Containers:
    return Containers(
        index={7: {"a": [Item(name="x", payload=b"\x01\x02"), Item(name="y")]}},
        matrix=[[1, 2], [], [3]],
        colors={Color.RED, Color.GREEN},
        weights={"w": 0.5},
        maybe_items=[Item(name="z", payload=bytearray(b"zz"))],
        tags={"p", "q"},
    )


def tree() -> Tree:
    return Tree(
        label="root",
        left=Tree(label="l"),
        children=[Tree(label="c", right=Tree(label="cr"))],
    )


def conformance_scalars(large: int = -(2**63)) -> conformance.Scalars:
    return conformance.Scalars(
        flag=False,
        tiny=1,
        small=2,
        medium=3,
        large=large,
        single=0.5,
        precise=1e300,
        text="t",
        blob=b"b",
        color=conformance.Color.BLUE,
    )


def conformance_containers() -> conformance.Containers:
    return conformance.Containers(
        nested={1: {"k": []}},
        colors={conformance.Color.RED},
        matrix=[[2**62]],
        blobs={"one": b"1", "big": bytes(100)},
    )


def conformance_values() -> list[BaseModel]:
    node = conformance.Node(label="a", next=conformance.Node(label="b"))
    return [
        conformance_scalars(),
        conformance.Node(label="root", next=node, children=[node]),
        conformance_containers(),
        conformance.Rejected(argument="x", code=3, evidence=b"e").fields,
    ]


EVERY_VALUE = [
    scalars(),
    Item(name="only a name"),
    containers(),
    Containers(index={}),  # every default
    tree(),
    *conformance_values(),
]


def names_only(value: Any) -> bool:
    """Whether no map in a dumped value is keyed by a wire id."""
    if isinstance(value, dict):
        return all(
            not (type(key) is str and key.isdigit()) and names_only(item)
            for key, item in value.items()
        )
    if isinstance(value, list | set | tuple):
        return all(names_only(item) for item in value)
    return True


# --- field names out, ids on the wire ------------------------------------------


def test_model_dump_names_fields_nested_messages_lists_and_maps_too() -> None:
    dumped = containers().model_dump()
    assert set(dumped) == {
        "index",
        "matrix",
        "colors",
        "weights",
        "maybe_items",
        "primes",
        "named",
        "tags",
    }
    assert dumped["index"][7]["a"][1] == {"name": "y", "payload": None}
    assert dumped["maybe_items"][0]["name"] == "z"
    assert dumped["colors"] == {Color.RED, Color.GREEN}
    assert tree().model_dump()["children"][0]["right"] == {
        "label": "cr",
        "left": None,
        "right": None,
        "children": [],
    }
    for value in EVERY_VALUE:
        assert names_only(value.model_dump()), type(value).__name__


def test_model_dump_json_names_fields() -> None:
    text = tree().model_dump_json()
    assert text.startswith('{"label":"root","left":{"label":"l",')
    assert '"children":[{"label":"c"' in text
    assert '"1"' not in text
    assert containers().model_dump_json(include={"named"}) == '{"named":{"red":1}}'


def test_the_wire_keeps_the_ids_byte_for_byte() -> None:
    packer = new_packer()
    item = Item(name="n", payload=b"ab")
    assert packer.pack(item) == b"\x82\xa11\xa1n\xa12\xc4\x02ab"
    value = Containers(index={1: {"k": [item]}}, colors={Color.BLUE})
    expected = {
        "1": {1: {"k": [{"1": "n", "2": b"ab"}]}},
        "2": [],
        "3": [16],
        "4": {},
        "5": None,
        "6": [2, 3, 5],
        "7": {"red": 1},
        "8": sorted(value.tags),
    }
    decoded = unpack(packer.pack(value))
    decoded["8"] = sorted(decoded["8"])
    assert decoded == expected
    assert unpack(packer.pack([item, {"k": item}])) == [
        {"1": "n", "2": b"ab"},
        {"k": {"1": "n", "2": b"ab"}},
    ]


def test_large_payloads_leave_the_body_keyed_by_id_and_uncopied() -> None:
    payload = bytearray(MIB)
    attachments: list[Any] = []
    body = outline(Item(name="big", payload=payload), attachments, 1024)
    assert set(body) == {"1", "2"}
    assert len(attachments) == 1
    assert np.shares_memory(np.asarray(attachments[0]), np.asarray(payload))
    encoder = BodyEncoder(BufferPool())
    frame, sent = encoder.encode({"1": Item(name="big", payload=payload)}, ("1",))
    assert np.shares_memory(np.asarray(sent[0]), np.asarray(payload))
    encoder.settle(frame, True)


def test_declared_exception_fields_travel_by_id() -> None:
    error = conformance.Rejected(argument="which", code=7, evidence=b"e")
    body = unpack(encode_error_body(error))
    assert body["fields"] == {"1": "which", "2": 7, "3": b"e"}
    assert error.fields.model_dump() == {
        "argument": "which",
        "code": 7,
        "evidence": b"e",
    }


def test_calls_and_stream_items_still_travel() -> None:
    """Messages in requests, replies, stream items and declared errors, over the
    same encoder and validators as a socket."""

    async def main() -> None:
        async with uvrpc.testing.memory_channel(Conformance()) as channel:
            client = conformance.ConformanceClient(channel)
            value = conformance_containers()
            assert await client.echo_containers(value=value) == value
            sent = conformance_scalars(large=5)

            async def items() -> Any:
                yield sent

            got = [item async for item in client.transform(values=items(), add=1)]
            assert got == [sent.model_copy(update={"large": sent.large + 1})]
            with pytest.raises(conformance.Rejected) as caught:
                await client.fail(which="rejected")
            assert caught.value.code == 7
            evidence = caught.value.evidence
            assert evidence is not None and bytes(evidence) == bytes(40_000)

    asyncio.run(main())


# --- bytes in JSON ------------------------------------------------------------


class PydanticBytes(BaseModel):
    """What pydantic itself writes for ``bytes`` as base64."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")
    payload: bytes


RAW = bytes(range(256)) * 3


@pytest.mark.parametrize(
    "source",
    [
        RAW,
        bytearray(RAW),
        memoryview(RAW),
        np.frombuffer(RAW, dtype=np.uint16),
        unpack(
            msgpack.packb(msgpack.ExtType(1, (0).to_bytes(4, "big"))), [RAW]
        ),  # a received view of a frame
    ],
    ids=["bytes", "bytearray", "memoryview", "numpy", "received"],
)
def test_bytes_are_base64_in_json_as_pydantic_writes_them(source: Any) -> None:
    item = Item(name="n", payload=source)
    text = item.model_dump_json()
    ours = text.split('"payload":')[1].rstrip("}")
    assert ours == PydanticBytes(payload=RAW).model_dump_json().split(":")[1][:-1]
    assert item.model_dump(mode="json")["payload"] == base64.urlsafe_b64encode(
        RAW
    ).decode("ascii")
    back = Item.model_validate_json(text)
    assert back == item
    assert back.payload is not None and bytes(back.payload) == RAW


def test_json_bytes_take_either_base64_alphabet_and_no_padding() -> None:
    data = b"\xfb\xff\xfe"
    for text in ("+//+", "-__-", "-__-"[:4]):
        assert (
            bytes(
                Item.model_validate_json(f'{{"name":"n","payload":"{text}"}}').payload
                or b""
            )
            == data
        )
    assert (
        bytes(Item.model_validate_json('{"name":"n","payload":"YQ"}').payload or b"")
        == b"a"
    )


def test_json_bytes_that_are_not_base64_are_refused_at_their_path() -> None:
    with pytest.raises(ValidationError) as caught:
        Item.model_validate_json('{"name":"n","payload":"!!"}')
    (error,) = caught.value.errors()
    assert error["loc"] == ("payload",)
    assert "base64" in error["msg"]
    with pytest.raises(ValidationError):
        Item.model_validate_json('{"name":"n","payload":[1,2]}')


def test_python_bytes_stay_views_of_the_callers_buffer() -> None:
    buffer = bytearray(b"abc")
    item = Item(name="n", payload=buffer)
    assert isinstance(item.payload, memoryview) and item.payload.readonly
    assert np.shares_memory(np.asarray(item.payload), np.asarray(buffer))
    assert item.model_dump()["payload"] is item.payload


def test_a_deep_copy_copies_bytes_wherever_they_are() -> None:
    """``copy.deepcopy`` and ``model_copy(deep=True)`` copy a message, a union member
    and an unknown member holding bytes (in a field, a list, a map's keys and
    values): each view is copied into bytes of its own, where Python refuses to
    copy a ``memoryview`` at all."""
    buffer = bytearray(b"abc")
    received = unpack(
        msgpack.packb({"one": msgpack.ExtType(1, (0).to_bytes(4, "big"))}),
        [bytes(MIB)],
    )
    values: list[BaseModel] = [
        Item(name="n", payload=buffer),
        containers(),
        conformance.Containers(blobs={"small": b"s", **received}),
        conformance.ShapeBlob(value=b"blob"),
        uvrpc.UnknownMember(id=7, value={"1": [memoryview(b"raw")], "2": b"k"}),
    ]
    for value in values:
        for copied in (copy.deepcopy(value), value.model_copy(deep=True)):
            assert copied == value and copied is not value
    item = copy.deepcopy(values[0])
    assert isinstance(item, Item) and isinstance(item.payload, memoryview)
    assert item.payload.readonly
    buffer[0] = ord("z")  # the copy does not share the caller's buffer
    assert bytes(item.payload) == b"abc"
    blob = copy.deepcopy(values[2])
    assert isinstance(blob, conformance.Containers)
    assert bytes(blob.blobs["one"]) == bytes(MIB)
    assert blob.blobs["one"] is not received["one"]


def test_a_message_holding_bytes_is_pickled() -> None:
    """``pickle`` takes a message, a union member and an unknown member holding
    bytes (to hand a received request to a process pool, say), where Python
    refuses to pickle a ``memoryview``: each arrives as a read-only view again."""
    values: list[BaseModel] = [
        Item(name="n", payload=bytearray(b"abc")),
        containers(),
        conformance.Containers(blobs={"small": b"s", "big": bytes(MIB)}),
        conformance.ShapeBlob(value=b"blob"),
        uvrpc.UnknownMember(id=7, value={"1": [memoryview(b"raw")], "2": b"k"}),
    ]
    for value in values:
        for protocol in (2, pickle.HIGHEST_PROTOCOL):
            loaded = pickle.loads(pickle.dumps(value, protocol))
            assert type(loaded) is type(value) and loaded == value
    item = pickle.loads(pickle.dumps(values[0]))
    assert isinstance(item.payload, memoryview) and item.payload.readonly
    assert bytes(item.payload) == b"abc"
    assert values[0] == Item(name="n", payload=b"abc")  # the original is unchanged


# --- repr ---------------------------------------------------------------------


def test_repr_shows_short_bytes_as_bytes() -> None:
    assert repr(Item(name="n", payload=b"abc")) == "Item(name='n', payload=b'abc')"
    assert (
        str(Item(name="n", payload=bytearray(b"\x00"))) == "name='n' payload=b'\\x00'"
    )


def test_repr_shows_large_bytes_by_size_and_first_bytes() -> None:
    payload = bytes(range(256)) * 4096
    text = repr(Item(name="n", payload=payload))
    assert text.startswith(
        "Item(name='n', payload=<memoryview 1048576 bytes: b'\\x00\\x01\\x02"
    )
    assert text.endswith("...'>)")
    assert "<memory at" not in text
    assert len(text) < 60 + 4 * REPR_BYTES


def test_repr_shows_bytes_inside_containers_and_received_views() -> None:
    received = unpack(
        msgpack.packb({"one": msgpack.ExtType(1, (0).to_bytes(4, "big"))}),
        [bytes(MIB)],
    )
    value = conformance.Containers(blobs={"small": b"s", **received})
    text = repr(value)
    assert "'small': b's'" in text
    assert f"'one': <memoryview {MIB} bytes: b'\\x00" in text
    assert "<memory at" not in text
    assert "<memory at" not in repr([Item(name="n", payload=b"x")])


def test_repr_shows_bytes_keys_of_maps_and_elements_of_sets() -> None:
    """A ``map<bytes, ...>``'s keys are received views too: shown as bytes, not
    as ``<memory at 0x...>``."""

    class Keyed(uvrpc.Message):
        model_config = uvrpc.field_ids(cells=1, tags=2)

        cells: dict[uvrpc.types.Bytes, int]
        tags: set[uvrpc.types.Bytes]

    received = Keyed.model_validate(
        unpack(
            new_packer().pack(
                Keyed(cells={memoryview(b"k"): 1}, tags={memoryview(b"t")})
            )
        )
    )
    assert isinstance(next(iter(received.cells)), memoryview)
    text = repr(received)
    assert "<memory at" not in text
    assert "cells={b'k': 1}" in text
    assert "tags={b't'}" in text


def test_exception_text_shows_bytes_by_size() -> None:
    error = conformance.Rejected(argument="a", evidence=bytes(MIB))
    assert f"evidence=<memoryview {MIB} bytes: b'\\x00" in str(error)
    assert "<memory at" not in str(error)
    assert "evidence=b'e'" in str(conformance.Rejected(argument="a", evidence=b"e"))


# --- model_validate round trips -----------------------------------------------


@pytest.mark.parametrize("value", EVERY_VALUE, ids=lambda v: type(v).__name__)
def test_model_validate_takes_back_what_model_dump_gave(value: BaseModel) -> None:
    cls = type(value)
    assert cls.model_validate(value.model_dump()) == value
    assert cls.model_validate_json(value.model_dump_json()) == value
    assert cls.model_validate(unpack(new_packer().pack(value))) == value  # the wire


def test_model_dump_json_keeps_nan_and_infinities_for_model_validate_json() -> None:
    # pydantic writes a non-finite float as null by default, which a strict
    # double refuses: what model_dump_json gave must be read back, as uvrpc call's
    # JSON (NaN, Infinity) is.
    value = scalars(single=math.inf, precise=math.nan)
    value = value.model_copy(update={"precise_default": -math.inf})
    text = value.model_dump_json()
    assert '"single":Infinity' in text
    assert '"precise":NaN' in text
    back = Scalars.model_validate_json(text)
    assert back.single == math.inf
    assert math.isnan(back.precise)
    assert back.precise_default == -math.inf
    weights = Containers(index={}, weights={"w": math.nan}).model_dump_json()
    assert math.isnan(Containers.model_validate_json(weights).weights["w"])


def test_model_validate_by_name_and_by_id() -> None:
    by_name = Item.model_validate({"name": "n", "payload": b"p"})
    by_id = Item.model_validate({"1": "n", "2": b"p"})
    assert by_name == by_id == Item(name="n", payload=b"p")
    # An id it has no field for is kept aside, and not compared.
    assert Item.model_validate({"name": "n", "9": "unknown"}) == Item(name="n")


def test_validation_errors_name_fields_by_name() -> None:
    with pytest.raises(ValidationError) as caught:
        Containers.model_validate({"1": {}, "4": {"w": "not a double"}})
    assert caught.value.errors()[0]["loc"] == ("weights", "w")


# --- sets ---------------------------------------------------------------------


def test_a_set_given_an_element_twice_is_refused_by_the_constructor() -> None:
    with pytest.raises(ValidationError) as caught:
        Containers(index={}, tags=cast(Any, ["a", "b", "a"]))
    (error,) = caught.value.errors()
    assert error["loc"] == ("tags",)
    assert error["type"] == "set_duplicate"
    assert "'a' is repeated" in error["msg"]
    with pytest.raises(ValidationError, match="set_duplicate"):
        Containers(index={}, colors=cast(Any, (c for c in [Color.RED, 1])))
    with pytest.raises(ValidationError, match="set_duplicate"):
        Containers.model_validate_json('{"index":{},"colors":[16,16]}')
    assert Containers(index={}, tags=cast(Any, ("a", "b"))).tags == {"a", "b"}
    colors = Containers(index={}, colors=cast(Any, iter([1, 16]))).colors
    assert colors == {Color.RED, Color.BLUE}


def test_a_set_reply_given_an_element_twice_is_refused() -> None:
    echo_colors = next(
        m
        for m in conformance.ConformanceServer.uvrpc_service.methods
        if m.handler == "echo_colors"
    )
    assert isinstance(echo_colors, uvrpc.Unary)
    assert echo_colors.check_reply([1, 3]) == {
        conformance.Color.RED,
        conformance.Color.BLUE,
    }
    with pytest.raises(ValidationError, match="is repeated"):
        echo_colors.check_reply([1, 3, 1])


def test_a_set_sent_with_an_element_twice_is_invalid_argument() -> None:

    async def main() -> None:
        async with uvrpc.testing.memory_channel(Conformance()) as channel:
            client = conformance.ConformanceClient(channel)
            repeated: Any = [conformance.Color.RED, conformance.Color.RED]
            with pytest.raises(uvrpc.InvalidArgument) as caught:
                await client.echo_colors(colors=repeated)
            assert caught.value.details is not None
            assert caught.value.details["field_path"] == "colors"
            assert "is repeated" in caught.value.message
            # Inside a message, named by its path.
            raw: Any = {"2": [2, 2]}
            with pytest.raises(uvrpc.InvalidArgument) as caught:
                await client.echo_containers(value=raw)
            assert caught.value.details is not None
            assert caught.value.details["field_path"] == "value.colors"

    asyncio.run(main())


def test_a_huge_set_of_repeats_gets_a_small_error() -> None:
    """A million repeats are one problem, and a long element's echo is cut."""

    async def main() -> None:
        async with uvrpc.testing.memory_channel(Conformance()) as channel:
            client = conformance.ConformanceClient(channel)
            words = ["w" * 10_000] * 1_000  # a list<string> may repeat
            raw: Any = {"2": [1] * 1_000_000, "5": words}
            with pytest.raises(uvrpc.InvalidArgument) as caught:
                await client.echo_containers(value=raw)
            details = caught.value.details
            assert details is not None and details["field_path"] == "value.colors"
            assert len(details["errors"]) == 1
            assert len(caught.value.message) < 2 * MAX_ECHO

    asyncio.run(main())
    with pytest.raises(ValidationError) as refused:
        Containers(index={}, tags=cast(Any, ["w" * 10_000] * 2))
    message = refused.value.errors()[0]["msg"]
    assert len(message) < 2 * MAX_ECHO and "10,002 characters" in message


def test_a_set_schema_walked_twice_is_checked_once() -> None:
    """pydantic hands a nested message's schema over again: its sets keep one check."""
    schema: dict[str, Any] = dict(core_schema.set_schema(core_schema.int_schema()))
    fail_fast(fail_fast(schema))
    assert schema["type"] == "function-wrap"
    assert schema["schema"]["type"] == "set"


def test_each_message_gets_its_own_copy_of_a_container_default() -> None:
    """``_t.default([...])`` is pydantic's field of the default: a message that
    changes its list, set or map changes no other message's."""
    first, second = Containers(index={}), Containers(index={})
    first.primes.append(7)
    first.colors.add(Color.RED)
    first.named["blue"] = Color.BLUE
    assert second.primes == [2, 3, 5] and second.colors == set()
    assert second.named == {"red": Color.RED}
    assert Containers.model_fields["primes"].default == [2, 3, 5]
    assert Containers.model_fields["primes"].default_factory is None
