"""Render-ready views of a checked module.

Everything a template prints is computed here: Python names, annotations, default
literals, docstrings, and the layout of every statement that may need several
lines, by :mod:`uvrpc_gen.layout` the way ``ruff format`` lays it out. The templates
spell the fixed text of each statement; a view holds its variable parts as *slots*,
each laid out for the column the template puts it at: a slot's first line
continues the template's line and its further lines carry their own indentation.
"""

from __future__ import annotations

import dataclasses
import os
import re
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from . import constraints, naming, pytypes
from .check import CheckedModule, has_call_handle
from .layout import (
    LINE_LENGTH,
    Doc,
    Group,
    Seq,
    Union,
    assignment,
    between,
    signature,
    statement,
    width,
)
from .model import (
    Const,
    Enum,
    ExceptionType,
    Field,
    ListLiteral,
    Literal,
    MapLiteral,
    Message,
    Method,
    NameLiteral,
    Service,
    TypeRef,
    UnionType,
)
from .symbols import (
    GENERATED_CODE_API,
    GENERATOR_VERSION,
    PROTOCOL_VERSION,
    RUNTIME_ALIAS,
    RUNTIME_MODULE,
    SYMBOLS,
    TYPES_MODULE,
)

__all__ = [
    "ClassView",
    "ConstView",
    "DescriptorView",
    "EnumView",
    "ExceptionView",
    "FieldView",
    "FunctionView",
    "GENERATED_HEADER",
    "ImportView",
    "InitView",
    "MemberView",
    "MessageView",
    "ModuleView",
    "ServiceView",
    "UnionMemberView",
    "UnionView",
    "docstring",
    "is_generated",
    "module_view",
]

GENERATED_HEADER = "# Generated from "
"""How the first line of every generated module starts; it goes on with
``<file>.idl by uvrpc-gen <version> — do not edit.``"""


def is_generated(first_line: str) -> bool:
    """Whether a module's first line is the header uvrpc-gen writes."""
    return first_line.startswith(GENERATED_HEADER) and " by uvrpc-gen " in first_line


def _bases(name: str, base: str) -> str:
    """The slot between the brackets of ``class name(base):``: the base on a line
    of its own when the header is too long."""
    header = Group(f"class {name}(", (base,), "):", hug=True)
    return between(statement(header, 0), header)


def _escape_doc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def _bare_quote_at_end(text: str) -> bool:
    """Whether escaped docstring text ends with a quote no backslash escapes.

    Only such a quote would run into the closing quotes, so only then does ``ruff
    format`` keep a space before them; after a doc ending with three quotes, which
    are written escaped, it removes the space.
    """
    body = text.removesuffix('"')
    if body == text:
        return False
    return (len(body) - len(body.rstrip("\\"))) % 2 == 0


def _wrap(line: str, room: int, hang: str = "") -> list[str]:
    """Split a line into lines of at most ``room`` columns at spaces, keeping its
    indentation (the lines after the first indented by ``hang`` more); a word
    longer than that stays whole."""
    if width(line) <= room:
        return [line]
    lead = line[: len(line) - len(line.lstrip(" "))]
    lines: list[str] = []
    current = ""
    for word in line.split():
        candidate = f"{current} {word}" if current else lead + word
        if current and width(candidate) > room:
            lines.append(current)
            candidate = lead + hang + word
        current = candidate
    lines.append(current)
    return lines


_SECTIONS = ("Args:", "Raises:")
"""The sections of a method's docstring whose entries (``name: text``, indented by
four) continue on lines indented by four more, as Google-style docstrings do: a
continuation at the entry's own indentation would read as another entry."""


def _hangs(raws: Sequence[str]) -> list[str]:
    """The extra indentation of the wrapped continuation of each line: four spaces
    for an entry of an ``Args:`` or ``Raises:`` section, none elsewhere."""
    hangs: list[str] = []
    section = False
    for raw in raws:
        if not raw.startswith(" "):
            section = raw in _SECTIONS
        entry = section and raw.startswith("    ") and not raw.startswith("     ")
        hangs.append("    " if entry else "")
    return hangs


def docstring(text: str, indent: int) -> tuple[str, ...]:
    """The lines of a docstring holding ``text`` at ``indent``.

    One line when it fits, otherwise the summary on the opening line and the closing
    quotes on their own line; lines too long are wrapped, a line that fits only
    without the closing quotes too (``ruff format`` would join a docstring of one
    line to its quotes). As ``ruff format`` does, tabs are expanded, the common
    indentation of the lines after the first is removed (and whitespace other than
    spaces at the start of a line), and a space keeps a quote at either end from
    touching the triple quotes.
    """
    pad = " " * indent
    text = _escape_doc(text.expandtabs(8).strip())
    if text.startswith('"'):
        text = f" {text}"
    closing = ' """' if _bare_quote_at_end(text) else '"""'
    if "\n" not in text:
        single = f'{pad}"""{text}{closing}'
        if width(single) <= LINE_LENGTH:
            return (single,)
    room = LINE_LENGTH - indent
    raws = [raw.rstrip() for raw in text.split("\n")]
    # ruff format measures a line's indentation in spaces alone, and drops any
    # other whitespace that follows them (a no-break space, U+3000 that indents
    # a paragraph of Japanese): the indentation kept is the spaces past the margin.
    indents = [(len(raw) - len(raw.lstrip(" ")), raw.lstrip()) for raw in raws[1:]]
    margin = min((n for n, rest in indents if rest), default=0)
    raws[1:] = [" " * (n - margin) + rest if rest else "" for n, rest in indents]
    pieces = [
        piece
        for number, (raw, hang) in enumerate(zip(raws, _hangs(raws), strict=True))
        for piece in _wrap(raw, room - 3 if number == 0 else room, hang)
    ]
    if len(pieces) == 1:
        # ruff format joins a docstring of one line to its closing quotes, however
        # long the line: break it where the quotes fit too, or keep it whole if it
        # is one word (a line of one word is not too long for the linter).
        if width(f'{pad}"""{pieces[0]}{closing}') > LINE_LENGTH:
            pieces = _wrap(pieces[0], room - 3 - len(closing))
        if len(pieces) == 1:
            return (f'{pad}"""{pieces[0]}{closing}',)
    lines = [f'{pad}"""{pieces[0]}']
    lines += [f"{pad}{piece}" if piece else "" for piece in pieces[1:]]
    lines.append(f'{pad}"""')
    return tuple(lines)


