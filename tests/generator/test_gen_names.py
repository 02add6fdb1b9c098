"""Names the generated code cannot use are reported, whatever hides them."""

from __future__ import annotations

import enum

import pytest

from uvrpc_gen.check import check
from uvrpc_gen.diagnostics import IdlError
from uvrpc_gen.parse import parse
from uvrpc_gen.symbols import ENUM_ATTRIBUTES, attributes_of

NS = "namespace t;\n"


def messages(source: str) -> list[str]:
    with pytest.raises(IdlError) as caught:
        check(parse(NS + source, "t.idl"))
    return [
        f"{d.span.line}:{d.span.column}: {d.message}" for d in caught.value.diagnostics
    ]


@pytest.mark.parametrize(
    "member", ["name", "value", "mro", "real", "numerator", "bit_length"]
)
def test_enum_members_hidden_from_dir_are_reserved(member: str) -> None:
    assert member in ENUM_ATTRIBUTES
    assert messages(f"enum E {{ {member} = 1; }}") == [
        f"2:10: enum member '{member}' clashes with an attribute of enum.IntEnum"
    ]


def test_attributes_of_walks_the_mro_not_dir() -> None:
    names = attributes_of(enum.IntEnum)
    assert {"name", "value", "_missing_"} <= names
    assert "mro" not in names
    assert "mro" in attributes_of(enum.IntEnum, metaclass=True)


@pytest.mark.parametrize(
    "method", ["str", "int", "Bytes", "float", "List", "set", "dict", "memoryview"]
)
def test_a_method_may_be_named_like_a_builtin_type(method: str) -> None:
    """Inside the generated classes their annotations name the built-in through
    ``builtins`` (tests/generator/test_idl_edges.py generates and runs some)."""
    check(parse(NS + f"service S {{ void {method}(); }}", "t.idl"))


@pytest.mark.parametrize("name", ["register", "mro"])
@pytest.mark.parametrize(
    ("source", "what", "column"),
    [
        ("message M {{ 1: i32 {name}; }}", "field", 20),
        ("exception X {{ 1: i32 {name}; }}", "exception field", 22),
        ("service S {{ void f(1: i32 {name}); }}", "parameter", 27),
    ],
)
def test_names_of_the_message_metaclass_are_reserved(
    name: str, source: str, what: str, column: int
) -> None:
    """Pydantic would take the metaclass's method for the field's default: a
    required field that is not, a message built without it that cannot be sent."""
    assert messages(source.format(name=name)) == [
        f"2:{column}: {what} name '{name}' clashes with an attribute of "
        f"uvrpc.Message; rename it (say '{name}_'): {what.split()[-1]}s travel by "
        "id, so the wire stays the same"
    ]


@pytest.mark.parametrize(
    ("source", "what", "column"),
    [
        # Each broke the module: a default of the class's ConfigDict, an import
        # that failed ('dict' object has no attribute 'A'), an annotation mypy
        # refused.
        ("const i32 {name} = 1; message M {{ 1: i32 x = {name}; }}", "constant", 11),
        ("enum {name} {{ A = 1; }} message M {{ 1: {name} e = {name}.A; }}", "enum", 6),
        ("message {name} {{}} message M {{ 1: optional {name} m; }}", "message", 9),
        ("union {name} {{ 1: i32 a; }} exception X {{ 1: {name} u; }}", "union", 7),
    ],
)
@pytest.mark.parametrize(
    "name", ["model_config", "uvrpc_name", "uvrpc_fields", "uvrpc_id", "uvrpc_service"]
)
def test_names_the_generated_classes_bind_are_taken(
    name: str, source: str, what: str, column: int
) -> None:
    assert messages(source.format(name=name))[0] == (
        f"2:{column}: {what} name '{name}' is taken: the generated classes bind it "
        "in their bodies, where it would hide this definition from their "
        "annotations and defaults; rename it: only its Python name changes, not "
        "the wire"
    )


def test_a_service_or_exception_may_have_such_a_name() -> None:
    """They name no module attribute of their own that a class body refers to."""
    source = "exception model_config {}\nservice uvrpc_id { void f(); }"
    check(parse(NS + source, "t.idl"))


@pytest.mark.parametrize(
    ("definition", "kind"),
    [
        ("message start_add { 1: i32 x; }", "type"),
        ("enum start_add { A = 1; }", "type"),
        ("const i32 start_add = 3;", "constant"),
    ],
)
def test_a_call_handle_twin_named_like_a_definition(definition: str, kind: str) -> None:
    """The async client's ``start_add`` would hide it from the methods after it."""
    source = f"{definition}\nservice S {{ void add(); void get(1: i32 a); }}"
    assert messages(source) == [
        f"3:18: method name 'add' makes 'start_add', the name of a {kind} of the "
        f"module, which the async client would hide; rename the method or the {kind}"
    ]
    # A oneway or streaming method has no twin.
    check(parse(NS + f"{definition}\nservice S {{ oneway void add(); }}", "t.idl"))


def test_method_named_like_a_definition() -> None:
    source = "message point {}\nservice S { point point(1: point p); }"
    assert messages(source) == [
        "3:19: method name 'point' is also the name of a type; it would hide the "
        "type from the generated classes' annotations"
    ]


def test_method_named_like_a_constant_says_constant() -> None:
    source = "const i32 limit = 3;\nservice S { void limit(1: i32 n = limit); }"
    assert messages(source) == [
        "3:18: method name 'limit' is also the name of a constant; it would hide the "
        "constant from the generated classes' parameter defaults"
    ]


def test_method_snake_cased_to_a_definition_name() -> None:
    source = "message get_point {}\nservice S { void getPoint(); }"
    assert messages(source) == [
        "3:18: method name 'getPoint' is also the name of a type; it would hide the "
        "type from the generated classes' annotations"
    ]
