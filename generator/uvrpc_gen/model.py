"""The frozen intermediate representation of an IDL file.

The parser builds these nodes, the checker validates them, and the view layer reads
them. Every node carries the :class:`Span` of the name or token an error about it
should point at. Nodes only link downwards (a module holds its definitions, a
message its fields), so the tree is plain, immutable data.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Const",
    "Constraint",
    "Definition",
    "Enum",
    "EnumValue",
    "ExceptionType",
    "Field",
    "Import",
    "FloatLiteral",
    "IntLiteral",
    "ListLiteral",
    "Literal",
    "MapLiteral",
    "Message",
    "Method",
    "Module",
    "ReservedName",
    "ReservedRange",
    "NameLiteral",
    "Service",
    "Span",
    "StringLiteral",
    "BoolLiteral",
    "TypeRef",
    "Typedef",
    "UnionType",
]


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node is in its source file: 1-based line and columns.

    ``end_column`` is exclusive and refers to ``line``; a node that spans several
    lines is underlined to the end of its first line.
    """

    file: str
    line: int
    column: int
    end_column: int


@dataclass(frozen=True, slots=True)
class TypeRef:
    """A type as written: a (possibly dotted) name, its type arguments and the
    constraints on its values.

    ``list<Step>`` is ``TypeRef("list", (TypeRef("Step"),))``; the checker decides
    which names are built-in scalars, containers or definitions of the module.
    ``string(max_len = 50)`` has one :class:`Constraint`.
    """

    name: str
    arguments: tuple[TypeRef, ...]
    span: Span
    constraints: tuple[Constraint, ...] = ()


@dataclass(frozen=True, slots=True)
class Constraint:
    """One constraint on a type's values, ``max_len = 50``: ``span`` points at
    the name; :mod:`uvrpc_gen.constraints` knows the names."""

    name: str
    value: Literal
    span: Span


@dataclass(frozen=True, slots=True)
class IntLiteral:
    """An integer literal (decimal or hexadecimal, possibly negative)."""

    value: int
    span: Span


@dataclass(frozen=True, slots=True)
class FloatLiteral:
    """A floating-point literal such as ``1.5`` or ``-2e3``."""

    value: float
    span: Span


@dataclass(frozen=True, slots=True)
class StringLiteral:
    """A double-quoted string literal, escapes already decoded.

    ``value`` is the text (``\\xNN`` is the character U+00NN) and ``data`` the
    bytes a ``bytes`` default holds (``\\xNN`` is the byte NN, every other
    character its UTF-8 encoding).
    """

    value: str
    data: bytes
    span: Span


@dataclass(frozen=True, slots=True)
class BoolLiteral:
    """``true`` or ``false``."""

    value: bool
    span: Span


