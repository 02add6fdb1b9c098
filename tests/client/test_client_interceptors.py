"""Client interceptors around stream calls and started calls, on both clients.

For each kind of stream (server, client, bidirectional) and for a call started
with ``start_<method>``, interceptors run in order, their metadata reaches the
handler, they see an error raised mid-stream with its status, one may refuse the
call before anything is sent, and ``proceed`` returns when the call really ends,
so the shipped metrics and logging interceptors record the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterator
from typing import Any, ParamSpec

import feed
import pytest
from conftest import server_thread
from feed import FeedClient, FeedSyncClient, Tick, Total
from feed_server import Feed

import uvrpc
import uvrpc.metrics
import uvrpc.testing
from uvrpc.interceptors import Proceed, SyncProceed

P = ParamSpec("P")

TICKS = "feed.Feed.ticks"
UPLOAD = "feed.Feed.upload"
ECHO = "feed.Feed.echo"
PING = "feed.Feed.ping"
FEED_ECHO = next(
    method for method in vars(feed).values() if getattr(method, "route", "") == ECHO
)
FAIL = 99
"""A tick or a ping carrying this number makes the handler fail."""


def in_loop(test: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Run an async test in a loop of its own, for ten seconds at most."""

    @functools.wraps(test)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(asyncio.wait_for(test(*args, **kwargs), 10))

    return run


class Watched(Feed):
    """The feed service, recording each handler's metadata and failing on
    :data:`FAIL` (mid-stream for the streams)."""

    def __init__(self) -> None:
        super().__init__()
        self.metadata: list[dict[str, Any]] = []
        self.pings: list[int] = []

    def _seen(self) -> None:
        self.metadata.append(dict(uvrpc.current_call().metadata))

    async def ping(self, *, n: int) -> int:
        self._seen()
        self.pings.append(n)
        if n == FAIL:
            raise uvrpc.NotFound(f"no {n}")
        return await super().ping(n=n)

    async def ticks(self, *, count: int, size: int) -> AsyncIterator[Tick]:
        self._seen()
        async for tick in super().ticks(count=abs(count), size=size):
            yield tick
        if count < 0:
            raise uvrpc.NotFound("no more ticks")

    async def upload(self, *, ticks: AsyncIterator[Tick], label: str) -> Total:
        self._seen()
        total = await super().upload(ticks=ticks, label=label)
        if any(tick.seq == FAIL for tick in self.received):
            raise uvrpc.NotFound("a tick too far")
        return total

    async def echo(self, *, ticks: AsyncIterator[Tick]) -> AsyncIterator[Tick]:
        self._seen()
        async for tick in super().echo(ticks=ticks):
            if tick.seq == FAIL:
                raise uvrpc.NotFound("a tick too far")
            yield tick


