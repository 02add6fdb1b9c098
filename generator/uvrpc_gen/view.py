"""Render-ready views of a checked module.

Everything a template prints is computed here: Python names, annotations, default
literals, docstrings, and the layout of every statement that may need several
lines, by :mod:`uvrpc_gen.layout` the way ``ruff format`` lays it out. Lines carry
their absolute indentation.
"""

from __future__ import annotations

import dataclasses
import os
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import naming, pytypes
from .check import CheckedModule, has_call_handle
from .layout import (
    LINE_LENGTH,
    Doc,
    Group,
    Seq,
    assignment,
    signature,
    statement,
    width,
)
from .model import (
    Const,
    Enum,
    ExceptionType,
    Field,
    Message,
    Method,
    Service,
    TypeRef,
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
    "ClientMethodView",
    "ConstView",
    "EnumView",
    "ExceptionView",
    "FieldView",
    "MemberView",
    "MessageView",
    "ModuleView",
    "ServerMethodView",
    "ServiceView",
    "docstring",
    "module_view",
]


def _class_header(name: str, base: str) -> tuple[str, ...]:
    """``class name(base):``, the base on a line of its own when too long."""
    return statement(Group(f"class {name}(", (base,), "):", hug=True), 0)


def _escape_doc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def _wrap(line: str, room: int) -> list[str]:
    """Split a line into lines of at most ``room`` columns at spaces, keeping its
    indentation; a word longer than that stays whole."""
    if width(line) <= room:
        return [line]
    lead = line[: len(line) - len(line.lstrip(" "))]
    lines: list[str] = []
    current = ""
    for word in line.split():
        candidate = f"{current} {word}" if current else lead + word
        if current and width(candidate) > room:
            lines.append(current)
            candidate = lead + word
        current = candidate
    lines.append(current)
    return lines


def docstring(text: str, indent: int) -> tuple[str, ...]:
    """The lines of a docstring holding ``text`` at ``indent``.

    One line when it fits, otherwise the summary on the opening line and the closing
    quotes on their own line; lines too long are wrapped. As ``ruff format`` does,
    tabs are expanded, the common indentation of the lines after the first is
    removed, and a space keeps a quote at either end from touching the triple
    quotes.
    """
    pad = " " * indent
    text = _escape_doc(text.expandtabs(8).strip())
    if text.startswith('"'):
        text = f" {text}"
    if "\n" not in text:
        closing = ' """' if text.endswith('"') else '"""'
        single = f'{pad}"""{text}{closing}'
        if width(single) <= LINE_LENGTH:
            return (single,)
    room = LINE_LENGTH - indent
    raws = [raw.rstrip() for raw in text.split("\n")]
    margin = min((len(r) - len(r.lstrip(" ")) for r in raws[1:] if r), default=0)
    raws[1:] = [raw[margin:] for raw in raws[1:]]
    lines: list[str] = []
    for number, raw in enumerate(raws):
        for piece in _wrap(raw, room - 3 if number == 0 else room):
            if not lines:
                lines.append(f'{pad}"""{piece}')
            else:
                lines.append(f"{pad}{piece}" if piece else "")
    lines.append(f'{pad}"""')
    return tuple(lines)


@dataclass(frozen=True, slots=True)
class MemberView:
    """An enum member: its line and its attribute docstring."""

    line: str
    doc: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EnumView:
    """An ``IntEnum`` class."""

    header: tuple[str, ...]
    doc: tuple[str, ...]
    members: tuple[MemberView, ...]


@dataclass(frozen=True, slots=True)
class FieldView:
    """A model field: its annotated lines and its attribute docstring."""

    lines: tuple[str, ...]
    doc: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MessageView:
    """A message model class (also the private parameters models).

    ``init`` is the type checker's view of the constructor, for messages whose
    ``bytes`` fields accept any buffer while their attributes are ``memoryview``;
    empty for the others, whose constructor pydantic's own typing describes.
    """

    header: tuple[str, ...]
    doc: tuple[str, ...]
    config: tuple[str, ...]
    fields: tuple[FieldView, ...]
    init: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConstView:
    """A constant: its annotated assignment and its attribute docstring."""

    lines: tuple[str, ...]
    doc: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExceptionView:
    """An exception class and the private model of its fields."""

    fields: MessageView
    header: tuple[str, ...]
    doc: tuple[str, ...]
    config: tuple[str, ...]
    attributes: tuple[FieldView, ...]
    init: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ClientMethodView:
    """A client method: signature, docstring and the delegating call."""

    signature: tuple[str, ...]
    doc: tuple[str, ...]
    call: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ServerMethodView:
    """An abstract server method: signature and docstring."""

    signature: tuple[str, ...]
    doc: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ServiceView:
    """Everything generated for one service, in the order it is emitted."""

    params: tuple[MessageView, ...]
    constants: tuple[tuple[str, ...], ...]
    spec: tuple[str, ...]
    spec_constant: str
    client_header: tuple[str, ...]
    client_doc: tuple[str, ...]
    client_methods: tuple[ClientMethodView, ...]
    sync_client_header: tuple[str, ...]
    sync_client_doc: tuple[str, ...]
    sync_client_methods: tuple[ClientMethodView, ...]
    server_header: tuple[str, ...]
    server_doc: tuple[str, ...]
    server_methods: tuple[ServerMethodView, ...]


