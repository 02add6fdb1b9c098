"""The quick check of flat parameters against the parameters model, on the same
hostile values, so that the two cannot drift.

:func:`uvrpc.wire.flat.flat_check` only ever accepts: wherever it answers, its
keyword arguments must be the model's ``__dict__``, value for value and type for
type; wherever it does not, the model decides, so a refusal keeps pydantic's words
and field path. :meth:`Unary.read_kwargs` must then refuse every request
:meth:`Unary.read_params` refuses, with the same ``INVALID_ARGUMENT``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import msgpack
import pytest
from golden.all_types import Color, Containers
from pydantic import ValidationError

from uvrpc.wire import types as _t
from uvrpc.wire.codec import ATTACHMENT_EXT_TYPE
from uvrpc.wire.errors import InvalidArgument
from uvrpc.wire.flat import MAX_QUICK_ITEMS, flat_check
from uvrpc.wire.message import Enum, Message, field_ids
from uvrpc.wire.methods import Unary
from uvrpc.wire.validation import invalid_argument


class Level(Enum):
    LOW = 1
    HIGH = 2
    TOP = 2**40  # an enum's value need not fit 32 bits


class FlatParams(Message):
    """Every flat kind, required, defaulted and optional, as ``uvrpc-gen``
    writes a method's parameters."""

    model_config = field_ids(
        flag=1,
        tiny=2,
        small=3,
        medium=4,
        large=5,
        single=6,
        precise=7,
        text=8,
        blob=9,
        color=10,
        maybe=11,
        flag_default=12,
        medium_default=13,
        single_default=14,
        text_default=15,
        blob_default=16,
        color_default=17,
        maybe_blob=18,
        maybe_level=19,
        counts=20,
        names=21,
        flags=22,
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
    color: Color
    maybe: _t.I32 | None
    flag_default: _t.Bool = True
    medium_default: _t.I32 = -(2**31)
    single_default: _t.Float = 1.0
    text_default: _t.String = "default"
    blob_default: _t.Bytes = memoryview(b"raw")
    color_default: Color = Color.BLUE
    maybe_blob: _t.Bytes | None = None
    maybe_level: Level | None = None
    counts: list[_t.I16]
    names: list[_t.String] = ["a", "b"]
    flags: list[_t.Bool] = []


METHOD: Unary[FlatParams, None] = Unary(
    route="flat.Flat.call", handler="call", params=FlatParams, reply=None
)
CHECK = flat_check(FlatParams)
FIELDS = list(FlatParams.model_fields)
KEYS = {name: str(index) for index, name in enumerate(FIELDS, 1)}

VALID: dict[str, Any] = {
    "1": False,
    "2": -1,
    "3": 2,
    "4": 3,
    "5": 4,
    "6": 1.5,
    "7": 2.5,
    "8": "text",
    "9": b"\x00\xff",
    "10": 16,
    "11": None,
    "20": [1, -(2**15), 2**15 - 1],
}

FLOAT32_MAX = _t.FLOAT32_MAX
INTEGERS = [
    0,
    1,
    -1,
    127,
    128,
    -128,
    -129,
    2**15 - 1,
    2**15,
    -(2**15),
    -(2**15) - 1,
    2**31 - 1,
    2**31,
    -(2**31),
    -(2**31) - 1,
    2**40,
    2**53,
    2**53 + 1,
    -(2**53),
    -(2**53) - 1,
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    2**64,
    10**400,
]
FLOATS = [
    0.0,
    -0.0,
    1.0,
    4.0,
    16.0,
    1.5,
    5e-324,
    FLOAT32_MAX,
    -FLOAT32_MAX,
    math.nextafter(FLOAT32_MAX, math.inf),
    -math.nextafter(FLOAT32_MAX, math.inf),
    1e39,
    1.7976931348623157e308,
    math.nan,
    math.inf,
    -math.inf,
]
ATTACHED = memoryview(bytearray(b"frame")).toreadonly()  # as an attachment arrives
BUFFERS = [
    b"",
    b"\x00\xff",
    bytearray(b"ab"),
    memoryview(b"ab"),
    memoryview(bytearray(b"ab")),  # writable
    ATTACHED,
    memoryview(b"abcd")[::2],  # not contiguous
    memoryview(b"abcd").cast("c"),  # not bytes of format B
    memoryview(bytearray(8)).cast("i"),
]
OTHERS = [
    True,
    False,
    None,
    "",
    "x",
    "1",
    "\udc80",  # a lone surrogate
    "日本語",
    [],
    [1],
    [True],
    [2**15],
    [1, "x"],
    ["a", "\udc80"],
    [b"x"],
    [1.0],
    [None],
    [[1]],
    list(range(100)),
    (1, 2),
    {},
    {"1": 1},
    Color.GREEN,
    Level.TOP,
    object(),
]
HOSTILE = INTEGERS + FLOATS + BUFFERS + OTHERS


def model_outcome(args: Any) -> tuple[str, Any, Any]:
    """What the model path makes of ``args``: its keyword arguments, or its
    error's text and details."""
    try:
        return "ok", METHOD.check_params(args).__dict__, None
    except ValidationError as exc:
        error = invalid_argument(METHOD.route, exc)
        return "refused", str(error), error.details


def same(fast: Any, model: Any, *, decoded_twice: bool = False) -> bool:
    """Equal, of the same type, and a view of the same memory (unless each was
    decoded from the body on its own)."""
    if type(fast) is not type(model):
        return False
    if type(fast) is float:
        return repr(fast) == repr(model)  # NaN, and -0.0 against 0.0
    if type(fast) is memoryview:
        return (
            fast == model
            and (decoded_twice or fast.obj is model.obj)
            and fast.readonly == model.readonly
            and fast.format == model.format
        )
    return bool(fast == model)


def agree(args: Any) -> bool:
    """Check the quick answer against the model's; whether the quick check
    answered at all."""
    assert CHECK is not None
    fast = CHECK(args)
    if fast is None:
        return False
    kind, kwargs, _ = model_outcome(args)
    assert kind == "ok", f"accepted what the model refuses: {args!r}"
    assert list(fast) == list(kwargs)
    for name in kwargs:
        assert same(fast[name], kwargs[name]), (name, fast[name], kwargs[name])
    return True


def test_the_parameters_are_flat_and_checked_quickly() -> None:
    assert CHECK is not None
    assert agree(VALID)
    assert agree({**VALID, **{KEYS[n]: None for n in ("maybe_blob", "maybe_level")}})


def test_methods_that_are_not_flat_keep_the_model() -> None:
    class Nested(Message):
        model_config = field_ids(values=1)
        values: list[list[_t.I32]]

    class Doubles(Message):
        model_config = field_ids(values=1)
        values: list[_t.Double]

    class Short(Message):
        model_config = field_ids(values=1)
        values: Annotated[list[_t.I32], _t.Constraints(max_length=3)]

    class Constrained(Message):
        model_config = field_ids(name=1)
        name: Annotated[_t.String, _t.Constraints(max_length=3)]

    class Untyped(Message):
        model_config = field_ids(value=1)
        value: Any = None

    assert flat_check(Nested) is None
    assert flat_check(Doubles) is None
    assert flat_check(Short) is None
    assert flat_check(Containers) is None  # messages, maps, sets
    assert flat_check(Constrained) is None
    assert flat_check(Untyped) is None


def test_an_integers_range_from_the_idl_is_the_models() -> None:
    class Ranged(Message):
        model_config = field_ids(level=1, limit=2)
        level: Annotated[_t.I32, _t.Constraints(ge=0, le=10)]
        limit: Annotated[_t.I64, _t.Constraints(ge=1)] | None = None

    check = flat_check(Ranged)
    assert check is not None
    method: Unary[Ranged, None] = Unary(
        route="flat.Flat.ranged", handler="ranged", params=Ranged, reply=None
    )
    for level in (-1, 0, 10, 11):
        for limit in (None, 0, 1, 2**63 - 1, 2**63):
            args = {"1": level, "2": limit}
            quick = check(args)
            try:
                model = method.check_params(args).__dict__
            except ValidationError:
                assert quick is None
            else:
                assert quick == model
            assert (quick is None) == (level not in (0, 10) or limit in (0, 2**63))


@pytest.mark.parametrize("name", FIELDS)
def test_every_hostile_value_gets_the_models_answer(name: str) -> None:
    accepted = 0
    for value in HOSTILE:
        accepted += agree({**VALID, KEYS[name]: value})
    assert accepted > 0  # the quick check ran, and took some of them


@pytest.mark.parametrize("name", FIELDS)
def test_a_missing_parameter_is_defaulted_or_left_to_the_model(name: str) -> None:
    args = {key: value for key, value in VALID.items() if key != KEYS[name]}
    answered = agree(args)
    field = FlatParams.model_fields[name]
    assert answered == (not field.is_required())
    if answered:
        assert CHECK is not None
        kwargs = CHECK(args)
        assert kwargs is not None and same(kwargs[name], field.default)
        # The same object, or a copy where the model copies it (a list).
        model = METHOD.check_params(args).__dict__[name]
        assert (kwargs[name] is field.default) == (model is field.default)


def test_the_bounds_are_taken_quickly() -> None:
    assert CHECK is not None
    taken: dict[str, list[Any]] = {
        "tiny": [-128, 127],
        "small": [-(2**15), 2**15 - 1],
        "medium": [-(2**31), 2**31 - 1],
        "large": [-(2**63), 2**63 - 1],
        "single": [FLOAT32_MAX, -FLOAT32_MAX, 2**53, 3],
        "precise": [math.nan, math.inf, -math.inf, 1e308, -0.0, 2**53, 7],
        "text": ["\udc80", ""],
        "blob": [b"", ATTACHED],
        "color": [1, -2, 16],
        "counts": [[], list(range(MAX_QUICK_ITEMS))],
        "names": [["\udc80"] * MAX_QUICK_ITEMS],
    }
    for name, values in taken.items():
        for value in values:
            assert agree({**VALID, KEYS[name]: value}), (name, value)
    left: dict[str, list[Any]] = {
        "tiny": [128, -129],
        "medium": [2**31, -(2**31) - 1],
        "large": [2**63, -(2**63) - 1],
        "single": [1e39, math.inf],
        "color": [True, 4.0, 4, Color.GREEN],
        "blob": ["ab", memoryview(b"abcd")[::2]],
        "flag": [1, 0.0],
        "counts": [list(range(MAX_QUICK_ITEMS + 1)), (1,), [1, 2**15]],
        "names": [["a"] * (MAX_QUICK_ITEMS + 1)],
    }
    for name, values in left.items():
        for value in values:
            assert CHECK({**VALID, KEYS[name]: value}) is None, (name, value)
    # A list too long is left to the model before any other parameter is tested.
    long_first = {**VALID, "2": "not an i8", "20": list(range(MAX_QUICK_ITEMS + 1))}
    assert CHECK(long_first) is None


@pytest.mark.parametrize(
    "extra",
    [{"99": "a newer client's"}, {"0": 1}, {"x": 2}, {"99": 1, "x": 2}],
    ids=["newer-id", "id-0", "not-an-id", "both"],
)
@pytest.mark.parametrize("defaults", ["given", "missing"])
def test_a_key_the_parameters_do_not_hold_is_the_models_to_judge(
    extra: dict[str, Any], defaults: str
) -> None:
    # pydantic releases differ on a key that is not an id (refused, or dropped
    # as a newer client's id is): the quick check leaves any unknown key to the
    # model, whether the defaulted parameters are given or not, and reading the
    # body gives what the model gives.
    assert CHECK is not None
    args = dict(VALID)
    if defaults == "missing":
        for name in FIELDS:
            if not FlatParams.model_fields[name].is_required():
                args.pop(KEYS[name], None)
        assert CHECK(args) is not None
    args.update(extra)
    assert CHECK(args) is None
    quick, model = read_both(*body_of(args))
    assert quick[0] == model[0]
    if quick[0] == "refused":
        assert quick[1] == model[1]
    else:
        assert list(quick[1]) == list(model[1]) == FIELDS
        for name in FIELDS:
            assert same(quick[1][name], model[1][name], decoded_twice=True), name


def test_a_parameter_under_its_python_name_is_the_models_to_read() -> None:
    # The model takes a name when the wire id is missing, and the id when both are.
    assert CHECK is not None
    by_name = {**VALID, "flag_default": False}
    assert CHECK(by_name) is None and model_outcome(by_name)[1]["flag_default"] is False
    assert CHECK({**VALID, "12": False, "flag_default": "ignored"}) is None
    assert CHECK({**VALID, "flag": "ignored"}) is None


def test_what_is_not_a_map_is_the_models_to_refuse() -> None:
    assert CHECK is not None
    for args in (None, [], [VALID], "x", 1):
        assert CHECK(args) is None
        assert model_outcome(args)[0] == "refused"


def body_of(args: dict[str, Any]) -> tuple[bytes, list[Any]]:
    """The body and attachment frames of a request: every buffer travels as an
    attachment."""
    attachments: list[Any] = []
    wire: dict[str, Any] = {}
    for key, value in args.items():
        if isinstance(value, (bytes, memoryview)):
            index = len(attachments)
            attachments.append(value)
            value = msgpack.ExtType(ATTACHMENT_EXT_TYPE, index.to_bytes(4, "big"))
        wire[key] = value
    return msgpack.packb(wire, use_bin_type=True), attachments


def read_both(body: bytes, attachments: list[Any]) -> tuple[Any, Any]:
    outcomes: list[tuple[str, Any]] = []
    for read in (
        METHOD.read_kwargs,
        lambda b, a: METHOD.read_params(b, a).__dict__,
    ):
        try:
            outcomes.append(("ok", read(body, attachments)))
        except InvalidArgument as exc:
            outcomes.append(("refused", (str(exc), exc.details)))
    return outcomes[0], outcomes[1]


def carried(value: Any) -> bool:
    """Whether msgpack can carry ``value`` (the other values are only ever
    checked, as a checking channel does, never sent)."""
    if type(value) is int:
        return -(2**63) <= value < 2**64
    if type(value) is list:
        return all(map(carried, value))
    return type(value) in (float, bool, str, bytes, type(None)) and value != "\udc80"


WIRE_VALUES = [value for value in HOSTILE if carried(value)]


@pytest.mark.parametrize("name", FIELDS)
def test_a_request_is_read_as_the_model_reads_it(name: str) -> None:
    for value in [*WIRE_VALUES, b"attached"]:
        args = {**VALID, KEYS[name]: value}
        for inline in (True, False):
            attachments: list[Any] = []
            if inline:
                body = msgpack.packb(args, use_bin_type=True)
            else:
                body, attachments = body_of(args)
            quick, model = read_both(body, attachments)
            assert quick[0] == model[0], (name, value)
            if quick[0] == "refused":
                assert quick[1] == model[1]
            else:
                for n in FIELDS:
                    assert same(quick[1][n], model[1][n], decoded_twice=inline), n


def test_a_malformed_body_is_refused_as_before() -> None:
    quick, model = read_both(b"\xc1", [])
    assert quick == model and quick[0] == "refused"


def test_a_flat_request_is_read_without_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_model(self: Unary[Any, Any], value: Any) -> Any:
        raise AssertionError("the model was used")

    method: Unary[FlatParams, None] = Unary(
        route="flat.Flat.other", handler="other", params=FlatParams, reply=None
    )
    body, attachments = body_of(VALID)
    monkeypatch.setattr(Unary, "check_params", no_model)
    kwargs = method.read_kwargs(body, attachments)
    assert kwargs["blob"].obj is attachments[0] and kwargs["color"] is Color.BLUE
    with pytest.raises(AssertionError, match="the model was used"):
        method.read_kwargs(*body_of({**VALID, "4": 2**31}))
