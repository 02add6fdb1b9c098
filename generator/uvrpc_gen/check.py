"""Semantic checks of a parsed module.

:func:`check` walks the IR once, collects every problem as a :class:`Diagnostic`
and either raises them all together or returns the module wrapped as
:class:`CheckedModule`, the only input the renderer accepts.
"""

from __future__ import annotations

import builtins
import dataclasses
import difflib
import keyword
import math
import posixpath
import struct
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from . import constraints, naming, pytypes
from .diagnostics import REQUIRED_HINT, Diagnostic, IdlError
from .model import (
    BoolLiteral,
    Const,
    Constraint,
    Definition,
    Enum,
    ExceptionType,
    Field,
    FloatLiteral,
    IntLiteral,
    ListLiteral,
    Literal,
    MapLiteral,
    Message,
    Method,
    Module,
    NameLiteral,
    ReservedRange,
    Service,
    Span,
    StringLiteral,
    Typedef,
    TypeRef,
    UnionType,
)
from .parse import MAX_NESTING
from .symbols import (
    CLASS_BODY_NAMES,
    CLIENT_ATTRIBUTES,
    ENUM_ATTRIBUTES,
    EXCEPTION_ATTRIBUTES,
    GENERATED_ALIASES,
    MESSAGE_ATTRIBUTES,
    SCALAR_TYPES,
    WELL_KNOWN_TYPES,
)

__all__ = [
    "CONTAINER_TYPES",
    "FLOAT_MAX",
    "FUTURE_KEYWORDS",
    "INTEGER_RANGES",
    "KEYWORDS",
    "MAX_ID",
    "CheckedModule",
    "check",
    "has_call_handle",
    "type_text",
]

MAX_ID = 2**29 - 1
"""The largest field or parameter id."""

CONTAINER_TYPES = {"list": 1, "set": 1, "map": 2}
"""Generic built-in types and how many type arguments each takes."""

STREAM = "stream"
"""``stream<T>``: a method's return type or one parameter's type, nothing else."""

INTEGER_RANGES = {
    "i8": (-(2**7), 2**7 - 1),
    "i16": (-(2**15), 2**15 - 1),
    "i32": (-(2**31), 2**31 - 1),
    "i64": (-(2**63), 2**63 - 1),
}
"""The inclusive range of each integer scalar."""

KEYWORDS = frozenset({"namespace", "enum", "message", "service", "optional", "union"})
"""Words of the grammar that no definition may take (with the built-in type names)."""

FUTURE_KEYWORDS = frozenset(
    {
        "import",
        "const",
        "typedef",
        "exception",
        "throws",
        "oneway",
        "idempotent",
        "stream",
    }
)
"""Keywords of the IDL that no name of any kind may take: where a name is expected
the grammar lets them through, and the checker says what they are."""

FLOAT_MAX = struct.unpack("<f", b"\xff\xff\x7f\x7f")[0]
"""The largest finite single-precision value, the bound of ``float`` defaults."""

_BUILTIN_TYPE_NAMES = frozenset(
    {*SCALAR_TYPES, *CONTAINER_TYPES, STREAM, "void", "true", "false"}
)
_PYTHON_BUILTINS = frozenset(n for n in dir(builtins) if not n.startswith("_"))
_FUTURE_IMPORT = "annotations"
"""The one name a generated module binds without an underscore besides its own
definitions (``from __future__ import annotations``, in ``module.py.j2``)."""
_FOREIGN_TYPES: Mapping[str, tuple[str, ...]] = {
    "int": ("i32", "i64"),
    "integer": ("i32", "i64"),
    "long": ("i64",),
    "short": ("i16",),
    "byte": ("i8",),
    "sfixed32": ("i32",),
    "sfixed64": ("i64",),
    "binary": ("bytes",),
    "float64": ("double",),
    "dict": ("map",),
    "datetime": ("timestamp",),
    "google.protobuf.Timestamp": ("timestamp",),
    "google.protobuf.Duration": ("duration",),
    "timedelta": ("duration",),
}
"""Type names of other languages and IDLs, and the IDL types they mean: names
no IDL type is close enough to for a hint by spelling (``int``), or that the
closest one is wrong for (``float64`` is spelt nearly ``float`` and is a double,
``timedelta`` nearly ``timestamp`` and is a duration, Thrift's ``byte`` nearly
``bytes`` and is an i8), and
protobuf's well-known types that are built in here."""

_UNSIGNED_TYPES: Mapping[str, str] = {
    "uint8": "i16",
    "uint16": "i32",
    "uint32": "i64",
    "fixed32": "i64",
    "uint64": "i64",
    "fixed64": "i64",
}
"""Unsigned types of other IDLs, and the signed type that holds their values:
all of them but for the 64-bit ones, which it holds up to 2**63-1."""


_WRAPPERS: Mapping[str, str] = {
    "DoubleValue": "double",
    "FloatValue": "float",
    "Int64Value": "i64",
    "UInt64Value": "i64",
    "Int32Value": "i32",
    "UInt32Value": "i64",
    "BoolValue": "bool",
    "StringValue": "string",
    "BytesValue": "bytes",
}
"""protobuf's wrapper types, and the type of the ``optional`` field each is."""

_PROTOBUF_TYPES: Mapping[str, str] = {
    "google.protobuf.Empty": (
        "protobuf's Empty is an empty message here: define 'message Empty {}' "
        "(or write a method that takes nothing with no parameters, one that "
        "returns nothing 'void')"
    ),
    "google.protobuf.Any": (
        "there is no 'Any' here: use a union of the types it may hold"
    ),
    **{
        f"google.protobuf.{wrapper}": (
            f"protobuf's wrapper types are optional fields here: write "
            f"'optional {type_}'"
        )
        for wrapper, type_ in _WRAPPERS.items()
    },
}
"""protobuf's well-known types that have no IDL type, and what to write instead."""


@dataclass(frozen=True, slots=True)
class CheckedModule:
    """A module that passed every check: types resolve, defaults fit, names are
    free. ``namespace`` is the module's (never missing) namespace.

    Typedefs are replaced by the types they name in every field, parameter,
    return type and constant of ``module``; ``imports`` maps the stem each
    imported file is named by (``common`` for ``import "common.idl"``) to that
    file's checked module.
    """

    module: Module
    namespace: str
    imports: Mapping[str, CheckedModule] = dataclasses.field(default_factory=dict)

    def definition(self, name: str) -> Definition | None:
        """The definition a (possibly ``stem.``-qualified) name refers to."""
        stem, _, local = name.rpartition(".")
        if stem:
            imported = self.imports.get(stem)
            return None if imported is None else imported.definition(local)
        return next((d for d in self.module.definitions if d.name == name), None)


def check(
    module: Module, imports: Mapping[str, CheckedModule] | None = None
) -> CheckedModule:
    """Check ``module`` and return it as a :class:`CheckedModule`.

    ``imports`` holds the checked modules of the files ``module`` imports, keyed by
    their stems; :mod:`uvrpc_gen.load` reads and checks them in dependency order.

    Raises:
        IdlError: with every problem found, in source order.
    """
    imports = dict(imports or {})
    checker = _Checker(module, imports)
    expanded = checker.run()
    if checker.errors:
        errors = sorted(
            set(checker.errors), key=lambda d: (d.span.line, d.span.column, d.message)
        )
        raise IdlError(errors)
    assert expanded.namespace is not None
    return CheckedModule(expanded, expanded.namespace, imports)


