"""``async with`` and ``with`` close everything they opened: sockets, tasks, threads."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
import zmq
from calculator import CalculatorClient, CalculatorSyncClient
from calculator_server import Calculator
from feed import FeedClient
from feed_server import Feed

import uvrpc
from uvrpc.testing import MemoryTransport


async def _failure(task: asyncio.Future[Any]) -> BaseException | None:
    try:
        await task
    except BaseException as exc:
        return exc
    return None


def terminates(context: zmq.Context[Any], within: float = 5.0) -> bool:
    """Whether ``context.term()`` returns: it blocks while any socket is open."""
    thread = threading.Thread(target=context.term, daemon=True)
    thread.start()
    thread.join(within)
    return not thread.is_alive()


def test_server_and_clients_close_every_socket_and_task() -> None:
    context: zmq.Context[Any] = zmq.Context()
    threads_before = threading.active_count()

    async def main() -> None:
        async with uvrpc.Server(Calculator(), context=context) as server:
            endpoint = server.bind("tcp://127.0.0.1:*")
            async with uvrpc.Channel(endpoint, context=context) as channel:
                calc = CalculatorClient(channel, timeout=10)
                assert await calc.add(a=1, b=2) == 3
                # A call still pending when the channel closes fails, never hangs.
                pending = asyncio.ensure_future(calc.add(a=-1, b=1))
                await asyncio.sleep(0)
            assert isinstance(
                await asyncio.wait_for(_failure(pending), 5), uvrpc.Unavailable
            )
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(main())
    assert terminates(context)
    assert threading.active_count() == threads_before


def test_closing_a_channel_fails_pending_calls_with_unavailable() -> None:
    async def main() -> None:
        channel = uvrpc.Channel("inproc://uvrpc-nobody-listens")
        calc = CalculatorClient(channel)
        pending = asyncio.ensure_future(calc.add(a=1, b=1))
        await asyncio.sleep(0.01)
        await channel.close()
        try:
            await pending
        except uvrpc.Unavailable as exc:
            assert exc.message == "the channel was closed"
        else:
            raise AssertionError("the pending call did not fail")
        try:
            await calc.add(a=1, b=1)
        except uvrpc.Unavailable:
            pass
        else:
            raise AssertionError("a closed channel accepted a call")

    asyncio.run(main())


def test_sync_client_closes_its_socket() -> None:
    context: zmq.Context[Any] = zmq.Context()

    async def serve(
        ready: threading.Event, stop: asyncio.Event, out: list[str]
    ) -> None:
        async with uvrpc.Server(Calculator(), context=context) as server:
            out.append(server.bind("tcp://127.0.0.1:*"))
            ready.set()
            await stop.wait()

    ready, out = threading.Event(), list[str]()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(serve(ready, stop, out),)
    )
    thread.start()
    assert ready.wait(10)
    with uvrpc.SyncChannel(out[0], context=context) as channel:
        assert CalculatorSyncClient(channel, timeout=10).add(a=2, b=2) == 4
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    loop.close()
    assert terminates(context)


def test_a_channel_belongs_to_one_loop() -> None:
    channel = uvrpc.Channel("inproc://uvrpc-one-loop")

    async def use() -> None:
        try:
            await CalculatorClient(channel).add(a=1, b=1, timeout=0.01)
        except uvrpc.DeadlineExceeded:
            pass

    asyncio.run(use())
    try:
        asyncio.run(use())
    except RuntimeError as exc:
        assert "belongs to the loop that first used it" in str(exc)
    else:
        raise AssertionError("a second loop was allowed to use the channel")
    asyncio.run(channel.close())


class _ClosingCalculator(Calculator):
    """Closes its own server from the handler of ``add(a=1, ...)``."""

    def __init__(self) -> None:
        super().__init__()
        self.server: uvrpc.Server | None = None
        self.added: list[int] = []

    async def add(self, *, a: int, b: int) -> int:
        self.added.append(a)
        if a == 1:
            assert self.server is not None
            await self.server.close()
        return a + b


def test_a_handler_may_close_its_own_server() -> None:
    """The close ends the wake-up that delivered the request: no later request
    of the same batch runs, nothing is read from the closed socket, the loop
    reports no error, and the callers hear that the server went away."""

    async def main() -> None:
        errors: list[dict[str, Any]] = []
        asyncio.get_running_loop().set_exception_handler(
            lambda _, report: errors.append(report)
        )
        service = _ClosingCalculator()
        server = service.server = uvrpc.Server(service)
        await server.start()
        endpoint = server.bind("tcp://127.0.0.1:*")
        async with uvrpc.Channel(endpoint) as channel:
            calc = CalculatorClient(channel, timeout=10)
            assert await calc.add(a=0, b=1) == 1  # the server reads batches
            # Made in one turn: the first goes alone, the other two as a batch.
            calls = [asyncio.ensure_future(calc.add(a=n, b=1)) for n in (0, 1, 2)]
            failures = await asyncio.gather(*map(_failure, calls))
        assert service.added == [0, 0, 1]
        # The first call's reply was queued in the socket as the close dropped
        # it (no grace): it may have left or not. The call that closed the
        # server, and the one after it in the batch, never get a reply.
        assert [type(failure) for failure in failures[1:]] == [uvrpc.Unavailable] * 2
        assert errors == []

    asyncio.run(main())


class _ShuttingFeed(Feed):
    """Closes its own server, with ``grace``, from ``ping(n=0)`` or from
    ``numbers`` after its first item."""

    def __init__(self, grace: float) -> None:
        super().__init__()
        self.grace = grace
        self.server: uvrpc.Server | None = None

    async def ping(self, *, n: int) -> int:
        if n == 0:
            assert self.server is not None
            await self.server.close(grace=self.grace)
        return await super().ping(n=n)

    async def numbers(self, *, count: int) -> AsyncIterator[int]:
        yield 0
        assert self.server is not None
        await self.server.close(grace=self.grace)
        yield 1


@pytest.mark.parametrize("grace", [0.0, 1.0])
@pytest.mark.parametrize("by", ["unary", "stream"])
def test_a_handler_may_close_its_own_server_with_or_without_a_grace(
    by: str, grace: float
) -> None:
    """The close ends (the server stops serving, ``serve_forever`` returns) and
    a call running beside it finishes within the grace: the close neither waits
    out the grace for the handler that made it, nor is interrupted half done by
    cancelling it, which left the server closing for good and its callers
    waiting for their deadlines."""

    async def numbers(feed: FeedClient) -> list[int]:
        return [number async for number in feed.numbers(count=2)]

    async def main() -> None:
        service = _ShuttingFeed(grace)
        async with uvrpc.Server(service) as server:
            service.server = server
            endpoint = server.bind("tcp://127.0.0.1:*")
            async with FeedClient(endpoint, timeout=10) as feed:
                beside = asyncio.ensure_future(feed.ping(n=-3))  # 0.3 s
                await asyncio.sleep(0.05)
                closing = asyncio.ensure_future(
                    feed.ping(n=0) if by == "unary" else numbers(feed)
                )
                await asyncio.wait_for(server.serve_forever(), 5)
                assert isinstance(await _failure(closing), uvrpc.Unavailable)
                if grace:
                    assert await beside == -3
                else:
                    assert isinstance(await _failure(beside), uvrpc.Unavailable)

    asyncio.run(main())


class _WatchedFeed(Feed):
    """Records, as each handler is cancelled, what its call's ``cancelled()``
    says: what a thread the handler handed its work to would read."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[str, bool] = {}
        self.running = 0

    async def ping(self, *, n: int) -> int:
        call = uvrpc.current_call()
        self.running += 1
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            self.seen["unary"] = call.cancelled()
            raise
        return n

    async def numbers(self, *, count: int) -> AsyncIterator[int]:
        call = uvrpc.current_call()
        self.running += 1
        try:
            yield 0
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            self.seen["stream"] = call.cancelled()
            raise


