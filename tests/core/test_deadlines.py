"""Deadlines: the client's wheel (never early, at most a slot late, forgets
completed calls), the server's deadline of a unary call, and its propagation to the
calls a handler makes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq
import zmq.asyncio
from calculator import CalculatorClient, CalculatorSyncClient
from calculator_server import Calculator
from conftest import PLACES, serving

import uvrpc
from uvrpc.deadlines import RESOLUTION, SWEEP_MIN, DeadlineWheel


def test_deadlines_fire_in_order_never_early() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        fired: dict[int, float] = {}

        def expired(call_id: int) -> None:
            fired[call_id] = loop.time()

        wheel = DeadlineWheel(loop, expired)
        start = loop.time()
        for call_id, timeout in ((1, 0.05), (2, 0.0), (3, 0.12), (4, 0.051)):
            wheel.add(call_id, timeout)
        await asyncio.sleep(0.2)
        assert sorted(fired, key=fired.__getitem__) == [2, 1, 4, 3]
        for call_id, timeout in ((1, 0.05), (2, 0.0), (3, 0.12), (4, 0.051)):
            late = fired[call_id] - (start + timeout)
            assert 0 <= late, (call_id, late)
        wheel.close()

    asyncio.run(main())


def test_removed_calls_never_expire_and_close_cancels_timers() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        fired: list[int] = []
        wheel = DeadlineWheel(loop, fired.append)
        slot = wheel.add(1, 0.02)
        wheel.add(2, 0.02)  # same slot
        wheel.remove(1, slot)
        later = wheel.add(3, 0.5)
        assert later > slot
        await asyncio.sleep(0.02 + 2 * RESOLUTION)
        assert fired == [2]
        wheel.close()  # call 3 is still registered: closing cancels its timer
        await asyncio.sleep(0.5 + 2 * RESOLUTION)
        assert fired == [2]

    asyncio.run(main())


def test_slots_every_call_left_are_swept_with_their_timers() -> None:
    """Calls that end long before their deadlines leave no slot behind: without
    the sweep, each 10 ms of an hour's timeouts kept a set and a loop timer for
    the hour (here one slot per call)."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        fired: list[int] = []
        wheel = DeadlineWheel(loop, fired.append)
        kept = wheel.add(0, 0.05)  # still running: its slot stays
        for call_id in range(1, 10_001):
            wheel.remove(call_id, wheel.add(call_id, 3600 + call_id * RESOLUTION))
        assert wheel.slots <= 2 * SWEEP_MIN
        await asyncio.sleep(0)  # the loop drops the cancelled timers
        live = [t for t in loop._scheduled if not t.cancelled()]  # type: ignore[attr-defined]
        assert len(live) <= 2 * SWEEP_MIN
        await asyncio.sleep(0.05 + 2 * RESOLUTION)
        assert fired == [0]
        wheel.remove(0, kept)
        wheel.close()

    asyncio.run(main())


@pytest.mark.parametrize("place", PLACES)
def test_calls_with_long_timeouts_keep_no_slot_once_answered(
    place: str, tmp_path: Path
) -> None:
    async def main() -> None:
        async with serving(place, tmp_path, Calculator()) as (channel, _):
            calc = CalculatorClient(channel)
            for n in range(2000):  # a slot of its own for each call
                assert await calc.add(a=n, b=1, timeout=600 + n * RESOLUTION) == n + 1
            wheel = channel._deadlines
            assert wheel is not None
            assert wheel.slots <= 2 * SWEEP_MIN

    asyncio.run(main())


# --- deadlines of unary calls on the server ------------------------------------

V = uvrpc.PROTOCOL_VERSION


class Waiting(Calculator):
    """``add`` waits until released; it records what its call looked like."""

    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.expired: bool | None = None
        self.release = asyncio.Event()

    async def add(self, *, a: int, b: int) -> int:
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.expired = uvrpc.current_call().expired()
            self.cancelled.set()
            raise
        return a + b


def raw_add(call_id: int, timeout_ms: int | None) -> list[bytes]:
    header = msgpack.packb([V, 1, call_id, "calculator.Calculator.add", timeout_ms])
    return [b"", header, msgpack.packb({"1": 1, "2": 2})]


async def raw_reply(sock: zmq.asyncio.Socket) -> tuple[list[Any], Any]:
    frames = await sock.recv_multipart()
    return msgpack.unpackb(frames[-2]), msgpack.unpackb(frames[-1])


@contextlib.asynccontextmanager
async def raw_peer(
    service: uvrpc.ServiceBase, tmp_path: Path
) -> AsyncIterator[tuple[uvrpc.Server, zmq.asyncio.Socket]]:
    """A server in this loop, and a DEALER that speaks to it in hand-made frames."""
    async with uvrpc.Server(service) as server:
        endpoint = server.bind(f"ipc://{tmp_path / 'raw.sock'}")
        ctx = zmq.asyncio.Context.instance()
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(endpoint)
        try:
            yield server, sock
        finally:
            sock.close(linger=0)


