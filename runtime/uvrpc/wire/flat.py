"""A quicker check of flat parameters and results, with pydantic's errors.

Most methods take and return only scalars (``bool``, ``i8`` … ``i64``, ``float``,
``double``, ``string``, ``bytes``), enums, ``optional`` ones and flat lists of them.
Checking such values needs no general validator: a type test and a range test
each. :func:`flat_params` and :func:`flat_value` build such a check from the
pydantic core schema of a method's parameters model or result type, once, when the
method is first used; anything else in the schema (a message, a union, a map, a
set, a well-known type, a constraint other than an integer's range, a list's
length) leaves the method to pydantic alone.

The quick check only ever *accepts*. A value it does not accept at once — a wrong
type, a number out of range, a missing parameter, an ``int`` subclass, a tuple
where a list is declared — goes to pydantic, which takes it or raises its usual
error. So every error is pydantic's, word for word and path for path, and the quick
check needs to agree with pydantic only on what it accepts: the same values, to the
same result (``3`` for a ``double`` is ``3.0``; an omitted parameter takes its
default, a list default copied as pydantic copies it). ``tests/wire/test_flat.py``
holds the two to that on hostile values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter

from .types import FLOAT32_MAX, Float, as_view

__all__ = ["DEFERRED", "flat_params", "flat_value", "or_else"]

DEFERRED: Any = object()
"""What a quick check returns for a value it leaves to pydantic (:func:`or_else`)."""
_MISSING: Any = object()

_Check = Callable[[Any], Any]

# Integers whose float is exact: a larger one is left to pydantic, whose
# conversion is the one that counts.
_EXACT_FLOAT_INT = 2**53

# Keys of a core schema that do not change what it accepts or produces.
_INERT = frozenset({"metadata", "ref", "serialization"})


def _keys(schema: Mapping[str, Any], *allowed: str) -> bool:
    """Whether ``schema`` has no key but ``type``, ``allowed`` and inert ones."""
    return all(key in allowed or key in _INERT or key == "type" for key in schema)


def _check_bool(value: Any) -> Any:
    return value if type(value) is bool else DEFERRED


def _check_str(value: Any) -> Any:
    # pydantic's strict str takes any str, lone surrogates too: only encoding
    # refuses them.
    return value if type(value) is str else DEFERRED


def _check_double(value: Any) -> Any:
    kind = type(value)
    if kind is float:
        return value
    if kind is int and -_EXACT_FLOAT_INT <= value <= _EXACT_FLOAT_INT:
        return float(value)
    return DEFERRED


def _check_float32(value: Any) -> Any:
    checked = _check_double(value)
    if (
        checked is not DEFERRED
        and math.isfinite(checked)
        and abs(checked) > FLOAT32_MAX
    ):
        return DEFERRED
    return checked


def _check_bytes(value: Any) -> Any:
    try:
        return as_view(value)
    except Exception:  # pydantic says what is wrong with it
        return DEFERRED


def _int_check(low: int | None, high: int | None) -> _Check:
    lo = -math.inf if low is None else low
    hi = math.inf if high is None else high

    def check(value: Any) -> Any:
        return value if type(value) is int and lo <= value <= hi else DEFERRED

    return check


def _enum_check(cls: type, members: list[Any]) -> _Check:
    by_value = {member.value: member for member in members}

    def check(value: Any) -> Any:
        kind = type(value)
        if kind is int:
            return by_value.get(value, DEFERRED)
        return value if kind is cls else DEFERRED

    return check


def _nullable(inner: _Check) -> _Check:
    def check(value: Any) -> Any:
        return None if value is None else inner(value)

    return check


def _list_of(item: _Check, items: Mapping[str, Any]) -> _Check:
    """A list's check; a list of one plain type is tested in one pass in C."""
    kind = items["type"]
    same: type | None = None
    if item is _check_bool or item is _check_str:
        same = bool if item is _check_bool else str
    elif kind == "int" and not ({"ge", "le"} & items.keys()):
        same = int

    if same is not None:
        plain = same

        def check_plain(value: Any) -> Any:
            if type(value) is not list:
                return DEFERRED
            for element in value:
                if type(element) is not plain:
                    return DEFERRED
            return list(value)

        return check_plain

    if kind == "int":
        low, high = items.get("ge"), items.get("le")
        lo = -math.inf if low is None else low
        hi = math.inf if high is None else high

        def check_ints(value: Any) -> Any:
            if type(value) is not list:
                return DEFERRED
            for element in value:
                if type(element) is not int:
                    return DEFERRED
            if value and not (lo <= min(value) and max(value) <= hi):
                return DEFERRED
            return list(value)

        return check_ints

    def check(value: Any) -> Any:
        if type(value) is not list:
            return DEFERRED
        out = []
        for element in value:
            checked = item(element)
            if checked is DEFERRED:
                return DEFERRED
            out.append(checked)
        return out

    return check


