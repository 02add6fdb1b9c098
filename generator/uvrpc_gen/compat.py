"""Which changes between two versions of an IDL file break the wire.

``uvrpc-gen --compat OLD.idl NEW.idl`` reads both files, checks them as the
generator does and lists every change, each classified **breaking** (a peer built
from one file can no longer talk to a peer built from the other, or a name other
files and code refer to is gone), a **warning** (nothing breaks yet, but a later
change easily could: a field removed without reserving its id, a reservation
dropped) or **compatible**::

    old.idl:14:5: breaking: field 2 'steps' of message 'Program' was removed: ...
    old.idl:15:5: warning: field 3 'note' of message 'Program' was removed ...
    new.idl:9:5: compatible: value 'KIT' = 3 was added to enum 'Category': ...

The rules follow from the wire format (``docs/protocol.md``): messages,
parameters and exceptions travel as maps keyed by field id, so names may change,
a message keeps the ids it does not know and sends them on, and a server drops
the parameters it does not know; a missing field takes its default or, if
it has none and is not optional, fails validation; enums travel as integers and a
value the reader does not declare is rejected; a method travels by its route
``namespace.Service.method`` and an exception by ``namespace.Name``, both spelled
as in the IDL. ``docs/evolution.md`` explains each check.

Types are compared as the IDL spells them once typedefs are expanded
(``list<Step>``), with a definition imported from another file named by its wire
name (``geo.Point`` for ``common.Point`` after ``import "common.idl";`` of a file
of namespace ``geo``): renaming an imported file changes nothing on the wire. A
definition that several types name (``Step``) is compared once, by itself. The
imported files themselves are compared too, each old one with the new one
imported under the same name (or else with the only new one of its namespace), so
a change there is reported at its own ``file:line:col``.

``uvrpc-gen --compat OLD_DIR NEW_DIR`` compares two directories: each ``*.idl``
below ``OLD_DIR`` with the file of the same relative path below ``NEW_DIR``
(through its imports, each file once), and reports a file only one of them has.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from . import constraints
from .check import CheckedModule, check, type_text
from .diagnostics import IdlError, format_diagnostic, format_diagnostics, not_utf8
from .directions import BOTH, REPLY, REQUEST, directions
from .load import LoadError, load
from .model import (
    BoolLiteral,
    Const,
    Definition,
    Enum,
    EnumValue,
    ExceptionType,
    Field,
    FloatLiteral,
    IntLiteral,
    ListLiteral,
    Literal,
    MapLiteral,
    Message,
    Method,
    NameLiteral,
    ReservedRange,
    Service,
    Span,
    StringLiteral,
    Typedef,
    TypeRef,
    UnionType,
)
from .parse import parse

__all__ = [
    "Change",
    "CompatError",
    "compare",
    "compare_directories",
    "compare_imported",
    "main_compat",
    "read_checked",
]


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two versions of a file.

    ``span`` is where the change is in the new file, or in the old file for
    something that was removed; ``message`` names the definition and says what the
    change does on the wire. A change that does not break is a ``warning`` when it
    leaves a trap for a later change (an id free for reuse).
    """

    span: Span
    breaking: bool
    message: str
    warning: bool = False

    @property
    def kind(self) -> str:
        """``breaking``, ``warning`` or ``compatible``."""
        if self.breaking:
            return "breaking"
        return "warning" if self.warning else "compatible"

    def __str__(self) -> str:
        kind = self.kind
        span = self.span
        return f"{span.file}:{span.line}:{span.column}: {kind}: {self.message}"


def compare(old: CheckedModule, new: CheckedModule) -> list[Change]:
    """Every change from ``old`` to ``new``, in the order of the files.

    The namespace and module doc come first, then each definition of ``old``
    (compared with its namesake in ``new``, or removed), then the definitions only
    ``new`` has. Within a definition, members are listed in the same way.
    """
    return _Comparer(old, new).run()


class CompatError(Exception):
    """A file could not be compared: ``report`` says why, as the generator would."""

    def __init__(self, report: str) -> None:
        super().__init__(report)
        self.report = report


def read_checked(path: str) -> CheckedModule:
    """Read, parse and check the IDL file at ``path`` (and the files it imports).

    Raises:
        CompatError: the file (or a file it imports) cannot be read or has IDL
            errors.
    """
    try:
        # Untranslated, as load() reads it: a lone \r is no line break.
        with open(path, "rb") as stream:
            data = stream.read()
        source = data.decode("utf-8")
    except UnicodeDecodeError as error:
        diagnostic, shown = not_utf8(path, data, error)
        raise CompatError(format_diagnostic(diagnostic, shown)) from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise CompatError(f"{path}: error: cannot read: {reason}") from None
    try:
        module = parse(source, path)
        if not module.imports:
            return check(module)
    except IdlError as error:
        raise CompatError(format_diagnostics(error.diagnostics, source)) from None
    try:
        loaded = load([path], {os.path.normpath(path): source})
    except LoadError as error:
        raise CompatError(error.report) from None
    return loaded.modules[os.path.normpath(path)]


