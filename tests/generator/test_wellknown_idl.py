"""The well-known types in the IDL: where they are allowed, the defaults and
constants they refuse with a positioned error, and ``--compat`` on a change of type."""

from __future__ import annotations

from pathlib import Path

import pytest

from uvrpc_gen.check import check
from uvrpc_gen.cli import generate
from uvrpc_gen.compat import compare, read_checked
from uvrpc_gen.diagnostics import IdlError, format_diagnostic
from uvrpc_gen.parse import parse

NS = "namespace t;\n"


def errors(source: str) -> list[str]:
    """The first line and caret of each diagnostic of ``source`` as ``t.idl``."""
    try:
        check(parse(source, "t.idl"))
    except IdlError as error:
        found = [format_diagnostic(d, source).splitlines() for d in error.diagnostics]
        return [f"{lines[0]}\n{lines[2]}" for lines in found]
    raise AssertionError("no error reported")


NO_LITERALS = (
    "type '{}' has no literals: a field or parameter of it cannot have a default "
    "(make it 'optional' instead) and no constant can have it"
)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            'message M { 1: uuid id = "0f8e3c1a-9b2d-4e5f-8a7b-6c5d4e3f2a1b"; }',
            "t.idl:2:26: error: " + NO_LITERALS.format("uuid"),
        ),
        (
            'message M { 1: timestamp at = "2024-01-01T00:00:00Z"; }',
            "t.idl:2:31: error: " + NO_LITERALS.format("timestamp"),
        ),
        (
            "service S { void f(1: duration d = 1); }",
            "t.idl:2:36: error: " + NO_LITERALS.format("duration"),
        ),
        (
            'const decimal PRICE = "1.10";',
            "t.idl:2:23: error: " + NO_LITERALS.format("decimal"),
        ),
        (
            'message M { 1: list<uuid> ids = ["x"]; }',
            "t.idl:2:34: error: " + NO_LITERALS.format("uuid"),
        ),
        (
            "message M { 1: map<decimal, i32> prices; }",
            "t.idl:2:20: error: map key type cannot be 'decimal': equal decimals "
            "can be written differently; use its text as a 'string' key",
        ),
        (
            "message M { 1: set<decimal> prices; }",
            "t.idl:2:20: error: set element type cannot be 'decimal': equal "
            "decimals can be written differently; use its text as a 'string' key",
        ),
        (
            "message M { 1: uuid<i32> id; }",
            "t.idl:2:16: error: type 'uuid' takes no type arguments",
        ),
        (
            "message uuid { 1: i32 x; }",
            "t.idl:2:9: error: message name 'uuid' is a reserved word of the IDL",
        ),
    ],
)
def test_refused_with_a_positioned_error(source: str, expected: str) -> None:
    (found,) = errors(NS + source)
    first, caret = found.split("\n")
    assert first == expected
    column = int(expected.split(":")[2])
    assert caret.index("^") == column - 1


def test_allowed_everywhere_a_scalar_is() -> None:
    source = NS + (
        "typedef uuid Id;\n"
        "message M {\n"
        "  1: Id id; 2: optional timestamp at; 3: list<duration> took = [];\n"
        "  4: map<uuid, decimal> by_id = {}; 5: set<timestamp> moments = [];\n"
        "  6: map<duration, list<decimal>> buckets = {};\n"
        "}\n"
        "exception E { 1: decimal amount; }\n"
        "service S {\n"
        "  decimal price(1: uuid id, 2: optional timestamp at) throws (E);\n"
        "  stream<timestamp> ticks(1: duration every);\n"
        "  duration total(1: stream<duration> parts);\n"
        "}\n"
    )
    text = generate(source, "t.idl")
    assert "    id: _t.Uuid\n" in text
    assert "    by_id: dict[_t.Uuid, _t.Decimal] = _t.default({})\n" in text
    assert "    buckets: dict[_t.Duration, list[_t.Decimal]] = _t.default({})\n" in text
    assert "    amount: _t.Decimal\n" in text
    assert "async def price(" in text and ") -> _t.Decimal:" in text
    compile(text, "t.py", "exec")


def changes(tmp_path: Path, old: str, new: str) -> list[str]:
    """The breaking changes from the IDL text ``old`` to ``new``."""
    paths = []
    for name, text in (("old.idl", old), ("new.idl", new)):
        path = tmp_path / name
        path.write_text(NS + text, encoding="utf-8")
        paths.append(read_checked(str(path)))
    return [c.message for c in compare(*paths) if c.breaking]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("string", "uuid"),
        ("bytes", "uuid"),
        ("i64", "duration"),
        ("string", "decimal"),
        ("double", "decimal"),
        ("i64", "timestamp"),
        ("timestamp", "duration"),
    ],
)
def test_changing_to_or_from_a_well_known_type_breaks(
    tmp_path: Path, old: str, new: str
) -> None:
    found = changes(
        tmp_path, f"message M {{ 1: {old} x; }}", f"message M {{ 1: {new} x; }}"
    )
    assert any(f"from '{old}' to '{new}'" in message for message in found), found
    back = changes(
        tmp_path, f"message M {{ 1: {new} x; }}", f"message M {{ 1: {old} x; }}"
    )
    assert any(f"from '{new}' to '{old}'" in message for message in back), back
