"""Fixtures that serve your service to your tests: uvrpc's pytest plugin.

Installing uvrpc registers this plugin with pytest (the ``pytest11`` entry point
``uvrpc``); ``pytest -p uvrpc.pytest_plugin`` loads it by hand. Define one fixture,
``uvrpc_service``, returning your implementation, and ask for what the test needs::

    @pytest.fixture
    def uvrpc_service() -> Calculator:
        return Calculator()

    def test_add(uvrpc_sync_channel: uvrpc.SyncChannel) -> None:
        assert CalculatorSyncClient(uvrpc_sync_channel).add(a=1, b=2) == 3

    def test_add_async(uvrpc_channel: uvrpc.Channel) -> None:
        async def body() -> None:
            async with uvrpc_channel:
                assert await CalculatorClient(uvrpc_channel).add(a=1, b=2) == 3

        asyncio.run(body())

The fixtures (each test gets its own, closed when it ends):

- ``uvrpc_channel``: an asyncio :class:`~uvrpc.Channel` served in memory
  (:func:`uvrpc.testing.memory_channel`): no socket, same encoding and errors. It
  belongs to the event loop that first uses it.
- ``uvrpc_sync_channel``: a blocking :class:`~uvrpc.SyncChannel` served in memory
  (:func:`uvrpc.testing.sync_memory_channel`).
- ``uvrpc_server``: a :class:`Served` handle on a :class:`~uvrpc.Server` serving
  ``uvrpc_service`` on a thread of its own, bound to ``uvrpc_bind``;
  ``uvrpc_endpoint`` is its endpoint, which asyncio and blocking clients alike
  connect to.
- ``uvrpc_serve``: for a test that runs its own event loop, ``async with
  uvrpc_serve() as served:`` serves in that loop, for the block.

Override ``uvrpc_bind`` (default ``tcp://127.0.0.1:*``, a free port) to serve on
another endpoint, ``uvrpc_server_options`` (a dict) to pass options to the
servers, ``max_streams`` or ``interceptors`` say, and ``uvrpc_check_requests``
(``False`` by default) to have ``uvrpc_channel`` and ``uvrpc_sync_channel``
check each request as the server will before sending it (``check_requests`` of
:class:`~uvrpc.Channel`). None of the fixtures needs an asyncio plugin for
pytest.

(PYTEST_DONT_REWRITE: this module has no assertions for pytest to rewrite.)
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, overload

import pytest

# Every pytest run where uvrpc is installed loads this plugin, most of them for
# tests that never ask for its fixtures: the runtime (pyzmq, pydantic, about a
# second) is imported by the fixtures that serve, not here.
if TYPE_CHECKING:
    from .client.channel import Channel
    from .client.sync_channel import SyncChannel
    from .server.server import Server
    from .wire.service import ServiceBase

__all__ = [
    "Served",
    "uvrpc_bind",
    "uvrpc_channel",
    "uvrpc_check_requests",
    "uvrpc_endpoint",
    "uvrpc_serve",
    "uvrpc_server",
    "uvrpc_server_options",
    "uvrpc_service",
    "uvrpc_sync_channel",
]

T = TypeVar("T")

START_TIMEOUT = 30.0
"""Seconds a server thread may take to start, or to stop, before the fixture
fails (a loaded machine is slow, a stuck one is not waited for forever)."""


@dataclass
class Served:
    """A server serving the test's service, and where it listens."""

    endpoint: str
    """The endpoint it is bound to, the port chosen (``tcp://127.0.0.1:41234``)."""
    server: Server
    """The server: its :attr:`~uvrpc.Server.stats`, :attr:`~uvrpc.Server.health`."""
    loop: asyncio.AbstractEventLoop
    """The event loop it serves on."""

    @overload
    def call(self, function: Callable[..., Awaitable[T]], *args: Any) -> T: ...

    @overload
    def call(self, function: Callable[..., T], *args: Any) -> T: ...

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run ``function(*args)`` on the server's loop and return its result:
        ``served.call(served.server.set_serving, "", False)``; a coroutine
        function's result is awaited there (``served.call(served.server.close, 5)``).

        From another thread it waits for the loop to run it. From the server's
        own loop it runs at once, and a coroutine function is refused: the test
        awaits it there itself.

        Raises:
            TypeError: a coroutine function called from the server's own loop.
        """
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # no loop runs in this thread
            running = None
        if running is self.loop:
            result = function(*args)
            if inspect.isawaitable(result):
                # Returned unawaited, it would never run: the call would do
                # nothing, and say so only in a warning when collected.
                if inspect.iscoroutine(result):
                    result.close()
                raise TypeError(
                    f"Served.call cannot wait for {function!r} on the server's own "
                    "loop, which runs this test: await it instead"
                )
            return result

        async def run() -> Any:
            result = function(*args)
            if inspect.isawaitable(result):  # server.close, say: run it, not drop it
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(START_TIMEOUT)


def _services(value: object) -> tuple[ServiceBase, ...]:
    """What ``uvrpc_service`` returned, checked: one implementation or several."""
    from .wire.service import ServiceBase

    services = (
        tuple(value)
        if isinstance(value, Sequence) and not isinstance(value, str)
        else (value,)
    )
    for service in services:
        if not isinstance(service, ServiceBase):
            pytest.fail(
                "uvrpc_service must return a service implementation (an instance "
                f"of a generated <Service>Server subclass) or a list of them, "
                f"not {type(service).__name__}",
                pytrace=False,
            )
    return services


@pytest.fixture
def uvrpc_service() -> object:
    """The implementation to serve: override this fixture to return yours (or a
    list of several)."""
    pytest.fail(
        "define a fixture named uvrpc_service that returns the service "
        "implementation to serve (an instance of your <Service>Server subclass)",
        pytrace=False,
    )


@pytest.fixture
def uvrpc_server_options() -> dict[str, Any]:
    """Keyword arguments for the :class:`~uvrpc.Server` of ``uvrpc_server`` and
    ``uvrpc_serve``: override to pass options. None by default."""
    return {}


@pytest.fixture
def uvrpc_bind() -> str:
    """The endpoint ``uvrpc_server`` and ``uvrpc_serve`` bind: a free port on the
    loopback by default. Override for another (``ipc://`` in ``tmp_path``, say)."""
    return "tcp://127.0.0.1:*"


@pytest.fixture
def uvrpc_check_requests() -> bool:
    """Whether ``uvrpc_channel`` and ``uvrpc_sync_channel`` check each request
    as the server will before sending it (``check_requests`` of
    :class:`~uvrpc.Channel`): override to return ``True``. ``False`` by default,
    as for any channel."""
    return False


@pytest.fixture
def uvrpc_channel(
    uvrpc_service: object, uvrpc_check_requests: bool
) -> Iterator[Channel]:
    """An asyncio channel to ``uvrpc_service``, served in memory.

    It belongs to the event loop that first uses it; ``async with uvrpc_channel:``
    closes it within that loop, and the fixture closes what is left after the test.
    """
    from .client.channel import Channel
    from .testing import MemoryTransport

    transport = MemoryTransport(*_services(uvrpc_service))
    yield Channel(transport, check_requests=uvrpc_check_requests)
    # A test's loop (asyncio.run) is gone by now: this needs none, and stops the
    # handlers should the test not have closed the channel.
    transport.close()


@pytest.fixture
def uvrpc_server(
    uvrpc_service: object, uvrpc_bind: str, uvrpc_server_options: dict[str, Any]
) -> Iterator[Served]:
    """``uvrpc_service`` served by a :class:`~uvrpc.Server` on a thread of its own
    with its own event loop, bound to ``uvrpc_bind``, until the test ends."""
    services = _services(uvrpc_service)
    with _server_thread(services, uvrpc_bind, uvrpc_server_options) as served:
        yield served


@pytest.fixture
def uvrpc_endpoint(uvrpc_server: Served) -> str:
    """Where ``uvrpc_server`` listens: connect any client to it."""
    return uvrpc_server.endpoint


@pytest.fixture
def uvrpc_sync_channel(
    uvrpc_service: object, uvrpc_check_requests: bool
) -> Iterator[SyncChannel]:
    """A blocking channel to ``uvrpc_service``, served in memory: closed, and what
    serves it stopped, after the test."""
    from .testing import sync_memory_channel

    services = _services(uvrpc_service)
    with sync_memory_channel(*services, check_requests=uvrpc_check_requests) as channel:
        yield channel


@pytest.fixture
def uvrpc_serve(
    uvrpc_service: object, uvrpc_bind: str, uvrpc_server_options: dict[str, Any]
) -> Callable[[], contextlib.AbstractAsyncContextManager[Served]]:
    """Serve ``uvrpc_service`` in the test's own event loop:
    ``async with uvrpc_serve() as served:`` binds ``uvrpc_bind``, and leaving the
    block closes the server."""
    services = _services(uvrpc_service)

    from .server.server import Server

    @contextlib.asynccontextmanager
    async def serve() -> AsyncIterator[Served]:
        async with Server(*services, **uvrpc_server_options) as server:
            endpoint = server.bind(uvrpc_bind)
            yield Served(endpoint, server, asyncio.get_running_loop())

    return serve


@contextlib.contextmanager
def _server_thread(
    services: tuple[ServiceBase, ...], bind: str, options: dict[str, Any]
) -> Iterator[Served]:
    """Serve ``services`` on a new thread and loop until the block ends."""
    from .testing import ServerThread

    # The failure is reported after the except block, not inside it: raised
    # there, pytest would print the caught error too, chained ("During handling
    # of the above exception ..."), making the one-line report three.
    failure: str | None = None
    try:
        thread = ServerThread(services, bind, options, timeout=START_TIMEOUT)
    except TimeoutError as error:
        failure = str(error)
    except BaseException as error:  # reported to the test, not lost in a thread
        failure = (
            f"the uvrpc server could not serve on {bind}: "
            f"{type(error).__name__}: {error}"
        )
    if failure is not None:
        pytest.fail(failure, pytrace=False)
    try:
        yield Served(thread.endpoint, thread.server, thread.loop)
    finally:
        if not thread.stop(START_TIMEOUT):
            pytest.fail(f"the uvrpc server did not stop within {START_TIMEOUT:g} s")
        if thread.failures:
            raise thread.failures[0]
