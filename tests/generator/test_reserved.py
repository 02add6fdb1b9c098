"""``reserved`` ids and names: parsed with their spans, enforced by the checker, and
known to ``uvrpc-gen --compat`` (a field removed without reserving its id is a
warning, a dropped reservation too; warnings exit 0)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from uvrpc_gen.check import check
from uvrpc_gen.compat import Change, compare, read_checked
from uvrpc_gen.diagnostics import IdlError, format_diagnostic
from uvrpc_gen.model import Enum, ExceptionType, Message, ReservedName, ReservedRange
from uvrpc_gen.parse import parse


def errors(source: str) -> list[str]:
    """The first lines of the diagnostics of ``source`` as file ``t.idl``."""
    try:
        check(parse(source, "t.idl"))
    except IdlError as error:
        return [format_diagnostic(d, source).splitlines()[0] for d in error.diagnostics]
    raise AssertionError("no error reported")


# --- syntax and IR -------------------------------------------------------------------


def test_reservations_are_parsed_with_their_spans() -> None:
    source = (
        "namespace t;\n"
        "message M {\n"
        "    reserved 2, 15, 9 to 11;\n"
        '    reserved "foo", "bar";\n'
        "    1: i32 x;\n"
        "}\n"
        'exception X { reserved 4, "old"; 1: string why; }\n'
        'enum E { A = 1; reserved 2 to 3, "B"; }\n'
    )
    module = check(parse(source, "t.idl")).module
    message, exception, enum = module.definitions
    assert isinstance(message, Message)
    assert [(r.low, r.high) for r in message.reserved_ids] == [
        (2, 2),
        (15, 15),
        (9, 11),
    ]
    assert message.reserved_ids[2].span.line == 3
    assert message.reserved_ids[2].span.column == 21
    assert message.reserved_ids[2].span.end_column == 28
    assert message.reserved_names == (
        ReservedName("foo", message.reserved_names[0].span),
        ReservedName("bar", message.reserved_names[1].span),
    )
    assert (message.reserved_names[1].span.line,) == (4,)
    assert message.reserved_names[1].span.column == 21
    assert [f.name for f in message.fields] == ["x"]
    assert isinstance(exception, ExceptionType)
    assert [r.text for r in exception.reserved_ids] == ["4"]
    assert [r.name for r in exception.reserved_names] == ["old"]
    assert isinstance(enum, Enum)
    assert [v.name for v in enum.values] == ["A"]
    assert [r.text for r in enum.reserved_ids] == ["2 to 3"]
    assert [r.name for r in enum.reserved_names] == ["B"]


def test_reserved_and_to_stay_usable_as_field_names() -> None:
    """``reserved`` is a keyword only where a member starts, ``to`` only inside a
    ``reserved`` statement."""
    module = check(
        parse("namespace t;\nmessage M { 1: i32 reserved; 2: i32 to; }\n", "t.idl")
    ).module
    (message,) = module.definitions
    assert isinstance(message, Message)
    assert [f.name for f in message.fields] == ["reserved", "to"]
    assert message.reserved_ids == ()


def test_a_range_contains_its_ends() -> None:
    span = parse("namespace t;", "t.idl").namespace_span
    assert span is not None
    reserved = ReservedRange(7, 9, span)
    assert [n in reserved for n in (6, 7, 9, 10)] == [False, True, True, False]


# --- checker ------------------------------------------------------------------

NS = "namespace t;\n"

CHECKER_CASES = [
    (
        NS + "message M {\n    reserved 4, 7 to 9;\n    8: i32 x;\n}",
        "t.idl:4:5: error: field id 8 is reserved at t.idl:3:17",
    ),
    (
        NS + 'message M {\n    reserved "old_name";\n    1: i32 old_name;\n}',
        "t.idl:4:12: error: field name 'old_name' is reserved at t.idl:3:14",
    ),
    (
        NS + "exception X { reserved 3; 3: string why; }",
        "t.idl:2:27: error: exception field id 3 is reserved at t.idl:2:24",
    ),
    (
        NS + "enum E { A = 1; B = 2; reserved 2; }",
        "t.idl:2:21: error: enum value 2 is reserved at t.idl:2:33",
    ),
    (
        NS + 'enum E { A = 1; reserved "A"; }',
        "t.idl:2:10: error: enum member name 'A' is reserved at t.idl:2:26",
    ),
    (
        NS + "message M { reserved 9 to 7; }",
        "t.idl:2:22: error: bad reserved range '9 to 7': write it from the lower "
        "id, '7 to 9'",
    ),
    (
        NS + "message M { reserved 0; }",
        "t.idl:2:22: error: reserved id 0 is out of range (1..536870911)",
    ),
    (
        NS + "message M { reserved 536870910 to 536870912; }",
        "t.idl:2:22: error: reserved ids 536870910 to 536870912 are out of range "
        "(1..536870911)",
    ),
    (
        NS + "enum E { A = 1; reserved 2147483648; }",
        "t.idl:2:26: error: reserved value 2147483648 is out of range "
        "(-2147483648..2147483647)",
    ),
    (
        NS + "message M { reserved 3; reserved 1 to 5; }",
        "t.idl:2:34: error: reserved ids 1 to 5 overlap 3, reserved at t.idl:2:22",
    ),
    (
        NS + "message M { reserved 3, 3; }",
        "t.idl:2:25: error: reserved id 3 overlaps 3, reserved at t.idl:2:22",
    ),
    (
        NS + 'message M { reserved "a", "a"; }',
        "t.idl:2:27: error: name 'a' is already reserved at t.idl:2:22",
    ),
    (
        NS + 'enum E { A = 1; reserved "B-2"; }',
        "t.idl:2:26: error: reserved name 'B-2' is not a name an enum member could "
        "have",
    ),
    (
        NS + 'message M { reserved "not a name"; }',
        "t.idl:2:22: error: reserved name 'not a name' is not a name a field could "
        "have",
    ),
]


@pytest.mark.parametrize(("source", "expected"), CHECKER_CASES)
def test_checker_refuses(source: str, expected: str) -> None:
    assert errors(source) == [expected]


def test_every_reuse_is_reported_in_one_run() -> None:
    source = (
        NS
        + 'message M {\n    reserved 1, 2, "a", "b";\n    1: i32 a;\n    2: i32 b;\n}'
    )
    assert errors(source) == [
        "t.idl:4:5: error: field id 1 is reserved at t.idl:3:14",
        "t.idl:4:12: error: field name 'a' is reserved at t.idl:3:20",
        "t.idl:5:5: error: field id 2 is reserved at t.idl:3:17",
        "t.idl:5:12: error: field name 'b' is reserved at t.idl:3:25",
    ]


def test_a_syntax_error_in_a_reservation_is_one_line() -> None:
    with pytest.raises(IdlError) as caught:
        parse(NS + "message M { reserved 1 to; }", "t.idl")
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.span.line, diagnostic.span.column) == (2, 26)
    assert "an integer" in diagnostic.message


# --- compat -------------------------------------------------------------------

OLD = """\
namespace shop;
message Item {
    reserved 8, 10 to 12;
    reserved "legacy";
    1: string sku;
    2: optional string note;
    3: i32 count = 0;
    4: i32 weight;
}
enum Kind { TOOL = 1; reserved 2; }
"""


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def changes(tmp_path: Path, new: str) -> list[Change]:
    """The changes from ``OLD`` to ``new``."""
    old_path = _write(tmp_path, "old.idl", OLD)
    new_path = _write(tmp_path, "new.idl", new)
    return compare(read_checked(old_path), read_checked(new_path))


def edited(*replacements: tuple[str, str]) -> str:
    text = OLD
    for before, after in replacements:
        assert text.count(before) == 1, before
        text = text.replace(before, after)
    return text


def test_removing_an_optional_field_without_reserving_its_id_is_a_warning(
    tmp_path: Path,
) -> None:
    (change,) = changes(tmp_path, edited(("    2: optional string note;\n", "")))
    assert (change.kind, change.breaking, change.warning) == ("warning", False, True)
    assert str(change) == (
        f"{tmp_path / 'old.idl'}:6:24: warning: field 2 'note' of message 'Item' was "
        "removed without reserving its id 2: old readers fall back to their "
        "default, but a later field given id 2 would be misread by peers built from "
        "an older file; reserve its id with 'reserved 2;' so no later field takes it"
    )


def test_removing_a_field_with_a_default_and_reserving_its_id_warns_of_nothing(
    tmp_path: Path,
) -> None:
    new = edited(("    3: i32 count = 0;\n", ""), ("reserved 8,", "reserved 3, 8,"))
    (change,) = changes(tmp_path, new)
    assert change.kind == "compatible"
    assert change.message == (
        "field 3 'count' of message 'Item' was removed and its id 3 reserved: old "
        "readers fall back to their default"
    )


def test_reserving_the_id_of_a_required_field_is_a_breaking_removal(
    tmp_path: Path,
) -> None:
    new = edited(("    4: i32 weight;\n", ""), ("reserved 8,", "reserved 4, 8,"))
    (change,) = changes(tmp_path, new)
    assert change.kind == "breaking"
    assert change.message == (
        "field 4 'weight' of message 'Item' was removed: old readers require it and "
        "new writers do not send it"
    )


def test_removing_a_required_field_suggests_reserving_its_id(tmp_path: Path) -> None:
    (change,) = changes(tmp_path, edited(("    4: i32 weight;\n", "")))
    assert change.kind == "breaking"
    assert change.message.endswith(
        "; reserve its id with 'reserved 4;' so no later field takes it"
    )


def test_dropped_or_narrowed_reservations_are_warnings(tmp_path: Path) -> None:
    new = edited(
        ("reserved 8, 10 to 12;", "reserved 10 to 11;"),
        ('    reserved "legacy";\n', ""),
        ("reserved 2; }", "}"),
    )
    found = changes(tmp_path, new)
    assert [(c.kind, c.span.line, c.span.column, c.message) for c in found] == [
        (
            "warning",
            3,
            14,
            "id 8 of message 'Item' is no longer reserved: a field that takes it "
            "again is misread by peers built from a file that used it",
        ),
        (
            "warning",
            3,
            17,
            "ids 10 to 12 of message 'Item' are no longer all reserved: a field "
            "that takes one again is misread by peers built from a file that used it",
        ),
        (
            "warning",
            4,
            14,
            "name 'legacy' of message 'Item' is no longer reserved: code written for "
            "the old member of that name would use a new one without notice",
        ),
        (
            "warning",
            10,
            32,
            "value 2 of enum 'Kind' is no longer reserved: a value that takes it "
            "again is misread by peers built from a file that used it",
        ),
    ]
    assert all(Path(c.span.file).name == "old.idl" for c in found)


def test_a_dropped_union_reservation_names_a_member_not_a_field(
    tmp_path: Path,
) -> None:
    def union(reserved: str) -> str:
        return f"namespace shop;\nunion Shape {{ {reserved}1: double circle; }}\n"

    old_path = _write(tmp_path, "old.idl", union("reserved 2; "))
    new_path = _write(tmp_path, "new.idl", union(""))
    (change,) = compare(read_checked(old_path), read_checked(new_path))
    assert change.kind == "warning"
    assert change.message == (
        "id 2 of union 'Shape' is no longer reserved: a member that takes it again "
        "is misread by peers built from a file that used it"
    )


def test_reservations_rewritten_or_split_are_no_change(tmp_path: Path) -> None:
    new = edited(
        ("reserved 8, 10 to 12;", "reserved 12, 8;\n    reserved 10 to 11;"),
        ('reserved "legacy";', 'reserved "legacy", "older";'),
    )
    assert changes(tmp_path, new) == []


def test_a_range_narrowed_at_the_top_of_the_id_range_is_a_warning(
    tmp_path: Path,
) -> None:
    old = OLD.replace("reserved 8, 10 to 12;", "reserved 8, 100 to 536870911;")
    new = old.replace("reserved 8, 100 to 536870911;", "reserved 8, 100 to 536870910;")
    old_path = _write(tmp_path, "old.idl", old)
    new_path = _write(tmp_path, "new.idl", new)
    (change,) = compare(read_checked(old_path), read_checked(new_path))
    assert change.message.startswith(
        "ids 100 to 536870911 of message 'Item' are no longer all reserved"
    )


def run_compat(tmp_path: Path, new: str) -> subprocess.CompletedProcess[str]:
    """``python -m uvrpc_gen --compat old.idl new.idl`` in ``tmp_path``."""
    _write(tmp_path, "old.idl", OLD)
    _write(tmp_path, "new.idl", new)
    return subprocess.run(
        [sys.executable, "-m", "uvrpc_gen", "--compat", "old.idl", "new.idl"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_warnings_print_and_exit_0(tmp_path: Path) -> None:
    result = run_compat(
        tmp_path,
        edited(
            ("    2: optional string note;\n", ""), ("1: string sku;", "1: string id;")
        ),
    )
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert [line.split(": ")[1] for line in lines[:-1]] == ["warning", "compatible"]
    assert lines[0].startswith("old.idl:6:24: warning: field 2 'note' of message")
    assert lines[-1] == (
        "old.idl -> new.idl: 0 breaking changes, 1 warning, 1 compatible change"
    )


def test_cli_breaking_changes_come_before_warnings_and_exit_1(tmp_path: Path) -> None:
    result = run_compat(
        tmp_path,
        edited(("    2: optional string note;\n", ""), ("    4: i32 weight;\n", "")),
    )
    assert (result.returncode, result.stderr) == (1, "")
    lines = result.stdout.splitlines()
    assert [line.split(": ")[1] for line in lines[:-1]] == ["breaking", "warning"]
    assert lines[-1] == (
        "old.idl -> new.idl: 1 breaking change, 1 warning, 0 compatible changes"
    )


def test_cli_reports_a_reserved_id_reused_with_both_positions(tmp_path: Path) -> None:
    result = run_compat(tmp_path, edited(("4: i32 weight;", "11: i32 weight;")))
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        "new.idl:8:5: error: field id 11 is reserved at new.idl:3:17"
    )
    assert "Traceback" not in result.stderr