def _value_check(schema: Mapping[str, Any], refs: Mapping[str, Any]) -> _Check | None:
    """The quick check of values of a core schema, or ``None`` if the schema is
    not one this module knows exactly."""
    kind = schema.get("type")
    if kind == "definition-ref":
        target = refs.get(schema.get("schema_ref", ""))
        return None if target is None else _value_check(target, refs)
    if kind == "bool" and schema.get("strict") is True and _keys(schema, "strict"):
        return _check_bool
    if (
        kind == "int"
        and schema.get("strict") is True
        and _keys(schema, "strict", "ge", "le")
    ):
        low, high = schema.get("ge"), schema.get("le")
        if any(b is not None and type(b) is not int for b in (low, high)):
            return None
        return _int_check(low, high)
    if kind == "float" and schema.get("strict") is True and _keys(schema, "strict"):
        return _check_double
    if kind == "function-after":
        # Float's range check: the very function, on a strict float.
        return _check_float32 if _same(schema, _float32_schema()) else None
    if kind == "str" and schema.get("strict") is True and _keys(schema, "strict"):
        return _check_str
    if kind == "json-or-python" and _keys(schema, "json_schema", "python_schema"):
        python = schema["python_schema"]
        if (
            python.get("type") == "function-plain"
            and _keys(python, "function")
            and python["function"].get("function") is as_view
        ):
            return _check_bytes
        return None
    if kind == "chain" and _keys(schema, "steps"):
        return _enum_of_chain(schema["steps"], refs)
    if kind == "nullable" and _keys(schema, "schema"):
        inner_check = _value_check(schema["schema"], refs)
        return None if inner_check is None else _nullable(inner_check)
    if kind == "list" and _keys(schema, "items_schema", "fail_fast"):
        items = schema.get("items_schema")
        if not isinstance(items, Mapping):
            return None
        if items.get("type") == "definition-ref":
            items = refs.get(items.get("schema_ref", ""), {})
        if items.get("type") == "list":
            return None  # flat lists only
        item = _value_check(items, refs)
        return None if item is None else _list_of(item, items)
    return None


@cache
def _float32_schema() -> Mapping[str, Any]:
    """The core schema of :data:`uvrpc.types.Float`."""
    return TypeAdapter(Float).core_schema


def _same(schema: Mapping[str, Any], known: Mapping[str, Any]) -> bool:
    """Whether two schemas are equal but for their inert keys."""
    mine = {k: v for k, v in schema.items() if k not in _INERT}
    theirs = {k: v for k, v in known.items() if k not in _INERT}
    if mine.keys() != theirs.keys():
        return False
    return all(
        _same(mine[k], theirs[k])
        if isinstance(mine[k], Mapping) and isinstance(theirs[k], Mapping)
        else mine[k] == theirs[k]
        for k in mine
    )


def _enum_of_chain(steps: list[Any], refs: Mapping[str, Any]) -> _Check | None:
    """The check of a :class:`uvrpc.Enum`: a strict ``int``, then a member."""
    if len(steps) != 2:
        return None
    first, second = steps
    if first != {"type": "int", "strict": True}:
        return None
    if second.get("type") == "definition-ref":
        second = refs.get(second.get("schema_ref", ""), {})
    if (
        second.get("type") != "enum"
        or second.get("sub_type") != "int"
        or not _keys(second, "cls", "members", "sub_type")
    ):
        return None
    return _enum_check(second["cls"], list(second["members"]))


def _unwrap(schema: Mapping[str, Any]) -> tuple[Mapping[str, Any], dict[str, Any]]:
    """A schema and its definitions by ref, when it comes wrapped in them."""
    if schema.get("type") == "definitions":
        refs = {d["ref"]: d for d in schema.get("definitions", ()) if "ref" in d}
        return schema["schema"], refs
    return schema, {}


