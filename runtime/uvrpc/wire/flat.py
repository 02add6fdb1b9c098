"""A server's quick check of flat parameters: the handler's keyword arguments,
without the parameters model.

A server validates each request's parameters with the method's generated model
(:meth:`~uvrpc.wire.methods.Unary.check_params`) and then uses only the model's
``__dict__``, the handler's keyword arguments. When every parameter is *flat* — a
``bool``, a sized integer, a ``float`` or ``double``, a ``string``, ``bytes``, an
enum, an ``optional`` one of those, or a list of ``bool``, integers or strings
(of at most :data:`MAX_QUICK_ITEMS` items; a longer one is the model's) —
accepting a value is a type test and a range test, and the server needs the dict
alone. :func:`flat_check` compiles, once per method, a function doing exactly
that, straight-line, one parameter after the other, and returning the dict
pydantic's model would hold: the same values of the same types (an integer given
for a float becomes a ``float``, ``bytes`` a read-only ``memoryview``, an enum's
value its member), and defaults where a parameter is missing.

It only ever *accepts*. On any value it does not accept it answers ``None`` and
the caller validates with the model, so every refusal keeps pydantic's words and
field path. Besides the values the model refuses, it leaves to the model a few
the model accepts, where telling them apart would cost every call: NaN and
infinities for a ``float`` (single precision), an integer beyond ±2**53 for a
``float`` or ``double``, and any key the parameters do not hold: a newer client's
parameter, which the model drops, or a parameter given under its Python name,
which the model reads (pydantic releases differ on keys that are not ids).

Which schemas are flat is read from the model's pydantic core schema, so the
check follows exactly what pydantic would run (an integer's range, with any
``min``/``max`` the IDL adds, is the core schema's). A field of any other shape
(a list of anything else, a set, a map, a message, a union, a well-known type),
a constraint other than
an integer's range, a validator or a default factory makes the method not flat,
and it is checked by the model alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from pydantic import BaseModel

from .types import FLOAT32_MAX, as_view, check_float32

__all__ = ["MAX_QUICK_ITEMS", "FlatCheck", "flat_check"]

FlatCheck = Callable[[Any], dict[str, Any] | None]
"""A compiled check: the keyword arguments of decoded parameters, or ``None``
when the model must decide."""

_EXACT_FLOAT = 2**53
"""Integers up to this size convert to a float exactly, as pydantic converts
them; larger ones are left to pydantic."""

MAX_QUICK_ITEMS = 64
"""The longest list the quick check takes: a longer one is left to the model.