def _doc(text: str, indent: int) -> str:
    """The slot of a docstring whose template line is indented by ``indent``."""
    return "\n".join(docstring(text, indent))[indent:]


@dataclass(frozen=True, slots=True)
class ImportView:
    """``import name as alias``, or ``from source import name as alias``."""

    source: str | None
    name: str
    alias: str


@dataclass(frozen=True, slots=True)
class MemberView:
    """An enum member ``name = value`` and its docstring slot (empty: none)."""

    name: str
    value: int
    doc: str


@dataclass(frozen=True, slots=True)
class EnumView:
    """A ``uvrpc.Enum`` class (an ``IntEnum``): its name, the slot of its base, its
    docstring."""

    name: str
    bases: str
    doc: str
    members: tuple[MemberView, ...]


@dataclass(frozen=True, slots=True)
class FieldView:
    """A class attribute ``name: annotation = default`` (``default`` ``None``:
    none) and its docstring slot (empty: none)."""

    name: str
    annotation: str
    default: str | None
    doc: str


@dataclass(frozen=True, slots=True)
class InitView:
    """The type checker's ``def __init__(params) -> None:`` and its docstring."""

    params: str
    doc: str


@dataclass(frozen=True, slots=True)
class MessageView:
    """A message model class (also the private parameters models).

    ``field_ids`` is the slot of the arguments of ``field_ids(...)``. ``init`` is
    the type checker's view of the constructor, for messages whose ``bytes``
    fields accept any buffer while their attributes are ``memoryview``; ``None``
    for the others, whose constructor pydantic's own typing describes.
    """

    name: str
    bases: str
    doc: str
    field_ids: str
    fields: tuple[FieldView, ...]
    init: InitView | None


@dataclass(frozen=True, slots=True)
class ConstView:
    """A constant ``name: _typing.Final[type] = value`` and its docstring."""

    name: str
    type: str
    value: str
    doc: str


@dataclass(frozen=True, slots=True)
class ExceptionView:
    """An exception class and the private model of its fields."""

    fields: MessageView
    name: str
    bases: str
    doc: str
    wire_name: str
    fields_class: str
    attributes: tuple[FieldView, ...]
    init: InitView


@dataclass(frozen=True, slots=True)
class DescriptorView:
    """A method's descriptor ``constant: kind[types] = value``."""

    constant: str
    kind: str
    types: str
    value: str


@dataclass(frozen=True, slots=True)
class FunctionView:
    """A method ``[async ]def name(params) -> returns:`` and its docstring.

    A client method's body hands its arguments to the base class method
    ``delegate`` (``[return ][await ]self.delegate(arguments)``); a server's
    method has no body.
    """

    is_async: bool
    name: str
    params: str
    returns: str
    doc: str
    returns_value: bool = False
    delegate: str = ""
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class ClassView:
    """A client or server class: its name, the slot of its base, its docstring
    and its methods."""

    name: str
    bases: str
    doc: str
    methods: tuple[FunctionView, ...]


@dataclass(frozen=True, slots=True)
class ServiceView:
    """Everything generated for one service, in the order it is emitted: the
    parameters models, the descriptors and the spec, the clients (asynchronous,
    then blocking) and the server base class."""

    params: tuple[MessageView, ...]
    descriptors: tuple[DescriptorView, ...]
    spec_constant: str
    spec: str
    clients: tuple[ClassView, ...]
    server: ClassView
    unimplemented_server: ClassView
    """The server class whose methods all raise UNIMPLEMENTED."""


@dataclass(frozen=True, slots=True)
class UnionMemberView:
    """The class of one member of a union: its name, the slot of its base, its
    docstring, its id and IDL name (a Python string literal), its ``value``
    attribute and, where it takes other types than it holds (bytes), the type
    checker's constructor."""

    name: str
    bases: str
    doc: str
    id: int
    wire_name: str
    value: FieldView
    init: InitView | None


@dataclass(frozen=True, slots=True)
class UnionView:
    """A union: its member classes, then its alias ``name: _typing.TypeAlias =
    value`` (``value`` a slot) and the alias's docstring slot (empty: none)."""

    name: str
    members: tuple[UnionMemberView, ...]
    value: str
    doc: str


