"""The package's metadata is true: one version, its licence, its scripts."""

from __future__ import annotations

import ast
import importlib
import re
import sys
import tomllib

from conftest import ROOT

import uvrpc
import uvrpc_gen
from uvrpc_gen.symbols import GENERATOR_VERSION

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def test_the_version_has_one_source() -> None:
    assert "version" not in PROJECT
    assert "version" in PROJECT["dynamic"]
    source = ROOT / PYPROJECT["tool"]["hatch"]["version"]["path"]
    assignments = [
        node
        for node in ast.parse(source.read_text()).body
        if isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
    ]
    (assignment,) = assignments
    assert isinstance(assignment.value, ast.Constant)
    version = assignment.value.value
    assert isinstance(version, str)
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    # The runtime, the generator and what it writes into generated modules.
    assert uvrpc.__version__ == uvrpc_gen.__version__ == GENERATOR_VERSION == version
    header = (ROOT / "examples" / "calculator" / "calculator.py").read_text()
    assert f"by uvrpc-gen {version} " in header.splitlines()[0]


def test_the_licence_is_the_one_declared() -> None:
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Copyright (c) uvrpc authors" in text
    assert "License :: OSI Approved :: MIT License" in PROJECT["classifiers"]


def test_the_classifiers_name_the_pythons_supported() -> None:
    classifiers = set(PROJECT["classifiers"])
    floor = re.fullmatch(r">=3\.(\d+)", PROJECT["requires-python"])
    assert floor is not None
    minors = {
        int(m.group(1))
        for c in classifiers
        if (m := re.fullmatch(r"Programming Language :: Python :: 3\.(\d+)", c))
    }
    assert min(minors) == int(floor.group(1))
    assert minors == set(range(min(minors), max(minors) + 1))
    assert sys.version_info.minor in minors
    for required in (
        "Programming Language :: Python :: 3 :: Only",
        "Operating System :: POSIX",
        "Typing :: Typed",
        "Framework :: AsyncIO",
    ):
        assert required in classifiers


def test_no_invented_addresses() -> None:
    # There is no public home page or repository address to name.
    assert "urls" not in PROJECT


def test_the_console_scripts_resolve() -> None:
    scripts = PROJECT["scripts"]
    assert set(scripts) == {"uvrpc", "uvrpc-gen"}
    for target in scripts.values():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function))


def test_the_dev_extra_has_what_the_package_check_installs() -> None:
    script = (ROOT / ".ci" / "package").read_text()
    dev = {
        re.split(r"[<>=;\[ ]", d)[0] for d in PROJECT["optional-dependencies"]["dev"]
    }
    for tool in ("build", "twine"):
        assert tool in dev
        assert f"'{tool}>=" in script


def test_the_sdist_holds_what_the_tests_read() -> None:
    # The sdist carries the tests: each file of the tree they read from ROOT must
    # be in it too, or they fail where it is unpacked (.ci/package, read above).
    include = set(PYPROJECT["tool"]["hatch"]["build"]["targets"]["sdist"]["include"])
    # conftest.py's mypy cache is written, not read; hatchling adds pyproject.toml.
    left_out = {".mypy_cache", "pyproject.toml"}
    read = {
        found.group(1).split("/")[0]
        for path in (ROOT / "tests").rglob("*.py")
        for found in re.finditer(r'\bROOT / "([^"]+)"', path.read_text())
    }
    assert read - left_out - include == set()