def flat_value(schema: Mapping[str, Any]) -> _Check | None:
    """The quick check of a value of the core schema ``schema`` (a method's
    result or stream item), or ``None`` if it is not flat.

    The check returns the validated value, or :data:`DEFERRED` for a value it leaves
    to pydantic; see :func:`or_else`.
    """
    inner, refs = _unwrap(schema)
    return _value_check(inner, refs)


def or_else(quick: _Check | None, slow: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``quick``, falling back on ``slow`` (pydantic's validator, which accepts or
    raises its own error) for a value ``quick`` leaves to it; ``slow`` alone when
    there is no quick check."""
    if quick is None:
        return slow
    bad = DEFERRED

    def check(value: Any) -> Any:
        checked = quick(value)
        return slow(value) if checked is bad else checked

    return check


def _default(field: Mapping[str, Any]) -> tuple[bool, Any, bool] | None:
    """Whether a field schema has a default, the default, and whether it is
    copied for each instance (as pydantic copies an unhashable default); ``None``
    for a default this module does not reproduce."""
    if field.get("type") != "default":
        return False, _MISSING, False
    if not _keys(field, "schema", "default"):
        return None  # a factory, validate_default, on_error…
    default = field["default"]
    try:
        hash(default)
    except TypeError:
        if type(default) is list and all(
            isinstance(element, bool | int | float | str) for element in default
        ):
            return True, default, True  # a copy of it is a deep copy
        return None
    return True, default, False


def flat_params(model: type[BaseModel]) -> Callable[[Any], Any] | None:
    """A quick check of a request's decoded parameters as ``model``, dropping
    parameters ``model`` does not know (as
    :func:`~uvrpc.wire.unknown.ignoring_unknown` does), or ``None`` if a
    parameter is not flat or the model does more than hold its fields.

    The check returns the model, or :data:`DEFERRED` for arguments it leaves to
    pydantic (see :func:`or_else`).
    """
    schema, refs = _unwrap(model.__pydantic_core_schema__)
    fields_schema = schema.get("schema", {})
    if (
        schema.get("type") != "model"
        or schema.get("cls") is not model
        or schema.get("root_model")
        or schema.get("custom_init")
        or schema.get("post_init")
        or model.__private_attributes__
        or fields_schema.get("type") != "model-fields"
        or fields_schema.get("computed_fields")
        or fields_schema.get("model_validators")
    ):
        return None
    plan: list[tuple[str, str, _Check, Any, bool]] = []
    for name, field in fields_schema["fields"].items():
        alias = field.get("validation_alias")
        if field.get("type") != "model-field" or type(alias) is not str:
            return None
        if not _keys(field, "schema", "validation_alias", "serialization_alias"):
            return None  # frozen, exclude…: nothing generated code writes
        found = _default(field["schema"])
        if found is None:
            return None
        has_default, default, copied = found
        value_schema = field["schema"]["schema"] if has_default else field["schema"]
        check = _value_check(value_schema, refs)
        if check is None:
            return None
        plan.append((name, alias, check, default, copied))
    return _params_check(model, tuple(plan))


def _params_check(
    model: type[BaseModel], plan: tuple[tuple[str, str, _Check, Any, bool], ...]
) -> Callable[[Any], Any]:
    new = model.__new__
    setattr_ = object.__setattr__
    missing, bad = _MISSING, DEFERRED

    def check(args: Any) -> Any:
        if type(args) is not dict:
            return bad
        values: dict[str, Any] = {}
        given: set[str] = set()
        for name, alias, check_value, default, copied in plan:
            value = args.get(alias, missing)
            if value is missing:
                # As pydantic does (validate_by_name): the field's name, if
                # its id is not there.
                value = args.get(name, missing)
            if value is missing:
                if default is missing:
                    return bad
                values[name] = list(default) if copied else default
                continue
            value = check_value(value)
            if value is bad:
                return bad
            values[name] = value
            given.add(name)
        params = new(model)
        setattr_(params, "__dict__", values)
        setattr_(params, "__pydantic_fields_set__", given)
        setattr_(params, "__pydantic_extra__", None)
        setattr_(params, "__pydantic_private__", None)
        return params

    return check
