"""Semantic checks of a parsed module.

:func:`check` walks the IR once, collects every problem as a :class:`Diagnostic`
and either raises them all together or returns the module wrapped as
:class:`CheckedModule`, the only input the renderer accepts.
"""

from __future__ import annotations

import builtins
import difflib
import keyword
import math
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from . import naming, pytypes
from .diagnostics import Diagnostic, IdlError
from .model import (
    BoolLiteral,
    Definition,
    Enum,
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
    Service,
    Span,
    StringLiteral,
    TypeRef,
)
from .symbols import (
    CLIENT_ATTRIBUTES,
    ENUM_ATTRIBUTES,
    MESSAGE_ATTRIBUTES,
    SCALAR_TYPES,
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
    "type_text",
]

MAX_ID = 2**29 - 1
"""The largest field or parameter id."""

CONTAINER_TYPES = {"list": 1, "set": 1, "map": 2}
"""Generic built-in types and how many type arguments each takes."""

INTEGER_RANGES = {
    "i8": (-(2**7), 2**7 - 1),
    "i16": (-(2**15), 2**15 - 1),
    "i32": (-(2**31), 2**31 - 1),
    "i64": (-(2**63), 2**63 - 1),
}
"""The inclusive range of each integer scalar."""

KEYWORDS = frozenset({"namespace", "enum", "message", "service", "optional"})
"""Words of today's grammar; with the built-in type names, no definition takes them."""

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
"""Words kept for later versions of the IDL; no name of any kind may take them."""

FLOAT_MAX = struct.unpack("<f", b"\xff\xff\x7f\x7f")[0]
"""The largest finite single-precision value, the bound of ``float`` defaults."""

_BUILTIN_TYPE_NAMES = frozenset(
    {*SCALAR_TYPES, *CONTAINER_TYPES, "void", "true", "false"}
)
_ANNOTATION_BUILTINS = frozenset({"list", "dict", "set", "None"})
_SIGNATURE_BUILTINS = frozenset(
    {"bool", "int", "float", "str", "bytes", "memoryview", "list", "dict", "set"}
)
_PYTHON_BUILTINS = frozenset(n for n in dir(builtins) if not n.startswith("_"))


@dataclass(frozen=True, slots=True)
class CheckedModule:
    """A module that passed every check: types resolve, defaults fit, names are
    free. ``namespace`` is the module's (never missing) namespace."""

    module: Module
    namespace: str


def check(module: Module) -> CheckedModule:
    """Check ``module`` and return it as a :class:`CheckedModule`.

    Raises:
        IdlError: with every problem found, in source order.
    """
    checker = _Checker(module)
    checker.run()
    if checker.errors:
        errors = sorted(
            set(checker.errors), key=lambda d: (d.span.line, d.span.column, d.message)
        )
        raise IdlError(errors)
    assert module.namespace is not None
    return CheckedModule(module, module.namespace)


def type_text(ref: TypeRef) -> str:
    """A type as the IDL spells it: ``map<string, list<i32>>``."""
    if not ref.arguments:
        return ref.name
    return f"{ref.name}<{', '.join(type_text(a) for a in ref.arguments)}>"


def _where(span: Span) -> str:
    """Where a first definition is, for messages about a second one."""
    return f"line {span.line}"