class Recorder:
    """Logs entering and leaving each call, with how it ended."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    def _left(self, error: BaseException | None) -> None:
        self.log.append(f"{self.name} exit {uvrpc.status_of(error).name}")

    async def intercept_client(
        self, call: uvrpc.ClientCallInfo, proceed: Proceed
    ) -> Any:
        self.log.append(f"{self.name} enter {call.kind} {call.route}")
        try:
            result = await proceed()
        except BaseException as exc:
            self._left(exc)
            raise
        self._left(None)
        return result

    def intercept_sync(self, call: uvrpc.ClientCallInfo, proceed: SyncProceed) -> Any:
        self.log.append(f"{self.name} enter {call.kind} {call.route}")
        try:
            result = proceed()
        except BaseException as exc:
            self._left(exc)
            raise
        self._left(None)
        return result


class Token:
    """Adds a header to each call."""

    async def intercept_client(
        self, call: uvrpc.ClientCallInfo, proceed: Proceed
    ) -> Any:
        call.metadata["authorization"] = "Bearer sesame"
        return await proceed()

    def intercept_sync(self, call: uvrpc.ClientCallInfo, proceed: SyncProceed) -> Any:
        call.metadata["authorization"] = "Bearer sesame"
        return proceed()


class Deny:
    """Refuses every call but pings, before anything is sent."""

    def _check(self, call: uvrpc.ClientCallInfo) -> None:
        if call.route != PING:
            raise uvrpc.PermissionDenied(f"not allowed: {call.route}")

    async def intercept_client(
        self, call: uvrpc.ClientCallInfo, proceed: Proceed
    ) -> Any:
        self._check(call)
        return await proceed()

    def intercept_sync(self, call: uvrpc.ClientCallInfo, proceed: SyncProceed) -> Any:
        self._check(call)
        return proceed()


async def ticks(*seqs: int) -> AsyncIterator[Tick]:
    for seq in seqs:
        yield Tick(seq=seq)


async def make(client: FeedClient, kind: str, *seqs: int) -> list[int]:
    """Make a call of ``kind``; the numbers it got back (``[count]`` for an
    upload, ``[n]`` for a started ping)."""
    if kind == "server_stream":
        count = len(seqs) if FAIL not in seqs else -len(seqs)
        return [tick.seq async for tick in client.ticks(count=count)]
    if kind == "client_stream":
        return [(await client.upload(ticks=ticks(*seqs))).count]
    if kind == "bidi_stream":
        return [tick.seq async for tick in client.echo(ticks=ticks(*seqs))]
    call = client.start_ping(n=seqs[0] if seqs else 0)
    try:
        return [await call]
    finally:
        call.release()


ROUTES = {
    "server_stream": TICKS,
    "client_stream": UPLOAD,
    "bidi_stream": ECHO,
    "started": PING,
}
KINDS = tuple(ROUTES)


@contextlib.asynccontextmanager
async def feed_client(
    place: str, service: Feed, interceptors: list[Any]
) -> AsyncIterator[FeedClient]:
    """A feed client through ``interceptors``, in memory or on tcp loopback."""
    if place == "memory":
        channel = uvrpc.testing.memory_channel(service, interceptors=interceptors)
        async with channel, FeedClient(channel, timeout=10) as client:
            yield client
        return
    async with uvrpc.Server(service) as server:
        endpoint = server.bind("tcp://127.0.0.1:*")
        async with FeedClient(endpoint, timeout=10, interceptors=interceptors) as c:
            yield c


@pytest.mark.parametrize("place", ["memory", "tcp"])
@pytest.mark.parametrize("kind", KINDS)
@in_loop
async def test_interceptors_run_in_order_until_the_call_ends(
    kind: str, place: str
) -> None:
    log: list[str] = []
    service = Watched()
    client_interceptors = [Recorder("a", log), Recorder("b", log)]
    async with feed_client(place, service, client_interceptors) as client:
        got = await make(client, kind, 1, 2, 3)
        # By the time the caller has the last item (or the result), both
        # interceptors have left: their proceed() returned when the call ended.
        kind_name = "unary" if kind == "started" else kind
        assert log == [
            f"a enter {kind_name} {ROUTES[kind]}",
            f"b enter {kind_name} {ROUTES[kind]}",
            "b exit OK",
            "a exit OK",
        ]
    expected = {
        "server_stream": [0, 1, 2],
        "client_stream": [3],
        "bidi_stream": [1, 2, 3],
        "started": [1],
    }
    assert got == expected[kind]


@pytest.mark.parametrize("kind", KINDS)
@in_loop
async def test_metadata_set_by_an_interceptor_reaches_the_handler(kind: str) -> None:
    service = Watched()
    async with feed_client("tcp", service, [Token()]) as client:
        with uvrpc.metadata({"x-request-id": "7"}):
            await make(client, kind, 1)
        await make(client, kind, 1)
    assert service.metadata == [
        {"x-request-id": "7", "authorization": "Bearer sesame"},
        {"authorization": "Bearer sesame"},
    ]


@pytest.mark.parametrize("kind", KINDS)
@in_loop
async def test_an_error_mid_stream_reaches_the_interceptors_with_its_status(
    kind: str,
) -> None:
    log: list[str] = []
    got: list[int] = []
    async with feed_client("tcp", Watched(), [Recorder("a", log)]) as client:
        with pytest.raises(uvrpc.NotFound):
            if kind in ("server_stream", "bidi_stream"):
                stream = (
                    client.ticks(count=-2)
                    if kind == "server_stream"
                    else client.echo(ticks=ticks(0, 1, FAIL))
                )
                async for tick in stream:
                    got.append(tick.seq)
            else:
                await make(client, kind, FAIL)
    if kind in ("server_stream", "bidi_stream"):
        assert got == [0, 1]  # the items before the error reached the caller
    assert log[-1] == "a exit NOT_FOUND"


@pytest.mark.parametrize("kind", KINDS)
@in_loop
async def test_an_interceptor_refuses_before_anything_is_sent(kind: str) -> None:
    service = Watched()
    if kind == "started":  # Deny lets pings through: refuse them all here

        class DenyAll:
            async def intercept_client(
                self, call: uvrpc.ClientCallInfo, proceed: Proceed
            ) -> Any:
                raise uvrpc.PermissionDenied("no")

        interceptors: list[Any] = [DenyAll()]
    else:
        interceptors = [Deny()]
    async with feed_client("tcp", service, interceptors) as client:
        with pytest.raises(uvrpc.PermissionDenied):
            await make(client, kind, 1, 2)
        if kind != "started":
            assert await client.ping(n=5) == 5  # sent after the refused call
    assert not service.started.is_set()
    assert service.metadata == ([] if kind == "started" else [{}])
    assert service.pings == ([] if kind == "started" else [5])


@in_loop
async def test_a_refused_stream_raises_when_first_used() -> None:
    async with feed_client("memory", Watched(), [Deny()]) as client:
        stream = client.ticks(count=3)  # nothing runs yet
        with pytest.raises(uvrpc.PermissionDenied):
            async with stream:
                pass


@in_loop
async def test_closing_a_stream_early_ends_its_interceptors_as_cancelled() -> None:
    log: list[str] = []
    service = Watched()
    async with feed_client("tcp", service, [Recorder("a", log)]) as client:
        async with client.ticks(count=1000) as stream:
            async for tick in stream:
                assert tick.seq == 0
                break
        assert log == [f"a enter server_stream {TICKS}", "a exit CANCELLED"]


@in_loop
async def test_cancelling_a_started_call_ends_its_interceptors_as_cancelled() -> None:
    log: list[str] = []
    async with feed_client("tcp", Watched(), [Recorder("a", log)]) as client:
        call = client.start_ping(n=-100)  # ten seconds asleep on the server
        while not log:
            await asyncio.sleep(0)  # the interceptors' task starts
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        call.release()
        assert await client.ping(n=1) == 1
        while len(log) < 4:
            await asyncio.sleep(0)
    # The cancelled call's interceptor left as CANCELLED (the next call may
    # have entered meanwhile: its task runs on).
    assert sorted(log) == sorted(
        [f"a enter unary {PING}", "a exit CANCELLED"]
        + [f"a enter unary {PING}", "a exit OK"]
    )


@pytest.mark.parametrize("kind", KINDS)
@in_loop
async def test_metrics_count_stream_and_started_calls_on_the_client(kind: str) -> None:
    metrics = uvrpc.metrics.MetricsRegistry()
    async with feed_client("memory", Watched(), [metrics.interceptor]) as client:
        await make(client, kind, 1, 2)
        with pytest.raises(uvrpc.NotFound):
            await make(client, kind, FAIL)
    route = metrics.snapshot()["client"][ROUTES[kind]]
    assert route["calls"] == 2
    assert route["errors"] == {"NOT_FOUND": 1}
    assert route["latency"]["count"] == 2


@in_loop
async def test_logging_interceptor_logs_a_stream_call_once_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="uvrpc.calls")
    log = uvrpc.LoggingInterceptor()
    async with feed_client("memory", Watched(), [log]) as client:
        assert await make(client, "server_stream", 1, 2) == [0, 1]
        with pytest.raises(uvrpc.NotFound):
            await make(client, "bidi_stream", FAIL)
    lines = [r.getMessage() for r in caplog.records if r.name == "uvrpc.calls"]
    assert len(lines) == 2
    assert lines[0].startswith(f"client {TICKS} OK ")
    assert lines[1].startswith(f"client {ECHO} NOT_FOUND ")


# --- the blocking client -------------------------------------------------------

SYNC_KINDS = ("server_stream", "client_stream", "bidi_stream")


def sync_make(client: FeedSyncClient, kind: str, *seqs: int) -> list[int]:
    if kind == "server_stream":
        count = len(seqs) if FAIL not in seqs else -len(seqs)
        return [tick.seq for tick in client.ticks(count=count)]
    if kind == "bidi_stream":
        items = [Tick(seq=seq) for seq in seqs]
        return [tick.seq for tick in client.echo(ticks=items)]
    return [client.upload(ticks=[Tick(seq=seq) for seq in seqs]).count]


@contextlib.contextmanager
def sync_client(service: Feed, interceptors: list[Any]) -> Iterator[FeedSyncClient]:
    with server_thread(service) as running:
        with FeedSyncClient(
            running.endpoint, timeout=10, interceptors=interceptors
        ) as client:
            yield client


@pytest.mark.parametrize("kind", SYNC_KINDS)
def test_sync_interceptors_run_in_order_until_the_call_ends(kind: str) -> None:
    log: list[str] = []
    with sync_client(Watched(), [Recorder("a", log), Recorder("b", log)]) as client:
        got = sync_make(client, kind, 1, 2, 3)
        assert log == [
            f"a enter {kind} {ROUTES[kind]}",
            f"b enter {kind} {ROUTES[kind]}",
            "b exit OK",
            "a exit OK",
        ]
        assert got == {"server_stream": [0, 1, 2], "bidi_stream": [1, 2, 3]}.get(
            kind, [3]
        )


@pytest.mark.parametrize("kind", SYNC_KINDS)
def test_sync_metadata_set_by_an_interceptor_reaches_the_handler(kind: str) -> None:
    service = Watched()
    with sync_client(service, [Token()]) as client:
        with uvrpc.metadata({"x-request-id": "7"}):
            sync_make(client, kind, 1)
    assert service.metadata == [{"x-request-id": "7", "authorization": "Bearer sesame"}]


@pytest.mark.parametrize("kind", SYNC_KINDS)
def test_sync_error_mid_stream_reaches_the_interceptors(kind: str) -> None:
    log: list[str] = []
    got: list[int] = []
    with sync_client(Watched(), [Recorder("a", log)]) as client:
        with pytest.raises(uvrpc.NotFound):
            if kind == "server_stream":
                for tick in client.ticks(count=-2):
                    got.append(tick.seq)
            else:
                sync_make(client, kind, FAIL)
        assert log[-1] == "a exit NOT_FOUND"
    if kind == "server_stream":
        assert got == [0, 1]


@pytest.mark.parametrize("kind", SYNC_KINDS)
def test_sync_interceptor_refuses_before_anything_is_sent(kind: str) -> None:
    service = Watched()
    with sync_client(service, [Deny()]) as client:
        with pytest.raises(uvrpc.PermissionDenied):
            sync_make(client, kind, 1, 2)
        assert client.ping(n=5) == 5  # sent after the refused call
    assert service.metadata == [{}]  # the ping's
    assert not service.started.is_set()


def test_sync_closing_a_stream_early_ends_its_interceptors_as_cancelled() -> None:
    log: list[str] = []
    with sync_client(Watched(), [Recorder("a", log)]) as client:
        stream = client.ticks(count=1000)
        assert next(stream).seq == 0
        assert isinstance(stream, Generator)
        stream.close()
        assert log == [f"a enter server_stream {TICKS}", "a exit CANCELLED"]
        assert client.ping(n=1) == 1  # the channel is free again


class Interrupting:
    """Interrupts the caller's thread (SIGALRM, whose handler raises
    KeyboardInterrupt) while the caller waits for a ticks stream to proceed,
    then proceeds once :attr:`release` is set."""

    def __init__(self, log: list[str]) -> None:
        self.recorder = Recorder("a", log)
        self.main = threading.main_thread().ident
        self.release = threading.Event()

    def intercept_sync(self, call: uvrpc.ClientCallInfo, proceed: SyncProceed) -> Any:
        if call.route != TICKS:
            return proceed()

        def later() -> Any:
            assert self.main is not None
            signal.pthread_kill(self.main, signal.SIGALRM)
            assert self.release.wait(5)
            return proceed()

        return self.recorder.intercept_sync(call, later)


def interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def interceptor_thread() -> threading.Thread | None:
    """The thread a blocking ticks stream's interceptors run on, if any."""
    for thread in threading.enumerate():
        if thread.name == f"uvrpc {TICKS}":
            return thread
    return None


