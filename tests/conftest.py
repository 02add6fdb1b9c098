"""Shared fixtures: the example services, and servers running in a thread.

The example directories are put on ``sys.path`` so tests import the committed
generated modules (``calculator``, ``echo``) and the example implementations the way
the example scripts do.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import os
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import zmq
from hypothesis import settings

import uvrpc
import uvrpc.testing

# No time limit per example: hypothesis's default of 200 ms is a timing bound,
# which a loaded machine (CI runs four suites at once) passes or not by chance.
settings.register_profile("uvrpc", deadline=None)
settings.load_profile("uvrpc")

pytest_plugins = ["pytester"]  # tests/testing/ runs pytest on fixture users' tests

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
for example in ("calculator", "echo"):
    path = str(EXAMPLES / example)
    if path not in sys.path:
        sys.path.insert(0, path)

TRANSPORTS = ("inproc", "ipc", "tcp")


@pytest.fixture(scope="session", autouse=True)
def mypy_cache() -> Iterator[Path]:
    """One mypy cache for every ``mypy`` the suite runs, kept from run to run.

    Tests run mypy on generated modules in temporary directories, where each run
    would otherwise start a cache of its own and check the standard library,
    pydantic and the runtime again: most of each run's time. The cache is one per
    environment (``sys.prefix``): the jobs of ``.ci/run`` share a tree but not
    their virtual environments, and mypy would find the other job's entries stale
    and rewrite them, each job undoing the other's.
    """
    key = hashlib.sha256(sys.prefix.encode()).hexdigest()[:12]
    path = ROOT / ".mypy_cache" / f"suite-{key}"
    before = os.environ.get("MYPY_CACHE_DIR")
    os.environ["MYPY_CACHE_DIR"] = str(path)
    try:
        yield path
    finally:
        if before is None:
            del os.environ["MYPY_CACHE_DIR"]
        else:
            os.environ["MYPY_CACHE_DIR"] = before


def endpoint_for(transport: str, tmp_path: Path) -> str:
    """A bindable endpoint of the given kind that no other test uses."""
    if transport == "inproc":
        return f"inproc://uvrpc-test-{uuid.uuid4().hex}"
    if transport == "ipc":
        return f"ipc://{tmp_path / 'server.sock'}"
    return "tcp://127.0.0.1:*"


@dataclass
class RunningServer:
    """A server serving on its own thread and event loop."""

    endpoint: str = ""
    server: uvrpc.Server | None = None
    loop: asyncio.AbstractEventLoop | None = None
    errors: list[BaseException] = field(default_factory=list)

    @property
    def stats(self) -> uvrpc.ServerStats:
        """The server's counters."""
        assert self.server is not None
        return self.server.stats


@contextlib.contextmanager
def server_thread(
    *services: uvrpc.ServiceBase,
    bind: str = "tcp://127.0.0.1:*",
    context: zmq.Context[Any] | None = None,
    **options: Any,
) -> Iterator[RunningServer]:
    """Serve ``services`` on a thread until the block ends, then close everything.

    ``options`` are passed to :class:`uvrpc.Server`. Its ``probe_interval`` is a
    minute unless given: many tests read a raw socket's messages as replies, and
    a probe (an empty CREDIT to the callers of handlers still running, or of
    replies still waiting for room) comes among them whenever one outlives the
    default second, as on a loaded machine. The probes are tested where they are
    the subject (``tests/server/test_gone_callers.py``), at intervals of their own.
    """
    options.setdefault("probe_interval", 60.0)
    handle = RunningServer()
    ready = threading.Event()

    async def serve() -> None:
        async with uvrpc.Server(*services, context=context, **options) as server:
            handle.endpoint = server.bind(bind)
            handle.server = server
            handle.loop = asyncio.get_running_loop()
            ready.set()
            await server.serve_forever()

    def run() -> None:
        try:
            asyncio.run(serve())
        except BaseException as exc:  # reported by the test, not lost in a thread
            handle.errors.append(exc)
            ready.set()

    thread = threading.Thread(target=run, name="uvrpc-test-server", daemon=True)
    thread.start()
    assert ready.wait(10), "server did not start"
    assert not handle.errors, handle.errors
    try:
        yield handle
    finally:
        assert handle.loop is not None and handle.server is not None
        server = handle.server
        handle.loop.call_soon_threadsafe(lambda: asyncio.ensure_future(server.close()))
        thread.join(10)
        assert not thread.is_alive(), "server thread did not stop"
        assert not handle.errors, handle.errors


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    """Each transport in turn: inproc, ipc and tcp loopback."""
    return str(request.param)


@pytest.fixture
def calculator_server(transport: str, tmp_path: Path) -> Iterator[RunningServer]:
    """The example calculator, served on each transport."""
    from calculator_server import Calculator

    with server_thread(Calculator(), bind=endpoint_for(transport, tmp_path)) as s:
        yield s


@pytest.fixture
def echo_server(transport: str, tmp_path: Path) -> Iterator[RunningServer]:
    """The example echo service, served on each transport."""
    from echo_server import Echo

    with server_thread(Echo(), bind=endpoint_for(transport, tmp_path)) as s:
        yield s


def generate_modules(
    directory: Path, sources: dict[str, str], package: str | None = None
) -> dict[str, ModuleType]:
    """Write ``sources`` (file name → IDL text) to ``directory/idl``, generate them
    all with ``uvrpc-gen`` into ``directory/<package or "gen">`` and import them.

    Without ``package`` the output directory goes on ``sys.path`` and the modules
    are imported as top-level modules; with one, ``directory`` goes on the path
    and they are imported from the package. Returns the modules by stem.
    """
    from uvrpc_gen.cli import main

    idl = directory / "idl"
    idl.mkdir()
    for name, text in sources.items():
        (idl / name).write_text(text, encoding="utf-8")
    output = directory / (package or "gen")
    arguments = [str(idl), "-o", str(output)]
    if package:
        arguments += ["--package", package]
    assert main(arguments) == 0
    if package:
        (output / "__init__.py").touch()
    names: dict[str, str] = {
        Path(n).stem: f"{package}.{Path(n).stem}" if package else Path(n).stem
        for n in sources
    }
    for name in [*names.values(), *([package] if package else [])]:
        sys.modules.pop(name, None)  # from an earlier test's directory
    root = directory if package else output
    sys.path.insert(0, str(root))
    try:
        return {stem: importlib.import_module(name) for stem, name in names.items()}
    finally:
        sys.path.remove(str(root))


PLACES = ("memory", "ipc", "tcp")
"""Where a test's service runs: in memory, or on a server in the test's loop."""


@contextlib.asynccontextmanager
async def serving(
    place: str, tmp_path: Path, *services: uvrpc.ServiceBase, **options: Any
) -> AsyncIterator[tuple[uvrpc.Channel, uvrpc.Server | None]]:
    """A channel to ``services`` served in memory, or by a server in this loop on
    ipc or tcp loopback (returned too, for its counters; ``None`` in memory).

    ``options`` are passed to :class:`uvrpc.Server`.
    """
    if place == "memory":
        async with uvrpc.testing.memory_channel(*services) as channel:
            yield channel, None
        return
    async with uvrpc.Server(*services, **options) as server:
        bind = (
            f"ipc://{tmp_path / 'uvrpc.sock'}"
            if place == "ipc"
            else "tcp://127.0.0.1:*"
        )
        endpoint = server.bind(bind)
        async with uvrpc.Channel(endpoint) as channel:
            yield channel, server