An item costs about as much to test in a Python loop as pydantic's check of it,
so what the quick check saves by not building the model is a fixed sum, and over
a long list the small difference per item decides
(``python -m uvrpc.bench.micro --validation``, docs/performance.md): eight
parameters with a ``list<i32>`` of 64 read 1.11–1.15× as fast as through the
model, with one of 1000 taken quickly 0.88–1.02× as fast, and left to the model
0.98–1.00×."""

_MISSING = object()

# The names the compiled source may use besides its per-field constants.
_BUILTINS: dict[str, Any] = {
    "type": type,
    "int": int,
    "float": float,
    "bool": bool,
    "str": str,
    "bytes": bytes,
    "dict": dict,
    "len": len,
    "list": list,
    "memoryview": memoryview,
    "KeyError": KeyError,
    "MISSING": _MISSING,
}


class _NotFlat(Exception):
    """A schema that the quick check does not handle."""


def flat_check(model: type[BaseModel]) -> FlatCheck | None:
    """The quick check of ``model``'s parameters, or ``None`` when one of them
    (or the model itself) is not flat.

    The returned function takes the decoded parameters (a dict keyed by wire id)
    and returns what ``ignoring_unknown(model)(args).__dict__`` would, or ``None``
    where it does not accept a value.
    """
    try:
        return _compile(model)
    except _NotFlat:
        return None


def _compile(model: type[BaseModel]) -> FlatCheck:
    schema: Any = model.__pydantic_core_schema__
    definitions: dict[str, Any] = {}
    if schema.get("type") == "definitions":
        definitions = {d["ref"]: d for d in schema["definitions"]}
        schema = schema["schema"]
    if schema.get("type") != "model" or schema.get("custom_init"):
        raise _NotFlat
    if schema.get("post_init") or schema.get("root_model"):
        raise _NotFlat
    fields_schema = schema["schema"]
    if fields_schema.get("type") != "model-fields" or fields_schema.get(
        "computed_fields"
    ):
        raise _NotFlat
    config = schema.get("config", {})
    if config.get("validate_by_alias") is False:
        raise _NotFlat
    by_name = bool(config.get("validate_by_name") or config.get("populate_by_name"))
    constants: dict[str, Any] = dict(_BUILTINS)
    lines = [
        "def check(args):",
        "    if type(args) is not dict:",
        "        return None",
        "    get = args.get",
    ]
    returned = []
    lists: list[str] = []  # the lines of list parameters, checked first
    others: list[str] = []
    defaulted = False  # whether any parameter has a default
    for index, (name, field) in enumerate(fields_schema["fields"].items()):
        if not name.isidentifier() or set(field) - _FIELD_KEYS:
            raise _NotFlat
        key = field.get("validation_alias", name)
        if type(key) is not str or not (key.isdecimal() and key.isascii()):
            raise _NotFlat  # a wire id; the source holds nothing else of the model's
        value = f"v{index}"
        field_schema = _resolve(field["schema"], definitions)
        defaulted = defaulted or field_schema.get("type") == "default"
        # A list too long for the quick check is found before any other work.
        placed = lists if _holds_list(field_schema, definitions) else others
        placed += _field_lines(
            value,
            key,
            name if by_name and name != key else None,
            field_schema,
            definitions,
            constants,
        )
        returned.append(f"{name!r}: {value}")
    # A key the parameters do not hold (a newer client's parameter, a name) is
    # the model's to judge: pydantic releases differ on keys that are not ids.
    # Each defaulted parameter found missing counts in ``missing``, so the keys
    # given are all known exactly when they number the parameters less those.
    count = len(returned)
    if defaulted:
        lines.append("    missing = 0")
        tail = [f"    if len(args) != {count} - missing:", "        return None"]
    else:
        lines += [f"    if len(args) != {count}:", "        return None"]
        tail = []
    lines += lists + others + tail
    lines.append(f"    return {{{', '.join(returned)}}}")
    # The source is fixed text, wire ids (decimal strings), field names (Python
    # identifiers) and integer bounds, all checked above and written as
    # literals; every other value is a constant of the namespace.
    namespace: dict[str, Any] = {"__builtins__": {}, **constants}
    exec("\n".join(lines), namespace)
    return cast(FlatCheck, namespace["check"])


def _holds_list(schema: Any, definitions: Mapping[str, Any]) -> bool:
    """Whether a field's schema is a list's (perhaps optional or defaulted)."""
    while schema.get("type") in ("default", "nullable"):
        schema = _resolve(schema["schema"], definitions)
    return bool(schema.get("type") == "list")


_FIELD_KEYS = frozenset(
    {"type", "schema", "validation_alias", "serialization_alias", "metadata"}
)


def _resolve(schema: Any, definitions: Mapping[str, Any]) -> Any:
    if schema.get("type") == "definition-ref":
        if set(schema) - {"type", "schema_ref", "metadata"}:
            raise _NotFlat
        return definitions[schema["schema_ref"]]
    return schema


def _field_lines(
    value: str,
    key: str,
    name: str | None,
    schema: Any,
    definitions: Mapping[str, Any],
    constants: dict[str, Any],
) -> list[str]:
    """The source checking one parameter into ``value``; ``name`` is its Python
    name when the model also accepts that as a key."""
    if schema.get("type") != "default":
        return [
            f"    {value} = get({key!r}, MISSING)",
            *_value_lines(value, schema, definitions, constants, "    "),
        ]
    if set(schema) - {"type", "schema", "default", "metadata"} or "default" not in (
        schema
    ):
        raise _NotFlat  # a factory, a validated default, on_error…
    default = f"d_{value}"
    constants[default] = schema["default"]
    given = default
    if type(schema["default"]) is list:
        given = f"list({default})"  # pydantic copies a default it cannot hash
    else:
        try:
            hash(schema["default"])  # any other default is one it keeps
        except TypeError:
            raise _NotFlat from None
    body = _value_lines(
        value, _resolve(schema["schema"], definitions), definitions, constants, "    "
    )
    missing = [f"        {value} = {given}", "        missing += 1"]
    if name is not None:  # given under its Python name: the model takes it
        missing.insert(0, f"        if {name!r} in args:\n            return None")
    # The checks of a given value, under an ``else`` of the missing case.
    return [
        f"    {value} = get({key!r}, MISSING)",
        f"    if {value} is MISSING:",
        *missing,
        "    else:",
        *("    " + line for line in body),
    ]


def _value_lines(
    value: str,
    schema: Any,
    definitions: Mapping[str, Any],
    constants: dict[str, Any],
    indent: str,
) -> list[str]:
    """The source checking (and converting) the value in ``value``."""
    kind = schema.get("type")
    if kind == "nullable":
        if set(schema) - {"type", "schema", "metadata"}:
            raise _NotFlat
        inner = _value_lines(
            value,
            _resolve(schema["schema"], definitions),
            definitions,
            constants,
            indent + "    ",
        )
        return [f"{indent}if {value} is not None:", *inner]
    refuse = f"{indent}    return None"
    if kind in ("bool", "str", "int"):
        return [f"{indent}if {_refused(value, schema)}:", refuse]
    if kind == "list":
        if set(schema) - {"type", "items_schema", "fail_fast", "metadata"}:
            raise _NotFlat  # a length constraint
        # The items are only tested, so the decoded list is the value: pydantic
        # returns a copy of it, and nothing else holds it.
        item = _refused("x", _resolve(schema["items_schema"], definitions))
        return [
            f"{indent}if type({value}) is not list or len({value}) > "
            f"{MAX_QUICK_ITEMS}:",
            refuse,
            f"{indent}for x in {value}:",
            f"{indent}    if {item}:",
            f"{indent}        return None",
        ]
    if kind == "float" and _plain(schema):
        return _float_lines(value, indent)
    if kind == "function-after" and _is_float32(schema):
        limit = f"{FLOAT32_MAX!r}"
        return [
            *_float_lines(value, indent),
            # NaN and infinities fail the test too, and pydantic decides them.
            f"{indent}if not -{limit} <= {value} <= {limit}:",
            refuse,
        ]
    if kind == "json-or-python" and _is_bytes(schema):
        return [
            f"{indent}if type({value}) is bytes:",
            f"{indent}    {value} = memoryview({value})",
            f"{indent}elif not (",
            f"{indent}    type({value}) is memoryview and {value}.readonly",
            f"{indent}    and {value}.format == 'B' and {value}.ndim == 1",
            f"{indent}    and {value}.c_contiguous",
            f"{indent}):",
            refuse,
        ]
    if kind == "chain":
        members = _enum_members(schema, definitions)
        table = f"e_{value}"
        constants[table] = members
        return [
            f"{indent}if type({value}) is not int:",
            refuse,
            f"{indent}{value} = {table}.get({value})",
            f"{indent}if {value} is None:",
            refuse,
        ]
    raise _NotFlat


def _refused(value: str, schema: Any) -> str:
    """The test that refuses ``value`` if it is not a value of a ``bool``,
    ``string`` or integer ``schema``."""
    kind = schema.get("type")
    if kind == "bool" and _plain(schema):
        return f"type({value}) is not bool"
    if kind == "str" and _plain(schema):
        return f"type({value}) is not str"
    if kind == "int" and _plain(schema, "ge", "le"):
        low, high = schema.get("ge"), schema.get("le")
        if type(low) is not int or type(high) is not int:
            raise _NotFlat
        return f"type({value}) is not int or not {low!r} <= {value} <= {high!r}"
    raise _NotFlat


def _float_lines(value: str, indent: str) -> list[str]:
    # pydantic's strict float takes an int and returns it as a float; NaN and
    # infinities are kept as they are (allow_inf_nan), and so they are here.
    return [
        f"{indent}if type({value}) is not float:",
        f"{indent}    if type({value}) is not int or not "
        f"-{_EXACT_FLOAT} <= {value} <= {_EXACT_FLOAT}:",
        f"{indent}        return None",
        f"{indent}    {value} = float({value})",
    ]


def _plain(schema: Any, *allowed: str) -> bool:
    """Whether ``schema`` is strict and has no keys but ``allowed`` besides."""
    return schema.get("strict") is True and not (
        set(schema) - {"type", "strict", "metadata", *allowed}
    )


def _is_float32(schema: Any) -> bool:
    function = schema.get("function", {})
    return (
        not set(schema) - {"type", "schema", "function", "metadata"}
        and function.get("type") == "no-info"
        and function.get("function") is check_float32
        and schema["schema"].get("type") == "float"
        and _plain(schema["schema"])
    )


def _is_bytes(schema: Any) -> bool:
    """Whether ``schema`` is :data:`~uvrpc.wire.types.Bytes`' own, unconstrained."""
    python = schema.get("python_schema", {})
    return (
        not set(schema)
        - {"type", "json_schema", "python_schema", "serialization", "metadata"}
        and not set(python) - {"type", "function", "metadata"}
        and python.get("type") == "function-plain"
        and python.get("function", {}).get("function") is as_view
    )


def _enum_members(schema: Any, definitions: Mapping[str, Any]) -> dict[int, Any]:
    """The members of a generated enum by value, from its chain schema (a strict
    integer, then pydantic's enum check)."""
    steps = schema.get("steps", [])
    if set(schema) - {"type", "steps", "metadata"} or len(steps) != 2:
        raise _NotFlat
    first, second = steps[0], _resolve(steps[1], definitions)
    if first.get("type") != "int" or not _plain(first):
        raise _NotFlat
    if second.get("type") != "enum" or second.get("sub_type") != "int":
        raise _NotFlat
    if set(second) - {"type", "cls", "members", "sub_type", "ref", "metadata"}:
        raise _NotFlat  # a ``missing`` hook, strictness of its own…
    members: dict[int, Any] = {}
    for member in second["members"]:
        if type(member.value) is not int:
            raise _NotFlat
        members.setdefault(member.value, member)
    return members