def compare_imported(
    old: CheckedModule,
    new: CheckedModule,
    seen: set[tuple[str, str]] | None = None,
) -> list[Change]:
    """Every change from ``old`` to ``new`` and in the files they import.

    An import of ``old`` is paired with the import of ``new`` by the name it is
    imported as (``common`` for ``import "common.idl"``) or, when ``new`` has no
    import of that name, with the only import of ``new`` of the same namespace that
    ``old`` does not import by name (a renamed file); an import left unpaired is not
    followed (what its removal breaks shows where its definitions were used). Each
    pair of files is compared once: ``seen`` holds the pairs compared already, as
    paths, and is updated.
    """
    seen = set() if seen is None else seen
    key = (os.path.normpath(old.module.file), os.path.normpath(new.module.file))
    if key in seen:
        return []
    seen.add(key)
    changes = compare(old, new)
    for stem, imported in old.imports.items():
        counterpart = new.imports.get(stem)
        if counterpart is None:
            renamed = [
                module
                for other, module in new.imports.items()
                if other not in old.imports and module.namespace == imported.namespace
            ]
            counterpart = renamed[0] if len(renamed) == 1 else None
        if counterpart is not None:
            changes += compare_imported(imported, counterpart, seen)
    return changes


def _idl_files(directory: Path) -> dict[str, str]:
    """Every ``*.idl`` below ``directory``, by its relative path."""
    return {
        path.relative_to(directory).as_posix(): str(path)
        for path in sorted(directory.rglob("*.idl"))
    }


def _load_all(paths: list[str]) -> Mapping[str, CheckedModule]:
    """Read and check ``paths`` and what they import.

    Raises:
        CompatError: some file cannot be read or has IDL errors.
    """
    try:
        return load(paths).modules
    except LoadError as error:
        raise CompatError(error.report) from None


def _file_removed(module: CheckedModule, relative: str) -> Change:
    definitions = module.module.definitions
    names = ", ".join(d.name for d in definitions) or "none"
    services = [
        f"'{module.namespace}.{d.name}'" for d in definitions if isinstance(d, Service)
    ]
    unanswered = (
        f"; calls to {', '.join(services)} are answered with UNIMPLEMENTED"
        if services
        else ""
    )
    return Change(
        Span(module.module.file, 1, 1, 1),
        True,
        f"file '{relative}' was removed with its definitions ({names}): files "
        f"that import it and code that uses them lose them{unanswered}",
    )


def compare_directories(old_dir: Path, new_dir: Path) -> list[Change]:
    """Every change from the IDL files below ``old_dir`` to those below
    ``new_dir``, paired by relative path (see :func:`compare_imported`); a file
    removed is a breaking change, a file added a compatible one.

    Raises:
        CompatError: some file of either side cannot be read or has IDL errors
            (the report holds the errors of both).
    """
    old_files, new_files = _idl_files(old_dir), _idl_files(new_dir)
    reports: list[str] = []
    loaded: list[Mapping[str, CheckedModule]] = []
    for files in (old_files, new_files):
        try:
            loaded.append(_load_all(list(files.values())))
        except CompatError as error:
            reports.append(error.report)
    if reports:
        raise CompatError("\n".join(reports))
    old_modules, new_modules = loaded
    changes: list[Change] = []
    seen: set[tuple[str, str]] = set()
    for relative in sorted(old_files.keys() | new_files.keys()):
        old_path, new_path = old_files.get(relative), new_files.get(relative)
        if new_path is None:
            assert old_path is not None
            module = old_modules[os.path.normpath(old_path)]
            changes.append(_file_removed(module, relative))
        elif old_path is None:
            span = Span(new_path, 1, 1, 1)
            changes.append(Change(span, False, f"file '{relative}' was added"))
        else:
            old = old_modules[os.path.normpath(old_path)]
            new = new_modules[os.path.normpath(new_path)]
            changes += compare_imported(old, new, seen)
    return changes


def main_compat(old_path: str, new_path: str) -> int:
    """Run ``uvrpc-gen --compat OLD NEW`` (two files, or two directories): print
    every change, breaking ones first, then warnings.

    Returns 0 when nothing breaks (warnings included), 1 when something does,
    and 2 when a file cannot be read or has IDL errors (reported on stderr as the
    generator reports them), or when one of the two is a directory and the other
    is not.
    """
    directories = [Path(path).is_dir() for path in (old_path, new_path)]
    if any(directories):
        if not all(directories):
            kind = "a directory" if directories[0] else "a file"
            print(
                f"uvrpc-gen: error: {old_path} is {kind} and {new_path} is not; "
                "compare two files or two directories",
                file=sys.stderr,
            )
            return 2
        try:
            changes = compare_directories(Path(old_path), Path(new_path))
        except CompatError as error:
            print(error.report, file=sys.stderr)
            return 2
    else:
        modules: list[CheckedModule] = []
        for path in (old_path, new_path):
            try:
                modules.append(read_checked(path))
            except CompatError as error:
                print(error.report, file=sys.stderr)
        if len(modules) != 2:
            return 2
        changes = compare_imported(modules[0], modules[1])
    order = {"breaking": 0, "warning": 1, "compatible": 2}
    ordered = sorted(changes, key=lambda change: order[change.kind])
    for change in ordered:
        print(change)
    breaking = sum(change.kind == "breaking" for change in changes)
    warnings = sum(change.kind == "warning" for change in changes)
    compatible = len(changes) - breaking - warnings
    if not changes:
        print(f"{old_path} -> {new_path}: no changes")
    else:
        counts = [_count(breaking, "breaking change")]
        if warnings:
            counts.append(_count(warnings, "warning"))
        counts.append(_count(compatible, "compatible change"))
        print(f"{old_path} -> {new_path}: {', '.join(counts)}")
    return 1 if breaking else 0


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


