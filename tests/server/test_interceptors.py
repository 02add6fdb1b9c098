"""Interceptors on the server and the client: order, metadata, errors, short cuts."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, ParamSpec

import msgpack
import pytest
import zmq
from calculator import CalculatorClient, CalculatorSyncClient
from calculator_server import Calculator
from conftest import server_thread
from feed import FeedClient, Tick
from feed_server import Feed
from raw_frames import V, exchange

import uvrpc
import uvrpc.testing
from uvrpc.interceptors import Proceed, SyncProceed

ADD = "calculator.Calculator.add"

P = ParamSpec("P")


def in_loop(test: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Run an async test in a loop of its own, for ten seconds at most."""

    @functools.wraps(test)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(asyncio.wait_for(test(*args, **kwargs), 10))

    return run


class Recorder:
    """Records entering and leaving each call, on every side."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    async def intercept_server(
        self, call: uvrpc.ServerCallInfo, proceed: Proceed
    ) -> Any:
        self.log.append(f"server {self.name} enter {call.kind} {call.route}")
        try:
            return await proceed()
        finally:
            self.log.append(f"server {self.name} exit")

    async def intercept_client(
        self, call: uvrpc.ClientCallInfo, proceed: Proceed
    ) -> Any:
        self.log.append(f"client {self.name} enter {call.route}")
        try:
            return await proceed()
        finally:
            self.log.append(f"client {self.name} exit")

    def intercept_sync(self, call: uvrpc.ClientCallInfo, proceed: SyncProceed) -> Any:
        self.log.append(f"sync {self.name} enter {call.route}")
        try:
            return proceed()
        finally:
            self.log.append(f"sync {self.name} exit")


class Observer:
    """Records each server call's status and duration."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, uvrpc.Status, float]] = []
        self._recorded = asyncio.Event()

    async def wait_for(self, count: int) -> None:
        """Returns once `count` calls have been recorded."""
        while len(self.seen) < count:
            self._recorded.clear()
            await self._recorded.wait()

    async def intercept_server(
        self, call: uvrpc.ServerCallInfo, proceed: Proceed
    ) -> Any:
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            return await proceed()
        except BaseException as exc:
            error = exc
            raise
        finally:
            status = uvrpc.status_of(error, call.call)
            self.seen.append((call.route, status, time.perf_counter() - started))
            self._recorded.set()


class Auth:
    """Refuses calls without the right token, before the handler runs."""

    async def intercept_server(
        self, call: uvrpc.ServerCallInfo, proceed: Proceed
    ) -> Any:
        if call.metadata.get("authorization") != "Bearer sesame":
            raise uvrpc.Unauthenticated(f"{call.route} needs a token")
        call.call.set_trailer("x-user", "ali")
        return await proceed()


class Token:
    """Adds the token to each call's headers; keeps the replies' trailers."""

    def __init__(self) -> None:
        self.trailers: list[dict[str, Any]] = []
        self.headers: list[dict[str, Any]] = []

    async def intercept_client(
        self, call: uvrpc.ClientCallInfo, proceed: Proceed
    ) -> Any:
        self.headers.append(dict(call.metadata))
        call.metadata["authorization"] = "Bearer sesame"
        try:
            return await proceed()
        finally:
            self.trailers.append(dict(call.trailers))

    def intercept_sync(self, call: uvrpc.ClientCallInfo, proceed: SyncProceed) -> Any:
        call.metadata["authorization"] = "Bearer sesame"
        try:
            return proceed()
        finally:
            self.trailers.append(dict(call.trailers))


class Cache:
    """Answers a call it answered before from memory, sending nothing."""

    def __init__(self) -> None:
        self.results: dict[tuple[str, tuple[Any, ...]], Any] = {}

    def _key(self, call: uvrpc.ClientCallInfo) -> tuple[str, tuple[Any, ...]]:
        return call.route, tuple(sorted(call.args.items()))

    async def intercept_client(
        self, call: uvrpc.ClientCallInfo, proceed: Proceed
    ) -> Any:
        key = self._key(call)
        if key not in self.results:
            self.results[key] = await proceed()
        return self.results[key]

    def intercept_sync(self, call: uvrpc.ClientCallInfo, proceed: SyncProceed) -> Any:
        key = self._key(call)
        if key not in self.results:
            self.results[key] = proceed()
        return self.results[key]


