"""``union`` in the IDL: parsed with its docs and reservations, checked (each error
at ``file:line:col``), and compared by ``uvrpc-gen --compat`` (a new member is
safe; a removed, renumbered or retyped one breaks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from uvrpc_gen.check import check, type_text
from uvrpc_gen.compat import Change, compare, read_checked
from uvrpc_gen.diagnostics import IdlError, format_diagnostic
from uvrpc_gen.model import UnionType
from uvrpc_gen.parse import parse


def errors(source: str) -> list[str]:
    """The first lines of the diagnostics of ``source`` as file ``t.idl``."""
    try:
        check(parse(source, "t.idl"))
    except IdlError as error:
        return [format_diagnostic(d, source).splitlines()[0] for d in error.diagnostics]
    raise AssertionError("no error reported")


def test_a_union_is_parsed_with_its_members_docs_and_reservations() -> None:
    source = (
        "namespace t;\n"
        "message Circle { 1: double radius; }\n"
        "/// A shape.\n"
        "union Shape {\n"
        "    /// Round.\n"
        "    1: Circle circle;\n"
        "    2: list<Shape> group;\n"
        '    reserved 3 to 4, "old";\n'
        "    5: map<string, i64> counts;\n"
        "}\n"
        "message M { 1: Shape shape; 2: optional Shape other; }\n"
    )
    module = check(parse(source, "t.idl")).module
    union = module.definitions[1]
    assert isinstance(union, UnionType)
    assert (union.name, union.doc, union.span.line) == ("Shape", "A shape.", 4)
    assert [(m.id, m.name, type_text(m.type), m.doc) for m in union.members] == [
        (1, "circle", "Circle", "Round."),
        (2, "group", "list<Shape>", None),
        (5, "counts", "map<string, i64>", None),
    ]
    assert [(r.low, r.high) for r in union.reserved_ids] == [(3, 4)]
    assert [r.name for r in union.reserved_names] == ["old"]


def test_a_field_named_union_is_still_a_field() -> None:
    module = check(parse("namespace t; message M { 1: i32 union; }", "t.idl"))
    assert module.module.definitions[0].name == "M"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "union U {}",
            "t.idl:1:20: error: union 'U' has no members; a union holds exactly one "
            "of its members, so give it at least one",
        ),
        (
            "union U { 1: i32 a; 1: i32 b; }",
            "t.idl:1:34: error: duplicate union member id 1 (first used at line 1)",
        ),
        (
            "union U { 1: i32 a; 2: string a; }",
            "t.idl:1:44: error: duplicate union member name 'a' (first defined at "
            "line 1)",
        ),
        (
            "union U { 1: optional i32 a; }",
            "t.idl:1:40: error: union member 'a' cannot be optional: a union value "
            "always holds exactly one member (make the field of the union type "
            "optional instead)",
        ),
        (
            "union U { 1: i32 a = 3; }",
            "t.idl:1:35: error: union member 'a' cannot have a default",
        ),
        (
            "union U { 1: void a; }",
            "t.idl:1:27: error: 'void' is only allowed as a method's return type",
        ),
        (
            "union U { 1: stream<i32> a; }",
            "t.idl:1:27: error: 'stream<T>' is only allowed as a method's return type "
            "or as the type of one of its parameters",
        ),
        (
            "union U { 1: Nope a; }",
            "t.idl:1:27: error: unknown type 'Nope'",
        ),
        (
            "union U { 0: i32 a; }",
            "t.idl:1:24: error: union member id 0 is out of range (1..536870911)",
        ),
        (
            "union U { 1: i32 class; }",
            "t.idl:1:31: error: union member name 'class' is a Python keyword; "
            "rename it (say 'class_'): fields travel by id, so the wire stays the same",
        ),
        (
            'union U { reserved 2, "b"; 2: i32 b; }',
            "t.idl:1:41: error: union member id 2 is reserved at t.idl:1:33",
        ),
        (
            "message UA {} union U { 1: i32 a; }",
            "t.idl:1:22: error: 'UA' clashes with the class generated for member 'a' "
            "of union 'U' (line 1)",
        ),
        (
            "union U { 1: i32 big_a; 2: i32 bigA; }",
            "t.idl:1:45: error: 'U.bigA' and 'U.big_a' would both generate the class "
            "'UBigA'",
        ),
        (
            "union Foo { 1: i32 barClient; } service FooBar {}",
            "t.idl:1:54: error: the client 'FooBarClient' generated for service "
            "'FooBar' clashes with the class generated for union member "
            "'Foo.barClient'",
        ),
        (
            "union U { 1: i32 a; } message M { 1: U u = 1; }",
            "t.idl:1:57: error: a field of union type 'U' cannot have a default; "
            "make it 'optional' instead",
        ),
        (
            "union U { 1: i32 a; } message M { 1: map<U, i32> m; }",
            "t.idl:1:55: error: map key type must be a scalar or an enum, not 'U'",
        ),
        (
            "union U { 1: i32 a; } message M { 1: set<U> m; }",
            "t.idl:1:55: error: set element type must be a scalar or an enum, not 'U'",
        ),
        (
            "union union { 1: i32 a; }",
            "t.idl:1:20: error: union name 'union' is a reserved word of the IDL",
        ),
    ],
)
def test_check_errors(source: str, expected: str) -> None:
    assert expected in errors(f"namespace t; {source}")


@pytest.mark.parametrize("member", ["_", "__"])
def test_an_underscore_member_gets_that_one_error(member: str) -> None:
    """Its class would be the union's own name; it is refused for the underscore,
    not said to clash with the union too."""
    assert errors(f"namespace t; union U {{ 1: i32 a; 2: i32 {member}; }}") == [
        f"t.idl:1:41: error: union member name '{member}' must not start with an "
        "underscore"
    ]


# --- --compat -------------------------------------------------------------------------

OLD = """\
namespace t;
message Circle { 1: double radius; }
union Shape {
    1: Circle circle;
    2: string label;
    reserved 7;
}
service S { Shape echo(1: Shape shape); }
"""


def changes(tmp_path: Path, new: str) -> list[Change]:
    (tmp_path / "old.idl").write_text(OLD, encoding="utf-8")
    (tmp_path / "new.idl").write_text(new, encoding="utf-8")
    return compare(
        read_checked(str(tmp_path / "old.idl")), read_checked(str(tmp_path / "new.idl"))
    )


def test_adding_a_member_is_compatible(tmp_path: Path) -> None:
    found = changes(
        tmp_path, OLD.replace("2: string label;", "2: string label; 3: bytes blob;")
    )
    assert [(c.breaking, c.message) for c in found] == [
        (
            False,
            "union member 3 'blob' was added to union 'Shape': peers built from "
            "the old file receive it as an unknown member and pass it on unchanged",
        )
    ]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "2: string label;",
            "",
            "union member 2 'label' of union 'Shape' was removed: peers built from "
            "the old file still send it, and new ones receive it as an unknown "
            "member; reserve its id with 'reserved 2;' so no later member takes it",
        ),
        (
            "2: string label;\n    reserved 7;",
            "reserved 2, 7;",
            "union member 2 'label' of union 'Shape' was removed: peers built from "
            "the old file still send it, and new ones receive it as an unknown member",
        ),
        (
            "2: string label;",
            "3: string label;",
            "union member 'label' of union 'Shape' changed id from 2 to 3",
        ),
        (
            "2: string label;",
            "2: i64 label;",
            "union member 2 'label' of union 'Shape' changed type from 'string' to "
            "'i64'",
        ),
    ],
)
def test_removing_renumbering_or_retyping_a_member_breaks(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert OLD.count(old) == 1
    found = changes(tmp_path, OLD.replace(old, new))
    matching = [c for c in found if c.message.startswith(message)]
    assert matching and all(c.breaking for c in matching), found


def test_renaming_a_member_is_compatible(tmp_path: Path) -> None:
    found = changes(tmp_path, OLD.replace("2: string label;", "2: string title;"))
    assert [c.breaking for c in found] == [False]
    assert "was renamed to 'title'" in found[0].message


def test_a_field_that_becomes_a_union_breaks(tmp_path: Path) -> None:
    found = changes(
        tmp_path, OLD.replace("Shape echo(1: Shape", "Shape echo(1: Circle")
    )
    assert any(c.breaking and "changed type from 'Shape'" in c.message for c in found)
