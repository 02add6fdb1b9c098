"""uvrpc's pytest plugin, used as a user would: real inner pytest runs (pytester)
of test files that define ``uvrpc_service`` and ask for the fixtures."""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest

import uvrpc.pytest_plugin
from uvrpc.testing import ServerThread

ROOT = Path(__file__).resolve().parents[2]
CALCULATOR = ROOT / "examples" / "calculator"

# Loads the plugin by its module, as the entry point does once uvrpc is installed
# (blocking the entry point's name first, so that an installed copy is not loaded
# twice). Warnings are errors, so that a socket, loop or task left behind fails.
PLUGIN = ("-p", "no:uvrpc", "-p", "uvrpc.pytest_plugin", "-W", "error")

SERVICE = """
import pytest
from calculator_server import Calculator

@pytest.fixture
def uvrpc_service():
    return Calculator()
"""


def server_threads() -> list[threading.Thread]:
    """The threads serving a fixture's server now: ``uvrpc.testing.ServerThread``'s,
    which the plugin and ``sync_memory_channel`` use (named after their endpoint)."""
    return [t for t in threading.enumerate() if t.name.startswith("uvrpc server ")]


def test_server_threads_sees_a_server_thread_until_it_stops() -> None:
    from calculator_server import Calculator

    # What the checks that no server is left behind rely on.
    assert server_threads() == []
    served = ServerThread([Calculator()], "inproc://uvrpc-plugin-threads")
    try:
        assert len(server_threads()) == 1
    finally:
        assert served.stop(30)
    assert server_threads() == []


