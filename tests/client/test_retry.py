"""Idempotent methods may be retried on UNAVAILABLE, inside the call's deadline, when
a client asks for it; other methods never are."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from conftest import generate_modules, server_thread

import uvrpc
import uvrpc.testing

IDL = """
namespace flaky;

service Flaky {
    /// Reads a value: safe to send twice.
    idempotent i64 read(1: i32 failures);
    /// Appends: sending it twice appends twice.
    i64 append(1: i32 failures);
}
"""


@pytest.fixture(scope="module")
def flaky(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    modules = generate_modules(tmp_path_factory.mktemp("flaky"), {"flaky.idl": IDL})
    return modules["flaky"]


class Counter:
    """Counts the calls of each method."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {"read": 0, "append": 0}


def implementation(flaky: ModuleType, counter: Counter) -> Any:
    base: Any = flaky.FlakyServer

    class Flaky(base):  # type: ignore[misc]
        """Fails with UNAVAILABLE the first ``failures`` times it is called."""

        async def read(self, *, failures: int) -> int:
            counter.calls["read"] += 1
            if counter.calls["read"] <= failures:
                raise uvrpc.Unavailable("shutting down")
            return counter.calls["read"]

        async def append(self, *, failures: int) -> int:
            counter.calls["append"] += 1
            if counter.calls["append"] <= failures:
                raise uvrpc.Unavailable("shutting down")
            return counter.calls["append"]

    return Flaky()


@pytest.fixture
def served(flaky: ModuleType) -> Iterator[tuple[str, Counter]]:
    counter = Counter()
    with server_thread(implementation(flaky, counter)) as running:
        yield running.endpoint, counter


FAST = uvrpc.Retry(attempts=4, backoff=0.001, max_backoff=0.01)


def test_an_idempotent_call_is_retried_until_it_succeeds(
    flaky: ModuleType, served: tuple[str, Counter]
) -> None:
    endpoint, counter = served

    async def main() -> int:
        async with flaky.FlakyClient(endpoint, timeout=10, retry=FAST) as client:
            return int(await client.read(failures=2))

    assert asyncio.run(main()) == 3
    assert counter.calls["read"] == 3


def test_a_started_idempotent_call_is_retried_as_its_method_is(
    flaky: ModuleType, served: tuple[str, Counter]
) -> None:
    """``start_<method>`` of an idempotent method is retried under the client's
    policy, as the method itself is: it was sent once, and its first
    UNAVAILABLE was the handle's result. One that is not idempotent is not."""
    endpoint, counter = served

    async def main() -> None:
        async with flaky.FlakyClient(endpoint, timeout=10, retry=FAST) as client:
            async with client.start_read(failures=2) as value:
                assert value == 3
            assert counter.calls["read"] == 3
            with pytest.raises(uvrpc.Unavailable):
                await client.start_append(failures=1)
            assert counter.calls["append"] == 1
        patient = uvrpc.Retry(attempts=1000, backoff=0.05, max_backoff=0.05)
        async with flaky.FlakyClient(endpoint, timeout=10, retry=patient) as client:
            # Cancelling the handle ends its retries.
            call = client.start_read(failures=10_000)
            await asyncio.sleep(0.1)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            reads = counter.calls["read"]
            await asyncio.sleep(0.2)
            # An attempt already sent as the handle was cancelled may still run
            # on the server (a CANCEL cannot unsend it); no later one starts,
            # where retries every 50 ms at most would have made four or more.
            assert counter.calls["read"] <= reads + 1

    asyncio.run(asyncio.wait_for(main(), 10))


def test_retries_stop_after_the_attempts(
    flaky: ModuleType, served: tuple[str, Counter]
) -> None:
    endpoint, counter = served
    with flaky.FlakySyncClient(endpoint, timeout=10, retry=FAST) as client:
        with pytest.raises(uvrpc.Unavailable):
            client.read(failures=10)
    assert counter.calls["read"] == 4


