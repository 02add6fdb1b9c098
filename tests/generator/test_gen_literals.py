"""Numbers, strings and bytes in IDL literals: malformed ones are diagnostics (never
a traceback), well-formed ones become the Python literal of the same value."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from generated_modules import import_file

from uvrpc_gen.check import check
from uvrpc_gen.cli import generate
from uvrpc_gen.diagnostics import IdlError
from uvrpc_gen.model import Message, StringLiteral
from uvrpc_gen.parse import parse
from uvrpc_gen.pytypes import python_bytes, python_string

NS = "namespace t;\n"


def messages(source: str) -> list[str]:
    """The ``line:col: message`` of every diagnostic of ``source``."""
    with pytest.raises(IdlError) as caught:
        check(parse(NS + source, "t.idl"))
    return [
        f"{d.span.line}:{d.span.column}: {d.message}" for d in caught.value.diagnostics
    ]


def default_of(source: str) -> str:
    """The generated line of the field ``x`` of ``message M``."""
    text = generate(NS + source, "t.idl")
    (line,) = [line for line in text.splitlines() if line.startswith("    x: ")]
    return line.partition(" = ")[2]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "message M { 1: i32 x = 010; }",
            "2:24: integer '010' has a leading zero; write '10' "
            "(hexadecimal is written '0x...')",
        ),
        (
            "message M { 01: i32 x; }",
            "2:13: integer '01' has a leading zero; write '1' "
            "(hexadecimal is written '0x...')",
        ),
        (
            "enum E { A = -007; }",
            "2:14: integer '-007' has a leading zero; write '-7' "
            "(hexadecimal is written '0x...')",
        ),
        (
            "message M { 1: i64 x = 18446744073709551616; }",
            "2:24: integer literal is too large (at most 64 bits)",
        ),
        (
            "message M { 1: i64 x = -0x10000000000000000; }",
            "2:24: integer literal is too large (at most 64 bits)",
        ),
        (
            "message M { 1: i64 x = " + "9" * 5000 + "; }",
            "2:24: integer literal is too large (at most 64 bits)",
        ),
        (
            "message M { 1: double x = 1" + "0" * 400 + "; }",
            "2:27: integer literal is too large (at most 64 bits)",
        ),
        (
            "message M { 1: double x = 1e999; }",
            "2:27: default is out of range for 'double' (finite double-precision "
            "numbers, at most 1.7976931348623157e+308 in magnitude)",
        ),
        (
            "message M { 1: float x = -3.5e38; }",
            "2:26: default is out of range for 'float' (finite single-precision "
            "numbers, at most 3.4028234663852886e+38 in magnitude)",
        ),
        (
            "message M { 1: list<float> x = [1, 1e39]; }",
            "2:36: default is out of range for 'float' (finite single-precision "
            "numbers, at most 3.4028234663852886e+38 in magnitude)",
        ),
    ],
)
def test_bad_numbers_are_diagnostics(source: str, expected: str) -> None:
    assert messages(source) == [expected]


def test_numbers_in_range_are_written_as_python() -> None:
    assert default_of("message M { 1: float x = 3.4028234663852886e38; }") == (
        "3.4028234663852886e38"
    )
    assert default_of("message M { 1: double x = -0; }") == "0.0"
    assert default_of("message M { 1: i64 x = -0x8000000000000000; }") == (
        str(-(2**63))
    )


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        (
            r'"\u41"',
            r"2:28: bad escape '\u41': '\u' takes exactly 4 hexadecimal digits",
        ),
        (
            r'"\u+041"',
            r"2:28: bad escape '\u+041': '\u' takes exactly 4 hexadecimal digits",
        ),
        (
            r'"\u 041"',
            r"2:28: bad escape '\u 041': '\u' takes exactly 4 hexadecimal digits",
        ),
        (
            r'"ab\x 1"',
            r"2:30: bad escape '\x 1': '\x' takes exactly 2 hexadecimal digits",
        ),
        (
            r'"\x_1"',
            r"2:28: bad escape '\x_1': '\x' takes exactly 2 hexadecimal digits",
        ),
        (r'"\x"', r"2:28: bad escape '\x': '\x' takes exactly 2 hexadecimal digits"),
        (
            r'"\ud800"',
            r"2:28: bad escape '\ud800': a lone surrogate is not a character",
        ),
        (r'"\q"', r"2:28: unknown escape '\q'"),
    ],
)
def test_bad_escapes(literal: str, expected: str) -> None:
    assert messages(f"message M {{ 1: string s = {literal}; }}") == [expected]


def test_escapes_decode_as_text_and_as_bytes() -> None:
    module = parse(NS + r'message M { 1: bytes b = "\xff\u00e9\n"; }', "t.idl")
    (message,) = module.definitions
    assert isinstance(message, Message)
    literal = message.fields[0].default
    assert isinstance(literal, StringLiteral)
    assert literal.value == "\xff\xe9\n"
    assert literal.data == b"\xff\xc3\xa9\n"


def test_bytes_default_keeps_hex_escapes_as_bytes() -> None:
    # A field's bytes default is a view, as received bytes are.
    line = default_of(r'message M { 1: bytes x = "\xff\x00a\"é"; }')
    assert line == "memoryview(b'\\xff\\x00a\"\\xc3\\xa9')"
    literal = line.removeprefix("memoryview(").removesuffix(")")
    assert ast.literal_eval(literal) == b'\xff\x00a"\xc3\xa9'


def test_a_bytes_constant_as_a_default_is_a_view_in_messages(tmp_path: Path) -> None:
    """A message field (and a parameters model) takes a view of the constant, as
    of a literal: received bytes are views, and mypy holds the field to that."""
    source = (
        "namespace magic;\n"
        'const bytes MAGIC = "\\x00uv";\n'
        "message Frame { 1: bytes head = MAGIC; }\n"
        "service Framer { void send(1: bytes head = MAGIC); }\n"
    )
    path = tmp_path / "magic.py"
    path.write_text(generate(source, "magic.idl"), encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    assert "    head: _t.Bytes = memoryview(MAGIC)\n" in text
    assert "        head: _uvrpc.Buffer = MAGIC,\n" in text
    module = import_file(path, "magic")
    try:
        head = module.Frame().head
        assert type(head) is memoryview and bytes(head) == b"\x00uv"
        assert type(module._FramerSendParams().head) is memoryview
    finally:
        del sys.modules["magic"]
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        timeout=600,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_string_default_escapes_what_is_not_printable() -> None:
    line = default_of('message M { 1: string x = "\\u0085a\U000e0001b\\x00"; }')
    assert line == r'"\x85a\U000e0001b\x00"'
    assert ast.literal_eval(line) == "\x85a\U000e0001b\x00"


@pytest.mark.parametrize(
    "value",
    ["", "plain", 'say "hi"', "it's", "\\", "\t\n\r", "\x7f\x85", "\U000e0001", "日本"],
)
def test_python_string_round_trips(value: str) -> None:
    assert ast.literal_eval(python_string(value)) == value


@pytest.mark.parametrize("value", [b"", b"\xff\x00", b"\"'", b"\\n", bytes(range(256))])
def test_python_bytes_round_trips(value: bytes) -> None:
    assert ast.literal_eval(python_bytes(value)) == value


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "message M { 1: set<i32> s = [1, 2, 1]; }",
            "2:36: duplicate element in set literal",
        ),
        (
            "message M { 1: set<double> s = [2, 2.0]; }",
            "2:36: duplicate element in set literal",
        ),
        (
            "message M { 1: map<double, i32> m = {1: 1, 1.0: 2}; }",
            "2:44: duplicate key in map literal",
        ),
        (
            "message M { 1: map<float, i32> m = {0.1: 1, 0.10000000001: 2}; }",
            "2:45: duplicate key in map literal",
        ),
        (
            r'message M { 1: set<bytes> s = ["\xff", "\xFF"]; }',
            "2:31: a default of type 'set<bytes>' must be empty: bytes are views, "
            "which a default shared by every instance cannot hold",
        ),
        (
            "enum E { A = 1; }\nmessage M { 1: set<E> s = [E.A, E.A]; }",
            "3:33: duplicate element in set literal",
        ),
    ],
)
def test_duplicates_compare_values(source: str, expected: str) -> None:
    assert messages(source) == [expected]


def test_distinct_values_are_not_duplicates() -> None:
    source = r'message M { 1: set<string> x = ["\xff", "ÿ!", "a"]; }'
    assert default_of(source) == '_t.default({"ÿ", "ÿ!", "a"})'
