"""Errors about an IDL file, and how they are shown to a person.

A :class:`Diagnostic` names a span and says what is wrong there. Formatted, it reads
like a compiler error, with the offending source line and a caret under the token::

    idl/calc.idl:4:8: error: unknown type 'Strng'
        1: Strng name;
           ^~~~~
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from .model import Span

__all__ = [
    "REQUIRED_HINT",
    "Diagnostic",
    "IdlError",
    "format_diagnostic",
    "format_diagnostics",
    "not_utf8",
]

REQUIRED_HINT = (
    "fields and parameters are required unless marked 'optional'; drop 'required'"
)
"""The error at Thrift's ``required`` (``1: required i32 name;``): the parser
meets it as a type followed by two names, the checker (``1: required i32;``) as
a type of that name that nothing defines."""


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One error at one place of an IDL file."""

    span: Span
    message: str


class IdlError(Exception):
    """Raised by the parser and the checker when a file has errors.

    ``diagnostics`` holds every error found, in source order; the parser stops at
    the first syntax error, the checker reports all semantic errors at once.
    """

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(d.message for d in self.diagnostics))


def format_diagnostic(diagnostic: Diagnostic, source: str) -> str:
    """Render one diagnostic as ``file:line:col: error: ...``, source line and caret.

    Lines are counted at ``\n`` only, as the parser counts them. The caret line
    copies the tabs of the source line, and gives a wide character (CJK, most
    emoji) two columns and a combining mark none, as a terminal draws them, so the
    caret stays under its token.
    """
    span = diagnostic.span
    header = f"{span.file}:{span.line}:{span.column}: error: {diagnostic.message}"
    lines = source.removeprefix("\ufeff").split("\n")  # columns skip a BOM
    if not 1 <= span.line <= len(lines):
        return header
    text = lines[span.line - 1].removesuffix("\r")
    start = min(span.column - 1, len(text))
    end = min(max(span.end_column - 1, start + 1), max(len(text), start + 1))
    indent = "".join("\t" if c == "\t" else " " * _columns(c) for c in text[:start])
    width = max(1, sum(_columns(c) for c in text[start:end]))
    return f"{header}\n{text}\n{indent}^{'~' * (width - 1)}"


def _columns(char: str) -> int:
    """The columns a terminal gives ``char``: 2 if wide, 0 if it combines."""
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in _WIDE else 1


_WIDE = frozenset({"W", "F"})


def format_diagnostics(diagnostics: Sequence[Diagnostic], source: str) -> str:
    """Render several diagnostics, one block each, separated by newlines."""
    return "\n".join(format_diagnostic(d, source) for d in diagnostics)


def not_utf8(
    file: str, data: bytes, error: UnicodeDecodeError
) -> tuple[Diagnostic, str]:
    """The error of a file that is not UTF-8, at its first byte that does not
    decode, and the file's text to show it in (that byte replaced by U+FFFD).

    Columns count characters as the parser's do, from after a byte order mark.
    """
    before = data[: error.start]
    line_start = before.rfind(b"\n") + 1
    column = len(before[line_start:].decode("utf-8", errors="replace"))
    if line_start == 0 and before.startswith(b"\xef\xbb\xbf"):
        column -= 1  # the BOM, which columns skip
    bad = data[error.start : error.end]
    span = Span(file, before.count(b"\n") + 1, column + 1, column + 2)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # as Windows's "Unicode"
        message = (
            "the file is UTF-16 (it starts with its byte order mark); save it as UTF-8"
        )
    else:
        message = (
            f"the file is not UTF-8: {_hex(bad)} cannot be decoded here; "
            "save the file as UTF-8"
        )
    return Diagnostic(span, message), data.decode("utf-8", errors="replace")


def _hex(data: bytes) -> str:
    """``byte 0xff`` or ``bytes 0xe2 0x82``."""
    codes = " ".join(f"0x{byte:02x}" for byte in data)
    return f"byte {codes}" if len(data) == 1 else f"bytes {codes}"