def test_a_request_whose_deadline_passed_is_not_started(tmp_path: Path) -> None:
    async def main() -> None:
        service = Waiting()
        async with raw_peer(service, tmp_path) as (server, sock):
            await sock.send_multipart(raw_add(7, 0))  # due as it arrives
            header, body = await raw_reply(sock)
            assert header[:4] == [V, 2, 7, uvrpc.Status.DEADLINE_EXCEEDED]
            assert "deadline" in body["message"]
            assert not service.started.is_set()
            assert server.stats.expired == 1

    asyncio.run(asyncio.wait_for(main(), 10))


def test_a_handler_running_at_its_deadline_is_cancelled_and_answered(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        service = Waiting()
        async with raw_peer(service, tmp_path) as (server, sock):
            start = time.monotonic()
            await sock.send_multipart(raw_add(8, 50))
            header, _ = await raw_reply(sock)
            assert time.monotonic() - start >= 0.05
            assert header[:4] == [V, 2, 8, uvrpc.Status.DEADLINE_EXCEEDED]
            assert service.cancelled.is_set() and service.expired is True
            assert server.stats.expired == 1
            # Without a timeout the same handler runs until it is released.
            await sock.send_multipart(raw_add(9, None))
            service.started.clear()
            await service.started.wait()
            service.release.set()
            header, body = await raw_reply(sock)
            assert header[:4] == [V, 2, 9, uvrpc.Status.OK] and body == 3

    asyncio.run(asyncio.wait_for(main(), 10))


@pytest.mark.parametrize("place", PLACES)
def test_the_client_gives_up_and_the_handler_is_cancelled(
    place: str, tmp_path: Path
) -> None:
    async def main() -> None:
        service = Waiting()
        async with serving(place, tmp_path, service) as (channel, _):
            calc = CalculatorClient(channel)
            # A first call gives the server its connection's clock baseline: the
            # first request of a connection has none, so the server cannot take
            # the time it spent unread off its deadline, and the client's CANCEL
            # may come before that deadline (docs/reliability.md).
            assert await calc.call_count(timeout=5) >= 0
            with pytest.raises(uvrpc.DeadlineExceeded):
                await calc.add(a=1, b=2, timeout=0.05)
            await service.cancelled.wait()
            assert service.expired is True
            # A handler that never waits needs no timer and answers in time.
            assert await calc.call_count(timeout=0.05) >= 0

    asyncio.run(asyncio.wait_for(main(), 10))


# --- propagation ---------------------------------------------------------------


class Upstream(Calculator):
    """``add`` asks another calculator, recording its own and the inner call."""

    def __init__(self, downstream: CalculatorClient, explicit: bool) -> None:
        super().__init__()
        self.downstream = downstream
        self.explicit = explicit
        self.deadline: float | None = None
        self.remaining: float | None = None
        self.sending = 0.0

    async def add(self, *, a: int, b: int) -> int:
        call = uvrpc.current_call()
        self.deadline, self.remaining = call.deadline, call.remaining()
        assert call.route == "calculator.Calculator.add" and not call.cancelled()
        self.sending = time.monotonic()
        if self.explicit:
            return await self.downstream.add(a=a, b=b, timeout=call.remaining())
        return await self.downstream.add(a=a, b=b)


class Downstream(Calculator):
    def __init__(self) -> None:
        super().__init__()
        self.deadline: float | None = None
        self.started = 0.0

    async def add(self, *, a: int, b: int) -> int:
        self.started = time.monotonic()
        self.deadline = uvrpc.current_call().deadline
        return a + b


@pytest.mark.parametrize("explicit", [False, True], ids=["inherited", "explicit"])
@pytest.mark.parametrize("place", PLACES)
def test_a_deadline_propagates_down_a_chain(
    place: str, explicit: bool, tmp_path: Path
) -> None:
    async def main() -> None:
        b = Downstream()
        (tmp_path / "b").mkdir()
        async with serving("ipc", tmp_path / "b", b) as (to_b, _):
            a = Upstream(CalculatorClient(to_b), explicit)
            async with serving(place, tmp_path, a) as (to_a, _):
                before = time.monotonic()
                assert await CalculatorClient(to_a).add(a=2, b=3, timeout=5) == 5
        assert a.deadline is not None and b.deadline is not None
        assert a.remaining is not None and 0 < a.remaining <= 5
        # A's deadline is the caller's 5 s counted from when A read the request,
        # which is before its handler ran (however long the request waited).
        assert before < a.deadline <= a.sending + 5
        # B's time is what A had left when it sent the call (in whole ms, rounded
        # down); B counts it from when it read the request, so its deadline is
        # A's at the latest but for the time the request was in transit.
        assert b.deadline - b.started <= a.deadline - a.sending
        assert b.deadline <= a.deadline + (b.started - a.sending)

    asyncio.run(asyncio.wait_for(main(), 10))


def test_a_call_without_deadline_passes_none_down(tmp_path: Path) -> None:
    async def main() -> None:
        b = Downstream()
        async with serving("memory", tmp_path, b) as (to_b, _):
            a = Upstream(CalculatorClient(to_b), explicit=False)
            async with serving("memory", tmp_path, a) as (to_a, _):
                assert await CalculatorClient(to_a).add(a=2, b=3) == 5
        assert a.deadline is None and a.remaining is None and b.deadline is None

    asyncio.run(asyncio.wait_for(main(), 10))


def test_inside_a_handler_a_longer_timeout_is_cut_to_what_is_left() -> None:
    async def main() -> None:
        b = Waiting()
        async with serving("memory", Path(), b) as (to_b, _):

            class Impatient(Calculator):
                async def add(self, *, a: int, b: int) -> int:
                    # Asks for a minute, but the served call has 50 ms left.
                    return await CalculatorClient(to_b).add(a=a, b=b, timeout=60)

            async with serving("memory", Path(), Impatient()) as (to_a, _):
                start = time.monotonic()
                with pytest.raises(uvrpc.DeadlineExceeded):
                    await CalculatorClient(to_a).add(a=1, b=1, timeout=0.05)
                assert time.monotonic() - start < 30
            await b.cancelled.wait()

    asyncio.run(asyncio.wait_for(main(), 10))


class Overrun(Calculator):
    """``add`` works past its call's deadline without waiting (so nothing cancels
    it), then calls ``downstream``, recording what that call raised."""

    def __init__(self, call: Any) -> None:
        super().__init__()
        self.call = call
        self.raised: BaseException | None = None
        self.done = asyncio.Event()

    async def add(self, *, a: int, b: int) -> int:
        time.sleep(0.15)  # blocking work that overruns the 0.05 s deadline
        try:
            return int(await self.call(a, b))
        except BaseException as exc:
            self.raised = exc
            raise
        finally:
            self.done.set()


@pytest.mark.parametrize("blocking", [False, True], ids=["async", "blocking"])
@pytest.mark.parametrize("place", PLACES)
def test_a_call_made_after_the_inherited_deadline_passed_is_not_sent(
    place: str, blocking: bool, tmp_path: Path
) -> None:
    """As in gRPC, a call whose inherited deadline has passed fails at once with
    DEADLINE_EXCEEDED and never reaches its server: sent with a 1 ms timeout, its
    handler started after the served call's caller had seen its deadline pass."""

    raised: list[BaseException] = []

    async def main() -> None:
        b = Downstream()
        (tmp_path / "b").mkdir()
        async with serving("ipc", tmp_path / "b", b) as (to_b, _):
            endpoint = f"ipc://{tmp_path / 'b' / 'uvrpc.sock'}"
            if blocking:
                sync = CalculatorSyncClient(endpoint, timeout=30)
                # Connected, so that the call would go at once.
                await asyncio.to_thread(sync.add, a=0, b=0)
                b.started = 0.0

                def blocking_add(a: int, b: int) -> int:
                    try:
                        return sync.add(a=a, b=b)
                    except BaseException as exc:
                        raised.append(exc)
                        raise

                async def call(a: int, b: int) -> int:
                    # The handler's wait is cancelled at its deadline, the call
                    # on its thread goes on (shielded), and records what it raised.
                    return await asyncio.shield(asyncio.to_thread(blocking_add, a, b))

            else:
                downstream = CalculatorClient(to_b, timeout=30)

                async def call(a: int, b: int) -> int:
                    return await downstream.add(a=a, b=b)

            a = Overrun(call)
            async with serving(place, tmp_path, a) as (to_a, _):
                with pytest.raises(uvrpc.DeadlineExceeded):
                    await CalculatorClient(to_a).add(a=1, b=1, timeout=0.05)
                await a.done.wait()
            for _ in range(100):  # the blocking call's thread, and a request that went
                if raised or not blocking:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            if blocking:
                sync.close()
        assert b.started == 0.0, "the downstream handler ran past the deadline"
        error = raised[0] if blocking else a.raised
        assert isinstance(error, uvrpc.DeadlineExceeded), error
        assert "not sending calculator.Calculator.add" in str(error)

    asyncio.run(asyncio.wait_for(main(), 10))


def test_current_call_outside_a_handler_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="inside a handler"):
        uvrpc.current_call()
