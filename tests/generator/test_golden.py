"""Generated output equals the committed goldens, and the goldens are clean.

For every ``idl/<stem>.idl`` the generated module must equal
``tests/golden/<stem>.py`` byte for byte. After an intended change to the
generator, rewrite the goldens and review the diff::

    UVRPC_UPDATE_GOLDEN=1 pytest tests/generator/test_golden.py
"""

from __future__ import annotations

import ast
import os
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from generated_modules import import_file

from uvrpc_gen.cli import generate, main

ROOT = Path(__file__).resolve().parents[2]
IDL = sorted((ROOT / "idl").glob("*.idl"))
GOLDEN = ROOT / "tests" / "golden"
STEMS = {p.name for p in IDL}
ALLOWED_IMPORTS = {"uvrpc", "pydantic", *sys.stdlib_module_names}


def generated(idl: Path) -> str:
    """The module generated from ``idl``, as a module of the ``golden`` package (the
    package the goldens are imported from, so their imports of each other work)."""
    return generate(idl.read_text(encoding="utf-8"), str(idl), package="golden")


@pytest.mark.parametrize("idl", IDL, ids=[p.stem for p in IDL])
def test_golden(idl: Path) -> None:
    golden = GOLDEN / f"{idl.stem}.py"
    text = generated(idl)
    if os.environ.get("UVRPC_UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert golden.read_text(encoding="utf-8") == text, (
        f"{golden} is stale; rerun with UVRPC_UPDATE_GOLDEN=1 and review the diff"
    )


def generated_in_subprocess(idl: Path, output: Path, hash_seed: str) -> bytes:
    """The bytes a separate interpreter with ``PYTHONHASHSEED`` set writes."""
    output.mkdir()
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
    subprocess.run(
        [sys.executable, "-m", "uvrpc_gen", str(idl), "-o", str(output)]
        + ["--package", "golden"],
        check=True,
        cwd=ROOT,
        env=environment,
    )
    return (output / f"{idl.stem}.py").read_bytes()


@pytest.mark.parametrize("idl", IDL, ids=[p.stem for p in IDL])
def test_deterministic(idl: Path, tmp_path: Path) -> None:
    """Output does not depend on hash randomisation (set or dict order)."""
    first = generated_in_subprocess(idl, tmp_path / "a", "1")
    second = generated_in_subprocess(idl, tmp_path / "b", "2")
    assert first == second


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


def test_goldens_pass_ruff_check() -> None:
    result = ruff("check", "tests/golden")
    assert result.returncode == 0, result.stdout + result.stderr


def test_goldens_are_ruff_formatted() -> None:
    result = ruff("format", "--check", "tests/golden")
    assert result.returncode == 0, result.stdout + result.stderr