_KINDS: Mapping[type, str] = {
    Enum: "enum",
    Message: "message",
    ExceptionType: "exception",
    UnionType: "union",
    Service: "service",
    Const: "constant",
    Typedef: "typedef",
}

_METHOD_KINDS = {
    "unary": "unary",
    "server": "server-streaming",
    "client": "client-streaming",
    "bidi": "bidirectional-streaming",
}


def _method_kind(method: Method) -> str:
    """How a method's call goes, as a report names it."""
    return "oneway" if method.oneway else _METHOD_KINDS[method.kind]


def _unserved(method: Method) -> str:
    """What becomes of a call of ``method`` on a server that does not serve it."""
    if method.oneway:
        # Nothing answers a oneway call, not even an error: the server drops it
        # and counts it, and the caller never learns (docs/protocol.md).
        return "are dropped unanswered (a oneway caller gets no error)"
    return "are answered with UNIMPLEMENTED"


def _oneway_note(definition: Definition) -> str:
    """What a report of a service adds for its oneway methods, if it has any."""
    if isinstance(definition, Service) and any(m.oneway for m in definition.methods):
        return ", and its oneway calls are dropped unanswered"
    return ""


def _returns(method: Method) -> str:
    return "void" if method.returns is None else type_text(method.returns)


def _required(field: Field) -> bool:
    """Whether a reader rejects a message or call that lacks this field."""
    return not field.optional and field.default is None


def _is_stream(field: Field) -> bool:
    return field.type.name == "stream"


def _literal_key(literal: Literal, wire: Callable[[str], str] | None = None) -> object:
    """What a literal means, without its position: equal keys, equal values.
    ``wire`` names what a name literal names as the wire does (see
    :func:`_wire_names`)."""
    if isinstance(literal, IntLiteral | FloatLiteral):
        return ("number", literal.value)
    if isinstance(literal, StringLiteral):
        return ("string", literal.value, literal.data)
    if isinstance(literal, BoolLiteral):
        return ("bool", literal.value)
    if isinstance(literal, NameLiteral):
        return ("name", wire(literal.name) if wire else literal.name)
    if isinstance(literal, ListLiteral):
        return ("list", tuple(_literal_key(item, wire) for item in literal.items))
    return (
        "map",
        tuple(
            (_literal_key(k, wire), _literal_key(v, wire)) for k, v in literal.entries
        ),
    )


def _value_key(
    literal: Literal,
    module: CheckedModule,
    wire: Callable[[str], str],
    binary: bool = False,
) -> object:
    """What a default means, as :func:`_literal_key` says, each constant it names
    (``LIMIT``, ``common.MAGIC``) replaced by the value it has in ``module``:
    ``= LIMIT`` and ``= 10`` are one default where ``LIMIT`` is 10. A string is
    its text, and with ``binary`` (a ``bytes`` default) its bytes: ``"\\x85"``
    and ``"\\u0085"`` are one string, ``"é"`` and ``"\\xc3\\xa9"`` one bytes
    value."""
    if isinstance(literal, ListLiteral):
        return ("list", tuple(_value_key(i, module, wire) for i in literal.items))
    if isinstance(literal, MapLiteral):
        return (
            "map",
            tuple(
                (_value_key(k, module, wire), _value_key(v, module, wire))
                for k, v in literal.entries
            ),
        )
    seen: set[str] = set()
    while isinstance(literal, NameLiteral) and literal.name not in seen:
        seen.add(literal.name)
        const = module.definition(literal.name)
        if not isinstance(const, Const):
            break  # an enum member
        stem = literal.name.rpartition(".")[0]
        if stem:  # an imported constant: its value names what its own file does
            module = module.imports[stem]
            wire = _wire_names(module, module.namespace)
        literal = const.value
    if isinstance(literal, StringLiteral):
        return ("bytes", literal.data) if binary else ("string", literal.value)
    return _literal_key(literal, wire)


def _literal_text(literal: Literal, binary: bool = False) -> str:
    """A literal written back as IDL, for messages; with ``binary``, a string
    as the bytes of a ``bytes`` default (``"\\xff"``, not ``"ÿ"``)."""
    if isinstance(literal, IntLiteral | FloatLiteral):
        return repr(literal.value)
    if isinstance(literal, StringLiteral) and binary:
        text = "".join(
            chr(b) if 0x20 <= b < 0x7F and chr(b) not in '"\\' else f"\\x{b:02x}"
            for b in literal.data
        )
        return f'"{text}"'
    if isinstance(literal, StringLiteral):
        return json.dumps(literal.value, ensure_ascii=False)
    if isinstance(literal, BoolLiteral):
        return "true" if literal.value else "false"
    if isinstance(literal, NameLiteral):
        return literal.name
    if isinstance(literal, ListLiteral):
        return f"[{', '.join(_literal_text(item) for item in literal.items)}]"
    entries = (f"{_literal_text(k)}: {_literal_text(v)}" for k, v in literal.entries)
    return f"{{{', '.join(entries)}}}"


