"""``docs/evolution.md``'s examples show what the code does: the unknown fields
an ``Item`` of ``tests/evolution/v1`` keeps, and the report of ``uvrpc-gen
--compat`` from ``v2`` to ``v3``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import ROOT
from docblocks import blocks
from generated_modules import import_file

import uvrpc
from uvrpc_gen.cli import main

EVOLUTION = ROOT / "docs" / "evolution.md"


def test_the_unknown_fields_example_prints_what_it_shows(tmp_path: Path) -> None:
    (example,) = [b for b in blocks(EVOLUTION, "python") if "unknown_fields" in b.text]
    assert (
        main([str(ROOT / "tests/evolution/v1/inventory.idl"), "-o", str(tmp_path)]) == 0
    )
    name = "inventory_evolution_doc"
    inventory = import_file(tmp_path / "inventory.py", name)
    try:
        # The map the text reads it from.
        item = inventory.Item.model_validate(
            {"1": "a-1", "2": 1, "3": 5, "4": "shelf 2"}
        )
        namespace = {"item": item, "uvrpc": uvrpc}
        lines = example.text.splitlines()
        # Each expression is followed by a comment showing its value as print
        # shows it (``unknown_fields`` returns a read-only mapping, not a dict).
        for expression, shown in zip(lines[::2], lines[1::2], strict=True):
            code = expression.partition("  #")[0]
            assert shown.startswith("# "), shown
            assert str(eval(code, namespace)) == shown[2:], expression
        # The text shows its repr() too.
        assert f"`{item!r}`" in EVOLUTION.read_text()
    finally:
        del sys.modules[name]


def test_the_compat_report_is_as_shown(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (report,) = [b for b in blocks(EVOLUTION, "") if "2 breaking changes" in b.text]
    old, new = "tests/evolution/v2/inventory.idl", "tests/evolution/v3/inventory.idl"
    monkeypatch.chdir(ROOT)
    assert main(["--compat", old, new]) == 1  # a change breaks the wire
    assert capsys.readouterr().out == report.text
