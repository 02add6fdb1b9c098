"""Constraints on types: ``string(max_len = 50)``, ``i32(min = 0, max = 100)``,
``list<string(pattern = "^[a-z]+$")>(max_len = 10)``.

Parsed onto the type they follow, checked with ``file:line:col`` errors, generated
into the strict annotations pydantic enforces (signatures stay plain), said in the
docstrings, and compared by ``uvrpc-gen --compat`` by the way a type travels.
"""

from __future__ import annotations

import sys
from array import array
from pathlib import Path
from types import ModuleType
from typing import Any

import pydantic
import pytest
from generated_modules import import_file

from uvrpc_gen.check import check
from uvrpc_gen.cli import generate
from uvrpc_gen.compat import compare, read_checked
from uvrpc_gen.constraints import constrained_text
from uvrpc_gen.diagnostics import IdlError, format_diagnostic
from uvrpc_gen.model import IntLiteral, Message, Service, StringLiteral
from uvrpc_gen.parse import parse

NS = "namespace t;\n"


def messages(source: str) -> list[str]:
    """The first lines of the formatted diagnostics of ``source`` (file ``t.idl``)."""
    try:
        check(parse(source, "t.idl"))
    except IdlError as error:
        return [format_diagnostic(d, source).splitlines()[0] for d in error.diagnostics]
    raise AssertionError("no error reported")


# --- parsing -------------------------------------------------------------------


def test_constraints_attach_to_the_type_they_follow() -> None:
    module = parse(
        NS + "message M { 1: list<string(max_len = 8)>(max_len = 10) tags; }", "t.idl"
    )
    (message,) = module.definitions
    assert isinstance(message, Message)
    ref = message.fields[0].type
    assert [(c.name, c.value) for c in ref.constraints] == [
        ("max_len", IntLiteral(10, ref.constraints[0].value.span))
    ]
    (item,) = ref.arguments
    assert item.name == "string"
    assert [c.name for c in item.constraints] == ["max_len"]
    assert (item.constraints[0].span.line, item.constraints[0].span.column) == (2, 28)


def test_a_typedef_carries_its_constraints_to_each_use() -> None:
    checked = check(
        parse(
            NS + 'typedef string(min_len = 1, pattern = "^[a-z]+$") Name;\n'
            "message M { 1: Name name; 2: Name(max_len = 9) short; }",
            "t.idl",
        )
    )
    message = next(d for d in checked.module.definitions if isinstance(d, Message))
    texts = [constrained_text(f.type) for f in message.fields]
    assert texts == [
        'string(min_len = 1, pattern = "^[a-z]+$")',
        'string(min_len = 1, max_len = 9, pattern = "^[a-z]+$")',
    ]
    pattern = message.fields[0].type.constraints[1].value
    assert isinstance(pattern, StringLiteral) and pattern.value == "^[a-z]+$"


def test_constraints_on_parameters_results_and_stream_items() -> None:
    checked = check(
        parse(
            NS + "service S {\n"
            "  list<i32(min = 0)>(max_len = 3) f(1: double(min = 0.5) x);\n"
            "  stream<string(max_len = 2)> g(1: stream<i8(max = 3)> items);\n"
            "}",
            "t.idl",
        )
    )
    (service,) = checked.module.definitions
    assert isinstance(service, Service)
    f, g = service.methods
    assert f.returns is not None and g.returns is not None
    assert constrained_text(f.returns) == "list<i32(min = 0)>(max_len = 3)"
    assert constrained_text(f.params[0].type) == "double(min = 0.5)"
    assert constrained_text(g.returns) == "stream<string(max_len = 2)>"
    assert constrained_text(g.params[0].type) == "stream<i8(max = 3)>"


# --- checking ------------------------------------------------------------------