@dataclass(frozen=True, slots=True)
class NameLiteral:
    """A dotted name used as a value, such as the enum member ``Op.ADD``."""

    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class ListLiteral:
    """A bracketed list literal ``[a, b]``; also the literal of sets."""

    items: tuple[Literal, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class MapLiteral:
    """A braced map literal ``{k: v}``."""

    entries: tuple[tuple[Literal, Literal], ...]
    span: Span


Literal = (
    IntLiteral
    | FloatLiteral
    | StringLiteral
    | BoolLiteral
    | NameLiteral
    | ListLiteral
    | MapLiteral
)
"""Any literal value a default can be."""


@dataclass(frozen=True, slots=True)
class Field:
    """A message field or a method parameter: ``1: T name = default`` or
    ``1: optional T name`` (the checker refuses an optional with a default).

    ``span`` points at the name and ``id_span`` at the id.
    """

    id: int
    name: str
    type: TypeRef
    optional: bool
    default: Literal | None
    doc: str | None
    span: Span
    id_span: Span


@dataclass(frozen=True, slots=True)
class ReservedRange:
    """Ids (or enum values) ``low`` to ``high`` inclusive, from ``reserved 7 to 9;``.

    A single id has ``low == high``; ``span`` covers the id or the range as written.
    """

    low: int
    high: int
    span: Span

    def __contains__(self, number: object) -> bool:
        return isinstance(number, int) and self.low <= number <= self.high

    @property
    def text(self) -> str:
        """The range as written in the IDL: ``7`` or ``7 to 9``."""
        return str(self.low) if self.low == self.high else f"{self.low} to {self.high}"


@dataclass(frozen=True, slots=True)
class ReservedName:
    """A name no member may take, from ``reserved "old_name";``."""

    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class EnumValue:
    """One member of an enum, ``NAME = value``; ``span`` points at the name."""

    name: str
    value: int
    doc: str | None
    span: Span
    value_span: Span


@dataclass(frozen=True, slots=True)
class Enum:
    """An ``enum`` definition: named integer constants, and the values and names
    its ``reserved`` statements keep from reuse."""

    name: str
    values: tuple[EnumValue, ...]
    doc: str | None
    span: Span
    reserved_ids: tuple[ReservedRange, ...] = ()
    reserved_names: tuple[ReservedName, ...] = ()


@dataclass(frozen=True, slots=True)
class Message:
    """A ``message`` definition: a record of numbered fields, and the ids and names
    its ``reserved`` statements keep from reuse."""

    name: str
    fields: tuple[Field, ...]
    doc: str | None
    span: Span
    reserved_ids: tuple[ReservedRange, ...] = ()
    reserved_names: tuple[ReservedName, ...] = ()


@dataclass(frozen=True, slots=True)
class ExceptionType:
    """An ``exception`` definition: an error a method may declare it throws, with
    numbered fields and ``reserved`` ids and names like a message's."""

    name: str
    fields: tuple[Field, ...]
    doc: str | None
    span: Span
    reserved_ids: tuple[ReservedRange, ...] = ()
    reserved_names: tuple[ReservedName, ...] = ()


@dataclass(frozen=True, slots=True)
class UnionType:
    """A ``union`` definition: a value that is exactly one of its numbered members,
    written as fields (never optional, without defaults), and the ids and names
    its ``reserved`` statements keep from reuse."""

    name: str
    members: tuple[Field, ...]
    doc: str | None
    span: Span
    reserved_ids: tuple[ReservedRange, ...] = ()
    reserved_names: tuple[ReservedName, ...] = ()


@dataclass(frozen=True, slots=True)
class Const:
    """A ``const`` definition: a named value of a type."""

    name: str
    type: TypeRef
    value: Literal
    doc: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class Typedef:
    """A ``typedef``: another name for a type, replaced by the type when checked."""

    name: str
    type: TypeRef
    doc: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class Import:
    """An ``import "path.idl";``: ``path`` as written, relative to the importing
    file; its definitions are named ``<stem>.Name``."""

    path: str
    span: Span

    @property
    def stem(self) -> str:
        """The name the imported file's definitions are qualified with."""
        name = self.path.replace("\\", "/").rpartition("/")[2]
        return name.removesuffix(".idl")


@dataclass(frozen=True, slots=True)
class Method:
    """A method of a service.

    ``returns`` is ``None`` for ``void``; ``name`` keeps the IDL spelling, which is
    also the method's name on the wire. A return type ``stream<T>`` makes the
    server stream items to the caller; a parameter of type ``stream<T>`` makes the
    caller stream items to the server. ``throws`` names the exception types the
    method declares, ``modifiers`` its ``oneway`` / ``idempotent`` keywords with
    their spans.
    """

    name: str
    returns: TypeRef | None
    params: tuple[Field, ...]
    doc: str | None
    span: Span
    throws: tuple[TypeRef, ...] = ()
    modifiers: tuple[tuple[str, Span], ...] = ()

    @property
    def oneway(self) -> bool:
        """Whether the method is ``oneway``: no reply at all."""
        return any(name == "oneway" for name, _ in self.modifiers)

    @property
    def idempotent(self) -> bool:
        """Whether the method is ``idempotent``: a client may retry it."""
        return any(name == "idempotent" for name, _ in self.modifiers)

    @property
    def stream_param(self) -> Field | None:
        """The parameter the caller streams items through, if any."""
        return next((p for p in self.params if p.type.name == "stream"), None)

    @property
    def streams_reply(self) -> bool:
        """Whether the server streams items back (the return type is a stream)."""
        return self.returns is not None and self.returns.name == "stream"

    @property
    def kind(self) -> str:
        """``unary``, ``server`` (streaming), ``client`` (streaming) or ``bidi``."""
        client = self.stream_param is not None
        if self.streams_reply:
            return "bidi" if client else "server"
        return "client" if client else "unary"


@dataclass(frozen=True, slots=True)
class Service:
    """A ``service`` definition: a named set of methods."""

    name: str
    methods: tuple[Method, ...]
    doc: str | None
    span: Span


Definition = Enum | Message | ExceptionType | UnionType | Service | Const | Typedef
"""Any top-level definition that introduces a name."""


@dataclass(frozen=True, slots=True)
class Module:
    """One IDL file: its namespace, its doc comment and its definitions in order.

    ``namespace`` is ``None`` only before checking; the checker reports a missing
    namespace, so a checked module always has one.
    """

    file: str
    namespace: str | None
    namespace_span: Span | None
    doc: str | None
    definitions: tuple[Definition, ...]
    imports: tuple[Import, ...] = ()
