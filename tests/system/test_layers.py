"""The runtime's layers point one way (``docs/architecture.md``).

Read from the source alone, nothing imported: no import cycle (``TYPE_CHECKING``
imports included), no module importing another's private name or reaching into
another object's private attribute, each layer importing only the layers below
it, and the sans-I/O core importing neither asyncio nor ZeroMQ. Then, in fresh
interpreters: one side never loads the other, ``import uvrpc`` loads neither the
benchmark nor its peers, and every old module path still gives the same names.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import uvrpc

RUNTIME = Path(__file__).resolve().parents[2] / "runtime" / "uvrpc"

LAYERS: dict[str, set[str]] = {
    # each sub-package, and the sub-packages it may import (besides itself)
    "wire": set(),
    "core": {"wire"},
    "transport": {"wire", "core"},
    "interceptors": {"wire", "core"},
    "client": {"wire", "core", "transport", "interceptors"},
    "server": {"wire", "core", "transport", "interceptors", "services"},
    "services": {"wire", "core", "client"},
    "ops": {"wire", "core", "transport", "interceptors", "client", "server"},
    "cli": {
        "wire",
        "core",
        "transport",
        "client",
        "server",
        "services",
        "ops",
        "bench",
    },
}
"""The layers, bottom up. ``services`` may import the client only in its
``clients`` module, which the server never imports."""

SIDE_NEUTRAL = {"uvrpc.services.health", "uvrpc.services.reflection"}
"""What the server may import of ``services``: not ``services.clients``."""


def modules() -> dict[str, Path]:
    """Every runtime module by dotted name, the benchmark excepted."""
    found = {}
    for path in RUNTIME.rglob("*.py"):
        parts = path.relative_to(RUNTIME.parent).with_suffix("").parts
        if "bench" in parts:
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = modules()


def imports(name: str) -> Iterator[tuple[str, str, int]]:
    """``(module imported, name imported or "", line)`` for each import of a
    module, relative ones resolved."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, "", node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                full = f"{target}.{alias.name}"
                if full in MODULES:
                    yield full, "", node.lineno
                else:
                    yield target, alias.name, node.lineno


