"""IDL types and literals as Python source text.

Three spellings of each IDL type: the *strict* annotation of message fields and of
reply validation (``_t.I64``, ``dict[_t.String, _t.I32]``), the *plain* annotation of
client and server signatures (``int``, ``dict[str, int]``), and default values as
Python literals. All input has passed :mod:`uvrpc_gen.check`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .layout import Doc, Group, Seq, Union, flat
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
    "default_doc",
    "default_literal",
    "plain_annotation",
    "plain_annotation_doc",
    "python_bytes",
    "python_string",
    "strict_annotation",
    "strict_annotation_doc",
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
_SHORT_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _annotation(ref: TypeRef, scalars: Mapping[str, str]) -> Doc:
    if ref.name in scalars:
        return scalars[ref.name]
    if ref.name in _CONTAINERS:
        arguments = tuple(_annotation(a, scalars) for a in ref.arguments)
        return Group(f"{_CONTAINERS[ref.name]}[", arguments, "]", hug=True)
    return ref.name


def _optional(doc: Doc, optional: bool) -> Doc:
    return Union(doc) if optional else doc


def strict_annotation_doc(ref: TypeRef, *, optional: bool = False) -> Doc:
    """The annotation of a message field, as a document to lay out."""
    strict = {k: f"{TYPES_ALIAS}.{v}" for k, v in SCALAR_TYPES.items()}
    return _optional(_annotation(ref, strict), optional)


def plain_annotation_doc(ref: TypeRef, *, optional: bool = False) -> Doc:
    """The annotation of a signature, as a document to lay out."""
    return _optional(_annotation(ref, PLAIN_SCALARS), optional)


def strict_annotation(ref: TypeRef, *, optional: bool = False) -> str:
    """The annotation of a message field: runtime aliases for scalars."""
    return flat(strict_annotation_doc(ref, optional=optional))


def plain_annotation(ref: TypeRef, *, optional: bool = False) -> str:
    """The annotation of a signature: plain Python types."""
    return flat(plain_annotation_doc(ref, optional=optional))


def uses_scalar_aliases(ref: TypeRef) -> bool:
    """Whether the strict annotation of ``ref`` mentions ``uvrpc.types``."""
    return ref.name in SCALAR_TYPES or any(
        uses_scalar_aliases(a) for a in ref.arguments
    )


def _quoted(text: str, printable: Callable[[str], bool]) -> str:
    """``text`` between quotes, escaped: the quote ``ruff format`` prefers (double
    unless the text holds more double than single quotes), short escapes for
    newline, tab and carriage return, and hex escapes for what is not printable."""
    quote = "'" if text.count('"') > text.count("'") else '"'
    out = []
    for char in text:
        code = ord(char)
        if char == "\\" or char == quote:
            out.append("\\" + char)
        elif char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif printable(char):
            out.append(char)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return f"{quote}{''.join(out)}{quote}"


def python_string(value: str) -> str:
    """A string literal as ``ruff format`` writes it."""
    return _quoted(value, str.isprintable)


def python_bytes(value: bytes) -> str:
    """A bytes literal: printable ASCII as is, other bytes escaped."""
    return "b" + _quoted(value.decode("latin-1"), lambda char: " " <= char <= "~")


def default_doc(ref: TypeRef, literal: Literal) -> Doc:
    """A default value as a Python expression of the field's type, to lay out.

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
            return python_bytes(literal.data)
        return python_string(literal.value)
    if isinstance(literal, NameLiteral):
        return literal.name
    if isinstance(literal, ListLiteral):
        items = tuple(default_doc(ref.arguments[0], item) for item in literal.items)
        if ref.name == "set":
            return Group("{", items, "}", display=True) if items else "set()"
        return Group("[", items, "]", display=True)
    key_type, value_type = ref.arguments
    entries = tuple(
        Seq((flat(default_doc(key_type, k)), ": ", default_doc(value_type, v)))
        for k, v in literal.entries
    )
    return Group("{", entries, "}", display=True)


def default_literal(ref: TypeRef, literal: Literal) -> str:
    """A default value as a Python expression on one line."""
    return flat(default_doc(ref, literal))
