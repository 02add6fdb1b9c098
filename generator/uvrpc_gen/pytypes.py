"""IDL types and literals as Python source text.

Three spellings of each IDL type: the *strict* annotation of message fields and of
reply validation (``_t.I64``, ``dict[_t.String, _t.I32]``), the *plain* annotation of
client and server signatures (``int``, ``dict[str, int]``), and default values as
Python literals. All input has passed :mod:`uvrpc_gen.check`.
"""

from __future__ import annotations

from .model import (
    BoolLiteral,
    FloatLiteral,
    IntLiteral,
    ListLiteral,
    Literal,
    NameLiteral,
    StringLiteral,
    TypeRef,
)
from .symbols import SCALAR_TYPES

__all__ = [
    "PLAIN_SCALARS",
    "TYPES_ALIAS",
    "default_literal",
    "plain_annotation",
    "python_bytes",
    "python_string",
    "strict_annotation",
    "uses_scalar_aliases",
]

TYPES_ALIAS = "_t"
"""The name generated modules import ``uvrpc.types`` as."""

PLAIN_SCALARS = {
    "bool": "bool",
    "i8": "int",
    "i16": "int",
    "i32": "int",
    "i64": "int",
    "float": "float",
    "double": "float",
    "string": "str",
    "bytes": "bytes",
}
"""IDL scalar → the plain Python type of signatures."""

_CONTAINERS = {"list": "list", "set": "set", "map": "dict"}


def _annotation(ref: TypeRef, scalars: dict[str, str]) -> str:
    if ref.name in scalars:
        return scalars[ref.name]
    if ref.name in _CONTAINERS:
        arguments = ", ".join(_annotation(a, scalars) for a in ref.arguments)
        return f"{_CONTAINERS[ref.name]}[{arguments}]"
    return ref.name


def strict_annotation(ref: TypeRef, *, optional: bool = False) -> str:
    """The annotation of a message field: runtime aliases for scalars."""
    strict = {k: f"{TYPES_ALIAS}.{v}" for k, v in SCALAR_TYPES.items()}
    text = _annotation(ref, strict)
    return f"{text} | None" if optional else text


def plain_annotation(ref: TypeRef, *, optional: bool = False) -> str:
    """The annotation of a signature: plain Python types."""
    text = _annotation(ref, PLAIN_SCALARS)
    return f"{text} | None" if optional else text


def uses_scalar_aliases(ref: TypeRef) -> bool:
    """Whether the strict annotation of ``ref`` mentions ``uvrpc.types``."""
    return ref.name in SCALAR_TYPES or any(
        uses_scalar_aliases(a) for a in ref.arguments
    )


def python_string(value: str) -> str:
    """A string literal as ``ruff format`` writes it: double quotes unless the text
    holds more double than single quotes."""
    quote = "'" if value.count('"') > value.count("'") else '"'
    out = []
    for char in value:
        if char == "\\" or char == quote:
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif not char.isprintable():
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return f"{quote}{''.join(out)}{quote}"


def python_bytes(value: str) -> str:
    """A bytes literal of the UTF-8 encoding of ``value``."""
    quote = "'" if value.count('"') > value.count("'") else '"'
    out = []
    for byte in value.encode():
        char = chr(byte)
        if char == "\\" or char == quote:
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    return f"b{quote}{''.join(out)}{quote}"


def default_literal(ref: TypeRef, literal: Literal) -> str:
    """A default value as a Python expression of the field's type.

    Integers given for float fields become floats; a set is written ``set()`` when
    empty and ``{...}`` otherwise; enum members keep their ``Enum.MEMBER`` spelling.
    """
    if isinstance(literal, BoolLiteral):
        return "True" if literal.value else "False"
    if isinstance(literal, IntLiteral | FloatLiteral):
        if ref.name in ("float", "double"):
            return repr(float(literal.value))
        return str(literal.value)
    if isinstance(literal, StringLiteral):
        if ref.name == "bytes":
            return python_bytes(literal.value)
        return python_string(literal.value)
    if isinstance(literal, NameLiteral):
        return literal.name
    if isinstance(literal, ListLiteral):
        items = [default_literal(ref.arguments[0], item) for item in literal.items]
        if ref.name == "set":
            return "{" + ", ".join(items) + "}" if items else "set()"
        return "[" + ", ".join(items) + "]"
    key_type, value_type = ref.arguments
    entries = [
        f"{default_literal(key_type, k)}: {default_literal(value_type, v)}"
        for k, v in literal.entries
    ]
    return "{" + ", ".join(entries) + "}"