ERRORS = [
    (
        "message M { 1: string(maxlen = 3) x; }",
        "t.idl:2:23: error: unknown constraint 'maxlen'; did you mean 'max_len'? "
        "(known: min, max, min_len, max_len, pattern)",
    ),
    (
        "message M { 1: i32(max_len = 3) x; }",
        "t.idl:2:20: error: constraint 'max_len' does not apply to 'i32' "
        "(it takes min, max)",
    ),
    (
        'message M { 1: list<i32>(pattern = "a") x; }',
        "t.idl:2:26: error: constraint 'pattern' does not apply to 'list' "
        "(it takes min_len, max_len)",
    ),
    (
        "message M { 1: bool(min = 0) x; }",
        "t.idl:2:21: error: constraint 'min' does not apply: 'bool' takes no "
        "constraints",
    ),
    (
        'message M { 1: i32(min = "0") x; }',
        "t.idl:2:26: error: 'min' of 'i32' takes an integer, got a string",
    ),
    (
        "message M { 1: i32(min = 1.5) x; }",
        "t.idl:2:26: error: 'min' of 'i32' takes an integer, got a number",
    ),
    (
        "const i32 LOW = 0;\nmessage M { 1: i32(min = LOW) x; }",
        "t.idl:3:26: error: 'min' of 'i32' takes an integer, got the name 'LOW' "
        "(a constraint's value is written out: a constant cannot stand for it)",
    ),
    (
        "message M { 1: string(max_len = -1) x; }",
        "t.idl:2:33: error: 'max_len = -1' is out of range (0..9223372036854775807)",
    ),
    (
        "message M { 1: string(pattern = 3) x; }",
        "t.idl:2:33: error: 'pattern' takes a string, got an integer",
    ),
    (
        "message M { 1: i32(min = 5, max = 4) x; }",
        "t.idl:2:35: error: 'max = 4' is less than 'min = 5': no value could meet both",
    ),
    (
        "message M { 1: bytes(min_len = 9, max_len = 8) x; }",
        "t.idl:2:45: error: 'max_len = 8' is less than 'min_len = 9': no value "
        "could meet both",
    ),
    (
        "message M { 1: i8(min = -129) x; }",
        "t.idl:2:25: error: 'min = -129' is out of range for 'i8' (-128..127)",
    ),
    (
        "message M { 1: float(max = 1e39) x; }",
        "t.idl:2:28: error: 'max = 1e+39' is out of range for 'float' (finite, at "
        "most 3.4028234663852886e+38 in magnitude)",
    ),
    (
        "message M { 1: string(max_len = 1, max_len = 2) x; }",
        "t.idl:2:36: error: constraint 'max_len' is given twice (first at line 2, "
        "column 23)",
    ),
    (
        'message M { 1: string(pattern = "(?=a)b") x; }',
        "t.idl:2:33: error: pattern does not compile: look-around, including "
        "look-ahead and look-behind, is not supported (patterns use Rust's regex "
        "syntax, which has no look-around or backreferences)",
    ),
    (
        'message M { 1: string(pattern = "[a-") x; }',
        "t.idl:2:33: error: pattern does not compile: unclosed character class "
        "(patterns use Rust's regex syntax, which has no look-around or "
        "backreferences)",
    ),
    (
        "message M { 1: i32(max = 3) x = 4; }",
        "t.idl:2:33: error: default does not meet the constraints of its type "
        "'i32(max = 3)': 4 is more than 3",
    ),
    (
        'message M { 1: string(min_len = 2) x = "é"; }',
        "t.idl:2:40: error: default does not meet the constraints of its type "
        "'string(min_len = 2)': 1 characters, fewer than 2",
    ),
    (
        'message M { 1: bytes(max_len = 1) x = "é"; }',
        "t.idl:2:39: error: default does not meet the constraints of its type "
        "'bytes(max_len = 1)': 2 bytes, more than 1",
    ),
    (
        'message M { 1: string(pattern = "^[a-z]+$") x = "A"; }',
        "t.idl:2:49: error: default does not meet the constraints of its type "
        "'string(pattern = \"^[a-z]+$\")': 'A' does not match the pattern "
        "'^[a-z]+$'",
    ),
    (
        "message M { 1: list<i32(min = 0)>(max_len = 2) x = [1, -1]; }",
        "t.idl:2:56: error: default does not meet the constraints of its type "
        "'i32(min = 0)': -1 is less than 0",
    ),
    (
        'message M { 1: map<string, i8>(max_len = 1) x = {"a": 1, "b": 2}; }',
        "t.idl:2:49: error: default does not meet the constraints of its type "
        "'map(max_len = 1)': 2 entries, more than 1",
    ),
    (
        "const i32 BIG = 7;\nmessage M { 1: i32(max = 3) x = BIG; }",
        "t.idl:3:33: error: default does not meet the constraints of its type "
        "'i32(max = 3)': 7 is more than 3",
    ),
    (
        "service S { void f(1: i8(min = 1) n = 0); }",
        "t.idl:2:39: error: default does not meet the constraints of its type "
        "'i8(min = 1)': 0 is less than 1",
    ),
    (
        "message N { 1: i32 x; }\nmessage M { 1: N(max_len = 1) n; }",
        "t.idl:3:18: error: 'N' is a message type and takes no constraints "
        "(constrain its fields instead)",
    ),
    (
        "enum E { A = 1; }\nmessage M { 1: E(min = 1) e; }",
        "t.idl:3:18: error: 'E' is an enum type and takes no constraints (its "
        "values are its members)",
    ),
    (
        "union U { 1: i32 n; 2: string(max_len = 3) s; }\n"
        "message M { 1: U(max_len = 1) u; }",
        "t.idl:3:18: error: 'U' is a union type and takes no constraints "
        "(constrain its members instead)",
    ),
    (
        "service S { stream<i32>(max_len = 1) f(); }",
        "t.idl:2:25: error: 'stream' is a stream and takes no constraints "
        "(constrain its item type: 'stream<T(...)>')",
    ),
    (
        "service S { void(max = 1) f(); }",
        "t.idl:2:18: error: 'void' takes no constraints",
    ),
    (
        "typedef string(max_len = 5) Name;\nmessage M { 1: Name(max_len = 3) x; }",
        "t.idl:3:21: error: typedef 'Name' already sets the constraint 'max_len'",
    ),
]


