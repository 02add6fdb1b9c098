"""Unions on the wire: one entry keyed by the member's id, unknown members kept
whole, hostile forms refused at their field path, binary values as attachments.

The union ``Shape`` of ``idl/conformance.idl`` is used through its golden module;
the evolution test generates two versions of a small file of its own.
"""

from __future__ import annotations

import asyncio
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conformance_server import Conformance
from generated_modules import import_file
from golden.conformance import (
    Circle,
    Drawing,
    Shape,
    ShapeBlob,
    ShapeCircle,
    ShapeGroup,
    ShapeLabel,
    ShapeSquare,
)
from pydantic import TypeAdapter, ValidationError

import uvrpc
from uvrpc.buffers import ATTACHMENT_MIN, BodyEncoder
from uvrpc.core.calls import encode_request
from uvrpc.testing import memory_channel
from uvrpc.wire.codec import unpack
from uvrpc.wire.message import field_ids
from uvrpc.wire.methods import carries_bytes
from uvrpc.wire.validation import problems
from uvrpc_gen.cli import main as generate

SHAPE: TypeAdapter[Shape] = TypeAdapter(Shape)


def test_a_member_travels_as_a_map_of_one_entry_keyed_by_its_id() -> None:
    drawing = Drawing(
        main=ShapeCircle(value=Circle(radius=2.5)),
        overlay=ShapeSquare(value=3.0),
        layers=[ShapeLabel(value="a"), ShapeGroup(value=[ShapeSquare(value=1.0)])],
        named={"x": ShapeLabel(value="y")},
    )
    wire = drawing.model_dump(by_alias=True)
    assert wire == {
        "1": {"1": {"1": 2.5}},
        "2": {"2": 3.0},
        "3": [{"3": "a"}, {"5": [{"2": 1.0}]}],
        "4": {"x": {"3": "y"}},
    }
    assert Drawing.model_validate(wire) == drawing
    assert SHAPE.validate_python({"3": "z"}) == ShapeLabel(value="z")
    assert Drawing(main=ShapeLabel(value="m")).model_dump(by_alias=True)["2"] is None


def test_json_keys_a_member_by_its_name_and_reads_either_key() -> None:
    drawing = Drawing(main=ShapeCircle(value=Circle(radius=1.0)))
    text = drawing.model_dump_json(include={"main"})
    assert text == '{"main":{"circle":{"radius":1.0}}}'
    assert Drawing.model_validate_json(text) == drawing
    assert SHAPE.validate_json('{"3": "by id"}') == ShapeLabel(value="by id")
    assert SHAPE.validate_json('{"blob": "AP8="}') == ShapeBlob(value=b"\x00\xff")


def test_json_keeps_a_members_nan_and_infinities() -> None:
    # A member wrote a non-finite double as null, which reading back refused.
    drawing = Drawing(
        main=ShapeSquare(value=math.inf),
        layers=[
            ShapeSquare(value=math.nan),
            uvrpc.UnknownMember(id=9, value=-math.inf),
        ],
    )
    text = drawing.model_dump_json(include={"main", "layers"})
    assert text == (
        '{"main":{"square":Infinity},"layers":[{"square":NaN},{"9":-Infinity}]}'
    )
    back = Drawing.model_validate_json(text)
    assert back.main == ShapeSquare(value=math.inf)
    layer = back.layers[0]
    assert isinstance(layer, ShapeSquare)
    assert math.isnan(layer.value)