def test_every_fixture_serves_the_service(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(SERVICE)
    pytester.makepyfile(
        """
        import asyncio

        import uvrpc
        from calculator import CalculatorClient, CalculatorSyncClient
        from uvrpc.health import HealthClient, HealthStatus

        def test_blocking(uvrpc_sync_channel):
            assert CalculatorSyncClient(uvrpc_sync_channel).add(a=40, b=2) == 42

        def test_memory(uvrpc_channel):
            async def body():
                async with uvrpc_channel:
                    assert await CalculatorClient(uvrpc_channel).add(a=1, b=2) == 3
            asyncio.run(body())

        def test_memory_left_open(uvrpc_channel):
            async def body():
                assert await CalculatorClient(uvrpc_channel).add(a=1, b=2) == 3
            asyncio.run(body())

        def test_socket_from_an_async_client(uvrpc_endpoint):
            async def body():
                async with CalculatorClient(uvrpc_endpoint, timeout=30) as calc:
                    assert await calc.add(a=2, b=3) == 5
            asyncio.run(body())

        def test_socket_from_a_blocking_client(uvrpc_endpoint):
            with CalculatorSyncClient(uvrpc_endpoint, timeout=30) as calc:
                assert calc.add(a=2, b=3) == 5

        def test_the_server_is_the_tests(uvrpc_server):
            with CalculatorSyncClient(uvrpc_server.endpoint, timeout=30) as calc:
                assert calc.add(a=1, b=1) == 2
            assert uvrpc_server.server.stats.received == 1
            uvrpc_server.call(uvrpc_server.server.set_serving, "", False)
            async def body():
                async with HealthClient(uvrpc_server.endpoint, timeout=30) as h:
                    assert await h.check() is HealthStatus.NOT_SERVING
            asyncio.run(body())

        def test_each_test_has_its_own_service(uvrpc_sync_channel):
            # test_blocking called the service too: not this instance, which
            # counts this add and the call_count itself.
            calc = CalculatorSyncClient(uvrpc_sync_channel)
            calc.add(a=1, b=1)
            assert calc.call_count() == 2

        def test_in_the_tests_loop(uvrpc_serve):
            async def body():
                async with uvrpc_serve() as served:
                    assert served.loop is asyncio.get_running_loop()
                    served.call(served.server.set_serving, "", False)
                    async with HealthClient(served.endpoint, timeout=30) as h:
                        assert await h.check() is HealthStatus.NOT_SERVING
            asyncio.run(body())
        """
    )
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(passed=8, warnings=0)
    assert server_threads() == []


def test_bind_and_options_are_fixtures_to_override(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(SERVICE)
    pytester.makepyfile(
        """
        import pytest
        from calculator import CalculatorSyncClient

        @pytest.fixture
        def uvrpc_bind(tmp_path):
            return f"ipc://{tmp_path / 'calc.sock'}"

        @pytest.fixture
        def uvrpc_server_options():
            return {"max_in_flight": 7}

        def test_ipc(uvrpc_server, tmp_path):
            assert uvrpc_server.endpoint == f"ipc://{tmp_path / 'calc.sock'}"
            assert uvrpc_server.server.max_in_flight == 7
            with CalculatorSyncClient(uvrpc_server.endpoint, timeout=30) as calc:
                assert calc.add(a=1, b=2) == 3
        """
    )
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(passed=1)


def test_several_services(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from calculator import CalculatorSyncClient
        from calculator_server import Calculator
        from echo import EchoSyncClient
        from echo_server import Echo

        @pytest.fixture
        def uvrpc_service():
            return [Calculator(), Echo()]

        def test_both(uvrpc_sync_channel):
            assert CalculatorSyncClient(uvrpc_sync_channel).add(a=1, b=2) == 3
            assert bytes(EchoSyncClient(uvrpc_sync_channel).echo(data=b"hi")) == b"hi"
        """
    )
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(passed=1)


def test_without_a_service_the_error_says_what_to_define(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        def test_needs_a_service(uvrpc_endpoint):
            pass

        def test_not_a_service(uvrpc_channel, uvrpc_service):
            pass
        """
    )
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        ["*define a fixture named uvrpc_service that returns the service*"]
    )
    result.stdout.no_fnmatch_line("*Traceback*")


def test_a_wrong_service_and_a_bad_endpoint_are_one_line_errors(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest
        from calculator_server import Calculator

        @pytest.fixture
        def uvrpc_service(request):
            return 42 if request.node.name == "test_wrong" else Calculator()

        @pytest.fixture
        def uvrpc_bind():
            return "nowhere://at-all"

        def test_wrong(uvrpc_channel):
            pass

        def test_unbindable(uvrpc_endpoint):
            pass
        """
    )
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*uvrpc_service must return a service implementation*not int",
            "*the uvrpc server could not serve on nowhere://at-all: *",
        ],
        consecutive=False,
    )
    result.stdout.no_fnmatch_line("*Traceback*")
    # One line: not the caught error again, chained before it.
    result.stdout.no_fnmatch_line("*During handling of the above exception*")
    assert server_threads() == []


def test_a_failing_test_still_closes_the_server(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(SERVICE)
    pytester.makepyfile(
        """
        def test_fails(uvrpc_sync_channel, uvrpc_endpoint):
            raise AssertionError("the test's own failure")
        """
    )
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the test's own failure*"])
    assert server_threads() == []


def test_an_installed_entry_point_loads_the_plugin(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh interpreter where a distribution declares the entry point of
    pyproject.toml (as installing uvrpc does) has the fixtures, no -p needed."""
    installed = pytester.mkdir("site")
    info = installed / "uvrpc_entry_point-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: uvrpc-entry-point\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(f"[pytest11]\nuvrpc = {entry_point()}\n")
    path = [str(installed), str(ROOT / "runtime"), str(CALCULATOR)]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(path))
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    pytester.makeconftest(SERVICE)
    pytester.makepyfile(
        """
        from calculator import CalculatorSyncClient

        def test_add(uvrpc_sync_channel):
            assert CalculatorSyncClient(uvrpc_sync_channel).add(a=1, b=2) == 3
        """
    )
    result = pytester.runpytest_subprocess("-W", "error")
    result.assert_outcomes(passed=1)


def entry_point() -> str:
    """What pyproject.toml's ``pytest11`` entry point ``uvrpc`` names."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return str(project["entry-points"]["pytest11"]["uvrpc"])


def test_the_entry_point_names_the_plugin() -> None:
    """Installing uvrpc registers the plugin: pyproject declares the pytest11
    entry point, and it names this module."""
    target = entry_point()
    assert target == "uvrpc.pytest_plugin"
    module = importlib.import_module(target)
    assert module is uvrpc.pytest_plugin
    assert Path(module.__file__ or "") == ROOT / "runtime/uvrpc/pytest_plugin.py"


def test_served_call_awaits_a_coroutine_function_on_the_servers_loop() -> None:
    """``served.call(served.server.close, 1)`` closes the server: a coroutine
    function is awaited on the server's loop, not returned unawaited (which ran
    nothing, and warned of it only when collected)."""
    from calculator_server import Calculator

    thread = ServerThread([Calculator()], "inproc://uvrpc-plugin-served-call")
    try:
        served = uvrpc.pytest_plugin.Served(thread.endpoint, thread.server, thread.loop)

        async def on_the_loop(value: int) -> tuple[int, bool]:
            return value, asyncio.get_running_loop() is thread.loop

        assert served.call(on_the_loop, 7) == (7, True)
        assert served.call(served.server.close, 1.0) is None
        assert served.call(lambda: served.server.health.is_closing)

        async def in_the_servers_loop() -> None:
            with pytest.raises(TypeError, match="await it instead"):
                served.call(on_the_loop, 1)

        # From the server's own loop it cannot wait: it says so.
        asyncio.run_coroutine_threadsafe(in_the_servers_loop(), thread.loop).result(30)
    finally:
        assert thread.stop(30)


def test_loading_the_plugin_loads_no_runtime() -> None:
    """Every pytest run where uvrpc is installed loads the plugin, most of them
    for tests that never ask for its fixtures: they do not pay for importing
    pyzmq, pydantic and the runtime, which the fixtures import when used."""
    probe = (
        "import sys, uvrpc.pytest_plugin\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('uvrpc', 'zmq', 'pydantic', 'msgpack'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert out.split() == ["uvrpc", "uvrpc.pytest_plugin"]
