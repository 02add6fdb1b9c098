"""The quick check of flat parameters and results against pydantic's, on the same
hostile values: both must accept the same values, to the same result, and refuse
the same values with the same ``INVALID_ARGUMENT``."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import SchemaValidator

import uvrpc
from uvrpc.wire import types as _t
from uvrpc.wire.errors import InvalidArgument
from uvrpc.wire.flat import DEFERRED, flat_params, flat_value
from uvrpc.wire.message import Message, fail_fast, field_ids
from uvrpc.wire.methods import ClientStreaming, Unary
from uvrpc.wire.types import FLOAT32_MAX
from uvrpc.wire.unknown import ignoring_unknown
from uvrpc.wire.validation import invalid_argument


class Color(uvrpc.Enum):
    RED = 1
    GREEN = -2
    BLUE = 16


class Shade(uvrpc.Enum):
    RED = 1
    DARK = 3


class Scalars(Message):
    """Every scalar kind, as generated code declares parameters."""

    model_config = field_ids(
        flag=1, tiny=2, small=3, medium=4, large=5, single=6, precise=7, text=8, blob=9
    )

    flag: _t.Bool
    tiny: _t.I8
    small: _t.I16
    medium: _t.I32
    large: _t.I64
    single: _t.Float
    precise: _t.Double
    text: _t.String
    blob: _t.Bytes


class Mixed(Message):
    """Enums, optionals, defaults and flat lists."""

    model_config = field_ids(
        color=1,
        maybe=2,
        values=3,
        names=4,
        colors=5,
        blobs=6,
        singles=7,
        flags=8,
        depth=9,
        shade=10,
        label=11,
        blob=12,
        ints=13,
        doubles=14,
    )

    color: Color
    maybe: _t.I32 | None = None
    values: list[_t.I32]
    names: list[_t.String] = []
    colors: list[Color] = [Color.BLUE, Color.RED]
    blobs: list[_t.Bytes] = []
    singles: list[_t.Float] = []
    flags: list[_t.Bool] = []
    depth: _t.I16 = 3
    shade: Color | None = Color.GREEN
    label: _t.String = "tab\there"
    blob: _t.Bytes = memoryview(b"raw")
    ints: list[_t.I64] = [1, 2]
    doubles: list[_t.Double] = []


class Nothing(Message):
    model_config = field_ids()


MODELS = (Scalars, Mixed, Nothing)


class Number(int):
    """An ``int`` that is not exactly one."""


class Text(str):
    """A ``str`` that is not exactly one."""


SIGNED = [-(2**63) - 1, -(2**63), -(2**31) - 1, -(2**31), -(2**15) - 1, -(2**15)]
SIGNED += [-129, -128, -1, 0, 1, 127, 128, 2**15 - 1, 2**15, 2**31 - 1, 2**31]
SIGNED += [2**53, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 2**1100, -(2**1100)]
FLOATS = [0.0, -0.0, 1.5, 4.0, math.nan, math.inf, -math.inf, FLOAT32_MAX]
FLOATS += [-FLOAT32_MAX, math.nextafter(FLOAT32_MAX, math.inf), 1e39, -1e39, 1.7e308]


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(SIGNED),
    st.integers(),
    st.sampled_from(FLOATS),
    st.floats(),
    st.floats(width=32),
    st.text(max_size=5),
    st.sampled_from(["\ud800", "a\udfffb", "é", ""]),
    st.binary(max_size=5),
    st.binary(max_size=5).map(bytearray),
    st.binary(max_size=5).map(lambda data: memoryview(data)),
    st.sampled_from([*Color, *Shade, Number(1), Number(2**40), Text("x")]),
    st.sampled_from([1, -2, 16, 3, 0, 1.0, 16.0, True, False]),
)
hostile = st.one_of(
    scalars,
    st.lists(scalars, max_size=4),
    st.lists(st.sampled_from([1, 2, -2, 16, 3, True, 1.0]), max_size=4),
    st.lists(st.integers(), max_size=4),
    st.lists(st.text(max_size=3), max_size=4),
    st.lists(st.floats(), max_size=4),
    st.lists(st.binary(max_size=3), max_size=4),
    st.lists(st.booleans(), max_size=4),
    st.tuples(st.integers()),
    st.lists(st.lists(st.integers(), max_size=2), max_size=2),
)


def _ints(bits: int) -> st.SearchStrategy[int]:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return st.integers(low, high) | st.sampled_from([low, high, Number(high)])


def _outside(bits: int) -> st.SearchStrategy[int]:
    return st.sampled_from([-(2 ** (bits - 1)) - 1, 2 ** (bits - 1)])


colors = st.sampled_from([*Color, 1, -2, 16])
beyond = math.nextafter(FLOAT32_MAX, math.inf)
single = st.floats(width=32) | st.sampled_from([FLOAT32_MAX, -FLOAT32_MAX, 2**53])
blob = st.binary(max_size=4) | st.binary(max_size=4).map(bytearray)
GOOD: dict[str, st.SearchStrategy[Any]] = {
    "flag": st.booleans(),
    "tiny": _ints(8),
    "small": _ints(16),
    "medium": _ints(32),
    "large": _ints(64),
    "single": single,
    "precise": st.floats() | st.integers(-(2**53), 2**53),
    "text": st.text(max_size=4) | st.sampled_from(["\ud800", "a\udfffb", Text("x")]),
    "blob": blob,
    "color": colors,
    "maybe": st.none() | _ints(32),
    "values": st.lists(_ints(32), max_size=4),
    "names": st.lists(st.text(max_size=2), max_size=3),
    "colors": st.lists(colors, max_size=3),
    "blobs": st.lists(blob, max_size=3),
    "singles": st.lists(single, max_size=3),
    "flags": st.lists(st.booleans(), max_size=3),
    "depth": _ints(16),
    "shade": st.none() | colors,
    "label": st.text(max_size=3),
    "ints": st.lists(_ints(64), max_size=3),
    "doubles": st.lists(st.floats(), max_size=3),
}
"""Values each parameter takes, boundaries included."""
OUTSIDE: dict[str, st.SearchStrategy[Any]] = {
    "tiny": _outside(8),
    "small": _outside(16),
    "medium": _outside(32),
    "large": _outside(64),
    "single": st.sampled_from([beyond, -beyond, 3.5e38, 1e39]),
    "values": st.lists(_ints(32), max_size=2).map(lambda v: [*v, 2**31]),
    "depth": _outside(16),
    "ints": st.lists(_outside(64), min_size=1, max_size=2),
}
"""Values just beside what some parameters take."""


def _wire_args(model: type[BaseModel], draw: st.DrawFn) -> Any:
    """Arguments of ``model``: each parameter good, just outside what it takes,
    missing, hostile, or keyed by its Python name, and unknown parameters of
    every kind beside them."""
    args: dict[Any, Any] = {}
    # Mostly good values, so that many argument sets are good.
    odds = ["good"] * draw(st.integers(0, 60)) + ["outside", "id", "missing"]
    odds += ["name", "both"]
    for name, field in model.model_fields.items():
        how = draw(st.sampled_from(odds))
        if how == "good" and not field.is_required() and draw(st.booleans()):
            how = "missing"  # a default taken as often as a value given
        key = field.validation_alias
        if how == "good":
            args[key] = draw(GOOD[name])
        elif how == "outside":
            args[key] = draw(OUTSIDE.get(name, hostile))
        elif how == "id":
            args[key] = draw(hostile)
        elif how == "name":
            args[name] = draw(hostile)
        elif how == "both":
            args[key] = draw(hostile)
            args[name] = draw(hostile)
    unknown: list[Any] = ["99", "0", "zz", 7, None]
    for extra in draw(st.lists(st.sampled_from(unknown), max_size=2)):
        args[extra] = draw(hostile)
    return args


@st.composite
def wire_args(draw: st.DrawFn, model: type[BaseModel]) -> Any:
    if draw(st.integers(0, 20)) == 0:
        return draw(st.one_of(hostile, st.just(None)))  # not even a map
    return _wire_args(model, draw)


def _same(a: Any, b: Any) -> bool:
    """Whether two validated values are the same: same types, equal contents,
    ``nan`` equal to itself."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and str(a) == str(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, memoryview):
        return bool(a.tobytes() == b.tobytes() and a.readonly == b.readonly)
    return bool(a == b)