@pytest.mark.parametrize("grace", [0.0, 0.2])
def test_a_handler_its_server_cancels_as_it_closes_reads_that_it_was_cancelled(
    grace: float,
) -> None:
    """A handler still running when its server closes (at once, or at the end
    of the grace) is cancelled, and its call says so: ``cancelled()`` is True,
    as a stream handler's was already. A unary handler's read False, so work
    that checks it before a side effect (on a thread the handler handed it to)
    went on as if its caller still waited for it."""

    async def numbers(feed: FeedClient) -> None:
        async for _ in feed.numbers(count=2):
            pass

    async def main() -> None:
        service = _WatchedFeed()
        server = uvrpc.Server(service)
        await server.start()
        endpoint = server.bind("tcp://127.0.0.1:*")
        async with FeedClient(endpoint, timeout=10) as feed:
            calls = [
                asyncio.ensure_future(feed.ping(n=1)),
                asyncio.ensure_future(numbers(feed)),
            ]
            for _ in range(200):
                if service.running == 2:
                    break
                await asyncio.sleep(0.01)
            await server.close(grace=grace)
            for call in calls:
                assert isinstance(await _failure(call), uvrpc.Unavailable)
        assert service.seen == {"unary": True, "stream": True}

    asyncio.run(main())


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (object(), "not <object object at "),
        (42, "not 42 (int)"),
        (Calculator, "not the class Calculator (pass an instance of it)"),
    ],
)
def test_a_server_refuses_what_is_not_a_service_naming_it(
    given: object, said: str
) -> None:
    """Anything but an instance of a generated server class is refused as the
    server (or the in-memory transport) is made, saying what it was given."""
    for make in (uvrpc.Server, MemoryTransport):
        with pytest.raises(TypeError, match="generated <Service>Server") as caught:
            make(Calculator(), given)  # type: ignore[arg-type]
        assert said in str(caught.value)