@dataclass(frozen=True, slots=True)
class ModuleView:
    """A whole generated module.

    ``runtime`` maps each runtime name generated code uses (see
    :data:`~uvrpc_gen.symbols.SYMBOLS`) to how the module spells it
    (``_uvrpc.Message``); ``attributes`` maps the roles of the runtime's class
    attributes to their names.
    """

    header: str
    doc: str
    namespace: str
    """The IDL namespace, which qualifies the wire names of the module's
    definitions; the module records it for reflection (``__uvrpc_namespace__``)."""
    namespace_value: str
    """The value of ``__uvrpc_namespace__``, laid out as ruff lays it out."""
    stdlib_imports: tuple[ImportView, ...]
    runtime_imports: tuple[ImportView, ...]
    sibling_imports: tuple[ImportView, ...]
    """The modules of the IDL files this one imports: after ``# isort: split``,
    sorted apart from the runtime's, which a project's linter may count as
    first-party or third-party either way round."""
    generator: str
    api: int
    protocol: int
    exports: tuple[str, ...]
    enums: tuple[EnumView, ...]
    consts: tuple[ConstView, ...]
    messages: tuple[MessageView, ...]
    exceptions: tuple[ExceptionView, ...]
    services: tuple[ServiceView, ...]
    runtime: dict[str, str]
    attributes: dict[str, str]
    unions: tuple[UnionView, ...] = ()


_ATTRIBUTES = (
    "call",
    "start",
    "server_stream",
    "client_stream",
    "bidi_stream",
    "uvrpc_service",
)


def _isort_order(name: str) -> tuple[int, list[str | tuple[int, int, str]]]:
    """The order of ``name`` in ``__all__`` as ruff sorts it (RUF022, "isort
    style"): constants, then classes, then the rest, each in natural order
    (``Item2`` before ``Item10``; a run of digits with a leading zero is
    compared as text, before every other run: ``V01``, ``V02``, ``V1``)."""
    if len(name) > 1 and name.isupper():
        kind = 0
    elif name[:1].isupper():
        kind = 1
    else:
        kind = 2
    parts: list[str | tuple[int, int, str]] = []
    for index, part in enumerate(re.split(r"(\d+)", name)):
        if index % 2 == 0:  # text between runs of digits
            parts.append(part)
        elif part.startswith("0"):
            parts.append((0, 0, part))
        else:
            # Longer is larger, as int() compares, which refuses a run of more
            # than sys.get_int_max_str_digits() digits.
            parts.append((1, len(part), part))
    return kind, parts


def _used_stems(
    types: Iterable[TypeRef], literals: Iterable[Literal | None]
) -> set[str]:
    """The first parts of the qualified names that ``types`` and ``literals``
    spell: the stems of the imported files a module's generated code uses. An
    import of a file it uses nothing of would be an unused import (ruff's F401)."""
    names: list[str] = []

    def of_type(ref: TypeRef) -> None:
        names.append(ref.name)
        for argument in ref.arguments:
            of_type(argument)

    def of_literal(literal: Literal | None) -> None:
        if isinstance(literal, NameLiteral):
            names.append(literal.name)
        elif isinstance(literal, ListLiteral):
            for item in literal.items:
                of_literal(item)
        elif isinstance(literal, MapLiteral):
            for key, value in literal.entries:
                of_literal(key)
                of_literal(value)

    for ref in types:
        of_type(ref)
    for literal in literals:
        of_literal(literal)
    return {name.partition(".")[0] for name in names if "." in name}


def _runtime(symbol: str) -> str:
    return f"{RUNTIME_ALIAS}.{SYMBOLS[symbol]}"


def module_view(checked: CheckedModule, package: str | None = None) -> ModuleView:
    """Compute the view of a checked module.

    ``package`` is the Python package the modules of imported files are imported
    from (``from package import common as _common``); without one they are
    imported as top-level modules (``import common as _common``).
    """
    with pytypes.imported(checked.imports):
        return _module_view(checked, package)