def _nesting(ref: TypeRef, depths: dict[int, tuple[object, int]]) -> int:
    """How many levels of type arguments ``ref`` nests, as the parser counts
    them against :data:`MAX_NESTING` (``i32``: 0, ``list<i32>``: 1).

    Expanded typedefs share their arguments: ``depths`` remembers each tuple of
    arguments met, by identity (and holds it, so that no other object takes its
    id), so a type that names a typedef twice at every level (``map<A, A>``) is
    measured in linear time.
    """
    key = id(ref.arguments)
    if key not in depths:
        depth = max((1 + _nesting(a, depths) for a in ref.arguments), default=0)
        depths[key] = (ref.arguments, depth)
    return depths[key][1]


def type_text(ref: TypeRef, limit: int | None = None) -> str:
    """A type as the IDL spells it: ``map<string, list<i32>>``; with ``limit``,
    cut after that many characters (``map<map<…``), in time bounded by it: an
    expanded typedef can be a tree of millions of nodes that names one subtree
    many times."""
    most = sys.maxsize if limit is None else limit
    parts: list[str] = []
    size = 0

    def write(text: str) -> bool:
        nonlocal size
        parts.append(text)
        size += len(text)
        return size <= most

    def walk(ref: TypeRef) -> bool:
        if not write(ref.name):
            return False
        if not ref.arguments:
            return True
        for index, argument in enumerate(ref.arguments):
            if not write(", " if index else "<") or not walk(argument):
                return False
        return write(">")

    if walk(ref):
        return "".join(parts)
    return "".join(parts)[:most] + "…"


_WIRE_KINDS = (Enum, Message, ExceptionType, UnionType, Service)
"""The kinds of definitions that travel by their wire name (``namespace.Name``):
in errors, routes, reflection and union members."""

_KIND_NAMES: Mapping[type, str] = {
    Enum: "enum",
    Message: "message",
    ExceptionType: "exception",
    UnionType: "union",
    Service: "service",
    Const: "constant",
    Typedef: "typedef",
}


def _suggestions(name: str, known: Iterable[str]) -> list[str]:
    """The known names to suggest for the unknown ``name``.

    An unqualified name that imported files define is most likely one of those
    written without its file's stem (``Genre`` for ``common.Genre``), however far
    apart the spellings; then a known name that differs only in case (``uuid``
    for ``UUID``); otherwise the known name closest in spelling, if any.
    """
    known = list(known)
    if "." not in name:
        imported = sorted(k for k in known if k.endswith(f".{name}"))
        if imported:
            return imported
    same_letters = [k for k in known if k.lower() == name.lower()]
    if same_letters:  # UUID, I64: too far apart in spelling for difflib
        return same_letters
    return difflib.get_close_matches(name, known, n=1)


def _did_you_mean(names: Sequence[str]) -> str:
    """The hint that ends an unknown-name error: ``; did you mean 'a' or 'b'?``,
    or nothing when there is nothing to suggest."""
    if not names:
        return ""
    quoted = [f"'{n}'" for n in names]
    listed = ", ".join(quoted[:-1]) + " or " + quoted[-1] if names[1:] else quoted[0]
    return f"; did you mean {listed}?"


def _where(span: Span) -> str:
    """Where a first definition is, for messages about a second one."""
    return f"line {span.line}"


def _plural(reserved: ReservedRange) -> str:
    """``s`` for a range of several ids, for messages that name it."""
    return "" if reserved.low == reserved.high else "s"


def _position(span: Span) -> str:
    """Where a reservation is, as ``file:line:col``, for messages about a member
    that takes what it reserves."""
    return f"{span.file}:{span.line}:{span.column}"


