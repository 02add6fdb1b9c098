"""A server that describes itself: the built-in ``uvrpc.Reflection`` service.

Every :class:`uvrpc.Server` answers ``uvrpc.Reflection.list()`` (the names of the
services it serves) and ``uvrpc.Reflection.describe(name)`` (what they are: their
methods, parameters with their ids and types, results, declared errors and the
messages, enums and exceptions they use, with the IDL's doc comments), so a caller
without the generated module — ``uvrpc call``, a debugger, another language — can
make any call. A description is computed once, from the descriptors and models the
generated module carries, the first time it is asked for; its wire shape is in
``docs/protocol.md`` ("Reflection").

This module is what ``uvrpc-gen`` would write for the service (messages, method
descriptors, a server base class and a client), so the service goes through the
ordinary dispatcher, plus :func:`describe`, which builds descriptions.
"""

from __future__ import annotations

import ast
import base64
import builtins
import datetime
import decimal
import enum
import functools
import inspect
import sys
import textwrap
import types as _pytypes
import typing
import uuid
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Union, get_args, get_origin

from pydantic import BaseModel

from ..wire import types as _t
from ..wire.errors import DeclaredError, NotFound
from ..wire.limits import echo
from ..wire.message import Message, field_ids
from ..wire.methods import AnyMethod, ServiceSpec, StreamingMethod, Unary
from ..wire.service import ServiceBase
from ..wire.union import WireUnion, union_members
from . import constraints

__all__ = [
    "DESCRIBE_METHOD",
    "DESCRIPTION_VERSION",
    "LIST_METHOD",
    "REFLECTION_SERVICE",
    "Reflection",
    "describe",
    "jsonable",
]

DESCRIPTION_VERSION = 1
"""The version of the description's shape; a reader refuses one it does not know."""

REFLECTION_SERVICE = "uvrpc.Reflection"
"""The wire name of the built-in reflection service."""

Description = dict[str, Any]
"""A description as ``describe`` returns it: msgpack- and JSON-able."""

_SCALARS: tuple[tuple[Any, str], ...] = (
    (_t.Bool, "bool"),
    (_t.I8, "i8"),
    (_t.I16, "i16"),
    (_t.I32, "i32"),
    (_t.I64, "i64"),
    (_t.Float, "float"),
    (_t.Double, "double"),
    (_t.String, "string"),
    (_t.Bytes, "bytes"),
    (_t.Uuid, "uuid"),
    (_t.Timestamp, "timestamp"),
    (_t.Duration, "duration"),
    (_t.Decimal, "decimal"),
    (bool, "bool"),
    (int, "i64"),
    (float, "double"),
    (str, "string"),
    (bytes, "bytes"),
    (memoryview, "bytes"),
    (uuid.UUID, "uuid"),
    (datetime.datetime, "timestamp"),
    (datetime.timedelta, "duration"),
    (decimal.Decimal, "decimal"),
    (None, "void"),
    (type(None), "void"),
    (Any, "any"),
)


def jsonable(value: Any) -> Any:
    """A value as JSON can carry it: bytes as base64 text, enums by name, sets and
    tuples as lists, map keys as text, messages as maps by field name."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, BaseModel):
        return {
            name: jsonable(getattr(value, name)) for name in type(value).model_fields
        }
    if isinstance(value, Mapping):
        return {str(jsonable(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        items = [jsonable(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _doc(obj: object) -> str:
    """An object's own docstring, cleaned, or ``""``."""
    raw = obj.__dict__.get("__doc__") if isinstance(obj, type) else obj.__doc__
    return inspect.cleandoc(raw) if isinstance(raw, str) else ""


def _own_doc(doc: str, name: str, kind: str) -> str:
    """``doc``, the docstring of the definition ``name`` (a ``kind``: message,
    enumeration, exception, union), or ``""`` for the placeholder that uvrpc-gen
    writes for one the IDL left undocumented (``The ``shop.Item`` message.``):
    described, it would be a doc comment the IDL never had. A long name wraps
    the placeholder over several lines, so words are compared, not lines."""
    return "" if doc.split() == f"The ``{name}`` {kind}.".split() else doc


def _method_doc(doc: str, route: str) -> str:
    """A generated handler's docstring as the IDL wrote it: without the
    placeholder of an undocumented method and without the ``Args:`` and
    ``Raises:`` sections."""
    # The Args section repeats what each parameter's own doc says (constraints
    # included), and the Raises section what the method's errors say.
    head = doc.partition("\n\nRaises:")[0].partition("\n\nArgs:")[0]
    if head.split() == ["Call", f"``{route}``."]:  # wrapped where the route is long
        return ""
    return head.strip()