def _module_view(checked: CheckedModule, package: str | None) -> ModuleView:
    module, namespace = checked.module, checked.namespace
    enums = [d for d in module.definitions if isinstance(d, Enum)]
    consts = [d for d in module.definitions if isinstance(d, Const)]
    messages = [d for d in module.definitions if isinstance(d, Message)]
    exceptions = [d for d in module.definitions if isinstance(d, ExceptionType)]
    unions = [d for d in module.definitions if isinstance(d, UnionType)]
    services = [d for d in module.definitions if isinstance(d, Service)]
    exports: list[str] = [e.name for e in enums] + [c.name for c in consts]
    exports += [m.name for m in messages] + [e.name for e in exceptions]
    for union in unions:
        exports.append(union.name)
        exports += [
            naming.union_member_class(union.name, m.name) for m in union.members
        ]
    for service in services:
        exports += [
            naming.client_class(service.name),
            naming.sync_client_class(service.name),
            naming.server_class(service.name),
            naming.unimplemented_server_class(service.name),
        ]
    types = [f.type for m in messages for f in m.fields]
    types += [f.type for e in exceptions for f in e.fields]
    types += [f.type for u in unions for f in u.members]
    streams = False
    for service in services:
        for method in service.methods:
            types += [p.type for p in method.params]
            types += [method.returns] if method.returns else []
            streams = streams or method.kind != "unary"
    # Constants are annotated plainly (a scalar or an enum: never through the
    # runtime's aliases); every other type strictly, constraints too.
    constrained = any(constraints.has_constraints(t) for t in types)
    aliased = any(pytypes.uses_scalar_aliases(t) for t in types)
    types += [c.type for c in consts]
    # The definitions first: whether the module imports builtins depends on them.
    with pytypes.written_builtins() as written:
        enum_views = tuple(_enum(e, namespace) for e in enums)
        const_views = tuple(_const(c) for c in consts)
        message_views = tuple(_message(m, namespace) for m in messages)
        exception_views = tuple(_exception(e, namespace) for e in exceptions)
        union_views = tuple(_union(u, namespace) for u in unions)
        service_views = tuple(_service(s, namespace, checked) for s in services)
    stdlib = [
        ImportView(None, name, f"_{name}")
        for name, used in (
            ("abc", any(service.methods for service in services)),
            ("builtins", bool(written)),
            (
                "typing",
                any(_typed_init(m.fields) for m in messages)
                or bool(consts or exceptions or unions)
                or streams
                or constrained
                or any(pytypes.sent_abstractly(t) for t in types),
            ),
        )
        if used
    ]
    runtime = [ImportView(None, RUNTIME_MODULE, RUNTIME_ALIAS)]
    fields = [f for m in messages for f in m.fields]
    fields += [f for e in exceptions for f in e.fields]
    container_defaults = any(
        f.default is not None and pytypes.is_container_default(f.default)
        for f in fields
    )
    if container_defaults or aliased:
        runtime.append(ImportView(RUNTIME_MODULE, TYPES_MODULE, pytypes.TYPES_ALIAS))
    methods = [method for service in services for method in service.methods]
    used = _used_stems(
        [*types, *(error for method in methods for error in method.throws)],
        [
            *(f.default for f in fields),
            *(f.default for u in unions for f in u.members),
            *(p.default for method in methods for p in method.params),
            *(c.value for c in consts),
        ],
    )
    siblings = [
        ImportView(package, stem, pytypes.import_alias(stem))
        for stem in checked.imports
        if stem in used
    ]
    # Each block sorted as isort sorts a section: plain imports, then
    # from-imports, each by module name.
    for block in (runtime, siblings):
        block.sort(
            key=lambda i: (i.source is not None, i.source or i.name, i.name, i.alias)
        )
    return ModuleView(
        header=(
            f"{GENERATED_HEADER}{os.path.basename(module.file)} by uvrpc-gen "
            f"{GENERATOR_VERSION} — do not edit."
        ),
        doc=_doc(module.doc, 0) if module.doc else "",
        namespace=namespace,
        namespace_value=_class_value(
            "__uvrpc_namespace__", pytypes.python_string(namespace), indent=0
        ),
        stdlib_imports=tuple(stdlib),
        runtime_imports=tuple(runtime),
        sibling_imports=tuple(siblings),
        generator=GENERATOR_VERSION,
        api=GENERATED_CODE_API,
        protocol=PROTOCOL_VERSION,
        exports=tuple(sorted(exports, key=_isort_order)),
        enums=enum_views,
        consts=const_views,
        messages=message_views,
        exceptions=exception_views,
        unions=union_views,
        services=service_views,
        runtime={name: _runtime(name) for name in SYMBOLS if name not in _ATTRIBUTES},
        attributes={name: SYMBOLS[name] for name in _ATTRIBUTES},
    )


def _const(const: Const) -> ConstView:
    # A constant is a value of the module, neither sent nor received: ``bytes``.
    python = (
        "bytes"
        if const.type.name == "bytes"
        else pytypes.sent_annotation_doc(const.type)
    )
    annotation = Group("_typing.Final[", (python,), "]", hug=True)
    value = pytypes.default_doc(const.type, const.value)
    annotated, assigned = assignment(const.name, annotation, value, 0)
    assert annotated is not None and assigned is not None
    return ConstView(
        const.name,
        between(annotated, annotation),
        assigned,
        _doc(const.doc, 0) if const.doc else "",
    )


def _exception_of(checked: CheckedModule, name: str) -> ExceptionType | None:
    definition = checked.definition(name)
    return definition if isinstance(definition, ExceptionType) else None


def _attribute(
    name: str, annotation: Doc, default: Doc | None, doc: str | None
) -> FieldView:
    """A class attribute, laid out at the indentation of a class body."""
    annotated, assigned = assignment(name, annotation, default, 4)
    assert annotated is not None
    return FieldView(name, annotated, assigned, _doc(doc, 4) if doc else "")


def _init_arguments(fields: Sequence[Field]) -> list[Doc]:
    """The keyword parameters of a typed constructor: the sent types of
    ``fields``, ``= ...`` for those with a default."""
    arguments: list[Doc] = []
    for f in fields:
        annotation = pytypes.sent_annotation_doc(f.type, optional=f.optional)
        has_default = f.default is not None or f.optional
        arguments.append(
            Seq((f"{f.name}: ", annotation, " = ..." if has_default else ""))
        )
    return arguments