def _field_shape(fields: Iterable[Field]) -> object:
    """What a record looks like on the wire, to guess renames of definitions."""
    return frozenset((f.id, type_text(f.type), f.optional) for f in fields)


def _shape(definition: Definition) -> object:
    """What a definition looks like apart from its name, to guess renames."""
    if isinstance(definition, Message | ExceptionType):
        return _field_shape(definition.fields)
    if isinstance(definition, UnionType):
        return _field_shape(definition.members)
    if isinstance(definition, Enum):
        return frozenset(v.value for v in definition.values)
    if isinstance(definition, Service):
        return frozenset(m.name for m in definition.methods)
    if isinstance(definition, Const):
        return (type_text(definition.type), _literal_key(definition.value))
    return type_text(definition.type)


def _method_shape(method: Method) -> object:
    return (_field_shape(method.params), _returns(method), _method_kind(method))


_TYPE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


def _wire_names(module: CheckedModule, own: str) -> Callable[[str], str]:
    """A function that writes a type's text (``list<common.Point>``) or a name
    literal (``common.Color.RED``) with each imported definition named by its
    namespace instead of the stem of its file (``list<geo.Point>``), and each of
    ``module``'s own by ``own``: the names that stay the same when a file is
    imported under another name."""

    def qualified(name: str) -> str:
        # A type (common.Point, Point) or a value (common.Color.RED, Color.RED).
        stem, dot, local = name.partition(".")
        if dot and stem in module.imports:
            return f"{module.imports[stem].namespace}.{local}"
        if module.definition(stem) is not None:
            return f"{own}.{name}"
        return name  # built in

    def wire_text(text: str) -> str:
        return _TYPE_NAME.sub(lambda m: qualified(m[0]), text)

    return wire_text