@contextlib.asynccontextmanager
async def calculator(
    place: str,
    tmp_path: Path,
    *,
    server: Sequence[uvrpc.ServerInterceptor] = (),
    client: Sequence[uvrpc.ClientInterceptor] = (),
    service: uvrpc.ServiceBase | None = None,
) -> AsyncIterator[CalculatorClient]:
    """A calculator client whose calls go through ``client`` to a calculator
    served through ``server``, in memory or on tcp loopback."""
    implementation = service if service is not None else Calculator()
    if place == "memory":
        channel = uvrpc.testing.memory_channel(
            implementation, interceptors=client, server_interceptors=server
        )
        async with channel, CalculatorClient(channel) as calc:
            yield calc
        return
    async with uvrpc.Server(implementation, interceptors=server) as running:
        endpoint = running.bind("tcp://127.0.0.1:*")
        async with CalculatorClient(endpoint, interceptors=client) as calc:
            yield calc


PLACES = ("memory", "tcp")


@pytest.mark.parametrize("place", PLACES)
@in_loop
async def test_first_interceptor_is_outermost_on_both_sides(
    place: str, tmp_path: Path
) -> None:
    log: list[str] = []
    server = [Recorder("a", log), Recorder("b", log)]
    client = [Recorder("x", log), Recorder("y", log)]
    async with calculator(place, tmp_path, server=server, client=client) as calc:
        assert await calc.add(a=1, b=2) == 3
    assert log == [
        f"client x enter {ADD}",
        f"client y enter {ADD}",
        f"server a enter unary {ADD}",
        f"server b enter unary {ADD}",
        "server b exit",
        "server a exit",
        "client y exit",
        "client x exit",
    ]


@pytest.mark.parametrize("place", PLACES)
@in_loop
async def test_interceptors_read_and_set_metadata(place: str, tmp_path: Path) -> None:
    token = Token()
    async with calculator(place, tmp_path, server=[Auth()], client=[token]) as calc:
        with uvrpc.metadata({"x-request-id": "7"}) as md:
            assert await calc.add(a=2, b=2) == 4
        # The enclosing block's headers reach the interceptor, and the reply's
        # trailers (set by the server's interceptor) reach both.
        assert token.headers == [{"x-request-id": "7"}]
        assert token.trailers == [{"x-user": "ali"}]
        assert md.trailers == {"x-user": "ali"}
        assert await calc.add(a=1, b=1) == 2  # outside any block
        assert token.trailers[-1] == {"x-user": "ali"}


@pytest.mark.parametrize("place", PLACES)
@in_loop
async def test_auth_refuses_before_the_handler_runs(place: str, tmp_path: Path) -> None:
    service = Calculator()
    async with calculator(place, tmp_path, server=[Auth()], service=service) as calc:
        with pytest.raises(uvrpc.Unauthenticated, match="needs a token"):
            await calc.add(a=1, b=2)
        with uvrpc.metadata({"authorization": "Bearer wrong"}):
            with pytest.raises(uvrpc.Unauthenticated):
                await calc.add(a=1, b=2)
        assert service.calls == 0
        with uvrpc.metadata({"authorization": "Bearer sesame"}) as md:
            assert await calc.add(a=1, b=2) == 3
        assert md.trailers == {"x-user": "ali"}
        assert service.calls == 1


@pytest.mark.parametrize("place", PLACES)
@in_loop
async def test_server_interceptor_sees_status_and_timing(
    place: str, tmp_path: Path
) -> None:
    observer = Observer()
    async with calculator(place, tmp_path, server=[observer]) as calc:
        assert await calc.add(a=1, b=2) == 3
        with pytest.raises(uvrpc.RemoteError, match="ZeroDivisionError"):
            await calc.divide(a=1, b=0)
    routes = [(route, status) for route, status, _ in observer.seen]
    assert routes == [
        (ADD, uvrpc.Status.OK),
        ("calculator.Calculator.divide", uvrpc.Status.UNKNOWN),
    ]
    assert all(seconds >= 0 for _, _, seconds in observer.seen)


