"""Constraints on values: ``string(max_len = 50)``, ``i32(min = 0, max = 100)``,
``list<string(pattern = "^[a-z]+$")>(max_len = 10)``.

A constraint is attached to a type, so it composes with containers and typedefs.
This module checks them (which names exist, what each applies to, the type of its
value, its range, ``min`` against ``max``, whether a pattern compiles), checks a
default against its type's constraints, and writes them as generated code sees
them: ``pydantic.Field`` metadata inside ``typing.Annotated`` on the strict
annotations (message fields, parameters' models, reply and stream item types) and
a sentence in the docstrings. The plain annotations of signatures are left alone.

The names and what they mean are :mod:`uvrpc.services.constraints`'s, which
reflection shares: ``min``/``max`` (inclusive) for numbers, ``min_len``/``max_len``
(inclusive) for ``string`` (characters: Unicode code points), ``bytes`` (bytes),
``list`` and ``set`` (items) and ``map`` (entries), and ``pattern`` for ``string``.
A pattern is compiled here by the engine that enforces it at run time, pydantic's
default (Rust's ``regex`` crate: no look-around, no backreferences), and matches
anywhere in the string unless anchored with ``^`` and ``$``.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pydantic_core import SchemaError, SchemaValidator, core_schema

from uvrpc.services import constraints as runtime

from .diagnostics import Diagnostic
from .model import (
    Constraint,
    Field,
    FloatLiteral,
    IntLiteral,
    ListLiteral,
    Literal,
    MapLiteral,
    NameLiteral,
    Span,
    StringLiteral,
    TypeRef,
)

__all__ = [
    "APPLIES_TO",
    "Difference",
    "FIELD_KEYWORDS",
    "NAMES",
    "check_default",
    "check_type",
    "constrained_text",
    "differences",
    "documented",
    "has_constraints",
    "pattern_problem",
    "shape",
    "text",
    "values",
]

FIELD_KEYWORDS = runtime.FIELD_KEYWORDS
"""Each constraint name → the ``pydantic.Field`` keyword generated code writes."""

NAMES = tuple(FIELD_KEYWORDS)
"""Every constraint name, in the order the IDL writes them back."""

APPLIES_TO: Mapping[str, frozenset[str]] = {
    "min": runtime.NUMBERS,
    "max": runtime.NUMBERS,
    "min_len": frozenset(runtime.LENGTH_UNITS),
    "max_len": frozenset(runtime.LENGTH_UNITS),
    "pattern": frozenset({"string"}),
}
"""Each constraint name → the IDL types it applies to."""

_INTEGERS = {
    "i8": (-(2**7), 2**7 - 1),
    "i16": (-(2**15), 2**15 - 1),
    "i32": (-(2**31), 2**31 - 1),
    "i64": (-(2**63), 2**63 - 1),
}
_FLOAT32_MAX = 3.4028234663852886e38
_MAX_LENGTH = 2**63 - 1


def has_constraints(ref: TypeRef) -> bool:
    """Whether ``ref`` or a type argument inside it has constraints."""
    return bool(ref.constraints) or any(has_constraints(a) for a in ref.arguments)


def values(ref: TypeRef) -> dict[str, int | float | str]:
    """The constraints of ``ref`` itself (checked), by name, as Python values:
    numbers of ``float`` and ``double`` as ``float``."""
    found: dict[str, int | float | str] = {}
    for constraint in ref.constraints:
        literal = constraint.value
        if isinstance(literal, StringLiteral):
            found[constraint.name] = literal.value
        elif isinstance(literal, IntLiteral | FloatLiteral):
            number: int | float = literal.value
            if ref.name in ("float", "double"):
                number = float(number)
            found[constraint.name] = number
    return found


def shape(ref: TypeRef) -> runtime.Shape:
    """``ref`` as the runtime's :class:`~uvrpc.services.constraints.Shape`."""
    return runtime.Shape(ref.name, values(ref), tuple(shape(a) for a in ref.arguments))


def text(ref: TypeRef) -> str:
    """``ref``'s own constraints as the IDL writes them, ``(max_len = 50)``."""
    return runtime.constraint_text(ref.name, values(ref))


def constrained_text(ref: TypeRef) -> str:
    """A type as the IDL spells it, its constraints and its arguments' included:
    ``list<string(max_len = 8)>(max_len = 10)``."""
    arguments = ""
    if ref.arguments:
        arguments = f"<{', '.join(constrained_text(a) for a in ref.arguments)}>"
    return f"{ref.name}{arguments}{text(ref)}"


def documented(field: Field) -> Field:
    """``field`` with the sentence its constraints call for ("At most 50
    characters.") after its doc comment."""
    sentence = runtime.doc_text(shape(field.type))
    if not sentence:
        return field
    doc = f"{field.doc}\n\n{sentence}" if field.doc else sentence
    return dataclasses.replace(field, doc=doc)


# --- checks ----------------------------------------------------------------------