def _init(arguments: Sequence[Doc], doc: str, receiver: str = "self") -> InitView:
    """``def __init__(self, *, arguments) -> None:`` and ``doc``, laid out inside
    ``if _typing.TYPE_CHECKING:`` in a class body; ``receiver`` names the
    instance, ``self`` unless a keyword argument is named so."""
    head = Group("def __init__(", (receiver, "*", *arguments), ")")
    params, _ = signature(head, "None", 8)
    return InitView(params, _doc(doc, 12))


def _exception(error: ExceptionType, namespace: str) -> ExceptionView:
    doc = error.doc or f"The ``{namespace}.{error.name}`` exception."
    fields_class = naming.fields_class(error.name)
    with pytypes.shadowing([f.name for f in error.fields]):
        attributes = tuple(
            _attribute(
                f.name,
                pytypes.received_annotation_doc(f.type, optional=f.optional),
                None,
                constraints.documented(f).doc,
            )
            for f in error.fields
        )
        if any(f.name == "message" for f in error.fields):
            init = _init(
                _init_arguments(error.fields),
                "Raise it from a handler of a method that declares it.\n\n"
                "The ``message`` field is its message text too (the class name "
                "and field values while it is empty).",
            )
        else:
            init = _init(
                [
                    *_init_arguments(error.fields),
                    f'message: {pytypes.builtin("str")} = ""',
                ],
                "Raise it from a handler of a method that declares it.\n\n"
                "``message`` defaults to the class name and field values.",
            )
    return ExceptionView(
        fields=_model(
            fields_class,
            "",
            [dataclasses.replace(f, doc=None) for f in error.fields],
            typed_init=False,
        ),
        name=error.name,
        bases=_bases(error.name, _runtime("DeclaredError")),
        doc=_doc(doc, 4),
        wire_name=_class_value(
            "uvrpc_name", pytypes.python_string(f"{namespace}.{error.name}")
        ),
        fields_class=_class_value("uvrpc_fields", fields_class),
        attributes=attributes,
        init=init,
    )


def _enum(enum: Enum, namespace: str) -> EnumView:
    doc = enum.doc or f"The ``{namespace}.{enum.name}`` enumeration."
    members = tuple(
        MemberView(v.name, v.value, _doc(v.doc, 4) if v.doc else "")
        for v in enum.values
    )
    return EnumView(
        enum.name, _bases(enum.name, _runtime("Enum")), _doc(doc, 4), members
    )


def _field(field: Field) -> FieldView:
    field = constraints.documented(field)
    annotation = pytypes.strict_annotation_doc(field.type, optional=field.optional)
    value: Doc | None = None
    if field.default is not None:
        value = pytypes.field_default_doc(field.type, field.default)
    elif field.optional:
        value = "None"
    return _attribute(field.name, annotation, value, field.doc)


def _typed_init(fields: Sequence[Field]) -> bool:
    """Whether a message needs its constructor typed for the type checker."""
    return any(pytypes.sent_differs(f.type) for f in fields)


def _init_doc(fields: Sequence[Field]) -> str:
    """What a typed constructor takes that its fields' types would not."""
    takes = []
    if any(pytypes.carries_bytes(f.type) for f in fields):
        takes.append("Where the IDL says ``bytes``, any buffer is taken, uncopied.")
    if any(pytypes.sent_abstractly(f.type) for f in fields):
        takes.append(
            "A list is taken as any sequence, a set as any set and a map as any "
            "mapping, of the element types or narrower ones."
        )
    return " ".join(takes)


def _model(
    name: str, doc: str, fields: Sequence[Field], *, typed_init: bool
) -> MessageView:
    ids = Group(
        f"{_runtime('field_ids')}(", tuple(f"{f.name}={f.id}" for f in fields), ")"
    )
    _, config = assignment("model_config", None, ids, 4)
    assert config is not None
    # A field named like a built-in (``set``) hides it from the class's annotations.
    with pytypes.shadowing([f.name for f in fields]):
        init = None
        if typed_init and _typed_init(fields):
            # A message may have a field named 'self' (pydantic's own constructor
            # takes the instance positionally); a field name never starts with '_'.
            taken = any(f.name == "self" for f in fields)
            init = _init(
                _init_arguments(fields), _init_doc(fields), "_self" if taken else "self"
            )
        return MessageView(
            name,
            _bases(name, _runtime("Message")),
            doc,
            between(config, ids),
            tuple(_field(f) for f in fields),
            init,
        )


def _message(message: Message, namespace: str) -> MessageView:
    doc = message.doc or f"The ``{namespace}.{message.name}`` message."
    return _model(message.name, _doc(doc, 4), message.fields, typed_init=True)


def _class_doc(summary: str, doc: str | None) -> str:
    return _doc(f"{summary}\n\n{doc}\n" if doc else summary, 4)


def _method_doc(
    method: Method, route: str, errors: Sequence[ExceptionType | None]
) -> str:
    text = method.doc or f"Call ``{route}.{method.name}``."
    documented = [p for p in map(constraints.documented, method.params) if p.doc]
    if documented:
        args = "\n".join(
            f"    {p.name}: {textwrap.indent(p.doc or '', '        ').strip()}"
            for p in documented
        )
        text = f"{text}\n\nArgs:\n{args}\n"
    if method.throws:
        raised = []
        for ref, error in zip(method.throws, errors, strict=True):
            summary = "raised by the server, declared in the IDL"
            if error is not None:
                summary = error.doc or f"The ``{ref.name}`` exception."
            summary = textwrap.indent(summary, "        ").strip()
            raised.append(f"    {pytypes.python_name(ref.name)}: {summary}")
        text = f"{text.rstrip()}\n\nRaises:\n" + "\n".join(raised) + "\n"
    return _doc(text, 8)