@pytest.mark.parametrize(("body", "expected"), ERRORS)
def test_error(body: str, expected: str) -> None:
    source = NS + body
    found = messages(source)
    # The default of a constant that breaks the field's constraints is reported
    # where the constant is used.
    assert expected in found, found


def test_each_use_of_a_constant_that_breaks_a_constraint_is_reported() -> None:
    found = messages(
        NS + "const i32 BIG = 7;\nmessage M {\n"
        "    1: i32(max = 3) x = BIG;\n    2: i32(max = 3) y = BIG;\n}"
    )
    assert [m.partition(": error")[0] for m in found] == ["t.idl:4:25", "t.idl:5:25"]


def test_several_constraint_errors_in_one_run() -> None:
    found = messages(
        NS + "message M {\n"
        "  1: i32(max_len = 3) a;\n"
        "  2: string(min = 1) b;\n"
        "  3: i16(max = 70000) c;\n"
        "}"
    )
    assert [line.split(": error")[0] for line in found] == [
        "t.idl:3:10",
        "t.idl:4:13",
        "t.idl:5:16",
    ]


# --- generated code ------------------------------------------------------------

SOURCE = (
    NS
    + """\
/// A user.
message User {
    /// The user's name.
    1: string(min_len = 1, max_len = 5) name;
    2: list<string(pattern = "^[a-z]+$")>(max_len = 2) tags = [];
    3: map<string, i32(min = 0)> scores = {};
    4: optional double(min = 0.0, max = 1.0) ratio;
    5: bytes(max_len = 3) key = "k";
}

service Users {
    list<string(max_len = 3)> find(1: i32(min = 1, max = 10) limit, 2: User like);
}
"""
)


def load_module(tmp_path: Path, source: str, name: str) -> ModuleType:
    """Generate ``source`` and import it as module ``name``."""
    path = tmp_path / f"{name}.py"
    path.write_text(generate(source, f"{name}.idl"), encoding="utf-8")
    return import_file(path, name)


@pytest.fixture
def users(tmp_path: Path) -> Any:
    module = load_module(tmp_path, SOURCE, "constrained_users")
    yield module
    del sys.modules["constrained_users"]


def test_strict_annotations_carry_the_constraints_and_signatures_stay_plain() -> None:
    text = generate(SOURCE, "t.idl")
    assert (
        "name: _typing.Annotated[_t.String, _t.Constraints(min_length=1, "
        "max_length=5)]" in text
    )
    assert "_typing.Annotated[_t.I32, _t.Constraints(ge=0, le=10)]" not in text
    assert "limit: _typing.Annotated[_t.I32, _t.Constraints(ge=1, le=10)]" in text
    assert "_typing.Annotated[_t.String, _t.Constraints(max_length=3)]" in text
    # What callers and handlers see is the plain type.
    assert "limit: int,\n" in text
    assert ") -> list[str]:" in text
    assert "import pydantic" not in text