@in_loop
async def test_server_interceptor_sees_a_deadline_and_a_slow_call(
    tmp_path: Path,
) -> None:
    observer = Observer()
    feed = Feed()
    async with uvrpc.Server(feed, interceptors=[observer]) as server:
        endpoint = server.bind("tcp://127.0.0.1:*")
        async with FeedClient(endpoint) as client:
            assert await client.ping(n=-1) == -1  # sleeps a tenth of a second
            # A request with a deadline of 50 ms from a client that never cancels
            # it: a uvrpc client's own deadline sends a CANCEL, which may reach
            # the server before the server's timer fires (CANCELLED, not
            # DEADLINE_EXCEEDED), as its timer starts when the request arrives.
            header = msgpack.packb([V, 1, 7, "feed.Feed.ping", 50])
            reply = await asyncio.to_thread(
                exchange, endpoint, [b"", header, msgpack.packb({"1": -50})], 10
            )
            assert reply is not None
            assert msgpack.unpackb(reply[1])[3] == uvrpc.Status.DEADLINE_EXCEEDED
            await observer.wait_for(2)
            await client.ping(n=1)
    assert [s for _, s, _ in observer.seen] == [
        uvrpc.Status.OK,
        uvrpc.Status.DEADLINE_EXCEEDED,
        uvrpc.Status.OK,
    ]
    assert observer.seen[0][2] >= 0.1  # it slept that long at least


@in_loop
async def test_a_stream_past_its_deadline_ends_deadline_exceeded() -> None:
    """A stream call still running at its deadline ends DEADLINE_EXCEEDED for the
    server's interceptors (metrics, logs, spans), as a unary call does, whether
    the server's timer ends it or the CANCEL its client sends at its deadline,
    not CANCELLED as if its caller had given up early."""
    observer = Observer()
    async with uvrpc.Server(Feed(delay=0.05), interceptors=[observer]) as server:
        endpoint = server.bind("tcp://127.0.0.1:*")
        async with FeedClient(endpoint) as client:
            # A uvrpc client sends CANCEL at its deadline.
            with pytest.raises(uvrpc.DeadlineExceeded):
                async for _ in client.ticks(count=1000, size=0, timeout=0.2):
                    pass
            await observer.wait_for(1)
            # A caller that never cancels: the server's own timer ends it.
            header = msgpack.packb([V, 1, 7, "feed.Feed.ticks", 200, 10_000])
            frames = [b"", header, msgpack.packb({"1": 1000, "2": 0})]
            sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
            with contextlib.closing(sock):
                sock.setsockopt(zmq.LINGER, 0)
                sock.connect(endpoint)
                sock.send_multipart(frames)
                await asyncio.wait_for(observer.wait_for(2), 5)
            # Closed early by its caller, before the deadline: CANCELLED.
            async with client.ticks(count=1000, size=0, timeout=30) as ticks:
                async for tick in ticks:
                    if tick.seq == 2:
                        break
            await asyncio.wait_for(observer.wait_for(3), 5)
    assert [s for _, s, _ in observer.seen] == [
        uvrpc.Status.DEADLINE_EXCEEDED,
        uvrpc.Status.DEADLINE_EXCEEDED,
        uvrpc.Status.CANCELLED,
    ]


