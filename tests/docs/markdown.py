"""Fenced code blocks of the project's Markdown files, for the tests that run them.

A block is written with its language after the opening fence (```python,
```sh, ```thrift for IDL). The tests take the blocks as the reader sees them, so
that the documents cannot drift from what the code does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Block", "blocks"]

_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w+-]*)\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced block: its language, its text (dedented) and its first line."""

    lang: str
    text: str
    line: int

    def __str__(self) -> str:
        return f"the {self.lang} block at line {self.line}"


def blocks(path: Path, lang: str | None = None) -> list[Block]:
    """The fenced blocks of ``path`` in order, of language ``lang`` if given."""
    found: list[Block] = []
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        index += 1
        if opening is None:
            continue
        indent = len(opening["indent"])
        start = index
        while not lines[index].strip().startswith("```"):
            index += 1
        body = [line[indent:] for line in lines[start:index]]
        index += 1
        if lang is None or opening["lang"] == lang:
            found.append(Block(opening["lang"], "\n".join(body) + "\n", start))
    return found