def test_docstrings_say_what_the_constraints_allow() -> None:
    text = generate(SOURCE, "t.idl")
    assert '"""The user\'s name.\n\n    1 to 5 characters.\n    """' in text
    assert '"""At most 2 items; each item matching the pattern ``^[a-z]+$``."""' in text
    assert '"""Each value at least 0."""' in text
    assert '"""From 0.0 to 1.0."""' in text
    assert '"""At most 3 bytes."""' in text
    assert "limit: From 1 to 10." in text


def test_a_pattern_with_control_characters_is_documented_escaped() -> None:
    """A docstring cannot hold a NUL (the module would not compile), a carriage
    return would end its line, and other control characters and separators do not
    show: they are written ``\\uNNNN``."""
    text = generate(
        'namespace t;\nmessage M { 1: string(pattern = "a\\u0000\\r\\u2028") s; }\n',
        "t.idl",
    )
    compile(text, "t.py", "exec")
    assert '"""Matching the pattern ``a\\\\u0000\\\\u000d\\\\u2028``."""' in text


def test_a_violating_message_is_refused_with_its_field_path(users: Any) -> None:
    users.User(name="ann", tags=["a"], scores={"x": 0}, ratio=1.0, key=b"abc")
    cases: list[tuple[dict[str, Any], tuple[Any, ...]]] = [
        ({"name": ""}, ("name",)),
        ({"name": "toolong"}, ("name",)),
        ({"name": "ann", "tags": ["ok", "Bad"]}, ("tags", 1)),
        ({"name": "ann", "tags": ["a", "b", "c"]}, ("tags",)),
        ({"name": "ann", "scores": {"x": -1}}, ("scores", "x")),
        ({"name": "ann", "ratio": 1.5}, ("ratio",)),
        ({"name": "ann", "key": b"four"}, ("key",)),
    ]
    for values, location in cases:
        with pytest.raises(pydantic.ValidationError) as caught:
            users.User(**values)
        assert caught.value.errors()[0]["loc"] == location, values


def test_the_names_count_characters(users: Any) -> None:
    assert users.User(name="héllo").name == "héllo"  # 5 characters, 6 bytes


def test_the_bounds_of_bytes_count_bytes_and_say_so(users: Any) -> None:
    """As pydantic's own ``bytes`` does: "at most 3 bytes", not a list's "at
    most 3 items after validation". A view of wider items counts its bytes."""
    for key, kind, message in [
        (b"four", "bytes_too_long", "Data should have at most 3 bytes"),
        (memoryview(array("i", [7])), "bytes_too_long", "at most 3 bytes"),
    ]:
        with pytest.raises(pydantic.ValidationError) as caught:
            users.User(name="ann", key=key)
        (error,) = caught.value.errors()
        assert (error["loc"], error["type"]) == (("key",), kind)
        assert message in error["msg"]
    assert bytes(users.User(name="ann", key=memoryview(b"abc")).key) == b"abc"


# --- compatibility ---------------------------------------------------------------

OLD = (
    NS
    + """\
message Query { 1: string(max_len = 50) text; }
message Answer { 1: string(max_len = 50) text; }
message Shared { 1: i32(max = 10) n; }
message Loose { 1: string s; }
exception Refused { 1: string(max_len = 9) why; }
service S {
    Answer ask(1: Query query, 2: i32(min = 1) limit) throws (Refused);
    Shared swap(1: Shared value);
    stream<string(max_len = 8)> watch(1: stream<i32(min = 0)> ticks);
}
"""
)

