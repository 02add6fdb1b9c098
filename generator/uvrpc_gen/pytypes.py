"""IDL types and literals as Python source text.

Each IDL type has a *strict* annotation, for message fields and reply validation
(``_t.I64``, ``dict[_t.String, _t.I32]``), and two *plain* ones for signatures
(``int``, ``dict[str, int]``) which differ only in ``bytes``: where a value is
*received* (a server's parameters, a client's result, a message's attributes) it is
a read-only ``memoryview``, and where it is *sent* (a client's arguments, a server's
result, a message's constructor) any buffer is accepted (``_uvrpc.Buffer``). Default
values are written as Python literals. All input has passed :mod:`uvrpc_gen.check`.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Collection, Iterator, Mapping

from . import constraints
from .layout import Doc, Group, Seq, Union, flat
from .model import (
    BoolLiteral,
    FloatLiteral,
    IntLiteral,
    ListLiteral,
    Literal,
    MapLiteral,
    NameLiteral,
    StringLiteral,
    TypeRef,
)
from .symbols import (
    BYTE_LENGTH,
    CONSTRAINTS,
    DEFAULT,
    RUNTIME_ALIAS,
    SCALAR_TYPES,
    SYMBOLS,
    WELL_KNOWN_TYPES,
)

__all__ = [
    "BUILTINS_ALIAS",
    "RECEIVED_SCALARS",
    "SENT_SCALARS",
    "TYPES_ALIAS",
    "TYPING_ALIAS",
    "builtin",
    "carries_bytes",
    "default_doc",
    "default_literal",
    "field_default_doc",
    "import_alias",
    "imported",
    "is_container_default",
    "python_bytes",
    "python_float",
    "python_name",
    "python_string",
    "received_annotation",
    "received_annotation_doc",
    "sent_abstractly",
    "sent_differs",
    "sent_annotation_doc",
    "shadowing",
    "strict_annotation",
    "strict_annotation_doc",
    "uses_scalar_aliases",
    "written_builtins",
]

TYPES_ALIAS = "_t"
"""The name generated modules import ``uvrpc.types`` as."""

TYPING_ALIAS = "_typing"
"""The name generated modules import ``typing`` as."""

BUILTINS_ALIAS = "_builtins"
"""The name generated modules import ``builtins`` as, when a class of theirs binds
the name of a built-in its annotations use (a method ``list``, a field ``set``)."""

RECEIVED_SCALARS = {
    "bool": "bool",
    "i8": "int",
    "i16": "int",
    "i32": "int",
    "i64": "int",
    "float": "float",
    "double": "float",
    "string": "str",
    "bytes": "memoryview",
    **{name: f"{TYPES_ALIAS}.{SCALAR_TYPES[name]}" for name in WELL_KNOWN_TYPES},
}
"""IDL scalar → the plain Python type of a received value. The well-known types
are named by their ``uvrpc.types`` aliases, which type checkers read as the
standard types (``uuid.UUID``, ``datetime``, ``timedelta``, ``Decimal``), so a
generated module needs no import of its own for them."""

SENT_SCALARS = {**RECEIVED_SCALARS, "bytes": f"{RUNTIME_ALIAS}.{SYMBOLS['Buffer']}"}
"""IDL scalar → the plain Python type of a value to send."""

_CONTAINERS = {"list": "list", "set": "set", "map": "dict"}

_SENT_CONTAINERS = {
    "list": f"{TYPING_ALIAS}.Sequence",
    "set": f"{TYPING_ALIAS}.AbstractSet",
    "map": f"{TYPING_ALIAS}.Mapping",
}
"""A sent container, annotated read-only: ``list[Shape]`` is invariant, so a
caller's ``list[ShapeCircle]`` would not be one, nor a caller's ``list[bytes]`` (or
a received ``list[memoryview]`` sent on) a ``list[Buffer]``; ``Sequence[...]``
takes each, as protobuf's typed stubs take any iterable. A map's keys stay
invariant: a ``map<bytes, V>`` is sent as any of three mappings (see
:func:`_bytes_keyed`)."""

_imports: contextvars.ContextVar[Collection[str]] = contextvars.ContextVar(
    "_imports", default=()
)
"""The stems of the files the module being generated imports."""


@contextlib.contextmanager
def imported(stems: Collection[str]) -> Iterator[None]:
    """Name the definitions of these imported files through their module aliases
    while generating one module."""
    reset = _imports.set(stems)
    try:
        yield
    finally:
        _imports.reset(reset)


_shadowed: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "_shadowed", default=frozenset()
)
"""The built-in names the class being generated binds itself."""

_written: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar(
    "_written", default=None
)
"""The built-in names the module being generated wrote through its alias."""


@contextlib.contextmanager
def written_builtins() -> Iterator[set[str]]:
    """Record the built-in names written as ``_builtins.<name>`` while generating
    one module: the module imports ``builtins`` if any was."""
    written: set[str] = set()
    reset = _written.set(written)
    try:
        yield written
    finally:
        _written.reset(reset)


@contextlib.contextmanager
def shadowing(names: Collection[str]) -> Iterator[None]:
    """Write these built-in names as ``_builtins.<name>`` in the annotations made
    within: inside a class that binds ``list`` (a method, a field), ``list[int]``
    would name that method or field, where ``_builtins.list[int]`` cannot."""
    reset = _shadowed.set(frozenset(names))
    try:
        yield
    finally:
        _shadowed.reset(reset)


def builtin(name: str) -> str:
    """The built-in type ``name`` as an annotation of the class being generated
    spells it (see :func:`shadowing`)."""
    if name not in _shadowed.get():
        return name
    written = _written.get()
    if written is not None:
        written.add(name)
    return f"{BUILTINS_ALIAS}.{name}"


def import_alias(stem: str) -> str:
    """The name a generated module imports the module of ``stem.idl`` as."""
    return f"_{stem}"


def python_name(name: str) -> str:
    """A (possibly qualified) IDL name as generated code spells it: names from an
    imported file go through its module's alias (``common.Item`` is
    ``_common.Item``), local ones stay (``Op.ADD``)."""
    stem, dot, rest = name.partition(".")
    if dot and stem in _imports.get():
        return f"{import_alias(stem)}.{rest}"
    return name


_SHORT_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _annotation(
    ref: TypeRef,
    scalars: Mapping[str, str],
    *,
    constrained: bool = False,
    sent: bool = False,
) -> Doc:
    if ref.name in scalars:
        doc: Doc = builtin(scalars[ref.name])
    elif ref.name in _CONTAINERS:
        arguments = tuple(
            _annotation(a, scalars, constrained=constrained, sent=sent)
            for a in ref.arguments
        )
        if sent:
            container = _SENT_CONTAINERS[ref.name]
        else:
            container = builtin(_CONTAINERS[ref.name])
        doc = Group(f"{container}[", arguments, "]", hug=True)
        if sent and ref.name == "map" and ref.arguments[0].name == "bytes":
            doc = _bytes_keyed(arguments[1])
    else:
        doc = python_name(ref.name)
    return _constrained(ref, doc) if constrained else doc


def _bytes_keyed(value: Doc) -> Doc:
    """A sent ``map<bytes, V>``: ``_t.BytesKeyed[V]``, a mapping keyed by any
    buffer, by ``bytes`` or by ``memoryview``. A mapping's keys are invariant, so
    ``Mapping[Buffer, V]`` alone would refuse the ``dict[bytes, V]`` a caller
    builds (or a handler returns) and the ``dict[memoryview, V]`` a received
    message holds."""
    return Group(f"{TYPES_ALIAS}.BytesKeyed[", (value,), "]", hug=True)


def _constrained(ref: TypeRef, inner: Doc) -> Doc:
    """``inner``, the strict annotation of ``ref``, with ``ref``'s own constraints
    as pydantic enforces them: ``_typing.Annotated[inner, _t.Constraints(...)]``
    (``_t.ByteLength(...)`` for ``bytes``)."""
    given = constraints.values(ref)
    if not given:
        return inner
    keywords = tuple(
        f"{keyword}={_python_value(given[name])}"
        for name, keyword in constraints.FIELD_KEYWORDS.items()
        if name in given
    )
    factory = BYTE_LENGTH if ref.name == "bytes" else CONSTRAINTS
    field = Group(f"{TYPES_ALIAS}.{factory}(", keywords, ")")
    return Group(f"{TYPING_ALIAS}.Annotated[", (inner, field), "]", hug=True)


def _python_value(value: int | float | str) -> str:
    if isinstance(value, str):
        return python_string(value)
    return python_float(value) if isinstance(value, float) else repr(value)


def _optional(doc: Doc, optional: bool) -> Doc:
    return Union(doc) if optional else doc


def strict_annotation_doc(ref: TypeRef, *, optional: bool = False) -> Doc:
    """The annotation of a message field, as a document to lay out."""
    strict = {k: f"{TYPES_ALIAS}.{v}" for k, v in SCALAR_TYPES.items()}
    return _optional(_annotation(ref, strict, constrained=True), optional)


def received_annotation_doc(ref: TypeRef, *, optional: bool = False) -> Doc:
    """The annotation of a received value in a signature, to lay out."""
    return _optional(_annotation(ref, RECEIVED_SCALARS), optional)


def sent_annotation_doc(ref: TypeRef, *, optional: bool = False) -> Doc:
    """The annotation of a value to send in a signature, to lay out: a container
    that holds bytes is a read-only one (see :data:`_SENT_CONTAINERS`)."""
    return _optional(_annotation(ref, SENT_SCALARS, sent=True), optional)


def sent_abstractly(ref: TypeRef) -> bool:
    """Whether the sent annotation of ``ref`` names ``typing``'s read-only
    containers (it is a container)."""
    return ref.name in _CONTAINERS


def sent_differs(ref: TypeRef) -> bool:
    """Whether a value of ``ref`` is sent as another type than a field of it
    holds: ``bytes`` (any buffer), or a container (read-only)."""
    return ref.name in _CONTAINERS or carries_bytes(ref)


def strict_annotation(ref: TypeRef, *, optional: bool = False) -> str:
    """The annotation of a message field: runtime aliases for scalars."""
    return flat(strict_annotation_doc(ref, optional=optional))


def received_annotation(ref: TypeRef, *, optional: bool = False) -> str:
    """The annotation of a received value: plain Python types."""
    return flat(received_annotation_doc(ref, optional=optional))


def carries_bytes(ref: TypeRef) -> bool:
    """Whether ``ref`` is ``bytes`` or a container with ``bytes`` inside, where the
    sent and received annotations differ."""
    return ref.name == "bytes" or any(carries_bytes(a) for a in ref.arguments)


def uses_scalar_aliases(ref: TypeRef) -> bool:
    """Whether the strict annotation of ``ref`` mentions ``uvrpc.types``: its
    scalars' aliases, or the factory of its constraints."""
    return (
        ref.name in SCALAR_TYPES
        or bool(ref.constraints)
        or any(uses_scalar_aliases(a) for a in ref.arguments)
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


def python_float(value: float) -> str:
    """A float literal as ``ruff format`` writes it: ``repr`` without the ``+`` of
    a positive exponent (``1e+16`` is ``1e16``)."""
    return repr(value).replace("e+", "e")


def python_bytes(value: bytes) -> str:
    """A bytes literal: printable ASCII as is, other bytes escaped."""
    return "b" + _quoted(value.decode("latin-1"), lambda char: " " <= char <= "~")


def _view_of(data: str) -> Group:
    """``memoryview(data)``, a call whose brackets ruff splits, as it splits any
    call's, when the line up to its ``(`` fits (rather than wrapping it in
    parentheses, as it wraps a value that cannot split)."""
    return Group(f"{builtin('memoryview')}(", (data,), ")", hug=True)


def default_doc(ref: TypeRef, literal: Literal, *, received: bool = False) -> Doc:
    """A default value as a Python expression of the field's type, to lay out.

    Integers given for float fields become floats; bytes are a bytes literal (or
    a constant), which a parameter taking bytes accepts, or with ``received`` (a
    message field's default) a ``memoryview`` of one, as received bytes are; a
    set is written ``set()`` when empty and ``{...}`` otherwise; enum members keep
    their ``Enum.MEMBER`` spelling.
    """
    if isinstance(literal, BoolLiteral):
        return "True" if literal.value else "False"
    if isinstance(literal, IntLiteral | FloatLiteral):
        if ref.name in ("float", "double"):
            return python_float(float(literal.value))
        return str(literal.value)
    if isinstance(literal, StringLiteral):
        if ref.name == "bytes":
            data = python_bytes(literal.data)
            return _view_of(data) if received else data
        return python_string(literal.value)
    if isinstance(literal, NameLiteral):
        name = python_name(literal.name)
        # A constant of type bytes is a bytes object; received bytes are views.
        if received and ref.name == "bytes":
            return _view_of(name)
        return name
    if isinstance(literal, ListLiteral):
        items = tuple(default_doc(ref.arguments[0], item) for item in literal.items)
        if ref.name == "set":
            return (
                Group("{", items, "}", display=True) if items else f"{builtin('set')}()"
            )
        return Group("[", items, "]", display=True)
    key_type, value_type = ref.arguments
    entries = tuple(
        Seq((flat(default_doc(key_type, k)), ": ", default_doc(value_type, v)))
        for k, v in literal.entries
    )
    return Group("{", entries, "}", display=True)


def field_default_doc(ref: TypeRef, literal: Literal) -> Doc:
    """A message field's default, to lay out: :func:`default_doc` of a received
    value, and a list, set or map given to ``_t.default(...)``, pydantic's field
    of that default, which a linter does not take for a mutable value shared by
    every instance of the class (ruff's RUF012)."""
    value = default_doc(ref, literal, received=True)
    if not is_container_default(literal):
        return value
    return Group(f"{TYPES_ALIAS}.{DEFAULT}(", (value,), ")", hug=True)


def is_container_default(literal: Literal) -> bool:
    """Whether ``literal`` is a list, set or map: a default written with
    ``_t.default`` in a message field."""
    return isinstance(literal, ListLiteral | MapLiteral)


def default_literal(ref: TypeRef, literal: Literal) -> str:
    """A default value as a Python expression on one line."""
    return flat(default_doc(ref, literal))
