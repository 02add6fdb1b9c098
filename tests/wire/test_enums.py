"""Enums on the wire: a member's integer value, and nothing Python merely holds
equal to one.

``True == 1`` and ``4.0 == 4`` in Python, so pydantic took both as members of an
``IntEnum``; ``uvrpc.Enum``, the base of generated enums, takes a member or a
strict integer only, wherever the enum is used: a field, a set, a map's values, a
result.
"""

from __future__ import annotations

from typing import Any

import pytest
from golden.all_types import (
    _SHOWCASE_PALETTE,
    Color,
    Containers,
    _ShowcaseBuildParams,
    _ShowcasePaletteParams,
)
from pydantic import ValidationError

import uvrpc

NOT_MEMBERS = [True, False, 1.0, 16.0, "1"]


def paths(exc: ValidationError) -> list[str]:
    return [".".join(str(p) for p in e["loc"]) for e in exc.errors()]


def test_generated_enums_are_uvrpc_enums() -> None:
    assert issubclass(Color, uvrpc.Enum) and Color(16) is Color.BLUE


@pytest.mark.parametrize("value", NOT_MEMBERS, ids=repr)
def test_a_field_refuses_what_is_not_an_integer(value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        _ShowcaseBuildParams.model_validate({"1": "l", "3": value, "4": []})
    assert paths(caught.value) == ["color"]


@pytest.mark.parametrize("value", [1, -2, 16, Color.GREEN])
def test_a_field_takes_a_members_value_or_the_member(value: Any) -> None:
    params = _ShowcaseBuildParams.model_validate({"1": "l", "3": value, "4": []})
    assert params.color is Color(value)


def test_an_integer_of_no_member_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        _ShowcaseBuildParams.model_validate({"1": "l", "3": 4, "4": []})
    assert caught.value.errors()[0]["msg"] == "Input should be 1, -2 or 16"


@pytest.mark.parametrize("value", [True, 16.0])
def test_sets_and_maps_of_enums_refuse_them_too(value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        _ShowcasePaletteParams.model_validate({"1": [1, value]})
    assert paths(caught.value) == ["wanted.1"]
    with pytest.raises(ValidationError) as caught:
        Containers.model_validate({"1": {}, "7": {"red": value}})
    assert paths(caught.value) == ["named.red"]


def test_a_result_of_enums_refuses_them_too() -> None:
    assert _SHOWCASE_PALETTE.check_reply({"RED": [1]}) == {"RED": [Color.RED]}
    with pytest.raises(ValidationError):
        _SHOWCASE_PALETTE.check_reply({"RED": [True]})


def test_members_travel_as_their_values() -> None:
    params = _ShowcaseBuildParams(label="l", color=Color.GREEN, items=[])
    assert params.model_dump(by_alias=True)["3"] == -2