def _attribute_docs(cls: type) -> dict[str, str]:
    """The docstrings written under a class's attributes (exception fields)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return {}
    body = tree.body[0].body if tree.body and hasattr(tree.body[0], "body") else []
    return _docs_under(body)


def _constrained(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    """An ``Annotated`` type as the type it constrains (a scalar alias of
    :mod:`uvrpc.types`, or a plain type) and the metadata added to it."""
    metadata = annotation.__metadata__
    for known, _ in _SCALARS:
        if get_origin(known) is not Annotated:
            continue
        own = known.__metadata__
        if (
            get_args(known)[0] is get_args(annotation)[0]
            and metadata[: len(own)] == own
        ):
            return known, metadata[len(own) :]
    return get_args(annotation)[0], metadata


def _shape(annotation: Any) -> constraints.Shape:
    """A field's type as a :class:`~uvrpc.services.constraints.Shape`: the
    constraints on it and on its elements (names other than containers' are
    left blank: only constraints matter here)."""
    given: dict[str, int | float | str] = {}
    if get_origin(annotation) is Annotated:
        annotation, extra = _constrained(annotation)
        given = constraints.from_metadata(extra)
    origin = get_origin(annotation)
    heads: dict[Any, str] = {
        list: "list",
        tuple: "list",
        set: "set",
        frozenset: "set",
        dict: "map",
    }
    head = heads.get(origin, "")
    for known, name in _SCALARS:
        if annotation is known:
            head = name
    arguments = tuple(_shape(a) for a in get_args(annotation)) if head else ()
    return constraints.Shape(head, given, arguments)


def _without_constraints_doc(doc: str, annotation: Any) -> str:
    """A field's doc without the sentence generated code adds about its
    constraints ("At most 50 characters."), which its type already says."""
    sentence = constraints.doc_text(_shape(annotation))
    if not sentence:
        return doc
    # The docstring is wrapped: compare words, paragraph by paragraph.
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    if paragraphs[-1].split() != sentence.split():
        return doc
    return "\n\n".join(paragraphs[:-1])


@functools.cache
def _module_docs(module_name: str) -> dict[str, str]:
    """The docstrings written under a module's assignments (a union's alias)."""
    module = sys.modules.get(module_name)
    try:
        tree = ast.parse(inspect.getsource(module)) if module is not None else None
    except (OSError, TypeError, SyntaxError):
        tree = None
    return _docs_under(tree.body if tree is not None else [])


def _docs_under(body: list[ast.stmt]) -> dict[str, str]:
    """The docstring written under each annotated name among ``body``'s
    statements, by name."""
    docs: dict[str, str] = {}
    for node, after in zip(body, body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = inspect.cleandoc(after.value.value)
    return docs


class _Describer:
    """Builds the description of services, collecting the types they use."""

    def __init__(self) -> None:
        self.messages: dict[str, Description] = {}
        self.enums: dict[str, Description] = {}
        self.exceptions: dict[str, Description] = {}
        self.unions: dict[str, Description] = {}
        self._namespaces: dict[str, str] = {}

    def namespace(self, cls: type) -> str:
        """The IDL namespace of a generated class, as its module records it.

        A module that uvrpc-gen 0.6.0 wrote before it recorded it is read from its
        wire names (a service's, an exception's); one holding neither, only types,
        is named by its stem, which is its namespace only when the two agree.
        """
        module_name = cls.__module__
        known = self._namespaces.get(module_name)
        if known is not None:
            return known
        module = sys.modules.get(module_name)
        recorded = getattr(module, "__uvrpc_namespace__", None)
        if isinstance(recorded, str) and recorded:
            self._namespaces[module_name] = recorded
            return recorded
        found = module_name.rpartition(".")[2]
        for value in vars(module).values() if module is not None else ():
            if not isinstance(value, type) or value.__module__ != module_name:
                continue
            spec = value.__dict__.get("uvrpc_service")
            if isinstance(spec, ServiceSpec):
                found = spec.name.rpartition(".")[0]
                break
            if issubclass(value, DeclaredError) and value.uvrpc_name:
                found = value.uvrpc_name.rpartition(".")[0]
                break
        self._namespaces[module_name] = found
        return found

    def type_name(self, annotation: Any) -> str:
        """The IDL spelling of a type as generated code writes it, recording the
        messages and enums it names."""
        for known, name in _SCALARS:
            if annotation is known:
                return name
        origin = get_origin(annotation)
        args = get_args(annotation)
        if origin is Annotated:
            if union_members(annotation):
                return self.union_name(annotation)
            for known, name in _SCALARS:
                if annotation == known:
                    return name
            base, extra = _constrained(annotation)
            text = self.type_name(base)
            head = text.partition("<")[0]
            return text + constraints.constraint_text(
                head, constraints.from_metadata(extra)
            )
        if origin in (Union, _pytypes.UnionType):
            rest = [a for a in args if a is not type(None)]
            inner = self.type_name(rest[0]) if len(rest) == 1 else "any"
            return f"optional<{inner}>"
        if origin is list or origin is tuple:
            return f"list<{self.type_name(args[0])}>"
        if origin is set or origin is frozenset:
            return f"set<{self.type_name(args[0])}>"
        if origin is dict:
            return f"map<{self.type_name(args[0])}, {self.type_name(args[1])}>"
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            return self.enum_name(annotation)
        if isinstance(annotation, type) and issubclass(annotation, Message):
            return self.message_name(annotation)
        return "any"

    def enum_name(self, cls: type[enum.Enum]) -> str:
        name = f"{self.namespace(cls)}.{cls.__qualname__}"
        if name not in self.enums:
            self.enums[name] = {
                "name": name,
                "doc": _own_doc(_doc(cls), name, "enumeration"),
                "members": {m.name: m.value for m in cls},
            }
        return name

    def message_name(self, cls: type[Message]) -> str:
        name = f"{self.namespace(cls)}.{cls.__qualname__}"
        if name not in self.messages:
            doc = _own_doc(_doc(cls), name, "message")
            entry: Description = {"name": name, "doc": doc, "fields": []}
            self.messages[name] = entry  # first: a message may contain itself
            entry["fields"] = self.fields(cls)
        return name

    def union_name(self, annotation: Any) -> str:
        """The name of a union alias, recording its members."""
        members = union_members(annotation)
        wire = next(a for a in get_args(annotation)[1:] if isinstance(a, WireUnion))
        module = members[0].__module__
        name = f"{self.namespace(members[0])}.{wire.name}"
        if name not in self.unions:
            doc = _own_doc(_module_docs(module).get(wire.name, ""), name, "union")
            entry: Description = {"name": name, "doc": doc, "members": []}
            self.unions[name] = entry  # first: a union may hold itself
            described = []
            for member in members:
                hint = typing.get_type_hints(member, include_extras=True)["value"]
                member_doc = _doc(member)
                if (
                    member_doc
                    == f"The ``{member.uvrpc_name}`` member of ``{wire.name}``."
                ):
                    member_doc = ""
                described.append(
                    {
                        "id": member.uvrpc_id,
                        "name": member.uvrpc_name,
                        "type": self.type_name(hint),
                        "doc": member_doc,
                    }
                )
            entry["members"] = sorted(described, key=lambda m: int(m["id"]))
        return name

    def fields(
        self, model: type[Message], docs: Mapping[str, str] | None = None
    ) -> list[Description]:
        """The fields (or parameters) of a generated model, in id order."""
        model.model_rebuild()
        hints = typing.get_type_hints(model, include_extras=True)
        fields: list[Description] = []
        for name, info in model.model_fields.items():
            annotation = hints.get(name, info.annotation)
            optional = False
            origin = get_origin(annotation)
            if origin in (Union, _pytypes.UnionType) and type(None) in get_args(
                annotation
            ):
                rest = [a for a in get_args(annotation) if a is not type(None)]
                if len(rest) == 1:
                    optional, annotation = True, rest[0]
            doc = _without_constraints_doc(
                info.description or (docs or {}).get(name, ""), annotation
            )
            field: Description = {
                "id": int(info.serialization_alias or info.alias or 0),
                "name": name,
                "type": self.type_name(annotation),
                "optional": optional,
                "doc": doc,
            }
            if not info.is_required():
                # The declared default itself: get_default() deep-copies it, and a
                # bytes default (a memoryview) cannot be copied that way.
                default = (
                    info.default
                    if info.default_factory is None
                    else info.get_default(call_default_factory=True, validated_data={})
                )
                if not (optional and default is None):
                    field["default"] = jsonable(default)
            fields.append(field)
        fields.sort(key=lambda f: int(f["id"]))
        return fields

    def exception_name(self, cls: type[DeclaredError]) -> str:
        name = cls.uvrpc_name
        if name not in self.exceptions:
            self.exceptions[name] = {
                "name": name,
                "doc": _own_doc(_doc(cls), name, "exception"),
                "fields": self.fields(cls.uvrpc_fields, _attribute_docs(cls)),
            }
        return name

    def method(self, method: AnyMethod, base: type | None) -> Description:
        route = method.route
        handler = getattr(base, method.handler, None) if base else None
        doc = _method_doc(_doc(handler), route) if handler is not None else ""
        entry: Description = {
            "name": route.rpartition(".")[2],
            "route": route,
            "kind": method.kind,
            "oneway": isinstance(method, Unary) and method.oneway,
            "idempotent": isinstance(method, Unary) and method.idempotent,
            "doc": doc,
            "params": self.fields(method.params),
            "stream": None,
            "returns": "void",
            "items": None,
            "errors": [self.exception_name(e) for e in method.errors],
        }
        if isinstance(method, StreamingMethod):
            if method.client_sends:
                entry["stream"] = {
                    "name": method.stream,
                    "type": self.type_name(method.request_item),
                }
                if method.stream_id is not None:  # modules before API 6 omit it
                    entry["stream"]["id"] = method.stream_id
            if method.server_sends:
                entry["items"] = self.type_name(method.reply_item)
            entry["returns"] = self.type_name(method.final.reply)
        else:
            entry["returns"] = self.type_name(method.reply)
        return entry

    def service(self, service: type[ServiceBase]) -> Description:
        spec = service.uvrpc_service
        base = next((c for c in service.__mro__ if "uvrpc_service" in c.__dict__), None)
        doc = _doc(base) if base is not None else ""
        first, _, rest = doc.partition("\n\n")
        if first.startswith("Base class of ``"):
            doc = rest.strip()
        return {
            "name": spec.name,
            "doc": doc,
            "methods": [self.method(m, base) for m in spec.methods],
        }


def describe(*services: ServiceBase | type[ServiceBase]) -> Description:
    """The description of these services and of every type they use.

    The shape, a map of plain values (JSON- and msgpack-able)::

        {"version": 1,
         "services": [{"name", "doc", "methods": [{"name", "route", "kind",
             "oneway", "idempotent", "doc", "params": [field...], "stream",
             "returns", "items", "errors": [name...]}]}],
         "messages": {name: {"name", "doc", "fields": [field...]}},
         "enums": {name: {"name", "doc", "members": {NAME: value}}},
         "exceptions": {name: {"name", "doc", "fields": [field...]}},
         "unions": {name: {"name", "doc", "members": [member...]}}}

    where a field is ``{"id", "name", "type", "optional", "doc"}`` plus
    ``"default"`` when it has one, and a method's ``"stream"`` (the parameter of a
    stream the client sends, else None) is ``{"name", "type"}`` plus its ``"id"``
    when the generated module records it, and a union's member is ``{"id",
    "name", "type", "doc"}``; see ``docs/protocol.md``.
    """
    describer = _Describer()
    described = [
        describer.service(s if isinstance(s, type) else type(s)) for s in services
    ]
    return {
        "version": DESCRIPTION_VERSION,
        "services": described,
        "messages": dict(sorted(describer.messages.items())),
        "enums": dict(sorted(describer.enums.items())),
        "exceptions": dict(sorted(describer.exceptions.items())),
        "unions": dict(sorted(describer.unions.items())),
    }


# --- the service, as uvrpc-gen would write it --------------------------------


class _ListParams(Message):
    model_config = field_ids()


class _DescribeParams(Message):
    model_config = field_ids(name=1)

    name: _t.String = ""


LIST_METHOD: Unary[_ListParams, builtins.list[str]] = Unary(
    route="uvrpc.Reflection.list",
    handler="list",
    params=_ListParams,
    reply=list[_t.String],
    idempotent=True,
)
DESCRIBE_METHOD: Unary[_DescribeParams, dict[str, Any]] = Unary(
    route="uvrpc.Reflection.describe",
    handler="describe",
    params=_DescribeParams,
    reply=dict[str, Any],
    idempotent=True,
)
_REFLECTION = ServiceSpec(
    name=REFLECTION_SERVICE, methods=(LIST_METHOD, DESCRIBE_METHOD)
)


class ReflectionServer(ServiceBase):
    """Base class of ``uvrpc.Reflection`` implementations.

    What a server serves, described for callers without its generated modules.
    """

    uvrpc_service: ClassVar[ServiceSpec] = _REFLECTION

    async def list(self) -> builtins.list[str]:
        """The names of the services served, sorted."""
        raise NotImplementedError

    async def describe(self, *, name: str) -> dict[str, Any]:
        """The description of the service ``name``, or of every service served
        when ``name`` is empty, with the types they use."""
        raise NotImplementedError


class Reflection(ReflectionServer):
    """The reflection service of a server serving ``services`` (itself and the
    other built-in services included). Descriptions are built on first use and
    kept."""

    def __init__(self, services: Sequence[ServiceBase]) -> None:
        self._services = [*services, self]
        self._names = sorted(type(s).uvrpc_service.name for s in self._services)
        self._descriptions: dict[str, Description] = {}

    async def list(self) -> builtins.list[str]:
        return self._names

    async def describe(self, *, name: str) -> dict[str, Any]:
        found = self._descriptions.get(name)
        if found is None:
            if name:
                chosen = [
                    s for s in self._services if type(s).uvrpc_service.name == name
                ]
                if not chosen:
                    raise NotFound(f"this server serves no service '{echo(name)}'")
            else:
                chosen = self._services
            found = self._descriptions[name] = describe(*chosen)
        return found