@in_loop
async def test_a_cancel_that_says_the_deadline_passed_ends_the_call_expired() -> None:
    """A client sends CANCEL at its deadline, which the server may read before
    its own deadline for the call (that counts from when it read the request,
    later than the client sent it). The CANCEL says why: one that says the
    deadline passed ends the call DEADLINE_EXCEEDED, a unary call or a stream,
    however far the server's own deadline is; one that does not, CANCELLED."""
    observer = Observer()
    feed = Feed(delay=0.05)
    async with uvrpc.Server(feed, interceptors=[observer]) as server:
        endpoint = server.bind("tcp://127.0.0.1:*")
        sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
        with contextlib.closing(sock):
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(endpoint)
            calls = [
                (1, ["feed.Feed.ping", 60_000], {"1": -50}, 4),
                (2, ["feed.Feed.ticks", 60_000, 10_000], {"1": 1000, "2": 0}, 4),
                (3, ["feed.Feed.ping", 60_000], {"1": -50}, 0),
                (4, ["feed.Feed.ticks", 60_000, 10_000], {"1": 1000, "2": 0}, 0),
            ]
            for count, (call_id, fields, body, why) in enumerate(calls, 1):
                header = msgpack.packb([V, 1, call_id, *fields])
                feed.started.clear()
                sock.send_multipart([b"", header, msgpack.packb(body)])
                if fields[0] == "feed.Feed.ticks":  # cancelled once it runs
                    await asyncio.wait_for(feed.started.wait(), 5)
                sock.send_multipart([b"", msgpack.packb([V, 5, call_id, why]), b"\xc0"])
                await asyncio.wait_for(observer.wait_for(count), 5)
    assert [s for _, s, _ in observer.seen] == [
        uvrpc.Status.DEADLINE_EXCEEDED,
        uvrpc.Status.DEADLINE_EXCEEDED,
        uvrpc.Status.CANCELLED,
        uvrpc.Status.CANCELLED,
    ]
    stats = server.stats
    assert (stats.expired, stats.cancelled, stats.stale) == (1, 1, 0)


class Stubborn(Calculator):
    """An ``add`` that swallows its call's cancellation and answers anyway."""

    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()

    async def add(self, *, a: int, b: int) -> int:
        self.started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            pass  # the mistake: the call goes on as if nothing happened
        return a + b


@in_loop
async def test_a_unary_handler_swallowing_its_cancel_ends_as_its_caller_saw() -> None:
    """A handler that swallows its call's cancellation and returns: the
    interceptors (metrics, logs, spans) see the call end CANCELLED, or
    DEADLINE_EXCEEDED at its deadline, as its caller did, not OK; and the caller
    that cancelled is sent no result."""
    observer = Observer()
    stubborn = Stubborn()
    async with uvrpc.Server(stubborn, interceptors=[observer]) as server:
        endpoint = server.bind("tcp://127.0.0.1:*")
        sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
        with contextlib.closing(sock):
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(endpoint)
            for count, (call_id, why) in enumerate([(1, 0), (2, 4)], 1):
                header = msgpack.packb([V, 1, call_id, "calculator.Calculator.add"])
                stubborn.started.clear()
                sock.send_multipart([b"", header, msgpack.packb({"1": 1, "2": 2})])
                await asyncio.wait_for(stubborn.started.wait(), 5)
                sock.send_multipart([b"", msgpack.packb([V, 5, call_id, why]), b"\xc0"])
                await asyncio.wait_for(observer.wait_for(count), 5)
            # Only the call past its deadline is answered: DEADLINE_EXCEEDED.
            reply = await asyncio.wait_for(asyncio.to_thread(sock.recv_multipart), 5)
            assert msgpack.unpackb(reply[1])[2:4] == [2, uvrpc.Status.DEADLINE_EXCEEDED]
            assert not sock.poll(200)
    assert [s for _, s, _ in observer.seen] == [
        uvrpc.Status.CANCELLED,
        uvrpc.Status.DEADLINE_EXCEEDED,
    ]


@pytest.mark.parametrize("place", PLACES)
@in_loop
async def test_client_cache_answers_without_a_request(
    place: str, tmp_path: Path
) -> None:
    service = Calculator()
    cache = Cache()
    async with calculator(place, tmp_path, client=[cache], service=service) as calc:
        assert await calc.add(a=20, b=22) == 42
        assert await calc.add(a=20, b=22) == 42
        assert await calc.add(a=1, b=1) == 2
    assert service.calls == 2


@in_loop
async def test_client_interceptor_can_change_the_call(tmp_path: Path) -> None:
    class Double:
        async def intercept_client(
            self, call: uvrpc.ClientCallInfo, proceed: Proceed
        ) -> Any:
            call.args = {name: value * 2 for name, value in call.args.items()}
            return await proceed()

    async with calculator("memory", tmp_path, client=[Double()]) as calc:
        assert await calc.add(a=1, b=2) == 6