_DESCRIPTORS = {
    "unary": "Unary",
    "server": "ServerStreaming",
    "client": "ClientStreaming",
    "bidi": "BidiStreaming",
}
"""The runtime class describing each kind of method."""

_CLIENT_CALLS = {
    "unary": "call",
    "server": "server_stream",
    "client": "client_stream",
    "bidi": "bidi_stream",
}
"""The client base class method each kind of generated method delegates to."""


def _item(ref: TypeRef, annotate: Callable[..., Doc]) -> Doc:
    """The annotation of the items of ``stream<T>``."""
    return annotate(ref.arguments[0])


def _descriptor(
    method: Method, service: Service, route: str, params_class: str
) -> DescriptorView:
    """``_SERVICE_METHOD: _uvrpc.Unary[...] = _uvrpc.Unary(...)`` and its kin."""
    kind = method.kind
    cls = _runtime(_DESCRIPTORS[kind])
    stream = method.stream_param
    arguments: list[Doc] = [
        f'route="{route}.{method.name}"',
        f'handler="{naming.snake_case(method.name)}"',
        f"params={params_class}",
    ]
    subscript: list[Doc] = [params_class]
    if stream is not None:
        arguments.append(f'stream="{stream.name}"')
        arguments.append(f"stream_id={stream.id}")
        arguments.append(
            Seq(("request_item=", _item(stream.type, pytypes.strict_annotation_doc)))
        )
        subscript.append(_item(stream.type, pytypes.sent_annotation_doc))
    returns = method.returns
    if returns is not None and method.streams_reply:
        arguments.append(
            Seq(("reply_item=", _item(returns, pytypes.strict_annotation_doc)))
        )
        subscript.append(_item(returns, pytypes.received_annotation_doc))
    else:
        strict: Doc = "None"
        received: Doc = "None"
        if returns is not None:
            strict = pytypes.strict_annotation_doc(returns)
            received = pytypes.received_annotation_doc(returns)
        arguments.append(Seq(("reply=", strict)))
        subscript.append(received)
    if method.throws:
        arguments.append(
            Group(
                "errors=(",
                tuple(pytypes.python_name(ref.name) for ref in method.throws),
                ")",
                display=True,
                tuple_syntax=True,
            )
        )
    if method.oneway:
        arguments.append("oneway=True")
    if method.idempotent:
        arguments.append("idempotent=True")
    constant = naming.method_constant(service.name, method.name)
    annotation = Group(f"{cls}[", tuple(subscript), "]", hug=True)
    annotated, value = assignment(
        constant, annotation, Group(f"{cls}(", tuple(arguments), ")"), 0
    )
    assert annotated is not None and value is not None
    return DescriptorView(constant, cls, between(annotated, annotation), value)


def _iterable(name: str, kind: str, item: Doc) -> Doc:
    """The parameter ``name: _typing.<kind>[item]`` of a stream's items."""
    return Seq((f"{name}: ", Group(f"_typing.{kind}[", (item,), "]", hug=True)))


def _sent_items(name: str, item: Doc) -> Doc:
    """The async client's parameter ``name`` of the items it streams: an async
    iterable or a plain one, ``name: _typing.AsyncIterable[item] |
    _typing.Iterable[item]``."""
    return Seq(
        (
            f"{name}: ",
            Union(
                Group("_typing.AsyncIterable[", (item,), "]", hug=True),
                Group("_typing.Iterable[", (item,), "]", hug=True),
            ),
        )
    )


def _client_returns(method: Method, *, is_async: bool) -> Doc:
    """What a generated client method returns."""
    returns = method.returns
    if returns is None:
        return "None"
    if method.streams_reply:
        item = _item(returns, pytypes.received_annotation_doc)
        if is_async:
            return Group(f"{_runtime('ItemStream')}[", (item,), "]", hug=True)
        # A generator, not an Iterator: its caller may close() it (or hand it
        # to contextlib.closing) to end the call early, and a type checker
        # must let them.
        return Group("_typing.Generator[", (item, "None", "None"), "]", hug=True)
    return pytypes.received_annotation_doc(returns)


def _server_returns(method: Method) -> Doc:
    """What a generated server method returns."""
    returns = method.returns
    if returns is None:
        return "None"
    if method.streams_reply:
        item = _item(returns, pytypes.sent_annotation_doc)
        return Group("_typing.AsyncIterator[", (item,), "]", hug=True)
    return pytypes.sent_annotation_doc(returns)


def _function(
    name: str,
    params: Sequence[Doc],
    returns: Doc,
    doc: str,
    *,
    is_async: bool,
    call: tuple[str, Sequence[Doc]] | None = None,
    returns_value: bool = False,
) -> FunctionView:
    """A method of a generated class, laid out in its class body.

    ``call`` is the base class method a client method delegates to and its
    arguments; a server method has none.
    """
    prefix = "async def" if is_async else "def"
    header = Group(f"{prefix} {name}(", tuple(params), ")")
    params_slot, returns_slot = signature(header, returns, 4)
    if call is None:
        return FunctionView(is_async, name, params_slot, returns_slot, doc)
    delegate, arguments = call
    keywords = ("return " if returns_value else "") + ("await " if is_async else "")
    body = Group(f"{keywords}self.{delegate}(", tuple(arguments), ")")
    return FunctionView(
        is_async,
        name,
        params_slot,
        returns_slot,
        doc,
        returns_value,
        delegate,
        between(statement(body, 8), body),
    )