def _outcome(check: Callable[[Any], Any], args: Any, route: str) -> Any:
    try:
        return "ok", check(args)
    except ValidationError as exc:
        error = invalid_argument(route, exc)
        return "refused", (str(error), error.details)


def _assert_same_params(model: type[BaseModel], args: Any) -> None:
    route = f"test.Flat.{model.__name__}"
    method: Unary[Any, None] = Unary(route=route, handler="h", params=model, reply=None)
    expected = _outcome(ignoring_unknown(model), args, route)
    got = _outcome(method.check_params, args, route)
    assert got[0] == expected[0], (args, got, expected)
    if got[0] == "refused":
        assert got[1] == expected[1]
        return
    mine, theirs = got[1], expected[1]
    assert type(mine) is type(theirs) is model
    assert list(mine.__dict__) == list(theirs.__dict__)
    for name in theirs.__dict__:
        assert _same(mine.__dict__[name], theirs.__dict__[name]), (name, args)
        # A list is copied, a default list too, as pydantic copies them.
        sources = [*args.values(), model.model_fields[name].default]
        assert [mine.__dict__[name] is v for v in sources] == [
            theirs.__dict__[name] is v for v in sources
        ]
    assert mine.__pydantic_fields_set__ == theirs.__pydantic_fields_set__
    assert mine.__pydantic_extra__ == theirs.__pydantic_extra__
    assert mine.__pydantic_private__ == theirs.__pydantic_private__


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_model_here_is_checked_quickly(model: type[BaseModel]) -> None:
    assert flat_params(model) is not None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_hostile_parameters_get_what_pydantic_gives(
    model: type[BaseModel], data: st.DataObject
) -> None:
    _assert_same_params(model, data.draw(wire_args(model)))