class _Checker:
    """Collects the diagnostics of one module."""

    def __init__(self, module: Module, imports: Mapping[str, CheckedModule]) -> None:
        self.module = module
        self.imports = imports
        self.errors: list[Diagnostic] = []
        self.kinds: dict[str, Definition] = {}
        self.typedefs: dict[str, TypeRef] = {}
        self.consts_seen: set[str] = set()
        self.in_const = False
        # The names suggested for each unknown type: a misspelt type used in a
        # thousand fields is looked up in every known name once.
        self.suggested: dict[str, Sequence[str]] = {}

    def error(self, span: Span, message: str) -> None:
        """Record one diagnostic."""
        self.errors.append(Diagnostic(span, message))

    def run(self) -> Module:
        """Check the whole module: namespace, imports, names, then each definition.

        Returns the module with its typedefs replaced by the types they name.
        """
        module = self.module
        if module.namespace is None or module.namespace_span is None:
            span = Span(module.file, 1, 1, 2)
            self.error(span, "missing namespace; start the file with 'namespace name;'")
        else:
            for part in module.namespace.split("."):
                self.python_name(part, module.namespace_span, "namespace part")
        for definition in module.definitions:
            self.definition_name(definition)
        self.import_names()
        self.wire_names()
        self.generated_names()
        self.resolve_typedefs()
        module = self.module = _expand_module(module, self.expand)
        for definition in module.definitions:
            if isinstance(definition, Enum):
                self.enum(definition)
                self.reservations(definition)
            elif isinstance(definition, Message):
                self.fields(definition.fields, "field", parameter=False)
                self.reservations(definition)
            elif isinstance(definition, ExceptionType):
                self.fields(definition.fields, "exception field", parameter=False)
                self.reservations(definition)
            elif isinstance(definition, UnionType):
                self.union(definition)
                self.reservations(definition)
            elif isinstance(definition, Const):
                self.in_const = True
                self.const(definition)
                self.in_const = False
            elif isinstance(definition, Service):
                self.service(definition)
        self.buildable()
        return module

    def buildable(self) -> None:
        """Report messages and unions of which no value can be built: a message that
        needs itself again through required fields (``1: Node next;``, or ``A``
        needing a ``B`` that needs an ``A``), or a union each of whose members does.
        The generated model of one would refuse every value, its own included."""
        local: dict[str, Message | UnionType] = {
            d.name: d
            for d in self.module.definitions
            if isinstance(d, Message | UnionType)
        }
        built: set[str] = set()

        def ready(ref: TypeRef) -> bool:
            return ref.name not in local or ref.name in built

        while True:
            grown = {
                name
                for name, d in local.items()
                if name not in built
                and (
                    any(ready(m.type) for m in d.members) or not d.members
                    if isinstance(d, UnionType)
                    else all(f.optional or ready(f.type) for f in d.fields)
                )
            }
            if not grown:
                break
            built |= grown
        for name, d in local.items():
            if name in built:
                continue
            if isinstance(d, UnionType):
                self.error(
                    d.span,
                    f"union '{name}' can never hold a value: each of its members "
                    "needs a value that needs a union of this type again; add a "
                    "member that ends the chain (a scalar, a list, an optional "
                    "field's message)",
                )
                continue
            field = next(f for f in d.fields if not f.optional and not ready(f.type))
            needed = field.type.name
            self.error(
                field.span,
                f"message '{name}' can never be built: its required field "
                f"'{field.name}' needs a '{needed}', and a '{needed}' needs itself "
                "again through required fields; make a field along the chain "
                "'optional' (or a list)",
            )

    # --- imports and typedefs -------------------------------------------------

    def import_names(self) -> None:
        """Report imports that cannot be named in the module, and make the imported
        definitions known as ``stem.Name``."""
        seen: dict[str, Span] = {}
        for imported in self.module.imports:
            stem, span = imported.stem, imported.span
            if not stem.isidentifier() or keyword.iskeyword(stem):
                self.error(
                    span, f"cannot import '{imported.path}': '{stem}' is not a name"
                )
                continue
            if f"_{stem}" in GENERATED_ALIASES:
                self.error(
                    span,
                    f"cannot import '{imported.path}': its module would be imported as "
                    f"'_{stem}', a name generated modules already use",
                )
                continue
            if stem in seen:
                self.error(
                    span,
                    f"'{stem}' is imported twice (first at {_where(seen[stem])})",
                )
                continue
            seen[stem] = span
            if stem in self.kinds:
                self.error(
                    span,
                    f"imported file '{imported.path}' is named like the definition "
                    f"'{stem}' ({_where(self.kinds[stem].span)})",
                )
            checked = self.imports.get(stem)
            if checked is None:
                self.error(span, f"'{imported.path}' was not loaded")
                continue
            local = {d.name for d in checked.module.definitions}
            for definition in checked.module.definitions:
                if isinstance(definition, Const):
                    definition = _qualified_const(definition, stem, local)
                self.kinds[f"{stem}.{definition.name}"] = definition
            for name, ref in _typedefs(checked).items():
                self.typedefs[f"{stem}.{name}"] = _qualified(ref, stem, local)

    def wire_names(self) -> None:
        """Report a definition that travels by the wire name of a definition of
        an imported file of the same namespace.

        Within a file a name is defined once; files that share a namespace share
        its wire names (``same.ns.Boom``, ``same.ns.S.f``), by which an error is
        told from another and a call finds its method, so a name is defined once
        across them too. Constants and typedefs never travel by name.
        """
        namespace = self.module.namespace
        if namespace is None:
            return
        for definition in self.module.definitions:
            if not isinstance(definition, _WIRE_KINDS):
                continue
            for stem, checked in self.imports.items():
                if checked.namespace != namespace:
                    continue
                other = checked.definition(definition.name)
                if isinstance(other, _WIRE_KINDS):
                    self.error(
                        definition.span,
                        f"'{definition.name}' is '{namespace}.{definition.name}' "
                        f"on the wire, as '{stem}.{other.name}' "
                        f"({_position(other.span)}) is: the two files share the "
                        f"namespace '{namespace}'; rename one, or give the files "
                        "different namespaces",
                    )
                    break

    def wire_name(self, name: str) -> str:
        """The wire name of the definition ``name`` (``stem.``-qualified for an
        imported one): its file's namespace and its own name."""
        stem, _, local = name.rpartition(".")
        checked = self.imports.get(stem) if stem else None
        namespace = self.module.namespace if checked is None else checked.namespace
        return f"{namespace}.{local}"

    def resolve_typedefs(self) -> None:
        """Expand every local typedef, reporting cycles and bad targets.

        Like a written type, an expanded one nests at most :data:`MAX_NESTING`
        levels, and a typedef names typedefs at most that many deep: the checker
        and the generator recurse once per level, and so does this expansion.
        """
        local = {d.name: d for d in self.module.definitions if isinstance(d, Typedef)}
        done: dict[str, TypeRef] = {}
        too_deep: set[str] = set()  # reported once, whoever names them
        depths: dict[int, tuple[object, int]] = {}

        def resolve(name: str, chain: tuple[str, ...]) -> TypeRef | None:
            if name in done:
                return done[name]
            if name in too_deep:
                return None
            typedef = local[name]
            if name in chain:
                path = " -> ".join((*chain[chain.index(name) :], name))
                self.error(typedef.span, f"typedef '{name}' refers to itself ({path})")
                return None
            if len(chain) > MAX_NESTING:
                first = local[chain[0]]
                self.error(
                    first.span,
                    f"typedef '{first.name}' names typedefs more than {MAX_NESTING} "
                    f"deep ({chain[0]} -> {chain[1]} -> ... -> {name}); the IDL "
                    f"allows at most {MAX_NESTING}",
                )
                return None
            target = self.expand_with(
                typedef.type,
                lambda n: resolve(n, (*chain, name)) if n in local else None,
            )
            if target is not None and _nesting(target, depths) > MAX_NESTING:
                self.error(
                    typedef.span,
                    f"typedef '{name}' nests deeper than {MAX_NESTING} levels once "
                    f"the typedefs it names are expanded; the IDL allows at most "
                    f"{MAX_NESTING}",
                )
                too_deep.add(name)
                return None
            if target is not None:
                done[name] = target
            return target

        for name, typedef in local.items():
            target = resolve(name, ())
            if target is None:
                continue
            self.typedefs[name] = target
            if target.name == STREAM:
                self.error(
                    typedef.type.span,
                    "a typedef cannot name a stream; write 'stream<T>'",
                )
            elif target.name == "void":
                self.error(typedef.type.span, "a typedef cannot name 'void'")
            else:
                self.type(target)

    def expand_with(
        self, ref: TypeRef, local: Callable[[str], TypeRef | None]
    ) -> TypeRef | None:
        """``ref`` with typedef names replaced, local ones looked up by ``local``."""
        arguments: list[TypeRef] = []
        for argument in ref.arguments:
            expanded = self.expand_with(argument, local)
            if expanded is None:
                return None
            arguments.append(expanded)
        if not ref.arguments:
            target = self.typedefs.get(ref.name)
            if target is None and isinstance(self.kinds.get(ref.name), Typedef):
                target = local(ref.name)
                if target is None:
                    return None
            if target is not None:
                return dataclasses.replace(
                    target,
                    span=ref.span,
                    constraints=self.merged_constraints(ref, target),
                )
        return dataclasses.replace(ref, arguments=tuple(arguments))

    def merged_constraints(
        self, ref: TypeRef, target: TypeRef
    ) -> tuple[Constraint, ...]:
        """The constraints of a typedef's type followed by those a use of the
        typedef adds; one the typedef already sets is reported and dropped."""
        taken = {c.name for c in target.constraints}
        added = []
        for constraint in ref.constraints:
            if constraint.name in taken:
                self.error(
                    constraint.span,
                    f"typedef '{ref.name}' already sets the constraint "
                    f"'{constraint.name}'",
                )
            else:
                added.append(constraint)
        return (*target.constraints, *added)

    def expand(self, ref: TypeRef) -> TypeRef:
        """``ref`` with every typedef replaced by the type it names."""
        return self.expand_with(ref, lambda name: None) or ref

    # --- names --------------------------------------------------------------------

    def python_name(self, name: str, span: Span, what: str) -> bool:
        """Report a name that cannot be a Python name; return whether it was OK."""
        if keyword.iskeyword(name):
            self.error(
                span, f"{what} '{name}' is a Python keyword; {_rename(name, what)}"
            )
            return False
        if name in FUTURE_KEYWORDS:
            self.error(span, f"{what} '{name}' is a reserved word of the IDL")
            return False
        if name.startswith("_"):
            self.error(span, f"{what} '{name}' must not start with an underscore")
            return False
        return True

    def definition_name(self, definition: Definition) -> None:
        """Report a bad or duplicate definition name; remember the first one."""
        name, span = definition.name, definition.span
        what = _KIND_NAMES[type(definition)]
        if self.python_name(name, span, f"{what} name"):
            if name in KEYWORDS or name in _BUILTIN_TYPE_NAMES:
                self.error(span, f"{what} name '{name}' is a reserved word of the IDL")
            elif name in _PYTHON_BUILTINS:
                self.error(
                    span,
                    f"{what} name '{name}' would shadow the Python built-in "
                    f"'{name}'; {_renamed_definition(what)}",
                )
            elif name == _FUTURE_IMPORT:
                self.error(
                    span,
                    f"{what} name '{name}' is taken: every generated module binds "
                    "it ('from __future__ import annotations')",
                )
            elif name in CLASS_BODY_NAMES and isinstance(
                definition, (Enum, Message, UnionType, Const)
            ):  # the kinds annotations and defaults name (typedefs are expanded)
                self.error(
                    span,
                    f"{what} name '{name}' is taken: the generated classes bind it "
                    "in their bodies, where it would hide this definition from "
                    f"their annotations and defaults; {_renamed_definition(what)}",
                )
        first = self.kinds.get(name)
        if first is not None:
            self.error(
                span,
                f"duplicate definition '{name}' "
                f"(first defined at {_where(first.span)})",
            )
        else:
            self.kinds[name] = definition

    def generated_names(self) -> None:
        """Report user definitions and generated names that would be the same name."""
        taken: dict[str, str] = {}
        for definition in self.module.definitions:
            if isinstance(definition, ExceptionType):
                taken[naming.fields_class(definition.name)] = definition.name
            if isinstance(definition, UnionType):
                self.member_classes(definition, taken)
        for definition in self.module.definitions:
            if not isinstance(definition, Service):
                continue
            service = definition.name
            public = {
                naming.client_class(service): "client",
                naming.sync_client_class(service): "blocking client",
                naming.server_class(service): "server base class",
                naming.unimplemented_server_class(service): "partial server class",
            }
            for name, what in public.items():
                user = self.kinds.get(name)
                if user is not None:
                    self.error(
                        user.span,
                        f"'{name}' clashes with the {what} generated for service "
                        f"'{service}' ({_where(definition.span)})",
                    )
                member = taken.get(name)
                if member is not None:
                    self.error(
                        definition.span,
                        f"the {what} '{name}' generated for service '{service}' "
                        f"clashes with the class generated for union member "
                        f"'{member}'",
                    )
            generated = [(naming.service_constant(service), definition.span, service)]
            seen: set[str] = set()
            for method in definition.methods:
                if naming.snake_case(method.name) in seen:
                    continue  # reported as a duplicate method
                seen.add(naming.snake_case(method.name))
                label = f"{service}.{method.name}"
                generated.append(
                    (naming.params_class(service, method.name), method.span, label)
                )
                generated.append(
                    (naming.method_constant(service, method.name), method.span, label)
                )
            for name, span, label in generated:
                owner = taken.setdefault(name, label)
                if owner != label:
                    self.error(
                        span,
                        f"'{label}' and '{owner}' would both generate "
                        f"the name '{name}'",
                    )

    def member_classes(self, union: UnionType, taken: dict[str, str]) -> None:
        """Report a definition, or another member, with the name of the class
        generated for a member of ``union``; record the names in ``taken``."""
        for member in union.members:
            if member.name.startswith("_"):
                # Refused for its underscore; '_' alone would otherwise also be
                # said to clash with the union itself (its class is '<Union>').
                continue
            name = naming.union_member_class(union.name, member.name)
            label = f"{union.name}.{member.name}"
            user = self.kinds.get(name)
            if user is not None:
                self.error(
                    user.span,
                    f"'{name}' clashes with the class generated for member "
                    f"'{member.name}' of union '{union.name}' ({_where(member.span)})",
                )
            owner = taken.setdefault(name, label)
            if owner != label:
                self.error(
                    member.span,
                    f"'{label}' and '{owner}' would both generate the class '{name}'",
                )

    # --- unions -------------------------------------------------------------------

    def union(self, union: UnionType) -> None:
        """Check a union: at least one member, each a field without 'optional' or
        a default, of any type a field may have."""
        if not union.members:
            self.error(
                union.span,
                f"union '{union.name}' has no members; a union holds exactly one of "
                "its members, so give it at least one",
            )
        for member in union.members:
            if member.optional:
                self.error(
                    member.span,
                    f"union member '{member.name}' cannot be optional: a union value "
                    "always holds exactly one member (make the field of the union "
                    "type optional instead)",
                )
            if member.default is not None:
                self.error(
                    member.default.span,
                    f"union member '{member.name}' cannot have a default",
                )
        plain = [
            dataclasses.replace(m, optional=False, default=None) for m in union.members
        ]
        self.fields(plain, "union member", parameter=False)

    # --- enums --------------------------------------------------------------------

    def enum(self, enum: Enum) -> None:
        """Report bad, duplicate or out-of-range enum members."""
        names: dict[str, Span] = {}
        values: dict[int, Span] = {}
        low, high = INTEGER_RANGES["i32"]
        for value in enum.values:
            if self.python_name(value.name, value.span, "enum member"):
                if value.name in ENUM_ATTRIBUTES:
                    self.error(
                        value.span,
                        f"enum member '{value.name}' clashes with an attribute of "
                        "enum.IntEnum",
                    )
            if value.name in names:
                self.error(
                    value.span,
                    f"duplicate enum member '{value.name}' "
                    f"(first defined at {_where(names[value.name])})",
                )
            names.setdefault(value.name, value.span)
            if value.value in values:
                self.error(
                    value.value_span,
                    f"duplicate enum value {value.value} "
                    f"(first used at {_where(values[value.value])})",
                )
            values.setdefault(value.value, value.value_span)
            if not low <= value.value <= high:
                self.error(
                    value.value_span,
                    f"enum value {value.value} is out of range for i32",
                )

    # --- fields and parameters -------------------------------------------------

    def fields(self, fields: Iterable[Field], what: str, *, parameter: bool) -> None:
        """Check the names, ids, types and defaults of fields or parameters."""
        names: dict[str, Span] = {}
        ids: dict[int, Span] = {}
        for field in fields:
            self.field_name(field, what, parameter=parameter)
            if field.name in names:
                self.error(
                    field.span,
                    f"duplicate {what} name '{field.name}' "
                    f"(first defined at {_where(names[field.name])})",
                )
            names.setdefault(field.name, field.span)
            if not 1 <= field.id <= MAX_ID:
                self.error(
                    field.id_span,
                    f"{what} id {field.id} is out of range (1..{MAX_ID})",
                )
            elif field.id in ids:
                self.error(
                    field.id_span,
                    f"duplicate {what} id {field.id} "
                    f"(first used at {_where(ids[field.id])})",
                )
            ids.setdefault(field.id, field.id_span)
            if field.type.name == STREAM and parameter:
                if field.optional or field.default is not None:
                    self.error(
                        field.span,
                        f"stream parameter '{field.name}' cannot be optional or have "
                        "a default (an empty stream sends no items)",
                    )
                self.type(field.type, stream=True)
            elif self.type(field.type) and field.default is not None:
                self.default(field, parameter=parameter)

    def field_name(self, field: Field, what: str, *, parameter: bool) -> None:
        """Report a field or parameter name the generated code cannot use."""
        name, span = field.name, field.span
        if not self.python_name(name, span, f"{what} name"):
            return
        if what == "union member":
            return  # data and part of a class name, never an attribute
        if parameter and name in ("self", "timeout", "wait_for_ready"):
            self.error(
                span,
                f"parameter name '{name}' is taken by the generated methods; "
                + _rename(name, "parameter name"),
            )
        elif what == "exception field" and name == "self":
            self.error(
                span,
                "exception field name 'self' is taken: the generated exception's "
                "constructor takes each field as a keyword beside 'self'; rename "
                "the field",
            )
        elif what == "exception field" and name == "message":
            # Thrift's own test schema has one: the field is the message text.
            if field.type.name != "string" or field.type.arguments or field.optional:
                self.error(
                    span,
                    "exception field 'message' is the exception's message text: "
                    "declare it 'string' (not optional; give it a default "
                    "instead), or rename the field",
                )
        elif what == "exception field" and name in EXCEPTION_ATTRIBUTES:
            self.error(
                span,
                f"exception field name '{name}' clashes with an attribute of "
                "uvrpc.DeclaredError; rename the field",
            )
        elif name in MESSAGE_ATTRIBUTES or name.startswith("model_"):
            self.error(
                span,
                f"{what} name '{name}' clashes with an attribute of uvrpc.Message; "
                + _rename(name, f"{what} name"),
            )
        elif name in self.kinds:
            kind = "constant" if isinstance(self.kinds[name], Const) else "type"
            self.error(
                span,
                f"{what} name '{name}' is also the name of a {kind}; rename the {what}",
            )

    # --- reserved ids and names -----------------------------------------------------

    def reservations(
        self, definition: Message | ExceptionType | UnionType | Enum
    ) -> None:
        """Report bad, overlapping or duplicate reservations, and members that take
        a reserved id (an enum's: value) or name."""
        if isinstance(definition, Enum):
            low, high = INTEGER_RANGES["i32"]
            what, number, label = "enum member", "value", "enum value"
            members = [
                (v.name, v.span, v.value, v.value_span) for v in definition.values
            ]
        else:
            low, high = 1, MAX_ID
            if isinstance(definition, UnionType):
                what, fields = "union member", definition.members
            else:
                what = "field" if isinstance(definition, Message) else "exception field"
                fields = definition.fields
            number, label = "id", f"{what} id"
            members = [(f.name, f.span, f.id, f.id_span) for f in fields]
        ranges: list[ReservedRange] = []
        for reserved in definition.reserved_ids:
            if reserved.low > reserved.high:
                self.error(
                    reserved.span,
                    f"bad reserved range '{reserved.low} to {reserved.high}': "
                    f"write it from the lower {number}, "
                    f"'{reserved.high} to {reserved.low}'",
                )
                continue
            if reserved.low < low or reserved.high > high:
                self.error(
                    reserved.span,
                    f"reserved {number}{_plural(reserved)} {reserved.text} "
                    f"{'are' if _plural(reserved) else 'is'} out of range "
                    f"({low}..{high})",
                )
                continue
            earlier = next(
                (
                    r
                    for r in ranges
                    if r.low <= reserved.high and reserved.low <= r.high
                ),
                None,
            )
            if earlier is not None:
                self.error(
                    reserved.span,
                    f"reserved {number}{_plural(reserved)} {reserved.text} overlap"
                    f"{'' if _plural(reserved) else 's'} {earlier.text}, "
                    f"reserved at {_position(earlier.span)}",
                )
                continue
            ranges.append(reserved)
        names: dict[str, Span] = {}
        for reserved_name in definition.reserved_names:
            name = reserved_name.name
            if not name.isidentifier() or not name.isascii():
                self.error(
                    reserved_name.span,
                    f"reserved name {name!r} is not a name "
                    f"{'an' if what[0] in 'aeiou' else 'a'} {what} could have",
                )
            elif name in names:
                self.error(
                    reserved_name.span,
                    f"name '{name}' is already reserved at {_position(names[name])}",
                )
            names.setdefault(name, reserved_name.span)
        for name, span, value, value_span in members:
            taken = next((r for r in ranges if value in r), None)
            if taken is not None:
                self.error(
                    value_span,
                    f"{label} {value} is reserved at {_position(taken.span)}",
                )
            if name in names:
                self.error(
                    span,
                    f"{what} name '{name}' is reserved at {_position(names[name])}",
                )

    # --- services -----------------------------------------------------------------

    def service(self, service: Service) -> None:
        """Check a service's method names, signatures and return types."""
        names: dict[str, Method] = {}
        for method in service.methods:
            python = naming.snake_case(method.name)
            if self.python_name(method.name, method.span, "method name"):
                self.method_name(method, python)
            first = names.get(python)
            if first is not None:
                if first.name == method.name:
                    message = f"duplicate method name '{method.name}'"
                else:
                    message = (
                        f"method names '{first.name}' and '{method.name}' are both "
                        f"'{python}' in Python"
                    )
                self.error(
                    method.span, f"{message} (first defined at {_where(first.span)})"
                )
            else:
                names[python] = method
            if method.returns is not None:
                self.type(method.returns, stream=True)
            self.fields(method.params, "parameter", parameter=True)
            self.method_kind(method)
            self.throws(method)
        for method in service.methods:
            if not has_call_handle(method):
                continue
            start = naming.start_method(method.name)
            other = names.get(start)
            if other is not None:
                self.error(
                    other.span,
                    f"method name '{other.name}' clashes with '{start}', the "
                    f"call-handle twin of method '{method.name}' "
                    f"({_where(method.span)})",
                )
            elif start in CLIENT_ATTRIBUTES:
                self.error(
                    method.span,
                    f"method name '{method.name}' makes '{start}', which clashes "
                    "with an attribute of the generated clients' base class",
                )
            elif isinstance(self.kinds.get(start), (Enum, Message, UnionType, Const)):
                # Bound in the async client's body, the twin would hide the
                # definition from the annotations and defaults of later methods.
                kind = "constant" if isinstance(self.kinds[start], Const) else "type"
                self.error(
                    method.span,
                    f"method name '{method.name}' makes '{start}', the name of a "
                    f"{kind} of the module, which the async client would hide; "
                    f"rename the method or the {kind}",
                )

    def method_kind(self, method: Method) -> None:
        """Report modifiers and streams a method cannot have together."""
        seen: set[str] = set()
        for name, span in method.modifiers:
            if name in seen:
                self.error(span, f"duplicate modifier '{name}'")
            seen.add(name)
        streams = [p for p in method.params if p.type.name == STREAM]
        for extra in streams[1:]:
            self.error(
                extra.type.span, "a method takes at most one stream<T> parameter"
            )
        for name, span in method.modifiers:
            if name == "oneway":
                if method.returns is not None:
                    self.error(
                        method.returns.span,
                        "a oneway method returns nothing; declare it 'oneway void'",
                    )
                if streams:
                    self.error(span, "a oneway method cannot take a stream")
                if method.throws:
                    self.error(
                        method.throws[0].span,
                        "a oneway method cannot declare errors: no reply is sent",
                    )
                if method.idempotent:
                    self.error(
                        span,
                        "a oneway method cannot be idempotent: without a reply, a "
                        "failed call is never seen, so it is never retried",
                    )
            elif method.kind != "unary":
                self.error(
                    span,
                    "a streaming method cannot be idempotent: streams are not retried",
                )

    def throws(self, method: Method) -> None:
        """Report ``throws`` entries that are not distinct exception types."""
        seen: dict[str, Span] = {}
        wire: dict[str, TypeRef] = {}
        exceptions = [n for n, d in self.kinds.items() if isinstance(d, ExceptionType)]
        for ref in method.throws:
            definition = self.kinds.get(ref.name)
            if definition is None:
                hint = _did_you_mean(_suggestions(ref.name, exceptions))
                self.error(ref.span, f"unknown exception '{ref.name}'{hint}")
            elif not isinstance(definition, ExceptionType):
                what = _KIND_NAMES[type(definition)]
                self.error(
                    ref.span,
                    f"'{ref.name}' is a {what}, not an exception; declare it with "
                    "'exception'",
                )
            elif ref.name in seen:
                self.error(
                    ref.span,
                    f"'{ref.name}' is declared twice "
                    f"(first at {_where(seen[ref.name])})",
                )
            else:
                self.same_wire_name(ref, wire)
            seen.setdefault(ref.name, ref.span)

    def same_wire_name(self, ref: TypeRef, wire: dict[str, TypeRef]) -> None:
        """Report a ``throws`` entry whose exception has the wire name of an
        earlier one (two files of one namespace): the caller tells a raised
        error by its wire name, and would get neither class."""
        name = self.wire_name(ref.name)
        first = wire.setdefault(name, ref)
        if first is not ref:
            self.error(
                ref.span,
                f"'{ref.name}' and '{first.name}' ({_where(first.span)}) are both "
                f"'{name}' on the wire, so a caller cannot tell which was raised; "
                "declare one of them, or rename one",
            )

    def method_name(self, method: Method, python: str) -> None:
        """Report a method whose Python name the generated classes cannot use.

        A method is a class attribute, so inside the generated classes its name
        hides a type of the same name from later annotations.
        """
        name, span = method.name, method.span
        if keyword.iskeyword(python):
            self.error(
                span, f"method name '{name}' becomes the Python keyword '{python}'"
            )
        elif python in CLIENT_ATTRIBUTES:
            self.error(
                span,
                f"method name '{name}' clashes with attribute '{python}' of the "
                "generated clients' or server's base class; rename the method (its "
                "route, which the wire carries, changes with it)",
            )
        elif python in self.kinds and isinstance(self.kinds[python], Const):
            # A default written after the method in the class body would name it.
            self.error(
                span,
                f"method name '{name}' is also the name of a constant; it would hide "
                "the constant from the generated classes' parameter defaults",
            )
        elif python in self.kinds:
            self.error(
                span,
                f"method name '{name}' is also the name of a type; it would hide "
                "the type from the generated classes' annotations",
            )

    # --- types --------------------------------------------------------------------

    def type(self, ref: TypeRef, *, stream: bool = False) -> bool:
        """Report what is wrong with a type and its constraints; return whether
        it resolved.

        ``stream`` allows ``stream<T>`` here (a return type or a parameter).
        """
        resolved = self.resolve(ref, stream=stream)
        if resolved and ref.constraints:
            definition = self.kinds.get(ref.name)
            kind = ref.name
            if isinstance(definition, Message | Enum | UnionType):
                kind = {Message: "message", Enum: "enum", UnionType: "union"}[
                    type(definition)
                ]
            self.errors += constraints.check_type(ref, kind)
        return resolved

    def resolve(self, ref: TypeRef, *, stream: bool = False) -> bool:
        """Report a type that does not resolve (or may not stand here); return
        whether it resolved."""
        name, arity = ref.name, len(ref.arguments)
        if name in SCALAR_TYPES or name in self.kinds:
            definition = self.kinds.get(name)
            if isinstance(definition, Typedef):
                return False  # a typedef that could not be expanded: reported
            not_a_type = {
                Service: "a service, not a type",
                ExceptionType: "an exception, not a type (methods name the "
                "exceptions they raise in 'throws (...)')",
                Const: "a constant, not a type",
            }
            for kind, what in not_a_type.items():
                if isinstance(definition, kind):
                    self.error(ref.span, f"'{name}' is {what}")
                    return False
            if arity:
                self.error(ref.span, f"type '{name}' takes no type arguments")
                return False
            return True
        if name == STREAM:
            if not stream:
                self.error(
                    ref.span,
                    "'stream<T>' is only allowed as a method's return type or as "
                    "the type of one of its parameters",
                )
                return False
            if arity != 1:
                self.error(ref.span, f"'stream' takes 1 type argument, got {arity}")
                return False
            return self.type(ref.arguments[0])
        if name in CONTAINER_TYPES:
            expected = CONTAINER_TYPES[name]
            if arity != expected:
                plural = "" if expected == 1 else "s"
                self.error(
                    ref.span,
                    f"'{name}' takes {expected} type argument{plural}, got {arity}",
                )
                return False
            key = ref.arguments[0]
            if name in ("set", "map") and key.arguments:
                # Refused before its arguments are walked: a map keyed by a map
                # of maps, typedef upon typedef, doubles at each level.
                role = "set element" if name == "set" else "map key"
                self.error(
                    key.span,
                    f"{role} type must be a scalar or an enum, "
                    f"not '{type_text(key, limit=80)}'",
                )
                for value in ref.arguments[1:]:
                    self.type(value)  # its own errors, reported all the same
                return False
            resolved = [self.type(argument) for argument in ref.arguments]
            ok = all(resolved)
            # A key's kind is checked once the key resolved, whatever the value.
            if resolved[0] and name in ("set", "map"):
                if key.name == "decimal":
                    # Equal decimals can differ in text ("1.0", "1.00"): two keys
                    # on the wire would be one in Python.
                    role = "set element" if name == "set" else "map key"
                    self.error(
                        key.span,
                        f"{role} type cannot be 'decimal': equal decimals can be "
                        "written differently; use its text as a 'string' key",
                    )
                    return False
                if isinstance(self.kinds.get(key.name), Message | UnionType):
                    role = "set element" if name == "set" else "map key"
                    self.error(
                        key.span,
                        f"{role} type must be a scalar or an enum, not '{key.name}'",
                    )
                    return False
            return ok
        if name == "void":
            self.error(ref.span, "'void' is only allowed as a method's return type")
            return False
        if name in FUTURE_KEYWORDS:
            self.error(ref.span, f"'{name}' is a keyword of the IDL, not a type")
            return False
        if name in _PROTOBUF_TYPES:
            self.error(ref.span, f"unknown type '{name}': {_PROTOBUF_TYPES[name]}")
            return False
        stem, _, local = name.rpartition(".")
        if isinstance(self.kinds.get(stem), _WIRE_KINDS):
            # protobuf's Outer.Inner, of a message nested in another.
            self.error(
                ref.span,
                f"unknown type '{name}': definitions do not nest; define "
                f"'{local}' at the top level of the file (under a name no other "
                "definition has) and name it so",
            )
            return False
        if stem and stem not in self.imports and name not in _FOREIGN_TYPES:
            self.error(
                ref.span,
                f"unknown type '{name}': nothing is imported as '{stem}'"
                f"{self.import_hint(name)}",
            )
            return False
        if name == "required":
            # Thrift's word, read as the type of a field whose type was read as
            # its name: `1: required i32;`.
            self.error(ref.span, REQUIRED_HINT)
            return False
        if name in _UNSIGNED_TYPES:
            signed = _UNSIGNED_TYPES[name]
            holds = (
                "values up to 2**63-1 only (see 'Types' in idl/README.md)"
                if name.endswith("64")
                else f"every {name} value"
            )
            self.error(
                ref.span,
                f"unknown type '{name}': the IDL has no unsigned types; use "
                f"'{signed}', which holds {holds}",
            )
            return False
        close = self.suggested.get(name)
        if close is None:
            known = [*SCALAR_TYPES, *CONTAINER_TYPES, *self.kinds]
            close = _FOREIGN_TYPES.get(name) or _suggestions(name, known)
            self.suggested[name] = close
        self.error(ref.span, f"unknown type '{name}'{_did_you_mean(close)}")
        return False

    def import_hint(self, name: str) -> str:
        """How to import what the qualified ``name`` names: the file an imported
        file imports under its last stem (imports are not passed on, so
        ``common.base.Id`` is ``base.Id`` once ``base.idl`` is imported too), or a
        file of that stem beside this one."""
        stem, _, local = name.rpartition(".")
        last = stem.rpartition(".")[2]
        found = _imported_as(self.imports.values(), last)
        if found is not None:
            here = posixpath.dirname(self.module.file.replace("\\", "/"))
            there = found.module.file.replace("\\", "/")
            path = posixpath.relpath(there, here or ".")
        elif "." not in stem:
            path = f"{stem}.idl"
        else:
            return ""
        write = f" and write '{last}.{local}'" if last != stem else ""
        return f" (add 'import \"{path}\";'{write})"

    # --- constants -------------------------------------------------------------

    def const(self, const: Const) -> None:
        """Report a constant whose type or value is not allowed."""
        if not self.type(const.type):
            return
        definition = self.kinds.get(const.type.name)
        if const.type.name not in SCALAR_TYPES and not isinstance(definition, Enum):
            self.error(
                const.type.span,
                f"a constant is a scalar or an enum, not '{type_text(const.type)}'",
            )
        else:
            self.constrained_value(const.type, const.value)
        self.consts_seen.add(const.name)

    def const_reference(self, ref: TypeRef, literal: NameLiteral) -> None:
        """Report a reference to a constant that is not a value of ``ref``."""
        const = self.kinds[literal.name]
        assert isinstance(const, Const)
        local = "." not in literal.name
        if local and literal.name not in self.consts_seen and self.in_const:
            self.error(
                literal.span,
                f"constant '{literal.name}' is used before it is defined "
                f"(at {_where(const.span)})",
            )
            return
        if type_text(const.type) == type_text(ref):
            return
        errors = len(self.errors)
        self.value(ref, const.value)
        if len(self.errors) > errors:
            del self.errors[errors:]
            self.error(
                literal.span,
                f"constant '{literal.name}' of type '{type_text(const.type)}' is not "
                f"a valid '{type_text(ref)}'",
            )

    # --- defaults -----------------------------------------------------------------

    def default(self, field: Field, *, parameter: bool) -> None:
        """Report a default a field or parameter cannot have."""
        assert field.default is not None
        if field.optional:
            # An absent optional value is None on the wire and in Python; a default
            # would make a missing value and an explicit None mean two things.
            self.error(
                field.default.span,
                f"optional {'parameter' if parameter else 'field'} '{field.name}' "
                "cannot have a default: an absent optional value is None; drop "
                "'optional' or the default",
            )
            return
        definition = self.kinds.get(field.type.name)
        if parameter and isinstance(definition, Message | UnionType):
            self.error(
                field.default.span,
                f"parameter '{field.name}' of {_KIND_NAMES[type(definition)]} type "
                f"'{field.type.name}' cannot have a default; make it 'optional' "
                "instead",
            )
            return
        if parameter and field.type.name in CONTAINER_TYPES:
            self.error(
                field.default.span,
                f"parameter '{field.name}' of container type cannot have a default; "
                "make it 'optional' instead",
            )
            return
        self.constrained_value(field.type, field.default)

    def constrained_value(self, ref: TypeRef, literal: Literal) -> None:
        """Report a literal that is not a valid value of ``ref``, or that breaks
        the constraints of ``ref`` or of the types inside it."""
        errors = len(self.errors)
        self.value(ref, literal)
        if len(self.errors) == errors and constraints.has_constraints(ref):
            self.errors += constraints.check_default(ref, literal, self.const_value)

    def const_value(self, literal: Literal) -> Literal:
        """The value a reference to a constant stands for; other literals as
        they are."""
        seen: set[str] = set()
        while isinstance(literal, NameLiteral) and literal.name not in seen:
            seen.add(literal.name)
            const = self.kinds.get(literal.name)
            if not isinstance(const, Const):
                break
            literal = const.value
        return literal

    def value(self, ref: TypeRef, literal: Literal) -> None:
        """Report a literal that is not a valid value of a (resolved) type."""
        name = ref.name
        definition = self.kinds.get(name)
        if isinstance(definition, Message | UnionType):
            kind = _KIND_NAMES[type(definition)]
            self.error(
                literal.span,
                f"a field of {kind} type '{name}' cannot have a default; "
                "make it 'optional' instead",
            )
            return
        if name in WELL_KNOWN_TYPES:
            # Their values are Python objects, not literals: refused rather than
            # given a text form that generated code, reflection and the compat
            # check would all have to agree on.
            self.error(
                literal.span,
                f"type '{name}' has no literals: a field or parameter of it cannot "
                "have a default (make it 'optional' instead) and no constant can "
                "have it",
            )
            return
        if isinstance(literal, NameLiteral) and isinstance(
            self.kinds.get(literal.name), Const
        ):
            self.const_reference(ref, literal)
            return
        if isinstance(definition, Enum):
            members = {v.name for v in definition.values}
            if isinstance(literal, NameLiteral):
                enum_name, _, member = literal.name.rpartition(".")
                if enum_name == name and member in members:
                    return
                if enum_name == name:
                    self.error(literal.span, f"enum '{name}' has no member '{member}'")
                    return
            example = f"{name}.{definition.values[0].name}" if members else name
            self.mismatch(ref, literal, f"a member of enum '{name}', like '{example}'")
            return
        if name in INTEGER_RANGES:
            if not isinstance(literal, IntLiteral):
                self.mismatch(ref, literal, "an integer")
                return
            low, high = INTEGER_RANGES[name]
            if not low <= literal.value <= high:
                self.error(
                    literal.span,
                    f"default {literal.value} is out of range for '{name}' "
                    f"({low}..{high})",
                )
            return
        if name in ("float", "double") and isinstance(
            literal, FloatLiteral | IntLiteral
        ):
            limit = FLOAT_MAX if name == "float" else sys.float_info.max
            value = float(literal.value)
            if not math.isfinite(value) or abs(value) > limit:
                precision = "single" if name == "float" else "double"
                self.error(
                    literal.span,
                    f"default is out of range for '{name}' (finite {precision}-"
                    f"precision numbers, at most {limit!r} in magnitude)",
                )
            return
        expected = {
            "bool": ("true or false", (BoolLiteral,)),
            "float": ("a number", (FloatLiteral, IntLiteral)),
            "double": ("a number", (FloatLiteral, IntLiteral)),
            "string": ("a string", (StringLiteral,)),
            "bytes": ("a string", (StringLiteral,)),
            "list": ("a list like [...]", (ListLiteral,)),
            "set": ("a list like [...]", (ListLiteral,)),
            "map": ("a map like {...}", (MapLiteral,)),
        }
        description, kinds = expected[name]
        if not isinstance(literal, kinds):
            self.mismatch(ref, literal, description)
        elif any(pytypes.carries_bytes(a) for a in ref.arguments) and (
            (isinstance(literal, ListLiteral) and literal.items)
            or (isinstance(literal, MapLiteral) and literal.entries)
        ):
            self.error(
                literal.span,
                f"a default of type '{type_text(ref)}' must be empty: bytes are "
                "views, which a default shared by every instance cannot hold",
            )
        elif isinstance(literal, ListLiteral):
            items: set[object] = set()
            for item in literal.items:
                self.value(ref.arguments[0], item)
                if name == "set":
                    self.unique(ref.arguments[0], item, items, "element in set")
        elif isinstance(literal, MapLiteral):
            keys: set[object] = set()
            for key, item in literal.entries:
                self.value(ref.arguments[0], key)
                self.value(ref.arguments[1], item)
                self.unique(ref.arguments[0], key, keys, "key in map")

    def unique(
        self, ref: TypeRef, literal: Literal, seen: set[object], what: str
    ) -> None:
        """Report a set element or map key equal to an earlier one once both are
        values of ``ref`` (``1`` and ``1.0`` are the same ``double``)."""
        value = _normalised(ref, literal)
        if value in seen:
            self.error(literal.span, f"duplicate {what} literal")
        seen.add(value)

    def mismatch(self, ref: TypeRef, literal: Literal, expected: str) -> None:
        """Report a default of the wrong kind for its type."""
        got = {
            IntLiteral: "an integer",
            FloatLiteral: "a number",
            StringLiteral: "a string",
            BoolLiteral: "a boolean",
            NameLiteral: f"'{getattr(literal, 'name', '')}'",
            ListLiteral: "a list",
            MapLiteral: "a map",
        }[type(literal)]
        self.error(
            literal.span,
            f"invalid default for type '{type_text(ref)}': expected {expected}, "
            f"got {got}",
        )