def test_a_method_that_is_not_idempotent_is_never_retried(
    flaky: ModuleType, served: tuple[str, Counter]
) -> None:
    endpoint, counter = served
    with flaky.FlakySyncClient(endpoint, timeout=10, retry=FAST) as client:
        with pytest.raises(uvrpc.Unavailable):
            client.append(failures=1)
        assert counter.calls["append"] == 1
        assert client.append(failures=1) == 2


def test_without_a_policy_nothing_is_retried(
    flaky: ModuleType, served: tuple[str, Counter]
) -> None:
    endpoint, counter = served
    with flaky.FlakySyncClient(endpoint, timeout=10) as client:
        with pytest.raises(uvrpc.Unavailable):
            client.read(failures=1)
    assert counter.calls["read"] == 1


def test_retries_stay_inside_the_deadline(
    flaky: ModuleType, served: tuple[str, Counter]
) -> None:
    """With backoffs far longer than the deadline, the call gives up when the next
    wait would pass it: the deadline bounds the whole call, not each attempt. It
    ends with the last attempt's UNAVAILABLE or, when a (jittered) wait left that
    attempt too little of the deadline to be answered in, with
    DEADLINE_EXCEEDED, as a gRPC call whose retries outlast its deadline does."""
    endpoint, counter = served
    patient = uvrpc.Retry(attempts=1000, backoff=0.05, max_backoff=0.05, multiplier=1)

    async def main() -> None:
        async with flaky.FlakyClient(endpoint, retry=patient) as client:
            await client.read(failures=10_000, timeout=0.5)

    started = time.monotonic()
    with pytest.raises((uvrpc.Unavailable, uvrpc.DeadlineExceeded)):
        asyncio.run(main())
    elapsed = time.monotonic() - started
    assert 1 < counter.calls["read"] < 1000
    assert elapsed < 0.5 + 2.0  # the deadline, plus room for a slow machine


def test_waits_are_jittered_below_a_growing_cap() -> None:
    policy = uvrpc.Retry(backoff=0.1, max_backoff=0.3, multiplier=2)
    for retry, cap in enumerate((0.1, 0.2, 0.3, 0.3)):
        waits = [policy.delay(retry) for _ in range(200)]
        assert all(0 <= wait <= cap for wait in waits)
        assert len(set(waits)) > 100  # random, not one fixed value
        assert max(waits) > cap / 2


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"attempts": 0}, "attempts"),
        ({"attempts": 1.5}, "attempts"),
        ({"attempts": True}, "attempts"),
        ({"multiplier": 0.5}, "multiplier"),
        ({"multiplier": float("nan")}, "multiplier"),
        ({"multiplier": float("inf")}, "multiplier"),
        ({"backoff": -0.1}, "backoff"),
        ({"backoff": float("nan")}, "backoff"),
        ({"max_backoff": float("nan")}, "max_backoff"),
        ({"max_backoff": float("inf")}, "max_backoff"),
    ],
)
def test_a_policy_must_make_sense(options: dict[str, Any], named: str) -> None:
    """A NaN cap made every wait NaN, which ``asyncio.sleep`` and ``time.sleep``
    refuse at the first retry, far from the policy that held it."""
    with pytest.raises(ValueError, match=named):
        uvrpc.Retry(**options)
    assert uvrpc.Retry(backoff=0).delay(0) == 0


@pytest.mark.parametrize(
    ("retry", "shown"),
    [
        (3, "int 3; uvrpc.Retry(attempts=3) is 3 attempts"),
        (True, "bool True"),
        (uvrpc.Retry, "type <class 'uvrpc.client.retry.Retry'>"),
    ],
)
def test_a_retry_that_is_no_policy_is_refused_as_the_client_is_made(
    flaky: ModuleType, retry: Any, shown: str
) -> None:
    """Not at the first idempotent call, as an AttributeError of the client's
    insides ('int' object has no attribute 'run')."""
    message = f"retry must be a uvrpc.Retry or None, not {shown}"
    for client in (flaky.FlakyClient, flaky.FlakySyncClient):
        with pytest.raises(TypeError) as refused:
            client("inproc://never-bound", retry=retry)
        assert str(refused.value) == message