def _article(kind: str) -> str:
    return f"an {kind}" if kind in ("enum", "i8", "i16", "i32", "i64") else f"a {kind}"


def check_type(ref: TypeRef, kind: str) -> list[Diagnostic]:
    """The problems of ``ref``'s own constraints. ``kind`` is what its name
    resolved to: a built-in type's name (``i32``, ``list``), or ``message``,
    ``enum``, ``union`` or ``stream``."""
    errors: list[Diagnostic] = []
    if not ref.constraints:
        return errors
    if kind in ("message", "enum", "union", "stream"):
        what = "a stream" if kind == "stream" else f"{_article(kind)} type"
        advice = {
            "message": " (constrain its fields instead)",
            "enum": " (its values are its members)",
            "union": " (constrain its members instead)",
            "stream": " (constrain its item type: 'stream<T(...)>')",
        }[kind]
        errors.append(
            Diagnostic(
                ref.constraints[0].span,
                f"'{ref.name}' is {what} and takes no constraints{advice}",
            )
        )
        return errors
    seen: dict[str, Constraint] = {}
    for constraint in ref.constraints:
        name = constraint.name
        if name not in APPLIES_TO:
            close = difflib.get_close_matches(name, NAMES, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            errors.append(
                Diagnostic(
                    constraint.span,
                    f"unknown constraint '{name}'{hint} (known: {', '.join(NAMES)})",
                )
            )
            continue
        if name in seen:
            first = seen[name].span
            errors.append(
                Diagnostic(
                    constraint.span,
                    f"constraint '{name}' is given twice (first at line "
                    f"{first.line}, column {first.column})",
                )
            )
            continue
        seen[name] = constraint
        if kind not in APPLIES_TO[name]:
            takes = [n for n in NAMES if kind in APPLIES_TO[n]]
            which = f"it takes {', '.join(takes)}"
            errors.append(
                Diagnostic(
                    constraint.span,
                    f"constraint '{name}' does not apply to '{kind}' ({which})"
                    if takes
                    else f"constraint '{name}' does not apply: '{kind}' takes no "
                    "constraints",
                )
            )
            continue
        problem = _value_problem(name, kind, constraint.value)
        if problem:
            errors.append(Diagnostic(constraint.value.span, problem))
            seen[name] = dataclasses.replace(constraint, name="")  # not comparable
    for low, high in (("min", "max"), ("min_len", "max_len")):
        lower, upper = seen.get(low), seen.get(high)
        if lower is None or upper is None or not lower.name or not upper.name:
            continue
        low_value, high_value = _number(lower.value), _number(upper.value)
        if low_value > high_value:
            errors.append(
                Diagnostic(
                    upper.value.span,
                    f"'{high} = {high_value!r}' is less than "
                    f"'{low} = {low_value!r}': no value could meet both",
                )
            )
    return errors


def _number(literal: Literal) -> int | float:
    assert isinstance(literal, IntLiteral | FloatLiteral)
    return literal.value


def _got(literal: Literal) -> str:
    if isinstance(literal, NameLiteral):
        # A constant's name reads as the number it stands for, and is refused
        # all the same: say why, or "takes an integer, got 'MAX'" is a riddle.
        return (
            f"the name '{literal.name}' (a constraint's value is written out: a "
            "constant cannot stand for it)"
        )
    return {
        IntLiteral: "an integer",
        FloatLiteral: "a number",
        StringLiteral: "a string",
        ListLiteral: "a list",
        MapLiteral: "a map",
    }.get(type(literal), "a boolean")


def _value_problem(name: str, kind: str, literal: Literal) -> str | None:
    """What is wrong with the value of constraint ``name`` on a ``kind``."""
    if name == "pattern":
        if not isinstance(literal, StringLiteral):
            return f"'pattern' takes a string, got {_got(literal)}"
        return pattern_problem(literal.value)
    if name in ("min_len", "max_len"):
        if not isinstance(literal, IntLiteral):
            return f"'{name}' takes an integer, got {_got(literal)}"
        if not 0 <= literal.value <= _MAX_LENGTH:
            return f"'{name} = {literal.value}' is out of range (0..{_MAX_LENGTH})"
        return None
    if kind in _INTEGERS:
        if not isinstance(literal, IntLiteral):
            return f"'{name}' of '{kind}' takes an integer, got {_got(literal)}"
        low, high = _INTEGERS[kind]
        if not low <= literal.value <= high:
            return (
                f"'{name} = {literal.value}' is out of range for '{kind}' "
                f"({low}..{high})"
            )
        return None
    if not isinstance(literal, IntLiteral | FloatLiteral):
        return f"'{name}' of '{kind}' takes a number, got {_got(literal)}"
    limit = _FLOAT32_MAX if kind == "float" else sys.float_info.max
    value = float(literal.value)
    if not math.isfinite(value) or abs(value) > limit:
        return (
            f"'{name} = {literal.value!r}' is out of range for '{kind}' (finite, "
            f"at most {limit!r} in magnitude)"
        )
    return None


def _validator(pattern: str) -> SchemaValidator:
    """A validator of strings matching ``pattern``, compiled as generated models
    compile it (pydantic's default engine)."""
    return SchemaValidator(core_schema.str_schema(pattern=pattern))


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` does not compile in the runtime's engine, or ``None``."""
    try:
        _validator(pattern)
    except SchemaError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = lines[-1].removeprefix("error: ") if lines else str(error)
        return (
            f"pattern does not compile: {reason} (patterns use Rust's regex "
            "syntax, which has no look-around or backreferences)"
        )
    return None


def _matches(pattern: str, value: str) -> bool:
    try:
        _validator(pattern).validate_python(value)
    except ValueError:
        return False
    return True


def check_default(
    ref: TypeRef, literal: Literal, resolve: Callable[[Literal], Literal]
) -> list[Diagnostic]:
    """The ways a (well-typed) default breaks the constraints of ``ref`` or of the
    types inside it. ``resolve`` turns a reference to a constant into its value;
    a problem is reported where the default is written, the reference's name."""
    span = literal.span
    literal = resolve(literal)
    errors: list[Diagnostic] = []
    given = values(ref)
    bounds = {k: v for k, v in given.items() if not isinstance(v, str)}

    def fail(why: str) -> None:
        errors.append(
            Diagnostic(
                span,
                f"default does not meet the constraints of its type "
                f"'{ref.name}{text(ref)}': {why}",
            )
        )

    if isinstance(literal, IntLiteral | FloatLiteral):
        number = literal.value
        if "min" in bounds and number < bounds["min"]:
            fail(f"{number!r} is less than {bounds['min']!r}")
        if "max" in bounds and number > bounds["max"]:
            fail(f"{number!r} is more than {bounds['max']!r}")
        return errors
    length: int | None = None
    if isinstance(literal, StringLiteral):
        length = len(literal.data) if ref.name == "bytes" else len(literal.value)
        pattern = given.get("pattern")
        if isinstance(pattern, str) and not _matches(pattern, literal.value):
            fail(f"{literal.value!r} does not match the pattern {pattern!r}")
    elif isinstance(literal, ListLiteral):
        length = len(literal.items)
        for item in literal.items:
            errors += check_default(ref.arguments[0], item, resolve)
    elif isinstance(literal, MapLiteral):
        length = len(literal.entries)
        for key, item in literal.entries:
            errors += check_default(ref.arguments[0], key, resolve)
            errors += check_default(ref.arguments[1], item, resolve)
    if length is not None:
        unit = runtime.LENGTH_UNITS.get(ref.name, ("", ""))[1]
        if "min_len" in bounds and length < bounds["min_len"]:
            fail(f"{length} {unit}, fewer than {bounds['min_len']}")
        if "max_len" in bounds and length > bounds["max_len"]:
            fail(f"{length} {unit}, more than {bounds['max_len']}")
    return errors


# --- evolution ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Difference:
    """One constraint that changed between two versions of the same type.

    ``tighter``: some value the old type took is refused now; ``looser``: some
    value refused before is taken now (a changed pattern is both). ``where`` names
    the part of the type (``the items of``), ``change`` what happened.
    """

    span: Span
    where: str
    change: str
    tighter: bool
    looser: bool


_LOWER = frozenset({"min", "min_len"})
"""Bounds below: raising them tightens. ``max`` and ``max_len`` are above."""


def differences(old: TypeRef, new: TypeRef, where: str = "") -> list[Difference]:
    """How the constraints of ``new`` differ from those of ``old``, the same type
    (its arguments' included)."""
    found: list[Difference] = []
    before, after = values(old), values(new)
    spans = {c.name: c.span for c in new.constraints}
    for name in NAMES:
        was, now = before.get(name), after.get(name)
        if was == now:
            continue
        span = spans.get(name, new.span)
        old_text = f"'{name} = {_written(old, name, was)}'" if was is not None else ""
        new_text = f"'{name} = {_written(new, name, now)}'" if now is not None else ""
        if was is None:
            change, tighter, looser = f"gained the constraint {new_text}", True, False
        elif now is None:
            change, tighter, looser = f"lost the constraint {old_text}", False, True
        else:
            change = f"changed the constraint {old_text} to {new_text}"
            if isinstance(was, str) or isinstance(now, str):
                tighter = looser = True
            else:
                raised = now > was
                tighter = raised if name in _LOWER else not raised
                looser = not tighter
        found.append(Difference(span, where, change, tighter, looser))
    roles: dict[str, tuple[str, ...]] = {
        "list": ("the items of ",),
        "set": ("the items of ",),
        "map": ("the keys of ", "the values of "),
    }
    for role, was_arg, now_arg in zip(
        roles.get(new.name, ()), old.arguments, new.arguments, strict=False
    ):
        found += differences(was_arg, now_arg, f"{role}{where}")
    return found


def _written(ref: TypeRef, name: str, value: int | float | str | None) -> str:
    assert value is not None
    return runtime.literal_text(name, value, ref.name)
