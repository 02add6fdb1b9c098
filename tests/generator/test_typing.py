"""mypy --strict accepts correct use of generated code and rejects misuse.

``typing/typed_usage.py`` must type-check, with each ``reveal_type`` revealing the type
written after ``# R:``; ``typing/misuse.py`` must fail on exactly the lines marked
``# E: <code>``, each with that error code.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TYPING = Path(__file__).resolve().parents[1] / "typing"
MARK = re.compile(r"  # ([ER]): (.+)$")
REPORT = re.compile(
    r"^(?P<file>[^:]+):(?P<line>\d+): (?P<kind>error|note): (?P<text>.*)$"
)


def run_mypy(path: Path) -> tuple[int, list[tuple[int, str, str]]]:
    """Run mypy --strict on one file; return its status and (line, kind, text)."""
    env = dict(os.environ)
    env["MYPYPATH"] = os.pathsep.join(
        str(ROOT / p) for p in ("examples/calculator", "examples/echo", "tests")
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--no-error-summary",
            "--show-error-codes",
            "--hide-error-context",
            str(path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    found = []
    for line in result.stdout.splitlines():
        match = REPORT.match(line)
        if match and Path(match["file"]).name == path.name:
            found.append((int(match["line"]), match["kind"], match["text"]))
    return result.returncode, found


def marks(path: Path, kind: str) -> dict[int, str]:
    """The ``# E:`` or ``# R:`` marks of a file, by line number."""
    found = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        match = MARK.search(line)
        if match and match[1] == kind:
            found[number] = match[2]
    return found


@pytest.mark.typecheck
def test_correct_use_type_checks_and_reveals_the_declared_types() -> None:
    path = TYPING / "typed_usage.py"
    status, reports = run_mypy(path)
    errors = [r for r in reports if r[1] == "error"]
    assert errors == [] and status == 0, errors
    revealed = {
        line: text.removeprefix('Revealed type is "').removesuffix('"')
        for line, kind, text in reports
        if kind == "note" and text.startswith("Revealed type is")
    }
    expected = marks(path, "R")
    assert expected, "no reveal_type marks found"
    assert revealed == expected


@pytest.mark.typecheck
def test_misuse_fails_on_exactly_the_marked_lines() -> None:
    path = TYPING / "misuse.py"
    status, reports = run_mypy(path)
    assert status == 1
    codes: dict[int, set[str]] = {}
    for line, kind, text in reports:
        code = re.search(r"\[([a-z-]+)\]$", text)
        if kind == "error" and code:
            codes.setdefault(line, set()).add(code[1])
    expected = marks(path, "E")
    assert len(expected) >= 15
    missing = {
        line: code for line, code in expected.items() if code not in codes.get(line, ())
    }
    assert missing == {}, f"marked lines mypy accepted: {missing}"
    unexpected = {line: codes[line] for line in set(codes) - set(expected)}
    assert unexpected == {}, f"errors on unmarked lines: {unexpected}"


BLOBS_IDL = """namespace blobs;

message Bundle {
    1: list<bytes> parts;
    2: set<bytes> tags;
    3: map<string, list<bytes>> named;
}

service Blobs {
    list<bytes> split(1: list<bytes> parts, 2: map<string, bytes> named);
}
"""

BLOBS_USAGE = """
from __future__ import annotations

from blobs import BlobsClient, BlobsServer, Bundle


async def use(
    client: BlobsClient, payloads: list[bytes], views: list[memoryview]
) -> None:
    Bundle(parts=payloads, tags={b"a"}, named={"x": payloads})
    got = await client.split(parts=payloads, named={"k": b"v"})
    Bundle(parts=got, tags=frozenset(), named={"x": views})
    await client.split(parts=views, named={})
    await client.split(parts=(b"a", bytearray(b"b")), named={"k": memoryview(b"v")})


class Splitter(BlobsServer):
    async def split(
        self, *, parts: list[memoryview], named: dict[str, memoryview]
    ) -> list[bytes]:
        return [bytes(part) for part in parts]
"""