def assert_ended(thread: threading.Thread | None) -> None:
    assert thread is not None
    thread.join(5)
    assert not thread.is_alive()


def test_sync_stream_interrupted_before_proceed_ends_its_interceptors() -> None:
    log: list[str] = []
    interceptor = Interrupting(log)
    service = Watched()
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        with sync_client(service, [interceptor]) as client:
            with pytest.raises(KeyboardInterrupt):
                next(client.ticks(count=3))
            thread = interceptor_thread()
            interceptor.release.set()
            assert_ended(thread)
            assert log == [f"a enter server_stream {TICKS}", "a exit CANCELLED"]
            assert client.ping(n=1) == 1  # the channel is free
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert service.metadata == [{}]  # the ping's: the stream was never sent


def test_sync_stream_interrupted_mid_stream_ends_its_interceptors_as_cancelled() -> (
    None
):
    log: list[str] = []
    with sync_client(Watched(), [Recorder("a", log)]) as client:
        stream = client.ticks(count=1000)
        assert next(stream).seq == 0
        thread = interceptor_thread()
        assert isinstance(stream, Generator)
        with pytest.raises(KeyboardInterrupt):
            stream.throw(KeyboardInterrupt())
        assert_ended(thread)
        assert log == [f"a enter server_stream {TICKS}", "a exit CANCELLED"]
        assert client.ping(n=1) == 1