def test_a_wait_that_oversleeps_the_deadline_ends_with_the_last_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A loaded machine may wake a retry's wait after the deadline: no attempt is
    then made with no time left (it could only fail as DEADLINE_EXCEEDED)."""
    policy = uvrpc.Retry(attempts=5, backoff=0.01, max_backoff=0.01)
    given: list[float | None] = []
    errors: list[uvrpc.Unavailable] = []

    def attempt(remaining: float | None) -> None:
        given.append(remaining)
        errors.append(uvrpc.Unavailable(f"attempt {len(given)}"))
        raise errors[-1]

    real_sleep = time.sleep
    monkeypatch.setattr(time, "sleep", lambda seconds: real_sleep(0.3))
    with pytest.raises(uvrpc.Unavailable) as caught:
        policy.run_sync(attempt, timeout=0.2)
    assert caught.value is errors[-1] and len(given) == 1

    async def oversleep(seconds: float) -> None:
        await real_async_sleep(0.3)

    async def attempt_async(remaining: float | None) -> None:
        attempt(remaining)

    real_async_sleep = asyncio.sleep
    given.clear()
    monkeypatch.setattr(asyncio, "sleep", oversleep)
    with pytest.raises(uvrpc.Unavailable) as caught:
        asyncio.run(policy.run(attempt_async, timeout=0.2))
    assert caught.value is errors[-1] and len(given) == 1


def test_a_call_on_a_closed_client_is_not_retried(
    flaky: ModuleType, served: tuple[str, Counter], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every attempt would meet the same closed channel: the call fails at once
    with ChannelClosed (an Unavailable), and no retry waits, with either client."""
    endpoint, counter = served
    waits: list[int] = []

    def delay(policy: uvrpc.Retry, retry: int) -> float:
        waits.append(retry)
        return 0.0

    monkeypatch.setattr(uvrpc.Retry, "delay", delay)
    policy = uvrpc.Retry(attempts=4)

    sync_client = flaky.FlakySyncClient(endpoint, timeout=10, retry=policy)
    sync_client.close()
    with pytest.raises(uvrpc.ChannelClosed, match="the channel is closed"):
        sync_client.read(failures=0)

    async def main() -> None:
        client = flaky.FlakyClient(endpoint, timeout=10, retry=policy)
        await client.close()
        with pytest.raises(uvrpc.ChannelClosed, match="the channel is closed"):
            await client.read(failures=0)

    asyncio.run(main())
    assert waits == [] and counter.calls["read"] == 0
    assert issubclass(uvrpc.ChannelClosed, uvrpc.Unavailable)
    # A server's UNAVAILABLE still is retried under the same (patched) policy.
    with flaky.FlakySyncClient(endpoint, timeout=10, retry=policy) as client:
        assert client.read(failures=1) == 2
    assert waits == [0]


def test_a_retried_start_has_no_trailers_of_an_earlier_attempt(
    flaky: ModuleType,
) -> None:
    """A started call whose last attempt failed without a reply (its channel
    closed as it waited to retry) has no trailers: the first attempt's reply's
    were its handle's, beside the last attempt's error."""
    base: Any = flaky.FlakyServer

    class Tagged(base):  # type: ignore[misc]
        async def read(self, *, failures: int) -> int:
            uvrpc.current_call().set_trailer("x-attempt", "first")
            raise uvrpc.Unavailable("shutting down")

        async def append(self, *, failures: int) -> int:
            raise NotImplementedError

    class Patient(uvrpc.Retry):
        def delay(self, retry: int) -> float:
            return 1.0  # not a random share of it: the retry waits as we close

    async def main() -> None:
        channel = uvrpc.testing.memory_channel(Tagged())
        client = flaky.FlakyClient(channel, timeout=10, retry=Patient(attempts=2))
        call: Any = client.start_read(failures=1)
        while not (call.made and call.made[0].done()):  # the first attempt ends
            await asyncio.sleep(0.01)
        await channel.close()  # as its retry waits
        with pytest.raises(uvrpc.ChannelClosed):
            await call
        assert call.trailers == {}

    asyncio.run(asyncio.wait_for(main(), 10))