def test_exactly_one_member_is_set_by_construction() -> None:
    shape = ShapeCircle(value=Circle(radius=1.0))
    assert (shape.uvrpc_id, shape.uvrpc_name) == (1, "circle")
    match shape:
        case ShapeCircle(circle):
            assert circle.radius == 1.0
        case _:
            pytest.fail("a ShapeCircle did not match its class")
    with pytest.raises(ValidationError, match="valid string"):
        ShapeLabel(value=5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="Extra inputs"):
        ShapeLabel(value="a", square=1.0)  # type: ignore[call-arg]
    with pytest.raises(ValidationError) as caught:  # the member's value, unwrapped
        Drawing(main=Circle(radius=1.0))  # type: ignore[arg-type]
    assert caught.value.errors()[0]["msg"] == (
        "expected a member of union Shape: ShapeCircle, ShapeSquare, ShapeLabel, "
        "ShapeBlob or ShapeGroup (on the wire, a map of one entry {id: value}), got "
        "Circle"
    )
    assert "b'ab'" in repr(ShapeBlob(value=b"ab"))


@pytest.mark.parametrize(
    ("wire", "path", "text"),
    [
        ({}, "main", "exactly one member"),
        ({"1": {"1": 1.0}, "2": 2.0}, "main", "got 2 entries"),
        (5, "main", "got int"),
        ([{"2": 1.0}], "main", "got list"),
        (None, "main", "got NoneType"),
        ({2: 1.0}, "main", "keyed by its id as text"),
        ({"nope": 1}, "main", "expected a member of union Shape"),
        ({"01": 1}, "main", "expected a member of union Shape"),
        ({"2": "wide"}, "main.square", "valid number"),
        ({"1": {"1": "x"}}, "main.circle.radius", "valid number"),
        ({"5": [{"2": 1.0}, {"1": {}}]}, "main.group.1.circle.radius", "required"),
        ({"5": [{"3": "a", "4": b""}]}, "main.group.0", "got 2 entries"),
    ],
)
def test_hostile_forms_are_refused_at_their_field_path(
    wire: Any, path: str, text: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Drawing.model_validate({"1": wire})
    found, more = problems(caught.value)
    assert more == 0 and len(found) == 1
    assert found[0]["field_path"] == path
    assert text in found[0]["message"]


def test_a_server_answers_hostile_unions_with_invalid_argument() -> None:
    class AnyParams(uvrpc.Message):
        model_config = field_ids()

    raw: uvrpc.Unary[AnyParams, Any] = uvrpc.Unary(
        route="conformance.Conformance.echoShape",
        handler="",
        params=AnyParams,
        reply=Any,
    )

    async def main() -> None:
        async with memory_channel(Conformance()) as channel:
            assert await channel.call(raw, {"1": {"3": "ok"}}, 10) == {"3": "ok"}
            for wire, path in (
                ({"3": "a", "2": 1.0}, "shape"),
                ({}, "shape"),
                ("circle", "shape"),
                ({"1": {"1": True}}, "shape.circle.radius"),
            ):
                with pytest.raises(uvrpc.InvalidArgument) as caught:
                    await channel.call(raw, {"1": wire}, 10)
                assert caught.value.details["field_path"] == path
                assert f"'{path}'" in caught.value.message

    asyncio.run(main())


def test_binary_values_inside_members_travel_as_attachments_uncopied() -> None:
    from golden.conformance import _CONFORMANCE_ECHO_SHAPE

    big = bytes(range(256)) * (ATTACHMENT_MIN // 64)
    assert _CONFORMANCE_ECHO_SHAPE.payload_params == ("1", "2")
    frames = encode_request(
        BodyEncoder(),
        1,
        _CONFORMANCE_ECHO_SHAPE,
        {"1": ShapeGroup(value=[ShapeBlob(value=big)]), "2": None},
        None,
    )
    attachments = frames[1:-2]
    assert len(attachments) == 1 and attachments[0].obj is big  # the caller's own
    received = unpack(frames[-1], attachments)
    shape = SHAPE.validate_python(received["1"])
    assert isinstance(shape, ShapeGroup)
    (blob,) = shape.value
    assert isinstance(blob, ShapeBlob) and blob.value.obj is big  # a view, no copy
    assert carries_bytes(Shape)


def test_an_unknown_member_is_kept_and_encoded_back_unchanged() -> None:
    raw = {"7": {"1": [1, 2], "2": memoryview(b"raw")}}
    shape = SHAPE.validate_python(raw)
    assert isinstance(shape, uvrpc.UnknownMember)
    assert shape.id == 7 and shape.value is raw["7"]
    assert shape.model_dump(by_alias=True) == raw
    assert Drawing(main=shape).model_dump(by_alias=True)["1"] == raw
    assert repr(shape) == "UnknownMember(id=7, value={'1': [1, 2], '2': b'raw'})"
    assert shape.model_dump_json() == '{"7":{"1":[1,2],"2":"cmF3"}}'
    # Read as any member is: its id, and its key in JSON (the id: it has no name).
    assert (shape.uvrpc_id, shape.uvrpc_name) == (7, "7")


# --- a member added in a newer schema -------------------------------------------

V1 = """\
namespace relay;

union Shape {
    1: double square;
    2: string label;
    4: Inner inner;
}

union Inner {
    1: i64 number;
    2: map<string, Shape> shapes;
}

message Picture {
    1: Shape shape;
    2: list<Shape> more = [];
}

service Relay {
    Picture forward(1: Picture picture);
    Shape echo(1: Shape shape);
}
"""

V2 = V1.replace(
    "    2: string label;\n",
    "    2: string label;\n    3: Triangle triangle;\n",
).replace(
    "message Picture {",
    "message Triangle {\n    1: list<double> sides;\n    2: bytes tag;\n}\n\n"
    "message Picture {",
)


def generated(text: str, directory: Path, name: str) -> ModuleType:
    """``text`` generated into ``directory`` and imported as the module ``name``."""
    directory.mkdir()
    (directory / "relay.idl").write_text(text, encoding="utf-8")
    assert generate([str(directory / "relay.idl"), "-o", str(directory)]) == 0
    return import_file(directory / "relay.py", name)


@pytest.fixture(scope="module")
def relay(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ModuleType, ModuleType]]:
    root = tmp_path_factory.mktemp("unions")
    try:
        yield (
            generated(V1, root / "v1", "relay_v1"),
            generated(V2, root / "v2", "relay_v2"),
        )
    finally:
        sys.modules.pop("relay_v1", None)
        sys.modules.pop("relay_v2", None)


def test_a_member_may_be_another_union(
    relay: tuple[ModuleType, ModuleType],
) -> None:
    old, _ = relay
    inner = old.ShapeInner(
        value=old.InnerShapes(
            value={"a": old.ShapeInner(value=old.InnerNumber(value=5))}
        )
    )
    wire = old.Picture(shape=inner).model_dump(by_alias=True)
    assert wire["1"] == {"4": {"2": {"a": {"4": {"1": 5}}}}}
    assert old.Picture.model_validate(wire).shape == inner
    with pytest.raises(ValidationError) as caught:
        old.Picture.model_validate({"1": {"4": {"2": {"a": {"4": {"1": "5"}}}}}})
    assert problems(caught.value)[0][0]["field_path"] == (
        "shape.inner.shapes.a.inner.number"
    )


def test_a_newer_member_reaches_an_older_peer_and_comes_back_whole(
    relay: tuple[ModuleType, ModuleType],
) -> None:
    old, new = relay
    seen: list[Any] = []

    class OldRelay(old.RelayServer):  # type: ignore[misc,name-defined]
        async def forward(self, *, picture: Any) -> Any:
            seen.append(picture)
            return picture

        async def echo(self, *, shape: Any) -> Any:
            seen.append(shape)
            return shape

    tag = b"t" * (2 * ATTACHMENT_MIN)
    triangle = new.ShapeTriangle(value=new.Triangle(sides=[3.0, 4.0, 5.0], tag=tag))
    picture = new.Picture(
        shape=triangle, more=[new.ShapeLabel(value="known"), triangle]
    )

    async def main() -> None:
        client = new.RelayClient(memory_channel(OldRelay()), timeout=10)
        async with client:
            back = await client.forward(picture=picture)
            assert back == picture
            assert bytes(back.shape.value.tag) == tag
            assert await client.echo(shape=triangle) == triangle

    asyncio.run(main())
    old_picture, old_shape = seen
    assert isinstance(old_picture.shape, uvrpc.UnknownMember)
    assert old_picture.shape.id == 3
    assert old_picture.shape.value["1"] == [3.0, 4.0, 5.0]
    assert old_picture.more[0] == old.ShapeLabel(value="known")
    assert isinstance(old_picture.more[1], uvrpc.UnknownMember)
    assert isinstance(old_shape, uvrpc.UnknownMember) and old_shape.id == 3


# --- JSON: map keys are text --------------------------------------------------

KEYED = """\
namespace keyed;

enum Numberz { ONE = 1; FIVE = 5; }

message Insanity { 1: map<Numberz, i64> userMap; }

union SomeUnion {
    1: map<Numberz, i64> map_thing;
    2: Insanity insanity_thing;
    3: list<map<bool, map<double, i8>>> flags;
    4: map<string, SomeUnion> named;
}

message Holder {
    1: SomeUnion one;
    2: list<SomeUnion> many = [];
}
"""


def test_json_reads_back_a_members_maps_keyed_by_numbers(tmp_path: Path) -> None:
    """JSON writes every map key as text; a message's field read such keys back,
    but a union's member was checked as Python objects once the union had found
    it, and refused them (``map_thing.1.[key]: Input should be a valid
    integer``), so ``model_validate_json`` did not take what ``model_dump_json``
    gave of Thrift's ``SomeUnion``."""
    keyed = generated(KEYED, tmp_path / "keyed", "keyed")
    try:
        one = keyed.Numberz.ONE
        members = [
            keyed.SomeUnionMapThing(value={one: -(2**63), keyed.Numberz.FIVE: 5}),
            keyed.SomeUnionInsanityThing(value=keyed.Insanity(userMap={one: 1})),
            keyed.SomeUnionFlags(value=[{}, {True: {-0.5: -128}, False: {}}]),
            keyed.SomeUnionNamed(value={"x": keyed.SomeUnionMapThing(value={one: 2})}),
        ]
        holder = keyed.Holder(one=members[0], many=members)
        text = holder.model_dump_json()
        assert '"map_thing":{"1":-9223372036854775808,"5":5}' in text
        assert keyed.Holder.model_validate_json(text) == holder
        # Read by the member's id too, and refused as the Python form is.
        union = TypeAdapter(keyed.SomeUnion)
        assert union.validate_json('{"1": {"5": 7}}') == keyed.SomeUnionMapThing(
            value={keyed.Numberz.FIVE: 7}
        )
        assert union.validate_json('{"9": {"1": 2}}') == uvrpc.UnknownMember(
            id=9, value={"1": 2}
        )
        for bad, kind, path in [
            ('{"one": {"map_thing": {"2": 1}}}', "enum", "one.map_thing.2.[key]"),
            ('{"one": {"map_thing": {"x": 1}}}', "int_parsing", "one.map_thing.x"),
            ('{"one": {}}', "union_entries", "one"),
            ('{"one": {"1": {}, "flags": []}}', "union_entries", "one"),
            ('{"one": {"square": 1}}', "union_member", "one"),
        ]:
            with pytest.raises(ValidationError) as caught:
                keyed.Holder.model_validate_json(bad)
            (error,) = caught.value.errors()
            assert error["type"] == kind, bad
            assert ".".join(map(str, error["loc"])).startswith(path), bad
    finally:
        sys.modules.pop("keyed", None)


def test_modules_of_api_4_to_9_import() -> None:
    for api in (4, 5, 6, 7, 8, 9):
        uvrpc.check_generated_code(
            generator=uvrpc.__version__, api=api, protocol=uvrpc.PROTOCOL_VERSION
        )
    # Unions need UnionMember and WireUnion (API 7); container defaults,
    # uvrpc.types.default (API 8); the length bounds of bytes,
    # uvrpc.types.ByteLength (API 9).
    assert uvrpc.GENERATED_CODE_API == 9
