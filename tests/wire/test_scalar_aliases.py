"""The scalar aliases of ``uvrpc.types`` are shared by every generated field that
names them; no field may change them for the others."""

from __future__ import annotations

import typing

import pytest
from pydantic import ValidationError

import uvrpc
from uvrpc import types as t


# At module level, as generated code declares them. pydantic 2.11 wrote the
# default of ``code`` into a Field inside the shared I32 alias, and a later
# required field built on I32 took it as its own.
class Defaulted(uvrpc.Message):
    model_config = uvrpc.field_ids(code=1)

    code: t.I32 = 0


class Required(uvrpc.Message):
    model_config = uvrpc.field_ids(times=1)

    times: typing.Annotated[t.I32, t.Constraints(ge=0)]


def test_a_default_on_one_field_is_not_every_fields_default() -> None:
    assert Defaulted().code == 0
    assert Required.model_fields["times"].is_required()
    with pytest.raises(ValidationError, match="times"):
        Required()  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        Required(times=-1)
    with pytest.raises(ValidationError, match="less than or equal to 2147483647"):
        Required(times=2**31)
