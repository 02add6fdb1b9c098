"""Constraints on values (``string(max_len = 50)``, ``i32(min = 0)``) as the IDL
spells them, read from and written for the models generated code declares.

Generated code declares a constraint as ``pydantic.Field`` metadata inside
``typing.Annotated`` (``Annotated[_t.String, Field(max_length=50)]``); pydantic
enforces it wherever a value is validated, so a server refuses a violating value
with ``INVALID_ARGUMENT`` naming its field path and a client sees a
``ValidationError``. This module maps between the two spellings, in both
directions: :mod:`uvrpc.services.reflection` describes a constrained type as
``string(max_len = 50)``, and :func:`doc_text` is the sentence a generated
docstring holds about it ("At most 50 characters."), which reflection leaves out of
a description as the type already says it. It also takes constraints off a
described type for the readers of descriptions that only need its shape
(``uvrpc call``'s JSON conversion).

The names: ``min`` and ``max`` (inclusive bounds of a number), ``min_len`` and
``max_len`` (inclusive bounds of a length: characters, i.e. Unicode code points, of
a string; bytes of ``bytes``; items of a list or set; entries of a map) and
``pattern`` (a regular expression a string must match somewhere: anchor it with
``^`` and ``$`` to match the whole string). Patterns are compiled by pydantic's
default engine, Rust's ``regex`` crate, which has no look-around and no
backreferences.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ESCAPES",
    "FIELD_KEYWORDS",
    "LENGTH_UNITS",
    "NUMBERS",
    "Shape",
    "constraint_text",
    "doc_text",
    "float_literal",
    "from_metadata",
    "literal_text",
    "plain_type",
    "string_literal",
]

FIELD_KEYWORDS: Mapping[str, str] = {
    "min": "ge",
    "max": "le",
    "min_len": "min_length",
    "max_len": "max_length",
    "pattern": "pattern",
}
"""Each constraint's IDL name → the ``pydantic.Field`` keyword that enforces it."""

NUMBERS = frozenset({"i8", "i16", "i32", "i64", "float", "double"})
"""The IDL types ``min`` and ``max`` apply to."""

LENGTH_UNITS: Mapping[str, tuple[str, str]] = {
    "string": ("character", "characters"),
    "bytes": ("byte", "bytes"),
    "list": ("item", "items"),
    "set": ("item", "items"),
    "map": ("entry", "entries"),
}
"""The IDL types ``min_len`` and ``max_len`` apply to, with what they count."""

_METADATA = {
    "Ge": ("min", "ge"),
    "Le": ("max", "le"),
    "MinLen": ("min_len", "min_length"),
    "MaxLen": ("max_len", "max_length"),
}


@dataclass(frozen=True, slots=True)
class Shape:
    """A type with its constraints, as both spellings are read into: the IDL
    ``name`` (``string``, ``list``…), its ``constraints`` by IDL name (values are
    ``int``, ``float`` or ``str``) and its type ``arguments``."""

    name: str
    constraints: Mapping[str, int | float | str]
    arguments: tuple[Shape, ...] = ()


def from_metadata(metadata: tuple[Any, ...]) -> dict[str, int | float | str]:
    """The constraints of ``Annotated`` metadata that generated code adds to a
    type (``pydantic.Field`` objects holding ``annotated_types`` bounds and a
    pattern), by IDL name; metadata of other kinds is ignored."""
    found: dict[str, int | float | str] = {}
    for item in metadata:
        for part in getattr(item, "metadata", None) or (item,):
            known = _METADATA.get(type(part).__name__)
            if known is not None:
                found[known[0]] = getattr(part, known[1])
            pattern = getattr(part, "pattern", None)
            if isinstance(pattern, str):
                found["pattern"] = pattern
    return found


ESCAPES: Mapping[str, str] = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\t": "\\t",
    "\r": "\\r",
}
"""The characters an IDL string literal writes with a short escape."""


def string_literal(text: str) -> str:
    """Text as an IDL string literal: quoted, with ``\\``, ``"``, newlines and
    tabs escaped, and every other character that does not print as itself as
    ``\\uNNNN``: control characters, line and paragraph separators, and invisible
    format characters (``\\u202e``, which would show the rest of the line
    reversed, ``\\u200b``, ``\\ufeff``), as the generator writes them in Python.
    Those above U+FFFF are written as they are: the IDL has no escape for them."""
    out = []
    for char in text:
        if char in ESCAPES:
            out.append(ESCAPES[char])
        elif not char.isprintable() and ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return f'"{"".join(out)}"'


