"""Generated modules work inside a user's package, imported by its dotted name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from uvrpc_gen.cli import main

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


@pytest.mark.parametrize("package", ["acme-rpc", "acme.class", "acme..rpc", "1acme"])
def test_a_package_name_python_cannot_import_is_refused(
    package: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not written into ``from acme-rpc import common``, a module that does not
    parse: a usage error before anything is written."""
    (tmp_path / "common.idl").write_text("namespace common;\nmessage M {}\n")
    (tmp_path / "app.idl").write_text(
        'namespace app;\nimport "common.idl";\nmessage N { 1: common.M m; }\n'
    )
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exited:
        main([str(tmp_path), "-o", str(out), "--package", package])
    assert exited.value.code == 2
    assert capsys.readouterr().err.endswith(
        f"uvrpc-gen: error: argument --package: {package!r} is not a Python package "
        "name: dotted identifiers, such as acme.rpc\n"
    )
    assert not out.exists()


def test_a_dotted_package_name_is_taken(tmp_path: Path) -> None:
    (tmp_path / "common.idl").write_text("namespace common;\nmessage M {}\n")
    (tmp_path / "app.idl").write_text(
        'namespace app;\nimport "common.idl";\nmessage N { 1: common.M m; }\n'
    )
    out = tmp_path / "out"
    assert main([str(tmp_path), "-o", str(out), "--package", "acme.rpc_v2"]) == 0
    assert "from acme.rpc_v2 import common as _common\n" in (out / "app.py").read_text()