def graph() -> dict[str, set[str]]:
    return {
        name: {target for target, _, _ in imports(name) if target in MODULES} - {name}
        for name in MODULES
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in edges[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def layer(name: str) -> str | None:
    """The sub-package of a module; ``None`` for the package's own modules."""
    parts = name.split(".")
    return (
        parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else None
    )


def test_the_layers_are_the_sub_packages() -> None:
    present = {p.name for p in RUNTIME.iterdir() if (p / "__init__.py").exists()}
    assert present - {"bench"} == set(LAYERS)


def test_no_import_cycle() -> None:
    assert cycles(graph()) == []


def test_cycles_are_found() -> None:
    """The cycle finder itself finds one (so the test above can fail)."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_each_layer_imports_only_the_layers_below_it() -> None:
    wrong = []
    for name in MODULES:
        mine = layer(name)
        if mine is None:
            continue  # the package itself, its old paths, testing: on top
        for target, _, line in imports(name):
            theirs = layer(target) if target.startswith("uvrpc") else None
            if theirs is None or theirs == mine:
                continue
            allowed = theirs in LAYERS[mine]
            if mine == "server" and theirs == "services":
                allowed = target in SIDE_NEUTRAL
            if mine == "services" and theirs == "client":
                allowed = name == "uvrpc.services.clients"
            if not allowed:
                wrong.append(f"{name}:{line} imports {target}")
    assert wrong == []


def test_no_private_name_is_imported_across_modules() -> None:
    wrong = [
        f"{name}:{line} imports {target}.{imported}"
        for name in MODULES
        for target, imported, line in imports(name)
        if target.startswith("uvrpc")
        and imported.startswith("_")
        and not imported.startswith("__")
    ]
    assert wrong == []


def test_no_private_attribute_of_another_object_is_reached() -> None:
    """``x._name`` only on ``self``, ``cls`` and ``super()``: what an object keeps
    private, it changes alone."""
    wrong = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not _own(node.value)
            ):
                wrong.append(f"{name}:{node.lineno} .{node.attr}")
    assert wrong == []


def _own(value: ast.expr) -> bool:
    """Whether an attribute is read from the object itself: ``self``, ``cls`` or
    ``super()``."""
    if isinstance(value, ast.Name):
        return value.id in {"self", "cls"}
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id == "super"
    )


def test_the_core_does_no_io() -> None:
    """The sans-I/O core: no event loop, no sockets, no threads."""
    wrong = [
        f"{name}:{line} imports {target}"
        for name in MODULES
        if name.startswith("uvrpc.core")
        for target, _, line in imports(name)
        if target.split(".")[0]
        in {"asyncio", "zmq", "threading", "socket", "selectors"}
    ]
    assert wrong == []


def loaded_after(statement: str) -> set[str]:
    """The uvrpc, zmq and peer modules loaded by ``statement`` in a fresh process."""
    probe = (
        f"{statement}\nimport sys\n"
        "print(' '.join(m for m in sys.modules if m.split('.')[0] in "
        "('uvrpc', 'grpc', 'thriftpy2', 'matplotlib', 'rich', 'uvrpc_gen', 'jinja2')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def test_the_server_does_not_load_the_client() -> None:
    loaded = loaded_after("import uvrpc.server")
    assert "uvrpc.server.server" in loaded
    assert not {m for m in loaded if m.startswith("uvrpc.client")}


def test_the_client_does_not_load_the_server() -> None:
    loaded = loaded_after("import uvrpc.client")
    assert "uvrpc.client.channel" in loaded
    assert not {m for m in loaded if m.startswith("uvrpc.server")}


def test_the_package_loads_no_benchmark_and_no_generator() -> None:
    loaded = loaded_after("import uvrpc; uvrpc.Channel, uvrpc.Server, uvrpc.testing")
    assert "uvrpc.server.server" in loaded and "uvrpc.client.channel" in loaded
    assert not {m for m in loaded if not m.startswith("uvrpc") or "bench" in m} - {
        "uvrpc"
    }


OLD_PATHS = sorted(
    p.stem
    for p in RUNTIME.glob("*.py")
    if p.stem not in {"__init__", "__main__", "testing", "pytest_plugin"}
)


def test_every_old_module_path_is_kept() -> None:
    """Each module of the flat layout before the sub-packages is still there."""
    assert set(OLD_PATHS) >= {
        "buffers", "broker", "calls", "channel", "codec", "context", "deadlines",
        "dispatch", "eager", "errors", "forks", "handle", "health", "limits",
        "liveness", "loop", "message", "methods", "metrics", "protocol", "reactor",
        "reflection", "retry", "security", "service", "sessions", "signals",
        "status", "streams", "sync_channel", "types", "validation", "version",
        "workers", "cli_call",
    }  # fmt: skip


@pytest.mark.parametrize("old", OLD_PATHS)
def test_an_old_module_path_gives_the_same_objects(old: str) -> None:
    """An old path re-exports the ``__all__`` of the module that took its place."""
    tree = ast.parse((RUNTIME / f"{old}.py").read_text())
    homes = [
        f"uvrpc.{node.module}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.names[0].name == "*"
    ]
    assert len(homes) == 1, homes
    module = importlib.import_module(f"uvrpc.{old}")
    home = importlib.import_module(homes[0])
    assert set(home.__all__) <= set(module.__all__)
    for name in home.__all__:
        assert getattr(module, name) is getattr(home, name)
    for name in set(module.__all__) - set(home.__all__):
        assert getattr(module, name) is not None  # what moved elsewhere still resolves


@pytest.mark.parametrize("name", uvrpc.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(uvrpc, name) is not None
    assert name in dir(uvrpc)