GOOD_SCALARS = {
    "1": True,
    "2": -128,
    "3": 2**15 - 1,
    "4": -(2**31),
    "5": 2**63 - 1,
    "6": FLOAT32_MAX,
    "7": math.nan,
    "8": "a\udfffb é",
    "9": b"\x00raw",
}


@pytest.mark.parametrize(
    ("model", "args"),
    [
        (Scalars, GOOD_SCALARS),
        (Scalars, {**GOOD_SCALARS, "6": -math.inf, "7": 3, "99": "newer"}),
        (Scalars, {**GOOD_SCALARS, "9": bytearray(b"x"), "7": -(2**53)}),
        (Mixed, {"1": 16, "3": [2**31 - 1, -(2**31)]}),
        (Mixed, {"1": Color.RED, "2": None, "3": [], "10": None, "zz": 1}),
        (Mixed, {"1": -2, "2": 7, "3": [1], "4": ["x"], "5": [1, -2], "6": [b""]}),
        (Mixed, {"color": 1, "values": [1], "7": [1.0, 2], "8": [True], "14": [1]}),
        (Nothing, {}),
        (Nothing, {"1": "a newer client's parameter"}),
    ],
)
def test_valid_parameters_never_reach_pydantic(
    model: type[BaseModel], args: dict[str, Any]
) -> None:
    quick = flat_params(model)
    assert quick is not None
    assert quick(args) is not DEFERRED
    _assert_same_params(model, args)


@pytest.mark.parametrize(
    ("args", "path", "words"),
    [
        ({**GOOD_SCALARS, "1": 1}, "flag", "valid boolean"),
        ({**GOOD_SCALARS, "2": True}, "tiny", "valid integer"),
        ({**GOOD_SCALARS, "2": 128}, "tiny", "less than or equal to 127"),
        ({**GOOD_SCALARS, "4": 2**31}, "medium", "less than or equal to 2147483647"),
        ({**GOOD_SCALARS, "5": -(2**63) - 1}, "large", "greater than or equal"),
        ({**GOOD_SCALARS, "6": 1e39}, "single", "out of range for a 32-bit float"),
        ({**GOOD_SCALARS, "6": -3.5e38}, "single", "out of range for a 32-bit float"),
        ({**GOOD_SCALARS, "7": True}, "precise", "valid number"),
        ({**GOOD_SCALARS, "8": b"x"}, "text", "valid string"),
        ({**GOOD_SCALARS, "9": "x"}, "blob", "buffer"),
        ({k: v for k, v in GOOD_SCALARS.items() if k != "5"}, "large", "required"),
    ],
)
def test_a_bad_scalar_is_refused_as_pydantic_refuses_it(
    args: dict[str, Any], path: str, words: str
) -> None:
    method: Unary[Any, None] = Unary(
        route="test.Flat.scalars", handler="h", params=Scalars, reply=None
    )
    with pytest.raises(ValidationError) as caught:
        method.check_params(args)  # some of these msgpack cannot even encode
    error = invalid_argument(method.route, caught.value)
    assert error.details["field_path"] == path
    assert words in str(error)
    _assert_same_params(Scalars, args)