class _Comparer:
    """Collects the changes between two checked modules."""

    def __init__(self, old: CheckedModule, new: CheckedModule) -> None:
        self.old = old
        self.new = new
        # The file's own definitions are matched by name, whatever its namespace
        # (a change of namespace is reported once, as that): both sides name them
        # by the new one.
        self.old_wire = _wire_names(old, new.namespace)
        self.new_wire = _wire_names(new, new.namespace)
        self.changes: list[Change] = []
        self.directions = directions(old, new)
        # The ways the fields being compared travel, for their constraints.
        self.direction = BOTH

    def types(self, before: str, after: str) -> tuple[str, str] | None:
        """Two versions of a type's text, as written, or None when they name the
        same type on the wire; spelled the same, they are named by namespace."""
        old_wire, new_wire = self.old_wire(before), self.new_wire(after)
        if old_wire == new_wire:
            return None
        return (before, after) if before != after else (old_wire, new_wire)

    def breaking(self, span: Span, message: str) -> None:
        self.changes.append(Change(span, True, message))

    def compatible(self, span: Span, message: str) -> None:
        self.changes.append(Change(span, False, message))

    def warning(self, span: Span, message: str) -> None:
        self.changes.append(Change(span, False, message, warning=True))

    def run(self) -> list[Change]:
        old, new = self.old, self.new
        new_span = new.module.namespace_span
        assert new_span is not None
        if old.namespace != new.namespace:
            self.breaking(
                new_span,
                f"namespace changed from '{old.namespace}' to '{new.namespace}': "
                "every route and exception name on the wire changes with it",
            )
        if old.module.doc != new.module.doc:
            self.compatible(new_span, "the module doc changed")
        old_defs = {d.name: d for d in old.module.definitions}
        new_defs = {d.name: d for d in new.module.definitions}
        added = [d for d in new.module.definitions if d.name not in old_defs]
        for name, before in old_defs.items():
            after = new_defs.get(name)
            if after is None:
                self.removed(before, added)
            elif type(after) is not type(before):
                self.breaking(
                    after.span,
                    f"'{name}' was {_article(before)} and is now {_article(after)}",
                )
            else:
                self.definition(before, after)
        for definition in added:
            self.added(definition)
        return self.changes

    # --- definitions ----------------------------------------------------------

    def removed(self, definition: Definition, added: list[Definition]) -> None:
        kind = _KINDS[type(definition)]
        shape = _shape(definition)
        twins = [
            d.name for d in added if type(d) is type(definition) and _shape(d) == shape
        ]
        hint = f" (renamed to '{twins[0]}'?)" if len(twins) == 1 else ""
        name = definition.name
        reasons = {
            Enum: "files that import this one and code that uses it lose it",
            Message: "files that import this one and code that uses it lose it",
            ExceptionType: f"its wire name '{self.old.namespace}.{name}' is "
            "no longer known",
            UnionType: "files that import this one and code that uses it lose it",
            Service: f"calls to its routes '{self.old.namespace}.{name}.*' are "
            f"answered with UNIMPLEMENTED{_oneway_note(definition)}",
            Const: "files that import this one and code that uses it lose it",
            Typedef: "files that import this one can no longer name it",
        }
        self.breaking(
            definition.span,
            f"{kind} '{name}' was removed{hint}: {reasons[type(definition)]}",
        )

    def added(self, definition: Definition) -> None:
        kind = _KINDS[type(definition)]
        name = definition.name
        notes = {
            Enum: "",
            Message: "",
            ExceptionType: "",
            UnionType: "",
            Service: ": old servers answer its calls with UNIMPLEMENTED"
            f"{_oneway_note(definition)}",
            Const: "",
            Typedef: "",
        }
        self.compatible(
            definition.span, f"{kind} '{name}' was added{notes[type(definition)]}"
        )

    def definition(self, before: Definition, after: Definition) -> None:
        if before.doc != after.doc:
            kind = _KINDS[type(after)]
            self.compatible(after.span, f"the doc of {kind} '{after.name}' changed")
        if isinstance(before, Enum) and isinstance(after, Enum):
            self.enum(before, after)
            self.reservations(before, after, f"enum '{after.name}'", "value")
        elif isinstance(before, Message) and isinstance(after, Message):
            owner = f"message '{after.name}'"
            self.direction = self.directions.get(after.name, BOTH)
            self.fields(
                before.fields, after.fields, owner, "field", reserved=after.reserved_ids
            )
            self.reservations(before, after, owner, "id")
        elif isinstance(before, ExceptionType) and isinstance(after, ExceptionType):
            owner = f"exception '{after.name}'"
            self.direction = self.directions.get(after.name, frozenset({REPLY}))
            self.fields(
                before.fields, after.fields, owner, "field", reserved=after.reserved_ids
            )
            self.reservations(before, after, owner, "id")
        elif isinstance(before, UnionType) and isinstance(after, UnionType):
            owner = f"union '{after.name}'"
            self.direction = self.directions.get(after.name, BOTH)
            self.members(before, after, owner)
            self.reservations(before, after, owner, "id")
        elif isinstance(before, Service) and isinstance(after, Service):
            self.service(before, after)
        elif isinstance(before, Const) and isinstance(after, Const):
            self.const(before, after)
        elif isinstance(before, Typedef) and isinstance(after, Typedef):
            old_type, new_type = type_text(before.type), type_text(after.type)
            if old_type != new_type:
                self.compatible(
                    after.type.span,
                    f"typedef '{after.name}' now names '{new_type}' instead of "
                    f"'{old_type}' (its uses are compared as the types they name)",
                )

    def const(self, before: Const, after: Const) -> None:
        old_type, new_type = type_text(before.type), type_text(after.type)
        old_binary, new_binary = before.type.name == "bytes", after.type.name == "bytes"
        old_value = _literal_text(before.value, old_binary)
        new_value = _literal_text(after.value, new_binary)
        if old_type != new_type:
            self.compatible(
                after.type.span,
                f"constant '{after.name}' changed type from '{old_type}' to "
                f"'{new_type}': its value is compiled into each side, so peers "
                "built from the old file keep the old value",
            )
        elif _value_key(
            before.value, self.old, self.old_wire, old_binary
        ) != _value_key(after.value, self.new, self.new_wire, new_binary):
            self.compatible(
                after.value.span,
                f"constant '{after.name}' changed from {old_value} to {new_value}: "
                "its value is compiled into each side, so peers built from the old "
                f"file keep {old_value}",
            )

    # --- enums ------------------------------------------------------------------

    def enum(self, before: Enum, after: Enum) -> None:
        owner = f"enum '{after.name}'"
        new_by_name = {v.name: v for v in after.values}
        new_by_value = {v.value: v for v in after.values}
        old_names = {v.name for v in before.values}
        old_values = {v.value for v in before.values}
        for value in before.values:
            same_name = new_by_name.get(value.name)
            same_value = new_by_value.get(value.value)
            if same_name is not None and same_name.value != value.value:
                self.breaking(
                    same_name.value_span,
                    f"value '{value.name}' of {owner} changed from {value.value} to "
                    f"{same_name.value}: enums travel as numbers, so each side reads "
                    "the other's number as something else or rejects it",
                )
            elif same_name is None and same_value is None:
                self.breaking(
                    value.span,
                    f"value '{value.name}' ({value.value}) of {owner} was removed: "
                    "new readers reject it from old writers",
                )
            elif same_name is None and same_value is not None:
                if same_value.name not in old_names:
                    self.compatible(
                        same_value.span,
                        f"value {value.value} of {owner} was renamed from "
                        f"'{value.name}' to '{same_value.name}' (Python code uses "
                        "the new name)",
                    )
            if same_name is not None and same_name.doc != value.doc:
                self.doc(same_name, f"value '{value.name}' of {owner}")
        for value in after.values:
            if value.value not in old_values and value.name not in old_names:
                self.compatible(
                    value.span,
                    f"value '{value.name}' = {value.value} was added to {owner}: old "
                    "readers reject it (INVALID_ARGUMENT on a server, InternalError "
                    "on a client)",
                )

    def doc(self, node: EnumValue | Field | Method, what: str) -> None:
        self.compatible(node.span, f"the doc of {what} changed")

    # --- fields and parameters --------------------------------------------------

    def fields(
        self,
        before: tuple[Field, ...],
        after: tuple[Field, ...],
        owner: str,
        what: str,
        *,
        skip_streams: bool = False,
        reserved: tuple[ReservedRange, ...] | None = None,
    ) -> None:
        """Compare the fields of a message or exception, or a method's parameters.

        Fields are matched by id, the key they travel by; a name found under
        another id is a renumbered field. ``skip_streams`` leaves out stream
        parameters, for a method whose kind changed (reported once, as that).
        ``reserved`` holds the new message's or exception's reserved ids (``None``
        for parameters, which cannot reserve any): a field removed without
        reserving its id is a warning rather than silently fine, if the removal
        itself breaks nothing.
        """
        if skip_streams:
            streams = [f for f in (*before, *after) if _is_stream(f)]
            ids = {f.id for f in streams}
            names = {f.name for f in streams}
            before = tuple(f for f in before if f.id not in ids and f.name not in names)
            after = tuple(f for f in after if f.id not in ids and f.name not in names)
        new_by_id = {f.id: f for f in after}
        new_by_name = {f.name: f for f in after}
        old_ids = {f.id for f in before}
        old_names = {f.name for f in before}
        parameter = what == "parameter"
        readers = "servers" if parameter else "readers"
        writers = "clients" if parameter else "writers"
        for field in before:
            label = f"{what} {field.id} '{field.name}' of {owner}"
            same_name = new_by_name.get(field.name)
            same_id = new_by_id.get(field.id)
            if same_name is not None and same_name.id != field.id:
                self.breaking(
                    same_name.id_span,
                    f"{what} '{field.name}' of {owner} changed id from {field.id} to "
                    f"{same_name.id}: {what}s travel keyed by id, so each side misses "
                    "the other's value",
                )
            elif same_id is None:
                self.removed_field(field, label, readers, writers, reserved)
            if same_id is not None:
                if same_id.name != field.name and same_id.name not in old_names:
                    note = (
                        "callers pass it by the new name"
                        if parameter
                        else "Python code uses the new name"
                    )
                    self.compatible(
                        same_id.span,
                        f"{label} was renamed to '{same_id.name}' (the wire keys it "
                        f"by id; {note})",
                    )
                self.field(field, same_id, label, readers, writers)
        # An old reader keeps a field it does not know and sends it on; an old
        # server drops a parameter it does not know (docs/evolution.md).
        unread = "drop it" if parameter else "keep it unread and send it on"
        for field in after:
            if field.id in old_ids or field.name in old_names:
                continue
            label = f"{what} {field.id} '{field.name}'"
            if _required(field):
                self.breaking(
                    field.span,
                    f"required {label} was added to {owner}: old {writers} do not "
                    f"send it, so new {readers} reject what they send",
                )
            elif field.optional:
                self.compatible(
                    field.span,
                    f"optional {label} was added to {owner}: old {readers} {unread}, "
                    f"new {readers} take None from old {writers}",
                )
            else:
                assert field.default is not None
                self.compatible(
                    field.span,
                    f"{label} with default {_literal_text(field.default)} was added "
                    f"to {owner}: old {readers} {unread}, new {readers} take the "
                    f"default from old {writers}",
                )

    def removed_field(
        self,
        field: Field,
        label: str,
        readers: str,
        writers: str,
        reserved: tuple[ReservedRange, ...] | None,
    ) -> None:
        """Report a field (or parameter) the new version no longer has.

        A required one breaks old readers. An optional one, or one with a
        default, is safe to drop while its id is never used again: reserved in the
        new file it is compatible, otherwise a warning that says how to reserve it.
        """
        is_reserved = reserved is not None and any(field.id in r for r in reserved)
        hint = (
            f"; reserve its id with 'reserved {field.id};' so no later field takes it"
        )
        if _required(field):
            why = f"old {readers} require it and new {writers} do not send it"
            if reserved is not None and not is_reserved:
                why += hint
            self.breaking(field.span, f"{label} was removed: {why}")
        elif reserved is None:
            why = (
                f"old {readers} fall back to their default, and its id "
                f"{field.id} must never be used again"
            )
            self.breaking(field.span, f"{label} was removed: {why}")
        elif is_reserved:
            self.compatible(
                field.span,
                f"{label} was removed and its id {field.id} reserved: old "
                f"{readers} fall back to their default",
            )
        else:
            self.warning(
                field.span,
                f"{label} was removed without reserving its id {field.id}: old "
                f"{readers} fall back to their default, but a later field given id "
                f"{field.id} would be misread by peers built from an older file"
                f"{hint}",
            )

    def members(self, before: UnionType, after: UnionType, owner: str) -> None:
        """Compare the members of a union, matched by id as they travel.

        A new member is safe: a peer built from the old file receives it as
        ``uvrpc.UnknownMember`` and passes it on unchanged. A removed, renumbered
        or retyped member breaks: what one side sends as that member, the other
        cannot read as it.
        """
        new_by_id = {m.id: m for m in after.members}
        new_by_name = {m.name: m for m in after.members}
        old_ids = {m.id for m in before.members}
        old_names = {m.name for m in before.members}
        for member in before.members:
            label = f"union member {member.id} '{member.name}' of {owner}"
            same_name = new_by_name.get(member.name)
            same_id = new_by_id.get(member.id)
            if same_name is not None and same_name.id != member.id:
                self.breaking(
                    same_name.id_span,
                    f"union member '{member.name}' of {owner} changed id from "
                    f"{member.id} to {same_name.id}: a member travels keyed by id, "
                    "so each side reads the other's as an unknown member",
                )
            elif same_id is None:
                why = (
                    "peers built from the old file still send it, and new ones "
                    "receive it as an unknown member"
                )
                if not any(member.id in r for r in after.reserved_ids):
                    why += (
                        f"; reserve its id with 'reserved {member.id};' so no later "
                        "member takes it"
                    )
                self.breaking(member.span, f"{label} was removed: {why}")
            if same_id is None:
                continue
            if same_id.name != member.name and same_id.name not in old_names:
                self.compatible(
                    same_id.span,
                    f"{label} was renamed to '{same_id.name}' (the wire keys it by "
                    "id; Python code and JSON use the new name)",
                )
            changed = self.types(type_text(member.type), type_text(same_id.type))
            if changed is None:
                self.constraints(member.type, same_id.type, label, self.direction)
            else:
                self.breaking(
                    same_id.type.span,
                    f"{label} changed type from '{changed[0]}' to '{changed[1]}'",
                )
            if member.doc != same_id.doc:
                self.doc(same_id, label)
        for member in after.members:
            if member.id not in old_ids and member.name not in old_names:
                self.compatible(
                    member.span,
                    f"union member {member.id} '{member.name}' was added to {owner}: "
                    "peers built from the old file receive it as an unknown member "
                    "and pass it on unchanged",
                )

    def reservations(
        self,
        before: Message | ExceptionType | UnionType | Enum,
        after: Message | ExceptionType | UnionType | Enum,
        owner: str,
        number: str,
    ) -> None:
        """Warn about reservations the new version dropped: the ids (enum values)
        or names they kept from reuse are free again."""
        for reserved in before.reserved_ids:
            if not _covered(reserved, after.reserved_ids):
                single = reserved.low == reserved.high
                ids = (
                    f"{number} {reserved.text}"
                    if single
                    else (f"{number}s {reserved.text}")
                )
                state = (
                    "is no longer reserved"
                    if single
                    else ("are no longer all reserved")
                )
                # What would take the id again: a union has members, not fields.
                if number == "value":
                    member = "value"
                elif isinstance(after, UnionType):
                    member = "member"
                else:
                    member = "field"
                self.warning(
                    reserved.span,
                    f"{ids} of {owner} {state}: a {member} that takes "
                    f"{'it' if single else 'one'} again is misread by peers built "
                    "from a file that used it",
                )
        new_names = {r.name for r in after.reserved_names}
        for reserved_name in before.reserved_names:
            if reserved_name.name not in new_names:
                self.warning(
                    reserved_name.span,
                    f"name '{reserved_name.name}' of {owner} is no longer reserved: "
                    "code written for the old member of that name would use a new "
                    "one without notice",
                )

    def field(
        self, before: Field, after: Field, label: str, readers: str, writers: str
    ) -> None:
        """Compare one field (or parameter) with the field of the same id."""
        changed = self.types(type_text(before.type), type_text(after.type))
        if changed is None:
            self.constraints(before.type, after.type, label, self.direction)
        elif _is_stream(before) and _is_stream(after):
            old_item, new_item = (
                self.types(
                    type_text(before.type.arguments[0]),
                    type_text(after.type.arguments[0]),
                )
                or changed
            )
            self.breaking(
                after.type.span,
                f"the stream item type of {label} changed from '{old_item}' to "
                f"'{new_item}'",
            )
        else:
            self.breaking(
                after.type.span,
                f"{label} changed type from '{changed[0]}' to '{changed[1]}'",
            )
        if before.optional and not after.optional:
            self.breaking(
                after.span,
                f"{label} is no longer optional: old {writers} may send nil, which "
                f"new {readers} reject",
            )
        elif after.optional and not before.optional:
            self.breaking(
                after.span,
                f"{label} became optional: new {writers} may send nil, which old "
                f"{readers} reject",
            )
        elif not before.optional:
            self.default(before, after, label, readers, writers)
        if before.doc != after.doc:
            self.doc(after, label)

    def constraints(
        self,
        before: TypeRef,
        after: TypeRef,
        label: str,
        ways: frozenset[str] | set[str],
    ) -> None:
        """Compare the constraints of two versions of one type, travelling
        ``ways``: on a request a tighter constraint breaks (an old client's value
        may be refused), on a reply a looser one does (an old client may refuse
        a new server's value), and on a type that travels both ways any change
        does."""
        if before.name == "stream":
            label = f"the stream items of {label}"
            before, after = before.arguments[0], after.arguments[0]
        for found in constraints.differences(before, after):
            where = f"{found.where}{label} {found.change}"
            request, reply = REQUEST in ways, REPLY in ways
            if request and reply and (found.tighter or found.looser):
                self.breaking(
                    found.span,
                    f"{where}: it travels in requests and in replies, so a peer "
                    "built from one version may refuse what the other sends",
                )
            elif request and found.tighter:
                self.breaking(
                    found.span,
                    f"{where}: a new server may refuse what an old client sends",
                )
            elif reply and found.looser:
                self.breaking(
                    found.span,
                    f"{where}: an old client may refuse what a new server sends",
                )
            elif request:
                self.compatible(
                    found.span,
                    f"{where}: new servers take all that old clients send",
                )
            else:
                self.compatible(
                    found.span,
                    f"{where}: old clients take all that new servers send",
                )

    def default(
        self, before: Field, after: Field, label: str, readers: str, writers: str
    ) -> None:
        """Compare the defaults of a (non-optional) field and its new version."""
        old, new = before.default, after.default
        if old is not None and new is None:
            self.breaking(
                after.span,
                f"{label} lost its default {_literal_text(old)}: {writers} that do "
                f"not send it (those older than the {label.split()[0]}) are "
                "rejected",
            )
        elif old is None and new is not None:
            self.compatible(
                new.span,
                f"{label} now has the default {_literal_text(new)}",
            )
        elif old is not None and new is not None:
            old_binary = before.type.name == "bytes"
            new_binary = after.type.name == "bytes"
            if _value_key(old, self.old, self.old_wire, old_binary) != _value_key(
                new, self.new, self.new_wire, new_binary
            ):
                self.compatible(
                    new.span,
                    f"the default of {label} changed from "
                    f"{_literal_text(old, old_binary)} to "
                    f"{_literal_text(new, new_binary)}: a default is filled in by "
                    "each reader, "
                    f"only when a {writers.removesuffix('s')} does not send a value",
                )

    # --- services ---------------------------------------------------------------

    def service(self, before: Service, after: Service) -> None:
        new_methods = {m.name: m for m in after.methods}
        old_methods = {m.name for m in before.methods}
        added = [m for m in after.methods if m.name not in old_methods]
        for method in before.methods:
            label = f"method '{after.name}.{method.name}'"
            route = f"{self.old.namespace}.{before.name}.{method.name}"
            other = new_methods.get(method.name)
            if other is None:
                shape = _method_shape(method)
                twins = [m.name for m in added if _method_shape(m) == shape]
                hint = f" (renamed to '{twins[0]}'?)" if len(twins) == 1 else ""
                self.breaking(
                    method.span,
                    f"{label} was removed{hint}: calls to its route '{route}' "
                    f"{_unserved(method)}",
                )
            else:
                self.method(method, other, label)
        for method in added:
            route = f"{self.new.namespace}.{after.name}.{method.name}"
            if method.oneway:
                old_servers = (
                    f"old servers drop calls to its route '{route}' unanswered "
                    "(a oneway caller gets no error)"
                )
            else:
                old_servers = (
                    f"old servers answer its route '{route}' with UNIMPLEMENTED"
                )
            self.compatible(
                method.span,
                f"method '{after.name}.{method.name}' was added: {old_servers}",
            )

    def method(self, before: Method, after: Method, label: str) -> None:
        old_kind, new_kind = _method_kind(before), _method_kind(after)
        same_kind = old_kind == new_kind
        if not same_kind:
            self.breaking(
                after.span,
                f"{label} changed from {old_kind} to {new_kind}: each side expects "
                "the other's call to go another way",
            )
        else:
            self.returns(before, after, label)
        self.direction = frozenset({REQUEST})
        self.fields(
            before.params,
            after.params,
            label,
            "parameter",
            skip_streams=not same_kind,
        )
        # An exception travels by its wire name: compare them by that.
        old_throws = {self.old_wire(type_text(t)) for t in before.throws}
        new_throws = {self.new_wire(type_text(t)) for t in after.throws}
        for ref in after.throws:
            if self.new_wire(type_text(ref)) not in old_throws:
                self.compatible(
                    ref.span,
                    f"{label} now declares '{type_text(ref)}': old clients receive it "
                    "as a generic RemoteError",
                )
        for ref in before.throws:
            if self.old_wire(type_text(ref)) not in new_throws:
                self.compatible(
                    ref.span,
                    f"{label} no longer declares '{type_text(ref)}': a server that "
                    "still raises it sends a generic RemoteError",
                )
        if after.idempotent and not before.idempotent:
            self.compatible(
                _modifier_span(after, "idempotent"),
                f"{label} became idempotent: new clients may retry it",
            )
        elif before.idempotent and not after.idempotent:
            self.compatible(
                after.span,
                f"{label} is no longer idempotent: new clients do not retry it, "
                "old ones still may",
            )
        if before.doc != after.doc:
            self.doc(after, label)

    def returns(self, before: Method, after: Method, label: str) -> None:
        changed = self.types(_returns(before), _returns(after))
        if changed is None:
            if before.returns is not None and after.returns is not None:
                what = "the result of" if after.returns.name != "stream" else ""
                self.constraints(
                    before.returns, after.returns, f"{what} {label}".strip(), {REPLY}
                )
            return
        span = after.span if after.returns is None else after.returns.span
        if before.streams_reply and after.streams_reply:
            assert before.returns is not None and after.returns is not None
            old_item, new_item = (
                self.types(
                    type_text(before.returns.arguments[0]),
                    type_text(after.returns.arguments[0]),
                )
                or changed
            )
            self.breaking(
                span,
                f"the stream item type of {label} changed from '{old_item}' to "
                f"'{new_item}'",
            )
        else:
            self.breaking(
                span, f"{label} now returns '{changed[1]}' instead of '{changed[0]}'"
            )


def _covered(reserved: ReservedRange, ranges: Iterable[ReservedRange]) -> bool:
    """Whether every id of ``reserved`` is in one of ``ranges`` (walked in order
    rather than id by id: a range may hold millions)."""
    next_id = reserved.low
    for other in sorted(ranges, key=lambda r: r.low):
        if other.low > next_id:
            break
        next_id = max(next_id, other.high + 1)
        if next_id > reserved.high:
            return True
    return next_id > reserved.high


def _modifier_span(method: Method, name: str) -> Span:
    return next((span for word, span in method.modifiers if word == name), method.span)


def _article(definition: Definition) -> str:
    kind = _KINDS[type(definition)]
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