def ellipsis_defaults_without_ellipsis_body(tree: ast.Module) -> list[str]:
    """The functions of ``tree`` that have a ``= ...`` default but whose body is
    not ``...`` (a docstring alone, say)."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        defaults = [*node.args.defaults, *node.args.kw_defaults]
        if not any(
            isinstance(d, ast.Constant) and d.value is Ellipsis for d in defaults
        ):
            continue
        last = node.body[-1]
        if not (
            isinstance(last, ast.Expr)
            and isinstance(last.value, ast.Constant)
            and last.value.value is Ellipsis
        ):
            found.append(f"{node.name} at line {node.lineno}")
    return found


@pytest.mark.parametrize("idl", IDL, ids=[p.stem for p in IDL])
def test_typed_constructors_type_check_under_pyright_too(idl: Path) -> None:
    """A ``= ...`` default (a typed constructor's, for a field with a default)
    is taken by pyright in a ``.py`` file only in a function whose body is
    ``...``: with a docstring alone, pyright (and Pylance) reported each as a
    default of the wrong type, dozens in a module with a user's project's."""
    tree = ast.parse(generated(idl))
    assert ellipsis_defaults_without_ellipsis_body(tree) == []


@pytest.mark.parametrize("example", ["calculator", "echo"])
def test_examples_are_fresh(example: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "uvrpc_gen",
            f"idl/{example}.idl",
            "-o",
            f"examples/{example}",
            "--check",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_the_streaming_tests_service_is_fresh() -> None:
    """``tests/feed.py``, which the oneway and streaming tests use, is generated."""
    result = subprocess.run(
        [sys.executable, "-m", "uvrpc_gen", "tests/feed.idl", "-o", "tests"]
        + ["--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_check_reports_stale_files(tmp_path: Path) -> None:
    (tmp_path / "echo.py").write_text("# old\n")
    result = subprocess.run(
        [sys.executable, "-m", "uvrpc_gen", "idl/echo.idl", "-o", str(tmp_path)]
        + ["--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert "echo.py: stale; regenerate it with: uvrpc-gen idl/echo.idl" in (
        result.stderr
    )
    assert (tmp_path / "echo.py").read_text() == "# old\n"


@pytest.mark.parametrize("idl", IDL, ids=[p.stem for p in IDL])
def test_imports_only_runtime_pydantic_and_stdlib(idl: Path) -> None:
    tree = ast.parse(generated(idl))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        for name in names:
            if name == "golden":  # the package of the other generated modules
                assert isinstance(node, ast.ImportFrom)
                assert all(f"{a.name}.idl" in STEMS for a in node.names), name
                continue
            assert name.partition(".")[0] in ALLOWED_IMPORTS, name


def load(stem: str) -> ModuleType:
    """Import a golden module under a private name."""
    return import_file(GOLDEN / f"{stem}.py", f"_golden_{stem}")


def test_types_golden_builds_with_pydantic() -> None:
    types = load("all_types")
    tree = types.Tree(label="root", left=types.Tree(label="l"), children=[])
    assert tree.left.label == "l"
    scalars = types.Scalars(
        flag=True,
        tiny=1,
        small=2,
        medium=3,
        large=4,
        single=1.5,
        precise=2.5,
        text="t",
        blob=b"b",
    )
    assert scalars.single_default == 1.0
    assert scalars.text_default == 'tab\there "quoted" \\ done'
    assert scalars.color_default is types.Color.BLUE
    containers = types.Containers(index={1: {"a": [types.Item(name="i")]}})
    assert containers.colors == set()
    assert containers.tags == {"a", "b"}
    assert containers.named == {"red": types.Color.RED}
    params = types._ShowcaseBuildParams(label="x", items=[])
    assert params.depth == 3 and params.color is None


def test_every_public_name_is_documented() -> None:
    for stem in ("calculator", "echo", "all_types"):
        module = load(stem)
        for name in module.__all__:
            value = getattr(module, name)
            assert value.__doc__, name
            for attribute, member in vars(value).items():
                if callable(member) and not attribute.startswith("_"):
                    assert member.__doc__, f"{name}.{attribute}"


@pytest.mark.typecheck
@pytest.mark.parametrize("idl", IDL, ids=[p.stem for p in IDL])
def test_golden_passes_mypy_strict(idl: Path) -> None:
    """Each golden alone: they share module names with the examples."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", f"tests/golden/{idl.stem}.py"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_advises_a_command_a_shell_reads_as_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Paths with spaces (or quotes) are quoted in the advised command."""
    idl = tmp_path / "my idl" / "echo.idl"
    idl.parent.mkdir()
    idl.write_text((ROOT / "idl" / "echo.idl").read_text())
    out = tmp_path / "it's out"
    assert main([str(idl), "-o", str(out), "--check"]) == 1
    (advice,) = capsys.readouterr().err.splitlines()
    command = shlex.split(advice.partition("regenerate it with: ")[2])
    assert command == ["uvrpc-gen", str(idl), "-o", str(out)]
    assert main(command[1:]) == 0
    assert main([*command[1:], "--check"]) == 0


def test_check_advises_the_command_with_its_package(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The command --check prints regenerates the file as the run it checks
    # would: without --package, conformance.py would import shared as a
    # top-level module, and still be stale.
    package = tmp_path / "acme" / "rpc"
    arguments = [str(ROOT / "idl"), "-o", str(package), "--package", "acme.rpc"]
    assert main(arguments) == 0
    target = package / "conformance.py"
    target.write_text(target.read_text() + "# edited\n")
    assert main([*arguments, "--check"]) == 1
    (advice,) = capsys.readouterr().err.splitlines()
    command = advice.partition("regenerate it with: ")[2]
    assert command.endswith(f"-o {package} --package acme.rpc"), advice
    assert main(command.split()[1:]) == 0
    assert main([*arguments, "--check"]) == 0