def test_a_server_refuses_a_list_of_services_saying_to_pass_each() -> None:
    """``Server([a, b])`` (the pytest fixture's spelling) says to pass each one."""
    with pytest.raises(TypeError, match="as an argument of its own"):
        uvrpc.Server([Calculator()])  # type: ignore[arg-type]


def test_a_server_refuses_a_class_serving_several_services() -> None:
    """A class deriving from two generated server classes is refused, naming both
    services, instead of being served as the first alone (the other's calls
    answered UNIMPLEMENTED)."""
    from echo import EchoServer

    class Both(Calculator, EchoServer):
        async def echo(self, *, data: memoryview) -> uvrpc.Buffer:
            return data

    for make in (uvrpc.Server, MemoryTransport):
        with pytest.raises(TypeError, match="several services") as caught:
            make(Both())
        assert "calculator.Calculator, echo.Echo" in str(caught.value)


def test_a_handler_that_goes_on_after_its_cancellation_does_not_hold_the_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """gRPC's stop(grace) ends about when the grace does: a handler whose
    ``except CancelledError`` waits on is left running after
    ``CANCELLED_WAIT``, and named in the log, instead of holding the close."""
    from feed import FeedClient
    from feed_server import Feed

    from uvrpc.server.server import CANCELLED_WAIT

    released = asyncio.Event()

    class Stubborn(Feed):
        async def ping(self, *, n: int) -> int:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                await released.wait()  # cleans up for as long as the test says
            return n

    async def main() -> None:
        server = uvrpc.Server(Stubborn())
        await server.start()
        endpoint = server.bind("tcp://127.0.0.1:*")
        async with uvrpc.Channel(endpoint) as channel:
            call = asyncio.ensure_future(FeedClient(channel, timeout=60).ping(n=1))
            while server.stats.received == 0:
                await asyncio.sleep(0.01)
            loop = asyncio.get_running_loop()
            started = loop.time()
            await asyncio.wait_for(server.close(grace=0.1), 30)
            took = loop.time() - started
            released.set()
            with pytest.raises(uvrpc.Unavailable):
                await asyncio.wait_for(call, 10)
        # Bounded by the grace and the wait, not the handler (which never ends
        # by itself): the 30 s above is only the test's own guard.
        assert took < 0.1 + CANCELLED_WAIT + 5

    with caplog.at_level("WARNING", logger="uvrpc.server"):
        asyncio.run(main())
    warnings = [
        r.getMessage() for r in caplog.records if "still running" in r.getMessage()
    ]
    assert len(warnings) == 1
    assert "1 handler(s)" in warnings[0] and "Stubborn.ping" in warnings[0]


def test_serving_with_no_endpoint_says_so(caplog: pytest.LogCaptureFixture) -> None:
    """A server nothing can reach (``bind`` forgotten) says why it is silent,
    rather than waiting without a word; one bound says nothing."""

    async def serve_briefly(bound: bool) -> None:
        async with uvrpc.Server(Calculator()) as server:
            if bound:
                server.bind("inproc://uvrpc-serves-briefly")
            task = asyncio.ensure_future(server.serve_forever())
            await asyncio.sleep(0.01)
            await server.close()
            await asyncio.wait_for(task, 5)

    with caplog.at_level("WARNING", logger="uvrpc.server"):
        asyncio.run(serve_briefly(bound=True))
        assert not [r for r in caplog.records if "no endpoint" in r.getMessage()]
        asyncio.run(serve_briefly(bound=False))
    warned = [r.getMessage() for r in caplog.records if "no endpoint" in r.getMessage()]
    assert warned == [
        "serve_forever(): this server is bound to no endpoint and connected to no "
        "broker, so no call can reach it; call bind('tcp://127.0.0.1:*'), say, or "
        "connect() first"
    ]


def test_a_closed_server_says_so_when_used_again() -> None:
    """Its socket is gone: ZeroMQ's own errors said "Socket operation on
    non-socket", and bind() blamed the endpoint ("bad endpoint")."""

    async def main() -> None:
        server = uvrpc.Server(Calculator())
        async with server:
            server.bind("tcp://127.0.0.1:*")
        closed = "this Server is closed: create a new one to serve"
        with pytest.raises(RuntimeError, match=closed):
            server.bind("tcp://127.0.0.1:*")
        with pytest.raises(RuntimeError, match=closed):
            server.connect("tcp://127.0.0.1:1")
        with pytest.raises(RuntimeError, match=closed):
            await server.start()
        with pytest.raises(RuntimeError, match=closed):
            await server.serve_forever()

    asyncio.run(main())