@in_loop
async def test_client_interceptor_sees_the_error(tmp_path: Path) -> None:
    seen: list[uvrpc.Status] = []

    class Errors:
        async def intercept_client(
            self, call: uvrpc.ClientCallInfo, proceed: Proceed
        ) -> Any:
            try:
                return await proceed()
            except BaseException as exc:
                seen.append(uvrpc.status_of(exc))
                raise

    async with calculator("tcp", tmp_path, client=[Errors()]) as calc:
        with pytest.raises(uvrpc.RemoteError):
            await calc.divide(a=1, b=0)
    assert seen == [uvrpc.Status.UNKNOWN]


@in_loop
async def test_stream_calls_are_intercepted_whole() -> None:
    log: list[str] = []
    feed = Feed()
    channel = uvrpc.testing.memory_channel(
        feed, server_interceptors=[Recorder("a", log)]
    )
    async with channel:
        client = FeedClient(channel)
        ticks = [tick.seq async for tick in client.ticks(count=3, size=0)]
        assert ticks == [0, 1, 2]

        async def upload() -> AsyncIterator[Tick]:
            for seq in range(4):
                yield Tick(seq=seq)

        total = await client.upload(ticks=upload(), label="x")
        assert total.count == 4
    assert log == [
        "server a enter server_stream feed.Feed.ticks",
        "server a exit",
        "server a enter client_stream feed.Feed.upload",
        "server a exit",
    ]


@in_loop
async def test_auth_refuses_a_stream_call(tmp_path: Path) -> None:
    feed = Feed()
    async with uvrpc.Server(feed, interceptors=[Auth()]) as server:
        endpoint = server.bind("tcp://127.0.0.1:*")
        async with FeedClient(endpoint) as client:
            with pytest.raises(uvrpc.Unauthenticated):
                async for _ in client.ticks(count=3, size=0):
                    pass
            assert not feed.started.is_set()
            with uvrpc.metadata({"authorization": "Bearer sesame"}):
                seqs = [tick.seq async for tick in client.ticks(count=2, size=0)]
            assert seqs == [0, 1]


@in_loop
async def test_oneway_calls_are_intercepted() -> None:
    log: list[str] = []
    feed = Feed()
    channel = uvrpc.testing.memory_channel(
        feed, interceptors=[Recorder("x", log)], server_interceptors=[Auth()]
    )
    async with channel:
        client = FeedClient(channel)
        await client.notify(text="refused")  # nothing comes back, even an error
        with uvrpc.metadata({"authorization": "Bearer sesame"}):
            await client.notify(text="taken")
        with pytest.raises(uvrpc.Unauthenticated):
            await client.ping(n=1)
    assert feed.notes == ["taken"]
    assert log[:2] == ["client x enter feed.Feed.notify", "client x exit"]


def test_sync_client_interceptors() -> None:
    log: list[str] = []
    service = Calculator()
    token = Token()
    cache = Cache()
    with server_thread(service, interceptors=[Recorder("a", log), Auth()]) as s:
        interceptors: list[uvrpc.SyncClientInterceptor] = [
            Recorder("x", log),
            cache,
            token,
        ]
        with CalculatorSyncClient(s.endpoint, interceptors=interceptors) as calc:
            with uvrpc.metadata({"x-request-id": "1"}) as md:
                assert calc.add(a=1, b=2) == 3
            assert md.trailers == {"x-user": "ali"}
            assert calc.add(a=1, b=2) == 3  # from the cache
        with CalculatorSyncClient(s.endpoint) as bare:
            with pytest.raises(uvrpc.Unauthenticated):
                bare.add(a=1, b=2)
    assert token.trailers == [{"x-user": "ali"}]
    assert service.calls == 1
    assert log == [
        f"sync x enter {ADD}",
        f"server a enter unary {ADD}",
        "server a exit",
        "sync x exit",
        f"sync x enter {ADD}",
        "sync x exit",
        f"server a enter unary {ADD}",
        "server a exit",
    ]


@in_loop
async def test_a_given_channel_keeps_its_own_interceptors() -> None:
    async with uvrpc.testing.memory_channel(Calculator()) as channel:
        with pytest.raises(ValueError, match="interceptors="):
            CalculatorClient(channel, interceptors=[Cache()])