def _normalised(ref: TypeRef, literal: Literal) -> object:
    """A hashable stand-in for the value a literal has as a value of ``ref``."""
    if isinstance(literal, IntLiteral | FloatLiteral):
        if ref.name == "float" and abs(float(literal.value)) <= FLOAT_MAX:
            return struct.unpack("<f", struct.pack("<f", float(literal.value)))[0]
        if ref.name == "float":
            return float(literal.value)
        if ref.name == "double":
            return float(literal.value)
        return literal.value
    if isinstance(literal, StringLiteral):
        return literal.data if ref.name == "bytes" else literal.value
    if isinstance(literal, BoolLiteral):
        return literal.value
    if isinstance(literal, NameLiteral):
        return literal.name
    return id(literal)


def has_call_handle(method: Method) -> bool:
    """Whether the async client gets a ``start_<method>`` twin: unary methods that
    reply do."""
    return method.kind == "unary" and not method.oneway


def _qualified(ref: TypeRef, stem: str, names: set[str]) -> TypeRef:
    """A type of an imported file as the importing file names it: its own
    definitions qualified with its stem."""
    arguments = tuple(_qualified(a, stem, names) for a in ref.arguments)
    name = f"{stem}.{ref.name}" if ref.name in names else ref.name
    return dataclasses.replace(ref, name=name, arguments=arguments)