@pytest.mark.typecheck
def test_containers_of_bytes_take_the_callers_lists_of_bytes(tmp_path: Path) -> None:
    """``list[Buffer]`` is invariant: a caller's ``list[bytes]`` or a received
    ``list[memoryview]`` was refused where a list of bytes is sent (a message's
    field, a parameter, a handler's result); the sent side is read-only
    (``Sequence[Buffer]``, ``AbstractSet``, ``Mapping``) and takes them all."""
    assert_strict_clean(tmp_path, "blobs", BLOBS_IDL, BLOBS_USAGE)


def assert_strict_clean(tmp_path: Path, stem: str, idl: str, usage: str) -> None:
    """Generate ``stem`` from ``idl`` and check it and ``usage``, a module that
    uses it, with ``mypy --strict``."""
    from uvrpc_gen.cli import main

    (tmp_path / f"{stem}.idl").write_text(idl)
    assert main([str(tmp_path / f"{stem}.idl"), "-o", str(tmp_path)]) == 0
    user = tmp_path / f"use_{stem}.py"
    user.write_text(usage)
    env = dict(os.environ, MYPYPATH=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file",
         str(ROOT / "pyproject.toml"), "--no-error-summary",
         str(user), str(tmp_path / f"{stem}.py")],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


KEYED_IDL = """namespace keyed;

message Index {
    1: map<bytes, i64> offsets;
}

service Keyed {
    map<bytes, list<bytes>> group(1: map<bytes, i64> offsets, 2: Index index);
}
"""

KEYED_USAGE = """
from __future__ import annotations

from keyed import Index, KeyedClient, KeyedServer


async def use(client: KeyedClient, offsets: dict[bytes, int], index: Index) -> None:
    Index(offsets=offsets)
    Index(offsets=index.offsets)
    Index(offsets={b"a": 1, b"b": 2})
    await client.group(offsets=offsets, index=Index(offsets={}))
    got = await client.group(offsets=index.offsets, index=index)
    await client.group(offsets={k: len(v) for k, v in got.items()}, index=index)


class Grouper(KeyedServer):
    async def group(
        self, *, offsets: dict[memoryview, int], index: Index
    ) -> dict[bytes, list[bytes]]:
        return {bytes(key): [bytes(key)] for key in offsets}


class Relay(KeyedServer):
    async def group(
        self, *, offsets: dict[memoryview, int], index: Index
    ) -> dict[memoryview, list[memoryview]]:
        return {key: [key] for key in index.offsets}
"""


@pytest.mark.typecheck
def test_maps_keyed_by_bytes_take_bytes_and_received_views(tmp_path: Path) -> None:
    """A mapping's keys are invariant: a ``map<bytes, V>`` sent as
    ``Mapping[Buffer, V]`` refused a caller's ``dict[bytes, V]``, the
    ``dict[memoryview, V]`` a received message holds, and a handler returning
    ``dict[bytes, V]``; ``_t.BytesKeyed[V]`` takes all three."""
    assert_strict_clean(tmp_path, "keyed", KEYED_IDL, KEYED_USAGE)


def test_a_tuple_and_a_frozenset_of_bytes_are_sent_as_a_list_and_a_set(
    tmp_path: Path,
) -> None:
    """What the read-only annotations let a caller pass, the runtime takes."""
    import asyncio

    from conftest import generate_modules

    import uvrpc

    blobs = generate_modules(tmp_path, {"blobs.idl": BLOBS_IDL})["blobs"]

    class Splitter(blobs.BlobsServer):  # type: ignore[misc, name-defined]
        async def split(
            self, *, parts: list[memoryview], named: dict[str, memoryview]
        ) -> list[bytes]:
            return [bytes(p) + bytes(named.get("k", b"")) for p in parts]

    async def main() -> None:
        bundle = blobs.Bundle(
            parts=(b"a", bytearray(b"b")), tags=frozenset({b"t"}), named={}
        )
        assert [bytes(p) for p in bundle.parts] == [b"a", b"b"]
        assert {bytes(t) for t in bundle.tags} == {b"t"}
        async with uvrpc.testing.memory_channel(Splitter()) as channel:
            got = await blobs.BlobsClient(channel).split(
                parts=(b"a", memoryview(b"b")), named={"k": b"!"}
            )
        assert [bytes(p) for p in got] == [b"a!", b"b!"]

    asyncio.run(asyncio.wait_for(main(), 10))