@pytest.mark.parametrize("place", PLACES)
@in_loop
async def test_logging_interceptor_logs_one_line_per_call(
    place: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = uvrpc.LoggingInterceptor()
    caplog.set_level(logging.INFO, logger="uvrpc.calls")
    async with calculator(place, tmp_path, server=[log], client=[log]) as calc:
        await calc.add(a=1, b=2)
        with pytest.raises(uvrpc.RemoteError):
            await calc.divide(a=1, b=0)
    lines = [r.getMessage() for r in caplog.records if r.name == "uvrpc.calls"]
    assert len(lines) == 4
    assert lines[0].startswith(f"server {ADD} OK ")
    assert lines[0].endswith(" ms")
    assert lines[1].startswith(f"client {ADD} OK ")
    assert lines[2].startswith("server calculator.Calculator.divide UNKNOWN ")
    assert lines[2].endswith(
        " ms: ZeroDivisionError: integer division or modulo by zero"
    )  # as the caller reads it
    assert "ZeroDivisionError" in lines[3]
    assert lines[3].startswith("client calculator.Calculator.divide UNKNOWN ")


FIELDS = (
    "rpc_side",
    "rpc_route",
    "rpc_kind",
    "rpc_status",
    "rpc_status_code",
    "peer",
    "rpc_error",
)


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The call's fields a record carries as attributes, but the duration."""
    return {name: getattr(record, name) for name in FIELDS}


@pytest.mark.parametrize("place", PLACES)
@in_loop
async def test_logging_interceptor_records_carry_the_calls_fields(
    place: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = uvrpc.LoggingInterceptor()
    caplog.set_level(logging.INFO, logger="uvrpc.calls")
    async with calculator(place, tmp_path, server=[log], client=[log]) as calc:
        await calc.add(a=1, b=2)
        with pytest.raises(uvrpc.RemoteError):
            await calc.divide(a=1, b=0)
    records = [r for r in caplog.records if r.name == "uvrpc.calls"]
    ok: dict[str, Any] = {"rpc_route": ADD, "rpc_kind": "unary", "rpc_status": "OK"}
    ok |= {"rpc_status_code": 0, "peer": None, "rpc_error": None}
    failed: dict[str, Any] = {
        "rpc_route": "calculator.Calculator.divide",
        "rpc_kind": "unary",
        "rpc_status": "UNKNOWN",
        "rpc_status_code": 2,
        "peer": None,
    }
    division = "ZeroDivisionError: integer division or modulo by zero"
    assert [fields(record) for record in records] == [
        {"rpc_side": "server", **ok},
        {"rpc_side": "client", **ok},
        {"rpc_side": "server", **failed, "rpc_error": division},
        {"rpc_side": "client", **failed, "rpc_error": division},
    ]
    for record in records:
        duration = getattr(record, "duration_ms")  # noqa: B009 - set by extra=
        assert isinstance(duration, float) and duration >= 0
        # The line shows the same duration the record carries.
        assert f" {duration:.3f} ms" in record.getMessage()


def test_logging_interceptor_names_a_curve_callers_key_as_peer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from uvrpc.security import ClientSecurity, ServerSecurity, generate_keypair

    server_keys, client_keys = generate_keypair(), generate_keypair()
    caplog.set_level(logging.INFO, logger="uvrpc.calls")
    log = uvrpc.LoggingInterceptor()
    security = ServerSecurity(server_keys, allow=[client_keys.public])
    with server_thread(Calculator(), security=security, interceptors=[log]) as s:
        with CalculatorSyncClient(
            s.endpoint,
            timeout=10,
            security=ClientSecurity(server_keys.public, client_keys),
            interceptors=[log],
        ) as calc:
            assert calc.add(a=1, b=2) == 3
    records = [r for r in caplog.records if r.name == "uvrpc.calls"]
    assert [(fields(r)["rpc_side"], fields(r)["peer"]) for r in records] == [
        ("server", client_keys.public),
        ("client", None),
    ]


def test_logging_interceptor_on_a_sync_channel(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="test.calls")
    log = uvrpc.LoggingInterceptor(logging.getLogger("test.calls"), level=10)
    with server_thread(Calculator()) as s:
        with CalculatorSyncClient(s.endpoint, interceptors=[log]) as calc:
            calc.add(a=1, b=2)
    [record] = [r for r in caplog.records if r.name == "test.calls"]
    assert record.levelno == logging.DEBUG
    assert record.getMessage().startswith(f"client {ADD} OK ")