def float_literal(value: float) -> str:
    """A finite number as an IDL float literal (``1.0``, ``-2.5e+30``).

    Raises:
        ValueError: ``value`` is NaN or infinite, which the IDL cannot write.
    """
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{number!r} cannot be written in IDL")
    text = repr(number)
    return text if any(c in text for c in ".e") else f"{text}.0"


def literal_text(name: str, value: int | float | str, type_name: str) -> str:
    """The value of constraint ``name`` on a ``type_name`` as an IDL literal."""
    if isinstance(value, str):
        return string_literal(value)
    if type_name in ("float", "double") and name in ("min", "max"):
        return float_literal(value)
    return str(int(value))


def constraint_text(
    type_name: str, constraints: Mapping[str, int | float | str]
) -> str:
    """The constraints of a type as the IDL writes them after it,
    ``(min_len = 1, max_len = 50)`` (in the order of :data:`FIELD_KEYWORDS`), or
    ``""`` when there are none."""
    parts = [
        f"{name} = {literal_text(name, constraints[name], type_name)}"
        for name in FIELD_KEYWORDS
        if name in constraints
    ]
    return f"({', '.join(parts)})" if parts else ""


def plain_type(text: str) -> str:
    """A described type without its constraints: ``list<string(max_len = 8)>(max_len
    = 10)`` is ``list<string>``."""
    out: list[str] = []
    depth = 0
    quoted = escaped = False
    for char in text:
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
            continue
        if depth:
            if char == '"':
                quoted = True
            elif char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
            continue
        if char == "(":
            depth = 1
            continue
        out.append(char)
    return "".join(out)


def _plural(count: int | float | str, units: tuple[str, str]) -> str:
    return f"{count} {units[0] if count == 1 else units[1]}"


def _phrases(shape: Shape) -> list[str]:
    """What a type's own constraints require, as lower-case phrases."""
    given = shape.constraints
    phrases: list[str] = []
    units = LENGTH_UNITS.get(shape.name, ("", ""))
    low, high = given.get("min_len"), given.get("max_len")
    if low is not None and high is not None:
        if low == high:
            phrases.append(f"exactly {_plural(low, units)}")
        else:
            phrases.append(f"{low} to {_plural(high, units)}")
    elif low is not None:
        phrases.append(f"at least {_plural(low, units)}")
    elif high is not None:
        phrases.append(f"at most {_plural(high, units)}")
    low, high = given.get("min"), given.get("max")
    if low is not None and high is not None:
        phrases.append(f"from {low!r} to {high!r}")
    elif low is not None:
        phrases.append(f"at least {low!r}")
    elif high is not None:
        phrases.append(f"at most {high!r}")
    if "pattern" in given:
        phrases.append(f"matching the pattern ``{_printable(str(given['pattern']))}``")
    return phrases


def _printable(text: str) -> str:
    """``text`` with its control characters and line and paragraph separators
    written ``\\uNNNN``: the sentence goes into a generated docstring, where a NUL
    would not compile, a carriage return would end the line and the others do not
    show."""
    return "".join(
        f"\\u{ord(char):04x}"
        if unicodedata.category(char) in ("Cc", "Zl", "Zp")
        else char
        for char in text
    )


def _nested(shape: Shape) -> list[str]:
    """A type's phrases followed by those of its elements, keys and values."""
    phrases = _phrases(shape)
    roles: dict[str, tuple[str, ...]] = {
        "list": ("each item",),
        "set": ("each item",),
        "map": ("each key", "each value"),
    }
    names = roles.get(shape.name, ())
    for role, argument in zip(names, shape.arguments, strict=False):
        inner = _nested(argument)
        if inner:
            phrases.append(f"{role} {', '.join(inner)}")
    return phrases


def doc_text(shape: Shape) -> str:
    """The sentence a docstring gets for a constrained type ("At most 50
    characters.", "At most 10 items; each item at most 8 characters."), or ``""``
    when neither it nor its elements are constrained."""
    phrases = _nested(shape)
    if not phrases:
        return ""
    text = "; ".join(phrases)
    return f"{text[0].upper()}{text[1:]}."