def test_sync_stream_dropped_after_a_break_ends_its_interceptors() -> None:
    log: list[str] = []
    with sync_client(Watched(), [Recorder("a", log)]) as client:
        thread = None
        for tick in client.ticks(count=1000):
            assert tick.seq == 0
            thread = interceptor_thread()
            break
        gc.collect()  # the stream is closed once dropped
        assert_ended(thread)
        assert log == [f"a enter server_stream {TICKS}", "a exit CANCELLED"]
        assert client.ping(n=1) == 1


def test_sync_stream_dropped_before_its_first_item_runs_no_interceptor() -> None:
    log: list[str] = []
    service = Watched()
    with sync_client(service, [Recorder("a", log)]) as client:
        stream = client.ticks(count=3)
        assert isinstance(stream, Generator)
        stream.close()
        del stream
        gc.collect()
        assert interceptor_thread() is None
        assert client.ping(n=1) == 1
    assert log == [f"a enter unary {PING}", "a exit OK"]
    assert service.metadata == [{}]


@pytest.mark.parametrize("kind", SYNC_KINDS)
def test_sync_metrics_count_stream_calls(kind: str) -> None:
    metrics = uvrpc.metrics.MetricsRegistry()
    with sync_client(Watched(), [metrics.interceptor]) as client:
        sync_make(client, kind, 1, 2)
        with pytest.raises(uvrpc.NotFound):
            sync_make(client, kind, FAIL)
    route = metrics.snapshot()["client"][ROUTES[kind]]
    assert route["calls"] == 2
    assert route["errors"] == {"NOT_FOUND": 1}