def _imported_as(modules: Iterable[CheckedModule], stem: str) -> CheckedModule | None:
    """The module that one of ``modules``, or a module they import, imports as
    ``stem``, nearest first."""
    seen: set[int] = set()
    level = list(modules)
    while level:
        for checked in level:
            if stem in checked.imports:
                return checked.imports[stem]
        seen.update(id(m) for m in level)
        level = [m for c in level for m in c.imports.values() if id(m) not in seen]
    return None


def _qualified_const(const: Const, stem: str, names: set[str]) -> Const:
    """A constant of an imported file as the importing file names it: its type and
    the definitions its value names (an enum member, another constant) qualified
    with its stem (``Level.HIGH`` is ``common.Level.HIGH``)."""
    value = const.value
    if isinstance(value, NameLiteral) and value.name.split(".")[0] in names:
        value = dataclasses.replace(value, name=f"{stem}.{value.name}")
    return dataclasses.replace(
        const, type=_qualified(const.type, stem, names), value=value
    )


def _typedefs(checked: CheckedModule) -> dict[str, TypeRef]:
    """The typedefs of a checked module, by name (their types already expanded)."""
    return {
        d.name: d.type for d in checked.module.definitions if isinstance(d, Typedef)
    }


def _expand_module(module: Module, expand: Callable[[TypeRef], TypeRef]) -> Module:
    """``module`` with every type of its definitions passed through ``expand``."""

    def fields(items: tuple[Field, ...]) -> tuple[Field, ...]:
        return tuple(dataclasses.replace(f, type=expand(f.type)) for f in items)

    definitions: list[Definition] = []
    for definition in module.definitions:
        if isinstance(definition, Message | ExceptionType):
            definition = dataclasses.replace(
                definition, fields=fields(definition.fields)
            )
        elif isinstance(definition, UnionType):
            definition = dataclasses.replace(
                definition, members=fields(definition.members)
            )
        elif isinstance(definition, Const | Typedef):
            definition = dataclasses.replace(definition, type=expand(definition.type))
        elif isinstance(definition, Service):
            methods = tuple(
                dataclasses.replace(
                    m,
                    params=fields(m.params),
                    returns=None if m.returns is None else expand(m.returns),
                )
                for m in definition.methods
            )
            definition = dataclasses.replace(definition, methods=methods)
        definitions.append(definition)
    return dataclasses.replace(module, definitions=tuple(definitions))


_BY_ID = ("field name", "parameter name", "exception field name", "union member name")


def _renamed_definition(what: str) -> str:
    """What renaming a definition of kind ``what`` changes on the wire."""
    if what == "exception":
        return (
            "rename it: an error names its exception on the wire, so clients and "
            "servers both take the new name"
        )
    if what == "service":
        return (
            "rename it: a call names its service on the wire, so clients and "
            "servers both take the new name"
        )
    return "rename it: only its Python name changes, not the wire"


def _rename(name: str, what: str) -> str:
    """What to do about a name the generated code cannot use: rename it, and, for
    what travels by id, that the wire stays the same."""
    if what not in _BY_ID:
        return "rename it"
    # pydantic keeps every name that starts with 'model_' for itself.
    other = (
        name.removeprefix("model_") or "value"
        if name.startswith("model_")
        else f"{name}_"
    )
    kind = "parameters" if what == "parameter name" else "fields"
    return f"rename it (say '{other}'): {kind} travel by id, so the wire stays the same"