@pytest.mark.parametrize("k", [0, 1, 3])
@pytest.mark.parametrize(
    ("key", "bad", "path"),
    [("3", True, "values"), ("3", 2**31, "values"), ("5", 4, "colors")],
)
def test_a_list_fails_at_its_first_bad_element(
    k: int, key: str, bad: Any, path: str
) -> None:
    good = {"3": 1, "5": 16}[key]
    items = [good] * 4
    items[k] = bad
    args = {"1": 1, "3": [1], key: items}
    method: Unary[Any, None] = Unary(
        route="test.Flat.mixed", handler="h", params=Mixed, reply=None
    )
    with pytest.raises(InvalidArgument) as caught:
        method.read_params(msgpack.packb(args))
    assert caught.value.details["field_path"] == f"{path}.{k}"
    assert len(caught.value.details["errors"]) == 1
    _assert_same_params(Mixed, args)


def test_defaults_are_applied_and_a_list_default_is_not_shared() -> None:
    method: Unary[Any, None] = Unary(
        route="test.Flat.mixed", handler="h", params=Mixed, reply=None
    )
    first = method.check_params({"1": 1, "3": []})
    second = method.check_params({"1": 1, "3": []})
    assert first.colors == [Color.BLUE, Color.RED]
    assert first.colors is not second.colors
    assert first.colors is not Mixed.model_fields["colors"].default
    assert first.shade is Color.GREEN and first.label == "tab\there"
    assert first.model_fields_set == {"color", "values"}


class Plain(Message):
    model_config = field_ids(a=1)

    a: _t.I32


class Wrapped(Message):
    model_config = field_ids(inner=1)

    inner: Plain


@pytest.mark.parametrize(
    "annotation",
    [
        Plain,
        list[Plain],
        set[_t.I32],
        dict[_t.String, _t.I32],
        _t.Uuid,
        _t.Timestamp,
        list[list[_t.I32]],
        Annotated[_t.String, _t.Constraints(max_length=3)],
        Annotated[_t.Double, _t.Constraints(ge=0.0)],
        Annotated[list[_t.I32], _t.Constraints(max_length=3)],
    ],
    ids=repr,
)
def test_anything_not_flat_is_left_to_pydantic(annotation: Any) -> None:
    class Params(Message):
        model_config = field_ids(value=1)

        value: annotation

    assert flat_params(Params) is None
    assert flat_params(Wrapped) is None


RESULTS = [
    _t.Bool,
    _t.I8,
    _t.I32,
    _t.I64,
    _t.Float,
    _t.Double,
    _t.String,
    Color,
    _t.I32 | None,
    list[_t.I32],
    list[_t.String],
    list[Color],
    list[_t.Float],
    list[_t.Bytes],
]


@pytest.mark.parametrize("result", RESULTS, ids=repr)
def test_every_flat_result_is_checked_quickly(result: Any) -> None:
    assert flat_value(TypeAdapter(result).core_schema) is not None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=hostile)
@pytest.mark.parametrize("result", RESULTS, ids=repr)
def test_hostile_results_and_items_get_what_pydantic_gives(
    result: Any, value: Any
) -> None:
    pydantic = SchemaValidator(fail_fast(TypeAdapter(result).core_schema))
    expected = _outcome(pydantic.validate_python, value, "r")
    method: Unary[Any, Any] = Unary(
        route="test.Flat.r", handler="h", params=Nothing, reply=result
    )
    streaming: ClientStreaming[Any, Any, None] = ClientStreaming(
        route="test.Flat.r",
        handler="h",
        params=Nothing,
        stream="items",
        request_item=result,
        reply=None,
    )
    for check in (method.check_reply, streaming.check_request_item):
        got = _outcome(check, value, "r")
        assert got[0] == expected[0]
        if got[0] == "ok":
            assert _same(got[1], expected[1]), (value, got, expected)
        else:
            assert got[1] == expected[1]
