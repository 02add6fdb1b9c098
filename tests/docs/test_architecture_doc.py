"""``docs/architecture.md``'s map names every module of each layer, and every
directory of ``tests/``."""

from __future__ import annotations

import re

from conftest import ROOT

ARCHITECTURE = ROOT / "docs" / "architecture.md"
PACKAGE = ROOT / "runtime" / "uvrpc"


def test_the_layer_table_names_each_layers_modules() -> None:
    rows = re.findall(
        r"^\| `(\w+)/` \| ([^|]+) \|", ARCHITECTURE.read_text(), re.MULTILINE
    )
    assert rows, "no layer table"
    for layer, cell in rows:
        named = set(re.findall(r"`(\w+)`", cell))
        modules = {
            path.stem
            for path in (PACKAGE / layer).glob("*.py")
            if path.stem != "__init__"
        }
        assert named == modules, (
            layer,
            sorted(modules - named),
            sorted(named - modules),
        )


def test_the_tests_section_names_each_directory_of_tests() -> None:
    section = ARCHITECTURE.read_text().partition("\n## Tests\n")[2]
    named = set(re.findall(r"`(\w+)/`", section))
    directories = {
        path.name
        for path in (ROOT / "tests").iterdir()
        if path.is_dir() and not path.name.startswith((".", "__"))
    }
    assert directories <= named, sorted(directories - named)
