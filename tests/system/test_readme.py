"""The README's quick start works as written: its blocks are run, not copied.

The shell blocks of the quick start run line by line in a scratch copy of the
tree's ``idl/`` and example server (the generated module is made there by the
README's own ``uvrpc-gen`` line), with the README's commands: the console scripts
beside this interpreter, or ``python -m`` where there are none. Its Python blocks
run as the files the README says to save. Two things are rewritten, mechanically:
the fixed port of ``--bind tcp://127.0.0.1:5555`` becomes ``tcp://127.0.0.1:*``
(tests never take a fixed port), and every later ``tcp://127.0.0.1:5555`` becomes
the endpoint the server printed. A block that says it is an abridged file
(``# PATH, abridged`` on its first line) is checked to be one: its lines appear in
that file, in order.

The set-up commands (a venv and ``pip install``) are too slow to run here: the
commands they install are checked against ``[project.scripts]`` instead, and
``tests/system/test_demo.py`` runs the demo they end with.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import shutil
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import ROOT
from docblocks import Block, blocks, command, run, serving

README = ROOT / "README.md"
FIXED = "tcp://127.0.0.1:5555"
"""The endpoint the README's commands use."""


def section(start: str, end: str) -> list[Block]:
    """The README's blocks between the headings ``start`` and ``end``."""
    lines = README.read_text().splitlines()
    first, last = lines.index(start), lines.index(end)
    return [b for b in blocks(README) if first < b.line < last]


QUICK_START = section("## Quick start", "## Benchmark")


def scratch_tree(tmp_path: Path) -> Path:
    """The files the quick start starts from, without the generated module."""
    shutil.copytree(ROOT / "idl", tmp_path / "idl")
    examples = tmp_path / "examples" / "calculator"
    examples.mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "calculator" / "calculator_server.py", examples)
    return tmp_path


def check_excerpt(block: Block) -> None:
    """``block`` is an abridged copy of the file its first line names."""
    match = re.fullmatch(r"# (\S+), abridged", block.text.splitlines()[0])
    assert match is not None
    source = iter((ROOT / match[1]).read_text().splitlines())
    for line in block.text.splitlines()[1:]:
        if not line.strip() or line.strip().startswith("..."):
            continue
        assert any(candidate == line for candidate in source), (
            f"{block}: {line!r} is not in {match[1]} (in this order)"
        )


def test_the_quick_start_runs_as_written(tmp_path: Path) -> None:
    cwd = scratch_tree(tmp_path)
    shell = [b for b in QUICK_START if b.lang == "sh"]
    python = [b for b in QUICK_START if b.lang == "python"]
    excerpts = [b for b in python if b.text.startswith("# ")]
    servers = [b for b in python if "serve_forever" in b.text]
    clients = [b for b in python if b not in excerpts and b not in servers]
    assert (len(excerpts), len(servers), len(clients)) == (1, 1, 3)
    for block in excerpts:
        check_excerpt(block)

    with contextlib.ExitStack() as stack:
        endpoint: str | None = None
        printed: list[tuple[str, str]] = []
        for block in shell:
            for line in block.text.splitlines():
                words, _, comment = line.partition("  # ")
                argv = shlex.split(words)
                if argv[:2] == [".", ".venv/bin/activate"]:
                    continue  # this interpreter is the environment's
                if argv[0] == "cd":
                    cwd = cwd / argv[1]
                    continue
                name, *rest = argv
                assert name in ("uvrpc", "uvrpc-gen"), line
                if rest[0] == "serve":
                    assert rest[rest.index("--bind") + 1] == FIXED
                    rest[rest.index("--bind") + 1] = "tcp://127.0.0.1:*"
                    endpoint = stack.enter_context(
                        serving(command(name) + rest, cwd, tmp_path / "serve.log")
                    )
                    continue
                if endpoint is not None:
                    rest = [endpoint if arg == FIXED else arg for arg in rest]
                out = run(command(name) + rest, cwd)
                if comment.startswith("prints "):
                    printed.append((comment.removeprefix("prints "), out.strip()))
                if name == "uvrpc-gen":
                    assert (cwd / "examples" / "calculator" / "calculator.py").exists()
        assert endpoint is not None, "the quick start serves nothing"
        assert printed and all(want == got for want, got in printed), printed

        # The Python blocks, saved as files in the directory the server runs from
        # (the directory of the generated module), against the server of `uvrpc
        # serve` and against the one of the server block.
        server_file = cwd / "server.py"
        server_file.write_text(servers[0].text.replace(FIXED, "tcp://127.0.0.1:*"))
        own = stack.enter_context(
            serving([sys.executable, "server.py"], cwd, tmp_path / "server.log")
        )
        for target in (endpoint, own):
            for index, block in enumerate(clients):
                script = cwd / f"client{index}.py"
                script.write_text(block.text.replace(FIXED, target))
                out = run([sys.executable, script.name], cwd)
                assert all(line.startswith("42") for line in out.splitlines()), out
        first = run([sys.executable, "client0.py"], cwd)
        assert first == "42\n42\n"  # "it prints 42 twice"


def test_the_commands_it_names_are_installed() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    named = {
        shlex.split(line)[0]
        for block in QUICK_START
        if block.lang == "sh"
        for line in block.text.splitlines()
        if shlex.split(line)[0] not in (".", "cd")
    }
    assert named == {"uvrpc", "uvrpc-gen"}
    assert named <= set(scripts)
    setup = section("## Set up", "## Quick start")
    assert any(".venv/bin/pip install ." in b.text for b in setup)
    assert any("examples/demo.py" in b.text for b in setup)


def test_the_security_names_import_as_written() -> None:
    from uvrpc import ClientSecurity, ServerSecurity
    from uvrpc.security import ClientSecurity as Client
    from uvrpc.security import ServerSecurity as Server

    assert (ClientSecurity, ServerSecurity) == (Client, Server)
    assert "from uvrpc import ServerSecurity, ClientSecurity" in README.read_text()


def test_it_renders_on_a_package_index() -> None:
    # An index shows the README alone: a relative link or image there is broken.
    text = README.read_text()
    targets = re.findall(r"\]\(([^)]*)\)", text)
    relative = [t for t in targets if not re.match(r"https?://", t)]
    assert relative == []
    assert "<img" not in text


@pytest.mark.parametrize("block", QUICK_START, ids=str)
def test_every_quick_start_block_is_labelled(block: Block) -> None:
    assert block.lang in ("sh", "python", "thrift")
