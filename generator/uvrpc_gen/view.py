"""Render-ready views of a checked module.

Everything a template prints is computed here: Python names, annotations, default
literals, docstrings, and the layout of every call and signature. The layout rule
matches what ``ruff format`` keeps: a construct goes on one line when that line fits
in :data:`LINE_LENGTH` columns, otherwise it is exploded one item per line with a
trailing comma. Lines carry their absolute indentation.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from . import naming, pytypes
from .check import CheckedModule
from .model import Enum, Field, Message, Method, Service
from .symbols import (
    GENERATED_CODE_API,
    GENERATOR_VERSION,
    PROTOCOL_VERSION,
    RUNTIME_MODULE,
    SYMBOLS,
    TYPES_MODULE,
)

__all__ = [
    "LINE_LENGTH",
    "ClientMethodView",
    "EnumView",
    "FieldView",
    "Group",
    "MemberView",
    "MessageView",
    "ModuleView",
    "ServerMethodView",
    "ServiceView",
    "docstring",
    "layout",
    "module_view",
]

LINE_LENGTH = 88
"""The longest line generated code may have (the project's ruff setting)."""

RUNTIME_ALIAS = "_uvrpc"
"""The name generated modules import the runtime as."""


@dataclass(frozen=True, slots=True)
class Group:
    """A bracketed, comma-separated construct: a call, a signature, a literal.

    ``head`` ends with the opening bracket and ``tail`` starts with the closing one;
    ``items`` may nest. ``tuple_syntax`` adds the comma a one-item tuple needs.
    """

    head: str
    items: tuple[str | Group, ...]
    tail: str
    tuple_syntax: bool = False

    def flat(self) -> str:
        """The group on one line."""
        parts = [i if isinstance(i, str) else i.flat() for i in self.items]
        comma = "," if self.tuple_syntax and len(parts) == 1 else ""
        return f"{self.head}{', '.join(parts)}{comma}{self.tail}"


def layout(group: Group, indent: int, suffix: str = "") -> tuple[str, ...]:
    """Lay out a group at ``indent``: one line if it fits, else one item per line."""
    pad = " " * indent
    flat = f"{pad}{group.flat()}{suffix}"
    if len(flat) <= LINE_LENGTH or not group.items:
        return (flat,)
    lines = [f"{pad}{group.head}"]
    for item in group.items:
        if isinstance(item, Group):
            lines.extend(layout(item, indent + 4, ","))
        else:
            lines.append(f"{pad}    {item},")
    lines.append(f"{pad}{group.tail}{suffix}")
    return tuple(lines)


def _assignment(target: str, value: Group) -> tuple[str, ...]:
    """A module-level ``target = value``.

    When even the first line of the exploded call does not fit, the value goes in
    parentheses on lines of its own, as ``ruff format`` lays it out.
    """
    head = f"{target} = {value.head}"
    if len(head) <= LINE_LENGTH:
        return layout(Group(head, value.items, value.tail, value.tuple_syntax), 0)
    return (f"{target} = (", *layout(value, 4), ")")


def _escape_doc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def docstring(text: str, indent: int) -> tuple[str, ...]:
    """The lines of a docstring holding ``text`` at ``indent``.

    One line when it fits, otherwise the summary on the opening line and the closing
    quotes on their own line; lines too long are wrapped.
    """
    pad = " " * indent
    text = _escape_doc(text.strip())
    if "\n" not in text:
        closing = ' """' if text.endswith('"') else '"""'
        single = f'{pad}"""{text}{closing}'
        if len(single) <= LINE_LENGTH:
            return (single,)
    width = LINE_LENGTH - indent
    lines: list[str] = []
    for number, raw in enumerate(text.splitlines()):
        first = number == 0
        room = width - 3 if first else width
        stripped = raw.rstrip()
        if len(stripped) <= room:
            wrapped = [stripped]
        else:
            lead = stripped[: len(stripped) - len(stripped.lstrip())]
            wrapped = textwrap.wrap(
                stripped,
                width=room,
                subsequent_indent=lead,
                break_long_words=False,
                break_on_hyphens=False,
            )
        for piece in wrapped:
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

    name: str
    doc: tuple[str, ...]
    members: tuple[MemberView, ...]


@dataclass(frozen=True, slots=True)
class FieldView:
    """A model field: its annotated line and its attribute docstring."""

    line: str
    doc: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MessageView:
    """A message model class (also the private parameters models)."""

    name: str
    doc: tuple[str, ...]
    config: tuple[str, ...]
    fields: tuple[FieldView, ...]


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
    client_class: str
    client_doc: tuple[str, ...]
    client_methods: tuple[ClientMethodView, ...]
    sync_client_class: str
    sync_client_doc: tuple[str, ...]
    sync_client_methods: tuple[ClientMethodView, ...]
    server_class: str
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
    messages: tuple[MessageView, ...]
    services: tuple[ServiceView, ...]
    runtime: dict[str, str]
    attributes: dict[str, str]


_ATTRIBUTES = ("call", "uvrpc_service")


def _runtime(symbol: str) -> str:
    return f"{RUNTIME_ALIAS}.{SYMBOLS[symbol]}"


def module_view(checked: CheckedModule) -> ModuleView:
    """Compute the view of a checked module."""
    module, namespace = checked.module, checked.namespace
    enums = [d for d in module.definitions if isinstance(d, Enum)]
    messages = [d for d in module.definitions if isinstance(d, Message)]
    services = [d for d in module.definitions if isinstance(d, Service)]
    exports: list[str] = [e.name for e in enums] + [m.name for m in messages]
    for service in services:
        exports += [
            naming.client_class(service.name),
            naming.sync_client_class(service.name),
            naming.server_class(service.name),
        ]
    types = [f.type for m in messages for f in m.fields]
    for service in services:
        for method in service.methods:
            types += [p.type for p in method.params]
            types += [method.returns] if method.returns else []
    stdlib = [
        f"import {name} as _{name}"
        for name, used in (
            ("abc", bool(services)),
            ("enum", bool(enums)),
        )
        if used
    ]
    runtime = [f"import {RUNTIME_MODULE} as {RUNTIME_ALIAS}"]
    if any(pytypes.uses_scalar_aliases(t) for t in types):
        runtime.append(
            f"from {RUNTIME_MODULE} import {TYPES_MODULE} as {pytypes.TYPES_ALIAS}"
        )
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
        messages=tuple(_message(m, namespace) for m in messages),
        services=tuple(_service(s, namespace) for s in services),
        runtime={name: _runtime(name) for name in SYMBOLS if name not in _ATTRIBUTES},
        attributes={name: SYMBOLS[name] for name in _ATTRIBUTES},
    )