def _raising(method: FunctionView, constant: str) -> FunctionView:
    """``method`` of the server base class with a body that raises the method's
    UNIMPLEMENTED error: ``raise _uvrpc.unimplemented(_CALCULATOR_ADD)``. A server
    stream's method stays a plain ``def``, raising when it is called."""
    body = Group(f"raise {_runtime('unimplemented')}(", (constant,), ")")
    return dataclasses.replace(
        method,
        delegate=_runtime("unimplemented"),
        arguments=between(statement(body, 8), body),
    )


def _service(service: Service, namespace: str, checked: CheckedModule) -> ServiceView:
    route = f"{namespace}.{service.name}"
    spec_constant = naming.service_constant(service.name)
    params: list[MessageView] = []
    descriptors: list[DescriptorView] = []
    client_methods: list[FunctionView] = []
    sync_methods: list[FunctionView] = []
    server_methods: list[FunctionView] = []
    unimplemented_methods: list[FunctionView] = []
    for method in service.methods:
        params_class = naming.params_class(service.name, method.name)
        plain = [p for p in method.params if p is not method.stream_param]
        params.append(_model(params_class, "", plain, typed_init=False))
        descriptors.append(_descriptor(method, service, route, params_class))
    # What the clients and the server bind, as methods, hides the built-ins of
    # those names (a gRPC method ``List``) from their annotations.
    bound = [naming.snake_case(m.name) for m in service.methods]
    with pytypes.shadowing(bound):
        for method in service.methods:
            python = naming.snake_case(method.name)
            constant = naming.method_constant(service.name, method.name)
            stream = method.stream_param
            plain = [p for p in method.params if p is not stream]
            # Arguments of the async client, of the blocking client and of the server.
            arguments: dict[bool, list[Doc]] = {True: [], False: []}
            server_arguments: list[Doc] = []
            for p in method.params:
                if p is stream:
                    item = _item(p.type, pytypes.received_annotation_doc)
                    server_arguments.append(_iterable(p.name, "AsyncIterator", item))
                    sent = _item(p.type, pytypes.sent_annotation_doc)
                    arguments[True].append(_sent_items(p.name, sent))
                    arguments[False].append(_iterable(p.name, "Iterable", sent))
                    continue
                received = pytypes.received_annotation_doc(p.type, optional=p.optional)
                server_arguments.append(Seq((f"{p.name}: ", received)))
                annotation = pytypes.sent_annotation_doc(p.type, optional=p.optional)
                if p.default is not None:
                    value = pytypes.default_literal(p.type, p.default)
                    argument = Seq((f"{p.name}: ", annotation, f" = {value}"))
                elif p.optional:
                    argument = Seq((f"{p.name}: ", annotation, " = None"))
                else:
                    argument = Seq((f"{p.name}: ", annotation))
                arguments[True].append(argument)
                arguments[False].append(argument)
            errors = [_exception_of(checked, ref.name) for ref in method.throws]
            doc = _method_doc(method, route, errors)
            # The values in the order of the parameters model's fields: the
            # descriptor keys them by wire id.
            values = Group(
                "(", tuple(p.name for p in plain), ")", display=True, tuple_syntax=True
            )
            call_items: tuple[Doc, ...] = (
                constant,
                values,
                "timeout",
                "wait_for_ready",
            )
            if stream is not None:
                call_items = (
                    constant,
                    values,
                    stream.name,
                    "timeout",
                    "wait_for_ready",
                )
            keyword_only = {
                is_async: (
                    "self",
                    "*",
                    *items,
                    f"timeout: {pytypes.builtin('float')} | None = None",
                    f"wait_for_ready: {pytypes.builtin('bool')} | None = None",
                )
                for is_async, items in arguments.items()
            }
            kind = method.kind
            delegate = SYMBOLS[_CLIENT_CALLS[kind]]
            variants = ((True, client_methods), (False, sync_methods))
            for is_async, target in variants:
                target.append(
                    _function(
                        python,
                        keyword_only[is_async],
                        _client_returns(method, is_async=is_async),
                        doc,
                        # A stream is iterated, not awaited: only the unary and the
                        # client-stream methods of the async client are coroutines.
                        is_async=is_async and kind in ("unary", "client"),
                        call=(delegate, call_items),
                        returns_value=method.returns is not None,
                    )
                )
            if has_call_handle(method):
                returns = _client_returns(method, is_async=True)
                client_methods.append(
                    _function(
                        naming.start_method(method.name),
                        keyword_only[True],
                        Group(f"{_runtime('Call')}[", (returns,), "]", hug=True),
                        _doc(
                            f"Start :meth:`{python}` and return its call handle.\n\n"
                            "Without client interceptors"
                            # A retried call's attempts go from a task of their own.
                            + (" or a retry policy" if method.idempotent else "")
                            + " the request is sent before this returns; see "
                            f":class:`{RUNTIME_MODULE}.{SYMBOLS['Call']}`.\n",
                            8,
                        ),
                        is_async=False,
                        call=(SYMBOLS["start"], call_items),
                        returns_value=True,
                    )
                )
            server_methods.append(
                _function(
                    python,
                    ("self", "*", *server_arguments) if server_arguments else ("self",),
                    _server_returns(method),
                    doc,
                    # A server stream is an async generator, called without await.
                    is_async=not method.streams_reply,
                )
            )
            unimplemented_methods.append(
                _raising(
                    server_methods[-1],
                    naming.method_constant(service.name, method.name),
                )
            )
    spec = Group(
        f"{_runtime('ServiceSpec')}(",
        (
            f'name="{route}"',
            Group(
                "methods=(",
                tuple(
                    naming.method_constant(service.name, m.name)
                    for m in service.methods
                ),
                ")",
                display=True,
                tuple_syntax=True,
            ),
        ),
        ")",
    )
    _, spec_value = assignment(spec_constant, None, spec, 0)
    assert spec_value is not None
    client_class = naming.client_class(service.name)
    sync_client_class = naming.sync_client_class(service.name)
    server_class = naming.server_class(service.name)
    unimplemented_class = naming.unimplemented_server_class(service.name)
    return ServiceView(
        params=tuple(params),
        descriptors=tuple(descriptors),
        spec_constant=spec_constant,
        spec=spec_value,
        clients=(
            ClassView(
                client_class,
                _bases(client_class, _runtime("AsyncClient")),
                _class_doc(f"Asynchronous client of ``{route}``.", service.doc),
                tuple(client_methods),
            ),
            ClassView(
                sync_client_class,
                _bases(sync_client_class, _runtime("SyncClient")),
                _class_doc(f"Blocking client of ``{route}``.", service.doc),
                tuple(sync_methods),
            ),
        ),
        server=ClassView(
            server_class,
            _bases(server_class, _runtime("ServiceBase")),
            _class_doc(f"Base class of ``{route}`` implementations.", service.doc),
            tuple(server_methods),
        ),
        unimplemented_server=ClassView(
            unimplemented_class,
            _bases(unimplemented_class, server_class),
            _doc(
                "A partial server: each method answers UNIMPLEMENTED until "
                "overridden.\n\n"
                f"Subclass it to serve some of the methods of ``{route}``, say while "
                "a new method reaches the servers one by one. A class that must "
                "serve them all "
                f"subclasses :class:`{server_class}`, whose abstract methods let a "
                "type checker find one left out.\n",
                4,
            ),
            tuple(unimplemented_methods),
        ),
    )


