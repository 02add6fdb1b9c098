"""Broken IDL files, as a person's edits break them: never a traceback, always an
error at a position inside the file, or a module that compiles.

Hypothesis takes the files of ``idl/`` and deletes, repeats, swaps or replaces
tokens, inserts stray text, cuts the file short or changes its line ends.
"""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from uvrpc_gen.load import LoadError, load
from uvrpc_gen.render import render

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT / "idl").glob("*.idl"))

TOKEN = re.compile(
    r'"(?:[^"\\\n]|\\.)*"|//[^\n]*|/\*.*?\*/|[A-Za-z_]\w*|-?\d[\w.]*|\s+|.', re.S
)
STRAY = [
    "@", "#", "'", '"', "/*", "///", "\\", "\x00", "\r", "\x0c", "\u2028", "\ufeff",
    "\u202e", "é", "名前", ";", "{", "}", "<", ">", "(", ")", "=", ",", ":", ".",
    "0x", "-", "1e999", "9" * 30, "optional", "stream", "oneway", "required",
    "reserved", "to", "import", "namespace", "list<" * 40, "[" * 40, "\t", "\n",
]  # fmt: skip
HEADER = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): error: \S")


@st.composite
def mutants(draw: st.DrawFn) -> tuple[Path, str]:
    """A file of ``idl/`` and its text after one to three edits."""
    path = draw(st.sampled_from(SEEDS))
    tokens = TOKEN.findall(path.read_text(encoding="utf-8"))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(tokens) - 1)) if tokens else 0
        edit = draw(
            st.sampled_from(["del", "dup", "swap", "put", "stray", "cut", "eol"])
        )
        if not tokens:
            tokens = [""]
        elif edit == "del":
            del tokens[at]
        elif edit == "dup":
            tokens.insert(at, tokens[at])
        elif edit == "swap" and at + 1 < len(tokens):
            tokens[at], tokens[at + 1] = tokens[at + 1], tokens[at]
        elif edit == "put":
            tokens[at] = draw(st.sampled_from(tokens))
        elif edit == "stray":
            tokens.insert(at, draw(st.sampled_from(STRAY)))
        elif edit == "cut":
            tokens = tokens[:at]
        elif edit == "eol":
            ending = draw(st.sampled_from(["\r\n", "\r", "\u2028"]))
            tokens = [token.replace("\n", ending) for token in tokens]
    return path, "".join(tokens)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(mutants())
def test_a_broken_file_gets_a_positioned_error_or_a_module(
    mutant: tuple[Path, str],
) -> None:
    path, text = mutant
    try:
        loaded = load([str(path)], {str(path): text})
    except LoadError as error:
        first = error.report.split("\n", 1)[0]
        found = HEADER.match(first)
        assert found, first
        source = text if found["file"] == str(path) else Path(found["file"]).read_text()
        lines = source.removeprefix("\ufeff").split("\n")
        line, column = int(found["line"]), int(found["col"])
        assert 1 <= line <= len(lines), first
        assert 1 <= column <= len(lines[line - 1]) + 1, first
        return
    for name, checked in loaded.modules.items():
        compile(render(checked), name, "exec")