def _enum(enum: Enum, namespace: str) -> EnumView:
    doc = enum.doc or f"The ``{namespace}.{enum.name}`` enumeration."
    members = tuple(
        MemberView(f"    {v.name} = {v.value}", docstring(v.doc, 4) if v.doc else ())
        for v in enum.values
    )
    return EnumView(enum.name, docstring(doc, 4), members)


def _field(field: Field) -> FieldView:
    annotation = pytypes.strict_annotation(field.type, optional=field.optional)
    line = f"    {field.name}: {annotation}"
    if field.default is not None:
        line += f" = {pytypes.default_literal(field.type, field.default)}"
    elif field.optional:
        line += " = None"
    return FieldView(line, docstring(field.doc, 4) if field.doc else ())


def _model(name: str, doc: tuple[str, ...], fields: Sequence[Field]) -> MessageView:
    config = Group(
        f"model_config = {_runtime('field_ids')}(",
        tuple(f"{f.name}={f.id}" for f in fields),
        ")",
    )
    return MessageView(name, doc, layout(config, 4), tuple(_field(f) for f in fields))


def _message(message: Message, namespace: str) -> MessageView:
    doc = message.doc or f"The ``{namespace}.{message.name}`` message."
    return _model(message.name, docstring(doc, 4), message.fields)