class _Checker:
    """Collects the diagnostics of one module."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.errors: list[Diagnostic] = []
        self.kinds: dict[str, Definition] = {}

    def error(self, span: Span, message: str) -> None:
        """Record one diagnostic."""
        self.errors.append(Diagnostic(span, message))

    def run(self) -> None:
        """Check the whole module: namespace, names, then each definition."""
        module = self.module
        if module.namespace is None or module.namespace_span is None:
            span = Span(module.file, 1, 1, 2)
            self.error(span, "missing namespace; start the file with 'namespace name;'")
        else:
            for part in module.namespace.split("."):
                self.python_name(part, module.namespace_span, "namespace part")
        for definition in module.definitions:
            self.definition_name(definition)
        self.generated_names()
        for definition in module.definitions:
            if isinstance(definition, Enum):
                self.enum(definition)
            elif isinstance(definition, Message):
                self.fields(definition.fields, "field", parameter=False)
            else:
                self.service(definition)

    # --- names --------------------------------------------------------------------

    def python_name(self, name: str, span: Span, what: str) -> bool:
        """Report a name that cannot be a Python name; return whether it was OK."""
        if keyword.iskeyword(name):
            self.error(span, f"{what} '{name}' is a Python keyword")
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
        what = type(definition).__name__.lower()
        if self.python_name(name, span, f"{what} name"):
            if name in KEYWORDS or name in _BUILTIN_TYPE_NAMES:
                self.error(span, f"{what} name '{name}' is a reserved word of the IDL")
            elif name in _PYTHON_BUILTINS:
                self.error(
                    span,
                    f"{what} name '{name}' would shadow the Python built-in '{name}'",
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
            if not isinstance(definition, Service):
                continue
            service = definition.name
            public = {
                naming.client_class(service): "client",
                naming.sync_client_class(service): "blocking client",
                naming.server_class(service): "server base class",
            }
            for name, what in public.items():
                user = self.kinds.get(name)
                if user is not None:
                    self.error(
                        user.span,
                        f"'{name}' clashes with the {what} generated for service "
                        f"'{service}' ({_where(definition.span)})",
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
            if self.type(field.type) and field.default is not None:
                self.default(field, parameter=parameter)

    def field_name(self, field: Field, what: str, *, parameter: bool) -> None:
        """Report a field or parameter name the generated code cannot use."""
        name, span = field.name, field.span
        if not self.python_name(name, span, f"{what} name"):
            return
        if parameter and name in ("self", "timeout"):
            self.error(
                span, f"parameter name '{name}' is taken by the generated methods"
            )
        elif name in MESSAGE_ATTRIBUTES or name.startswith("model_"):
            self.error(
                span, f"{what} name '{name}' clashes with an attribute of uvrpc.Message"
            )
        elif name in self.kinds:
            self.error(
                span,
                f"{what} name '{name}' is also the name of a type; rename the {what}",
            )
        elif name in _ANNOTATION_BUILTINS:
            self.error(
                span,
                f"{what} name '{name}' would shadow the built-in type '{name}' "
                "in generated annotations",
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
                self.type(method.returns)
            self.fields(method.params, "parameter", parameter=True)
        for method in service.methods:
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
                "generated clients' or server's base class",
            )
        elif python in self.kinds:
            self.error(
                span,
                f"method name '{name}' is also the name of a type; it would hide "
                "the type from the generated classes' annotations",
            )
        elif python in _SIGNATURE_BUILTINS:
            self.error(
                span,
                f"method name '{name}' would shadow the built-in type '{python}' "
                "in the generated classes' annotations",
            )

    # --- types --------------------------------------------------------------------

    def type(self, ref: TypeRef) -> bool:
        """Report what is wrong with a type; return whether it resolved."""
        name, arity = ref.name, len(ref.arguments)
        if name in SCALAR_TYPES or name in self.kinds:
            definition = self.kinds.get(name)
            if isinstance(definition, Service):
                self.error(ref.span, f"'{name}' is a service, not a type")
                return False
            if arity:
                self.error(ref.span, f"type '{name}' takes no type arguments")
                return False
            return True
        if name in CONTAINER_TYPES:
            expected = CONTAINER_TYPES[name]
            if arity != expected:
                plural = "" if expected == 1 else "s"
                self.error(
                    ref.span,
                    f"'{name}' takes {expected} type argument{plural}, got {arity}",
                )
                return False
            ok = all([self.type(argument) for argument in ref.arguments])
            if ok and name in ("set", "map"):
                key = ref.arguments[0]
                if key.arguments or isinstance(self.kinds.get(key.name), Message):
                    role = "set element" if name == "set" else "map key"
                    self.error(
                        key.span,
                        f"{role} type must be a scalar or an enum, "
                        f"not '{type_text(key)}'",
                    )
                    return False
            return ok
        if name == "void":
            self.error(ref.span, "'void' is only allowed as a method's return type")
            return False
        if name in FUTURE_KEYWORDS:
            self.error(ref.span, f"'{name}' is reserved for a later version of the IDL")
            return False
        known = [*SCALAR_TYPES, *CONTAINER_TYPES, *self.kinds]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        self.error(ref.span, f"unknown type '{name}'{hint}")
        return False

    # --- defaults -----------------------------------------------------------------

    def default(self, field: Field, *, parameter: bool) -> None:
        """Report a default a field or parameter cannot have."""
        assert field.default is not None
        if parameter and field.type.name in CONTAINER_TYPES:
            self.error(
                field.default.span,
                f"parameter '{field.name}' of container type cannot have a default; "
                "make it 'optional' instead",
            )
            return
        self.value(field.type, field.default)

    def value(self, ref: TypeRef, literal: Literal) -> None:
        """Report a literal that is not a valid value of a (resolved) type."""
        name = ref.name
        definition = self.kinds.get(name)
        if isinstance(definition, Message):
            self.error(
                literal.span,
                f"a field of message type '{name}' cannot have a default; "
                "make it 'optional' instead",
            )
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