@dataclass(frozen=True, slots=True)
class ModuleView:
    """A whole generated module."""

    header: str
    doc: tuple[str, ...]
    stdlib_imports: tuple[str, ...]
    runtime_imports: tuple[str, ...]
    version_check: str
    exports: tuple[str, ...]
    enums: tuple[EnumView, ...]
    consts: tuple[ConstView, ...]
    messages: tuple[MessageView, ...]
    exceptions: tuple[ExceptionView, ...]
    services: tuple[ServiceView, ...]
    runtime: dict[str, str]
    attributes: dict[str, str]


_ATTRIBUTES = (
    "call",
    "start",
    "server_stream",
    "client_stream",
    "bidi_stream",
    "uvrpc_service",
)


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
    services = [d for d in module.definitions if isinstance(d, Service)]
    exports: list[str] = [e.name for e in enums] + [c.name for c in consts]
    exports += [m.name for m in messages] + [e.name for e in exceptions]
    for service in services:
        exports += [
            naming.client_class(service.name),
            naming.sync_client_class(service.name),
            naming.server_class(service.name),
        ]
    types = [f.type for m in messages for f in m.fields]
    types += [f.type for e in exceptions for f in e.fields]
    types += [c.type for c in consts]
    streams = False
    for service in services:
        for method in service.methods:
            types += [p.type for p in method.params]
            types += [method.returns] if method.returns else []
            streams = streams or method.kind != "unary"
    stdlib = [
        f"import {name} as _{name}"
        for name, used in (
            ("abc", any(service.methods for service in services)),
            ("enum", bool(enums)),
            (
                "typing",
                any(_typed_init(m.fields) for m in messages)
                or bool(consts or exceptions)
                or streams,
            ),
        )
        if used
    ]
    runtime = [f"import {RUNTIME_MODULE} as {RUNTIME_ALIAS}"]
    if any(pytypes.uses_scalar_aliases(t) for t in types):
        runtime.append(
            f"from {RUNTIME_MODULE} import {TYPES_MODULE} as {pytypes.TYPES_ALIAS}"
        )
    for stem in checked.imports:
        alias = pytypes.import_alias(stem)
        if package:
            runtime.append(f"from {package} import {stem} as {alias}")
        else:
            runtime.append(f"import {stem} as {alias}")
    # One block, sorted as isort sorts a section: plain imports, then from-imports,
    # each by module name.
    runtime.sort(key=lambda line: (line.startswith("from "), line.split()[1], line))
    check = (
        f"{_runtime('check_generated_code')}("
        f'generator="{GENERATOR_VERSION}", '
        f"api={GENERATED_CODE_API}, protocol={PROTOCOL_VERSION})"
    )
    return ModuleView(
        header=(
            f"# Generated from {os.path.basename(module.file)} by uvrpc-gen "
            f"{GENERATOR_VERSION} — do not edit."
        ),
        doc=docstring(module.doc, 0) if module.doc else (),
        stdlib_imports=tuple(stdlib),
        runtime_imports=tuple(runtime),
        version_check=check,
        exports=tuple(sorted(exports)),
        enums=tuple(_enum(e, namespace) for e in enums),
        consts=tuple(_const(c) for c in consts),
        messages=tuple(_message(m, namespace) for m in messages),
        exceptions=tuple(_exception(e, namespace) for e in exceptions),
        services=tuple(_service(s, namespace, checked) for s in services),
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
    return ConstView(
        assignment(const.name, annotation, value, 0),
        docstring(const.doc, 0) if const.doc else (),
    )


def _exception_of(checked: CheckedModule, name: str) -> ExceptionType | None:
    definition = checked.definition(name)
    return definition if isinstance(definition, ExceptionType) else None


def _exception(error: ExceptionType, namespace: str) -> ExceptionView:
    doc = error.doc or f"The ``{namespace}.{error.name}`` exception."
    fields_class = naming.fields_class(error.name)
    attributes = tuple(
        FieldView(
            assignment(
                f.name,
                pytypes.received_annotation_doc(f.type, optional=f.optional),
                None,
                4,
            ),
            docstring(f.doc, 4) if f.doc else (),
        )
        for f in error.fields
    )
    arguments: list[Doc] = []
    for f in error.fields:
        annotation = pytypes.sent_annotation_doc(f.type, optional=f.optional)
        has_default = f.default is not None or f.optional
        arguments.append(
            Seq((f"{f.name}: ", annotation, " = ..." if has_default else ""))
        )
    arguments.append('message: str = ""')
    init = signature(Group("def __init__(", ("self", "*", *arguments), ")"), "None", 8)
    init_doc = docstring(
        "Raise it from a handler of a method that declares it; ``message`` "
        "defaults to the class name and field values.",
        12,
    )
    return ExceptionView(
        fields=_model(
            fields_class,
            (),
            [dataclasses.replace(f, doc=None) for f in error.fields],
            typed_init=False,
        ),
        header=_class_header(error.name, _runtime("DeclaredError")),
        doc=docstring(doc, 4),
        config=(
            f'    uvrpc_name = "{namespace}.{error.name}"',
            f"    uvrpc_fields = {fields_class}",
        ),
        attributes=attributes,
        init=("    if _typing.TYPE_CHECKING:", "", *init, *init_doc),
    )


def _enum(enum: Enum, namespace: str) -> EnumView:
    doc = enum.doc or f"The ``{namespace}.{enum.name}`` enumeration."
    members = tuple(
        MemberView(f"    {v.name} = {v.value}", docstring(v.doc, 4) if v.doc else ())
        for v in enum.values
    )
    header = _class_header(enum.name, "_enum.IntEnum")
    return EnumView(header, docstring(doc, 4), members)


def _field(field: Field) -> FieldView:
    annotation = pytypes.strict_annotation_doc(field.type, optional=field.optional)
    value: Doc | None = None
    if field.default is not None:
        value = pytypes.default_doc(field.type, field.default, received=True)
    elif field.optional:
        value = "None"
    lines = assignment(field.name, annotation, value, 4)
    return FieldView(lines, docstring(field.doc, 4) if field.doc else ())


def _typed_init(fields: Sequence[Field]) -> bool:
    """Whether a message needs its constructor typed for the type checker."""
    return any(pytypes.carries_bytes(f.type) for f in fields)


def _init(fields: Sequence[Field]) -> tuple[str, ...]:
    """``if TYPE_CHECKING: def __init__(...)`` with the sent types of the fields."""
    arguments: list[Doc] = []
    for f in fields:
        annotation = pytypes.sent_annotation_doc(f.type, optional=f.optional)
        has_default = f.default is not None or f.optional
        arguments.append(
            Seq((f"{f.name}: ", annotation, " = ..." if has_default else ""))
        )
    header = signature(
        Group("def __init__(", ("self", "*", *arguments), ")"), "None", 8
    )
    doc = docstring("Where the IDL says ``bytes``, any buffer is taken, uncopied.", 12)
    return ("    if _typing.TYPE_CHECKING:", "", *header, *doc)


def _model(
    name: str, doc: tuple[str, ...], fields: Sequence[Field], *, typed_init: bool
) -> MessageView:
    config = Group(
        f"{_runtime('field_ids')}(", tuple(f"{f.name}={f.id}" for f in fields), ")"
    )
    return MessageView(
        _class_header(name, _runtime("Message")),
        doc,
        assignment("model_config", None, config, 4),
        tuple(_field(f) for f in fields),
        _init(fields) if typed_init and _typed_init(fields) else (),
    )


def _message(message: Message, namespace: str) -> MessageView:
    doc = message.doc or f"The ``{namespace}.{message.name}`` message."
    return _model(message.name, docstring(doc, 4), message.fields, typed_init=True)


def _class_doc(summary: str, doc: str | None) -> tuple[str, ...]:
    return docstring(f"{summary}\n\n{doc}\n" if doc else summary, 4)


def _method_doc(
    method: Method, route: str, errors: Sequence[ExceptionType | None]
) -> tuple[str, ...]:
    text = method.doc or f"Call ``{route}.{method.name}``."
    documented = [p for p in method.params if p.doc]
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
    return docstring(text, 8)


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
) -> tuple[str, ...]:
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
    return assignment(
        constant,
        Group(f"{cls}[", tuple(subscript), "]", hug=True),
        Group(f"{cls}(", tuple(arguments), ")"),
        0,
    )


