"""Every IDL construct parses into the expected IR, with docs and spans."""

from __future__ import annotations

from uvrpc_gen.model import (
    BoolLiteral,
    Enum,
    FloatLiteral,
    IntLiteral,
    ListLiteral,
    MapLiteral,
    Message,
    NameLiteral,
    Service,
    Span,
    StringLiteral,
    TypeRef,
)
from uvrpc_gen.parse import parse

SOURCE = """\
/// Module doc.
/// Second line.
namespace acme.calc;

// a plain comment
/// The op.
enum Op {
    /// Adds.
    ADD = 1;
    NEG = -2;
    HEX = 0x10;
}

/// A step.
message Step {
    1: Op op = Op.ADD;
    /// The note.
    2: optional string note = "a\\tb";
    3: list<map<string, list<i32>>> nested = [];
    4: double x = 1e3;
    5: bool flag = false;
    6: map<string, i32> m = {"a": 1};
    7: set<Op> ops = [Op.ADD, Op.NEG];
}

/// The service.
service Calc {
    /// Adds.
    i64 add(1: i64 a, 2: i64 b = 5, 3: optional string tag);
    void reset();
}
"""


def test_namespace_and_module_doc() -> None:
    parsed = parse(SOURCE, "calc.idl")
    assert parsed.namespace == "acme.calc"
    assert parsed.doc == "Module doc.\nSecond line."
    assert parsed.namespace_span == Span("calc.idl", 3, 11, 20)
    assert [type(d) for d in parsed.definitions] == [Enum, Message, Service]


def test_enum() -> None:
    enum = parse(SOURCE, "calc.idl").definitions[0]
    assert isinstance(enum, Enum)
    assert enum.name == "Op"
    assert enum.doc == "The op."
    assert enum.span == Span("calc.idl", 7, 6, 8)
    assert [(v.name, v.value, v.doc) for v in enum.values] == [
        ("ADD", 1, "Adds."),
        ("NEG", -2, None),
        ("HEX", 16, None),
    ]
    assert enum.values[0].span == Span("calc.idl", 9, 5, 8)
    assert enum.values[0].value_span == Span("calc.idl", 9, 11, 12)


def test_message_fields() -> None:
    message = parse(SOURCE, "calc.idl").definitions[1]
    assert isinstance(message, Message)
    assert message.doc == "A step."
    op, note, nested, x, flag, mapping, ops = message.fields
    assert op.id == 1 and op.name == "op" and not op.optional
    assert isinstance(op.default, NameLiteral) and op.default.name == "Op.ADD"
    assert op.span == Span("calc.idl", 16, 11, 13)
    assert op.id_span == Span("calc.idl", 16, 5, 6)
    assert note.optional and note.doc == "The note."
    assert isinstance(note.default, StringLiteral) and note.default.value == "a\tb"
    assert nested.type.name == "list"
    inner = nested.type.arguments[0]
    assert inner.name == "map"
    assert [a.name for a in inner.arguments] == ["string", "list"]
    assert isinstance(inner.arguments[1], TypeRef)
    assert inner.arguments[1].arguments[0].name == "i32"
    assert isinstance(nested.default, ListLiteral) and nested.default.items == ()
    assert isinstance(x.default, FloatLiteral) and x.default.value == 1000.0
    assert isinstance(flag.default, BoolLiteral) and flag.default.value is False
    assert isinstance(mapping.default, MapLiteral)
    key, value = mapping.default.entries[0]
    assert isinstance(key, StringLiteral) and isinstance(value, IntLiteral)
    assert isinstance(ops.default, ListLiteral) and len(ops.default.items) == 2


def test_service_methods() -> None:
    service = parse(SOURCE, "calc.idl").definitions[2]
    assert isinstance(service, Service)
    assert service.doc == "The service."
    add, reset = service.methods
    assert add.name == "add" and add.doc == "Adds."
    assert add.returns is not None and add.returns.name == "i64"
    assert add.span == Span("calc.idl", 29, 9, 12)
    a, b, tag = add.params
    assert (a.id, a.name, a.default) == (1, "a", None)
    assert isinstance(b.default, IntLiteral) and b.default.value == 5
    assert tag.optional
    assert reset.returns is None and reset.params == () and reset.doc is None


def test_a_parameter_list_may_end_with_a_comma() -> None:
    """As a throws list, a constraint list and a literal may, and as a Python
    signature written one parameter a line does."""
    source = "namespace a;\nservice S {\n    void f(\n        1: i32 x,\n    );\n}\n"
    service = parse(source, "x.idl").definitions[0]
    assert isinstance(service, Service)
    assert [p.name for p in service.methods[0].params] == ["x"]


def test_comments_are_ignored_and_block_comments_allowed() -> None:
    parsed = parse("namespace a; /* block\ncomment */ enum E { A = 1; }", "x.idl")
    assert parsed.definitions[0].name == "E"