def _class_doc(summary: str, doc: str | None) -> tuple[str, ...]:
    return docstring(f"{summary}\n\n{doc}\n" if doc else summary, 4)


def _method_doc(method: Method, route: str) -> tuple[str, ...]:
    text = method.doc or f"Call ``{route}.{method.name}``."
    documented = [p for p in method.params if p.doc]
    if documented:
        args = "\n".join(
            f"    {p.name}: {textwrap.indent(p.doc or '', '        ').strip()}"
            for p in documented
        )
        text = f"{text}\n\nArgs:\n{args}\n"
    return docstring(text, 8)


def _service(service: Service, namespace: str) -> ServiceView:
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
        params.append(_model(params_class, (), method.params))
        if method.returns is None:
            reply_plain, reply_strict = "None", "None"
        else:
            reply_plain = pytypes.plain_annotation(method.returns)
            reply_strict = pytypes.strict_annotation(method.returns)
        unary = _runtime("Unary")
        constants.append(
            _assignment(
                f"{constant}: {unary}[{params_class}, {reply_plain}]",
                Group(
                    f"{unary}(",
                    (
                        f'route="{route}.{method.name}"',
                        f'handler="{python}"',
                        f"params={params_class}",
                        f"reply={reply_strict}",
                    ),
                    ")",
                ),
            )
        )
        arguments = []
        server_arguments = []
        for p in method.params:
            annotation = pytypes.plain_annotation(p.type, optional=p.optional)
            server_arguments.append(f"{p.name}: {annotation}")
            if p.default is not None:
                value = pytypes.default_literal(p.type, p.default)
                arguments.append(f"{p.name}: {annotation} = {value}")
            elif p.optional:
                arguments.append(f"{p.name}: {annotation} = None")
            else:
                arguments.append(f"{p.name}: {annotation}")
        doc = _method_doc(method, route)
        args_dict = Group("{", tuple(f'"{p.id}": {p.name}' for p in method.params), "}")
        returns = f") -> {reply_plain}:"
        call_items = (constant, args_dict, "timeout")
        keyword_only = ("self", "*", *arguments, "timeout: float | None = None")
        for is_async, target in ((True, client_methods), (False, sync_methods)):
            prefix = "async def " if is_async else "def "
            awaiting = "await " if is_async else ""
            result = "" if method.returns is None else "return "
            call = Group(f"{result}{awaiting}self.{SYMBOLS['call']}(", call_items, ")")
            target.append(
                ClientMethodView(
                    layout(Group(f"{prefix}{python}(", keyword_only, returns), 4),
                    doc,
                    layout(call, 8),
                )
            )
        server_items = (
            ("self", "*", *server_arguments) if server_arguments else ("self",)
        )
        server_methods.append(
            ServerMethodView(
                layout(Group(f"async def {python}(", server_items, returns), 4), doc
            )
        )
    spec = Group(
        f"{spec_constant} = {_runtime('ServiceSpec')}(",
        (
            f'name="{route}"',
            Group(
                "methods=(",
                tuple(
                    naming.method_constant(service.name, m.name)
                    for m in service.methods
                ),
                ")",
                tuple_syntax=True,
            ),
        ),
        ")",
    )
    return ServiceView(
        params=tuple(params),
        constants=tuple(constants),
        spec=layout(spec, 0),
        spec_constant=spec_constant,
        client_class=naming.client_class(service.name),
        client_doc=_class_doc(f"Asynchronous client of ``{route}``.", service.doc),
        client_methods=tuple(client_methods),
        sync_client_class=naming.sync_client_class(service.name),
        sync_client_doc=_class_doc(f"Blocking client of ``{route}``.", service.doc),
        sync_client_methods=tuple(sync_methods),
        server_class=naming.server_class(service.name),
        server_doc=_class_doc(
            f"Base class of ``{route}`` implementations.", service.doc
        ),
        server_methods=tuple(server_methods),
    )