def test_interceptors_that_are_not_a_list_of_interceptors_are_refused_at_once() -> None:
    """Given one interceptor where a list goes, or an object that is none, each of
    a channel, a client and a server says so as it is made: not with "'Token'
    object is not iterable", or at the first call with an AttributeError (or a
    TypeError, for an interceptor's class given where an instance goes)."""
    endpoint = "inproc://never-bound"
    for make, method in (
        (lambda given: uvrpc.Channel(endpoint, interceptors=given), "intercept_client"),
        (lambda given: FeedClient(endpoint, interceptors=given), "intercept_client"),
        (
            lambda given: uvrpc.SyncChannel(endpoint, interceptors=given),
            "intercept_sync",
        ),
        (lambda given: FeedSyncClient(endpoint, interceptors=given), "intercept_sync"),
        (lambda given: uvrpc.Server(Feed(), interceptors=given), "intercept_server"),
    ):
        with pytest.raises(TypeError) as refused:
            make(
                Token() if method != "intercept_server" else uvrpc.LoggingInterceptor()
            )
        assert "interceptors= takes a list, interceptors=[" in str(refused.value)
        with pytest.raises(TypeError) as refused:
            make([object()])
        assert str(refused.value).endswith(
            f"(object) is no interceptor here: it has no {method}() method"
        )
        with pytest.raises(TypeError) as refused:
            make([uvrpc.LoggingInterceptor])  # the class, not an instance
        assert str(refused.value) == (
            "LoggingInterceptor is an interceptor class: give an instance of it, "
            "interceptors=[LoggingInterceptor(...)]"
        )
