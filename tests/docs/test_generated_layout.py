"""What ``idl/README.md`` says about importing a generated directory is true."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

from uvrpc_gen.cli import main as uvrpc_gen


def imports(path: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with ``path`` on ``PYTHONPATH``."""
    inherited = [p for p in sys.path if p.endswith(("runtime", "generator"))]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(path), *inherited]))
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=path.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_flat_modules_need_their_directory_on_the_path(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert uvrpc_gen([str(ROOT / "idl"), "-o", str(out)]) == 0
    assert not (out / "__init__.py").exists()
    # Named after the file's stem; one imports another by its bare name.
    assert "import shared as _shared" in (out / "conformance.py").read_text()
    run = imports(out, "from conformance import ConformanceClient; print('ok')")
    assert run.returncode == 0, run.stderr
    assert run.stdout == "ok\n"


def test_a_package_needs_the_directory_that_holds_it(tmp_path: Path) -> None:
    src = tmp_path / "src"
    package = src / "acme" / "rpc"
    arguments = [str(ROOT / "idl"), "-o", str(package), "--package", "acme.rpc"]
    assert uvrpc_gen(arguments) == 0
    assert not (package / "__init__.py").exists()
    assert not (src / "acme" / "__init__.py").exists()
    text = (package / "conformance.py").read_text()
    assert "from acme.rpc import shared as _shared" in text
    code = "from acme.rpc.conformance import ConformanceClient; print('ok')"
    run = imports(src, code)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "ok\n"
