"""IDL literals as ``uvrpc describe`` writes them: one writer serves defaults
(``uvrpc.cli.idl``) and constraints (``uvrpc.services.constraints``), and what it
writes reads back through the generator's parser as the same value."""

from __future__ import annotations

import pytest

from uvrpc.services.constraints import float_literal, literal_text, string_literal
from uvrpc_gen.model import Message, StringLiteral
from uvrpc_gen.parse import parse


@pytest.mark.parametrize(
    "text",
    [
        'a"b\\c',
        "tab\there\nline\r",
        "\x01\x7f",
        "é ✓",
        "\u202eabc\u2028\x85\ufeff\u200b\u00a0",
        "🎉\U000e0001",
    ],
)
def test_a_string_reads_back_as_itself_in_a_default_and_a_pattern(text: str) -> None:
    written = string_literal(text)
    assert literal_text("pattern", text, "string") == written
    source = (
        f"namespace n;\nmessage M {{ 1: string(pattern = {written}) s = {written}; }}\n"
    )
    (message,) = parse(source, "m.idl").definitions
    assert isinstance(message, Message)
    (field,) = message.fields
    (constraint,) = field.type.constraints
    assert isinstance(field.default, StringLiteral)
    assert isinstance(constraint.value, StringLiteral)
    assert field.default.value == constraint.value.value == text


def test_what_does_not_print_as_itself_is_escaped() -> None:
    """A default or pattern holding a bidirectional control (U+202E) was written
    as it is, so ``uvrpc describe`` showed the rest of the line reversed, and a
    line separator, NEL or zero-width character showed as something else or
    nothing; they are written as the generator writes them in Python."""
    assert string_literal("a\u202eb\u2028\x85\ufeff\u200b\u00a0 é") == (
        '"a\\u202eb\\u2028\\u0085\\ufeff\\u200b\\u00a0 é"'
    )
    # Above U+FFFF the IDL has no escape: such a character is written as it is.
    assert string_literal("\U000e0001🎉") == '"\U000e0001🎉"'


def test_short_escapes_are_used_where_the_idl_has_them() -> None:
    assert string_literal('"\\\n\t\r\x00') == '"\\"\\\\\\n\\t\\r\\u0000"'


@pytest.mark.parametrize(
    ("value", "written"), [(1, "1.0"), (-2.5e30, "-2.5e+30"), (0.1, "0.1")]
)
def test_a_float_is_written_with_a_point_or_an_exponent(
    value: float, written: str
) -> None:
    assert float_literal(value) == written
    assert literal_text("min", value, "double") == written


def test_a_float_the_idl_cannot_write_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be written in IDL"):
        float_literal(float("nan"))