# --- unions ---------------------------------------------------------------------


def _union(union: UnionType, namespace: str) -> UnionView:
    """A union's member classes and its alias, ``Annotated`` with the
    ``WireUnion`` that tells pydantic how it travels."""
    members = tuple(_union_member(union, m) for m in union.members)
    classes = [m.name for m in members] + [_runtime("UnknownMember")]
    wire = f"{_runtime('WireUnion')}({pytypes.python_string(union.name)})"
    target = f"{union.name}: _typing.TypeAlias = "
    one_line = f"_typing.Annotated[{' | '.join(classes)}, {wire}]"
    if width(target + one_line) <= LINE_LENGTH:
        value = one_line
    elif width("    " + " | ".join(classes) + ",") <= LINE_LENGTH:
        # Split as ruff splits a subscript: its items on one indented line when
        # they fit, else one per line.
        _, laid = assignment(
            union.name,
            "_typing.TypeAlias",
            Group("_typing.Annotated[", (" | ".join(classes), wire), "]", hug=True),
            0,
        )
        assert laid is not None
        value = laid
    else:
        # A union too long for one line breaks before each '|'.
        lines = ["_typing.Annotated[", f"    {classes[0]}"]
        lines += [f"    | {name}" for name in classes[1:]]
        lines[-1] += ","
        if width(f"    {wire},") <= LINE_LENGTH:
            lines.append(f"    {wire},")
        else:  # a long name: its call split as ruff splits it
            call, _, argument = wire.partition("(")
            lines += [f"    {call}(", f"        {argument[:-1]}", "    ),"]
        value = "\n".join([*lines, "]"])
    doc = union.doc or f"The ``{namespace}.{union.name}`` union."
    return UnionView(union.name, members, value, _doc(doc, 0))


def _union_member(union: UnionType, member: Field) -> UnionMemberView:
    name = naming.union_member_class(union.name, member.name)
    doc = member.doc or f"The ``{member.name}`` member of ``{union.name}``."
    value = _attribute("value", pytypes.strict_annotation_doc(member.type), None, None)
    init = None
    if pytypes.sent_differs(member.type):
        held = [dataclasses.replace(member, name="value")]
        init = _init(_init_arguments(held), _init_doc(held))
    return UnionMemberView(
        name,
        _bases(name, _runtime("UnionMember")),
        _doc(doc, 4),
        member.id,
        _class_value("uvrpc_name", pytypes.python_string(member.name)),
        value,
        init,
    )


def _class_value(target: str, value: str, indent: int = 4) -> str:
    """The value of ``target = value`` in a class body (or at ``indent``), in
    parentheses on lines of its own where it is too long for one line and then
    fits, as ruff lays it out (a long namespace and exception name)."""
    _, laid = assignment(target, None, value, indent)
    assert laid is not None
    return laid