COMPAT = {
    "request field tightened": (
        ("string(max_len = 50) text; }\nmessage Answer", "string(max_len = 9) text; "
         "}\nmessage Answer"),
        True,
        "field 1 'text' of message 'Query' changed the constraint 'max_len = 50' "
        "to 'max_len = 9': a new server may refuse what an old client sends",
    ),
    "request field loosened": (
        ("string(max_len = 50) text; }\nmessage Answer", "string text; }\nmessage "
         "Answer"),
        False,
        "field 1 'text' of message 'Query' lost the constraint 'max_len = 50': new "
        "servers take all that old clients send",
    ),
    "reply field loosened": (
        ("Answer { 1: string(max_len = 50)", "Answer { 1: string(max_len = 51)"),
        True,
        "field 1 'text' of message 'Answer' changed the constraint 'max_len = 50' "
        "to 'max_len = 51': an old client may refuse what a new server sends",
    ),
    "reply field tightened": (
        ("Answer { 1: string(max_len = 50)", "Answer { 1: string(max_len = 5)"),
        False,
        "old clients take all that new servers send",
    ),
    "both ways loosened": (
        ("i32(max = 10) n", "i32(max = 11) n"),
        True,
        "field 1 'n' of message 'Shared' changed the constraint 'max = 10' to "
        "'max = 11': it travels in requests and in replies",
    ),
    "unreached message tightened": (
        ("Loose { 1: string s; }", "Loose { 1: string(min_len = 1) s; }"),
        True,
        "field 1 's' of message 'Loose' gained the constraint 'min_len = 1': it "
        "travels in requests and in replies",
    ),
    "exception field loosened": (
        ("string(max_len = 9) why", "string why"),
        True,
        "field 1 'why' of exception 'Refused' lost the constraint 'max_len = 9': "
        "an old client may refuse what a new server sends",
    ),
    "parameter tightened": (
        ("i32(min = 1) limit", "i32(min = 2) limit"),
        True,
        "parameter 2 'limit' of method 'S.ask' changed the constraint 'min = 1' to "
        "'min = 2': a new server may refuse",
    ),
    "parameter loosened": (
        ("i32(min = 1) limit", "i32(min = 0) limit"),
        False,
        "new servers take all that old clients send",
    ),
    "pattern added to a request": (
        ("string(max_len = 50) text; }\nmessage Answer", 'string(max_len = 50, '
         'pattern = "^a") text; }\nmessage Answer'),
        True,
        "gained the constraint 'pattern = \"^a\"'",
    ),
    "server stream items loosened": (
        ("stream<string(max_len = 8)>", "stream<string(max_len = 9)>"),
        True,
        "the stream items of method 'S.watch' changed the constraint 'max_len = 8' "
        "to 'max_len = 9': an old client may refuse",
    ),
    "client stream items tightened": (
        ("stream<i32(min = 0)>", "stream<i32(min = 1)>"),
        True,
        "the stream items of parameter 1 'ticks' of method 'S.watch' changed the "
        "constraint 'min = 0' to 'min = 1': a new server may refuse",
    ),
    "client stream items loosened": (
        ("stream<i32(min = 0)>", "stream<i32>"),
        False,
        "lost the constraint 'min = 0': new servers take all",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(COMPAT))
def test_compat(tmp_path: Path, case: str) -> None:
    (before, after), breaking, message = COMPAT[case]
    assert OLD.count(before) == 1, before
    (tmp_path / "old.idl").write_text(OLD, encoding="utf-8")
    (tmp_path / "new.idl").write_text(OLD.replace(before, after), encoding="utf-8")
    changes = compare(
        read_checked(str(tmp_path / "old.idl")), read_checked(str(tmp_path / "new.idl"))
    )
    found = [c for c in changes if message in c.message]
    assert len(found) == 1, [str(c) for c in changes]
    assert found[0].breaking is breaking
    assert found[0].span.file.endswith("new.idl")


def test_unchanged_constraints_are_no_change(tmp_path: Path) -> None:
    (tmp_path / "old.idl").write_text(OLD, encoding="utf-8")
    old = read_checked(str(tmp_path / "old.idl"))
    assert compare(old, old) == []


def test_a_union_member_travels_the_ways_of_its_union(tmp_path: Path) -> None:
    old = NS + (
        "union U { 1: i32 n; 2: string(max_len = 3) s; }\n"
        "service S { U get(1: U u); void put(1: U u); }\n"
    )
    (tmp_path / "old.idl").write_text(old, encoding="utf-8")
    (tmp_path / "new.idl").write_text(
        old.replace("max_len = 3", "max_len = 2"), encoding="utf-8"
    )
    (change,) = compare(
        read_checked(str(tmp_path / "old.idl")), read_checked(str(tmp_path / "new.idl"))
    )
    assert change.breaking
    assert change.message == (
        "union member 2 's' of union 'U' changed the constraint 'max_len = 3' to "
        "'max_len = 2': it travels in requests and in replies, so a peer built from "
        "one version may refuse what the other sends"
    )
