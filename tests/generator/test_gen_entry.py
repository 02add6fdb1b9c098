"""``python -m uvrpc_gen`` and ``python -m uvrpc_gen.cli`` are the same command:
the second used to exit 0 having done nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("module", ["uvrpc_gen", "uvrpc_gen.cli"])
def test_either_module_runs_the_generator(module: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", module, str(ROOT / "idl" / "calculator.idl"),
         "-o", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, "")
    assert (tmp_path / "calculator.py").read_text(encoding="utf-8") == (
        ROOT / "tests" / "golden" / "calculator.py"
    ).read_text(encoding="utf-8")
