"""Fenced code blocks of the project's Markdown files, for the tests that run them.

A block is written with its language after the opening fence (```python,
```sh, ```thrift for IDL). The tests take the blocks as the reader sees them, so
that the documents cannot drift from what the code does.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Block", "blocks", "command", "environment", "printing", "run", "serving"]

ROOT = Path(__file__).resolve().parents[1]

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


def environment(extra: Sequence[Path] = ()) -> dict[str, str]:
    """This process's environment, with the tree it tests first on the path,
    then ``extra``."""
    path = [str(ROOT / "runtime"), str(ROOT / "generator"), *map(str, extra)]
    inherited = os.environ.get("PYTHONPATH")
    return dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(path + ([inherited] if inherited else [])),
    )


@contextlib.contextmanager
def serving(
    argv: list[str], cwd: Path, log: Path, path: Sequence[Path] = ()
) -> Iterator[str]:
    """Run a server until the block ends; yield the endpoint it printed first."""
    with printing(argv, cwd, log, path) as (endpoint,):
        assert endpoint.startswith("tcp://"), log.read_text()
        yield endpoint


@contextlib.contextmanager
def printing(
    argv: list[str], cwd: Path, log: Path, path: Sequence[Path] = (), lines: int = 1
) -> Iterator[list[str]]:
    """Run a command that serves until the block ends (Ctrl-C ends it); yield the
    first ``lines`` lines it printed."""
    with log.open("w") as errors:
        server = subprocess.Popen(
            argv, cwd=cwd, env=environment(path), stdout=subprocess.PIPE, stderr=errors
        )
    try:
        assert server.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(server.stdout, selectors.EVENT_READ)
            # A hang guard only: the command prints once it is bound.
            assert selector.select(timeout=60), "the command printed nothing"
        yield [server.stdout.readline().decode().strip() for _ in range(lines)]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stdout is not None:
            server.stdout.close()


def run(argv: list[str], cwd: Path, path: Sequence[Path] = ()) -> str:
    """Run a command to its end; its output, which must be a success's."""
    result = subprocess.run(
        argv,
        cwd=cwd,
        env=environment(path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"{shlex.join(argv)}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result.stdout


def command(name: str) -> list[str]:
    """How to run the README's command ``name`` here."""
    script = Path(sys.executable).parent / name
    if script.exists():
        return [str(script)]
    module = {"uvrpc": "uvrpc", "uvrpc-gen": "uvrpc_gen"}[name]
    return [sys.executable, "-m", module]
