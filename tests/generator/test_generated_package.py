"""Generated modules work inside a user's package, imported by its dotted name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_module_imports_inside_a_package(tmp_path: Path) -> None:
    package = tmp_path / "acme" / "rpc"
    result = subprocess.run(
        [sys.executable, "-m", "uvrpc_gen", str(ROOT / "idl" / "calculator.idl")]
        + ["-o", str(package)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    (tmp_path / "acme" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("from .calculator import Op\n")
    probe = (
        "import acme.rpc.calculator as c, acme.rpc; "
        "from uvrpc.testing import memory_channel; "
        "assert acme.rpc.Op is c.Op; "
        "print(c.Outcome(value=1, steps_run=2, ops_used=[c.Op.ADD]).ops_used)"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "{<Op.ADD: 1>}"