def _iterable(name: str, kind: str, item: Doc) -> Doc:
    """The parameter ``name: _typing.<kind>[item]`` of a stream's items."""
    return Seq((f"{name}: ", Group(f"_typing.{kind}[", (item,), "]", hug=True)))


def _client_returns(method: Method, *, is_async: bool) -> Doc:
    """What a generated client method returns."""
    returns = method.returns
    if returns is None:
        return "None"
    if method.streams_reply:
        item = _item(returns, pytypes.received_annotation_doc)
        head = f"{_runtime('ItemStream')}[" if is_async else "_typing.Iterator["
        return Group(head, (item,), "]", hug=True)
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


def _service(service: Service, namespace: str, checked: CheckedModule) -> ServiceView:
    route = f"{namespace}.{service.name}"
    spec_constant = naming.service_constant(service.name)
    params: list[MessageView] = []
    constants: list[tuple[str, ...]] = []
    client_methods: list[ClientMethodView] = []
    sync_methods: list[ClientMethodView] = []
    server_methods: list[ServerMethodView] = []
    for method in service.methods:
        python = naming.snake_case(method.name)
        params_class = naming.params_class(service.name, method.name)
        constant = naming.method_constant(service.name, method.name)
        stream = method.stream_param
        plain = [p for p in method.params if p is not stream]
        params.append(_model(params_class, (), plain, typed_init=False))
        constants.append(_descriptor(method, service, route, params_class))
        # Arguments of the async client, of the blocking client and of the server.
        arguments: dict[bool, list[Doc]] = {True: [], False: []}
        server_arguments: list[Doc] = []
        for p in method.params:
            if p is stream:
                item = _item(p.type, pytypes.received_annotation_doc)
                server_arguments.append(_iterable(p.name, "AsyncIterator", item))
                sent = _item(p.type, pytypes.sent_annotation_doc)
                arguments[True].append(_iterable(p.name, "AsyncIterable", sent))
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
        call_items: tuple[Doc, ...] = (constant, values, "timeout")
        if stream is not None:
            call_items = (constant, values, stream.name, "timeout")
        keyword_only = {
            is_async: ("self", "*", *items, "timeout: float | None = None")
            for is_async, items in arguments.items()
        }
        kind = method.kind
        delegate = SYMBOLS[_CLIENT_CALLS[kind]]
        # A blocking client cannot send and receive at once: no bidirectional
        # streams there.
        variants: list[tuple[bool, list[ClientMethodView]]] = [(True, client_methods)]
        if kind != "bidi":
            variants.append((False, sync_methods))
        for is_async, target in variants:
            awaited = is_async and kind in ("unary", "client")
            prefix = "async def " if awaited else "def "
            awaiting = "await " if awaited else ""
            result = "" if method.returns is None else "return "
            call = Group(f"{result}{awaiting}self.{delegate}(", call_items, ")")
            target.append(
                ClientMethodView(
                    signature(
                        Group(f"{prefix}{python}(", keyword_only[is_async], ")"),
                        _client_returns(method, is_async=is_async),
                        4,
                    ),
                    doc,
                    statement(call, 8),
                )
            )
        if has_call_handle(method):
            start = naming.start_method(method.name)
            returns = _client_returns(method, is_async=True)
            handle = Group(f"{_runtime('Call')}[", (returns,), "]", hug=True)
            client_methods.append(
                ClientMethodView(
                    signature(
                        Group(f"def {start}(", keyword_only[True], ")"), handle, 4
                    ),
                    docstring(
                        f"Start :meth:`{python}` and return its call handle.\n\n"
                        "Without client interceptors the request is sent before "
                        "this returns; see "
                        f":class:`{RUNTIME_MODULE}.{SYMBOLS['Call']}`.\n",
                        8,
                    ),
                    statement(
                        Group(f"return self.{SYMBOLS['start']}(", call_items, ")"), 8
                    ),
                )
            )
        server_items = (
            ("self", "*", *server_arguments) if server_arguments else ("self",)
        )
        server_prefix = "def " if method.streams_reply else "async def "
        server_methods.append(
            ServerMethodView(
                signature(
                    Group(f"{server_prefix}{python}(", server_items, ")"),
                    _server_returns(method),
                    4,
                ),
                doc,
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
    client_class = naming.client_class(service.name)
    sync_client_class = naming.sync_client_class(service.name)
    server_class = naming.server_class(service.name)
    return ServiceView(
        params=tuple(params),
        constants=tuple(constants),
        spec=assignment(spec_constant, None, spec, 0),
        spec_constant=spec_constant,
        client_header=_class_header(client_class, _runtime("AsyncClient")),
        client_doc=_class_doc(f"Asynchronous client of ``{route}``.", service.doc),
        client_methods=tuple(client_methods),
        sync_client_header=_class_header(sync_client_class, _runtime("SyncClient")),
        sync_client_doc=_class_doc(f"Blocking client of ``{route}``.", service.doc),
        sync_client_methods=tuple(sync_methods),
        server_header=_class_header(server_class, _runtime("ServiceBase")),
        server_doc=_class_doc(
            f"Base class of ``{route}`` implementations.", service.doc
        ),
        server_methods=tuple(server_methods),
    )
