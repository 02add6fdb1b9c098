"""Property tests: every valid message survives the wire unchanged, and every value
outside an integer field's width is refused with that field's name."""

from __future__ import annotations

import math
from typing import Any

import pytest
from golden.all_types import Color, Containers, Item, Scalars, Tree
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from uvrpc.codec import new_packer, unpack

# Integer fields of Scalars: (width in bits, wire id).
WIDTHS = {"tiny": (8, "2"), "small": (16, "3"), "medium": (32, "4"), "large": (64, "5")}


def ints(bits: int) -> st.SearchStrategy[int]:
    return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


colors = st.sampled_from(Color)
items = st.builds(Item, name=st.text(), payload=st.none() | st.binary())
scalars = st.builds(
    Scalars,
    flag=st.booleans(),
    tiny=ints(8),
    small=ints(16),
    medium=ints(32),
    large=ints(64),
    single=st.floats(width=32, allow_nan=False),
    precise=st.floats(allow_nan=False),
    text=st.text(),
    blob=st.binary(),
    color_default=colors,
)
containers = st.builds(
    Containers,
    index=st.dictionaries(ints(32), st.dictionaries(st.text(), st.lists(items))),
    matrix=st.lists(st.lists(ints(32))),
    colors=st.sets(colors),
    weights=st.dictionaries(st.text(), st.floats(allow_nan=False)),
    maybe_items=st.none() | st.lists(items),
    tags=st.sets(st.text()),
)
trees = st.recursive(
    st.builds(Tree, label=st.text()),
    lambda children: st.builds(
        Tree,
        label=st.text(),
        left=st.none() | children,
        children=st.lists(children, max_size=3),
    ),
    max_leaves=20,
)


def wire(message: Any) -> Any:
    return unpack(new_packer().pack(message))


@given(scalars)
def test_scalars_roundtrip(message: Scalars) -> None:
    assert Scalars.model_validate(wire(message)) == message


@given(containers)
def test_containers_roundtrip(message: Containers) -> None:
    decoded = Containers.model_validate(wire(message))
    assert decoded == message
    assert isinstance(decoded.colors, set) and isinstance(decoded.tags, set)


@given(trees)
def test_recursive_messages_roundtrip(message: Tree) -> None:
    assert Tree.model_validate(wire(message)) == message


def zeros(**changes: Any) -> Scalars:
    """A valid Scalars with every required field zero or empty."""
    fields: dict[str, Any] = dict(
        flag=False,
        tiny=0,
        small=0,
        medium=0,
        large=0,
        single=0.0,
        precise=0.0,
        text="",
        blob=b"",
    )
    return Scalars(**(fields | changes))


def test_nan_and_infinities_survive() -> None:
    message = Scalars.model_validate(wire(zeros(single=math.inf, precise=math.nan)))
    assert message.single == math.inf and math.isnan(message.precise)


@pytest.mark.parametrize("field", sorted(WIDTHS))
@given(data=st.data())
def test_integers_outside_their_width_are_refused(
    field: str, data: st.DataObject
) -> None:
    bits, wire_id = WIDTHS[field]
    limit = 2 ** (bits - 1)
    value = data.draw(
        st.integers(max_value=-limit - 1) | st.integers(min_value=limit), label=field
    )
    body = wire(zeros())
    body[wire_id] = value
    with pytest.raises(ValidationError) as caught:
        Scalars.model_validate(body)
    assert [error["loc"] for error in caught.value.errors()] == [(field,)]


def test_float_outside_single_precision_is_refused() -> None:
    body = wire(zeros())
    body["6"] = 3.5e38
    with pytest.raises(ValidationError, match="out of range for a 32-bit float"):
        Scalars.model_validate(body)
