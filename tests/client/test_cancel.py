"""Cancelling a unary call: the client tells the server with a CANCEL, and the
server cancels the handler; a CANCEL for a call it does not run is counted."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq
import zmq.asyncio
from calculator import CalculatorClient, CalculatorSyncClient
from calculator_server import Calculator
from conftest import PLACES, server_thread, serving

import uvrpc

V = uvrpc.PROTOCOL_VERSION


class Stuck(Calculator):
    """``add`` waits for ever; its ``except CancelledError`` records the cancel."""

    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.was_cancelled: bool | None = None
        self.was_expired: bool | None = None

    async def add(self, *, a: int, b: int) -> int:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            call = uvrpc.current_call()
            self.was_cancelled, self.was_expired = call.cancelled(), call.expired()
            self.cancelled.set()
            raise
        return a + b


@pytest.mark.parametrize("place", PLACES)
def test_cancelling_the_awaiting_task_cancels_the_handler(
    place: str, tmp_path: Path
) -> None:
    async def main() -> None:
        service = Stuck()
        async with serving(place, tmp_path, service) as (channel, server):
            calc = CalculatorClient(channel)
            waiting = asyncio.ensure_future(calc.add(a=1, b=2))
            await service.started.wait()
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            await service.cancelled.wait()
            assert service.was_cancelled is True and service.was_expired is False
            if server is not None:
                assert server.stats.cancelled == 1 and server.stats.stale == 0
            # The server goes on serving, and sent nothing for the cancelled call.
            assert await calc.call_count(timeout=5) >= 0
            assert channel.dropped_replies == 0

    asyncio.run(asyncio.wait_for(main(), 10))


@pytest.mark.parametrize("place", PLACES)
def test_cancelling_a_started_call_cancels_the_handler(
    place: str, tmp_path: Path
) -> None:
    async def main() -> None:
        service = Stuck()
        async with serving(place, tmp_path, service) as (channel, server):
            call = CalculatorClient(channel).start_add(a=1, b=2)
            await service.started.wait()
            assert call.cancel()
            await service.cancelled.wait()
            if server is not None:
                assert server.stats.cancelled == 1

    asyncio.run(asyncio.wait_for(main(), 10))


def test_releasing_a_pending_call_cancels_the_handler(tmp_path: Path) -> None:
    async def main() -> None:
        service = Stuck()
        async with serving("ipc", tmp_path, service) as (channel, _):
            call = CalculatorClient(channel).start_add(a=1, b=2)
            await service.started.wait()
            call.release()
            await service.cancelled.wait()

    asyncio.run(asyncio.wait_for(main(), 10))


@pytest.mark.parametrize("place", PLACES)
def test_closing_the_channel_cancels_the_handlers_of_its_calls(
    place: str, tmp_path: Path
) -> None:
    """As a gRPC channel's close cancels its calls at the server: a handler does
    not run on for a caller that can no longer hear its reply."""

    async def main() -> None:
        service = Stuck()
        async with serving(place, tmp_path, service) as (channel, server):
            waiting = asyncio.ensure_future(CalculatorClient(channel).add(a=1, b=2))
            await service.started.wait()
            await channel.close()
            with pytest.raises(uvrpc.ChannelClosed, match="the channel was closed"):
                await waiting
            await service.cancelled.wait()
            assert service.was_cancelled is True
            if server is not None:
                assert server.stats.cancelled == 1

    asyncio.run(asyncio.wait_for(main(), 10))


def test_a_cancel_of_a_call_not_running_is_ignored_and_counted(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        async with uvrpc.Server(Calculator()) as server:
            endpoint = server.bind(f"ipc://{tmp_path / 'raw.sock'}")
            sock = zmq.asyncio.Context.instance().socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(endpoint)
            try:
                for call_id in (41, 42):
                    cancel = msgpack.packb([V, 5, call_id, 0])
                    await sock.send_multipart([b"", cancel, b"\xc0"])
                # A request after them is served: the cancels were taken first.
                header = msgpack.packb([V, 1, 43, "calculator.Calculator.add", None])
                body = msgpack.packb({"1": 1, "2": 2})
                await sock.send_multipart([b"", header, body])
                frames = await sock.recv_multipart()
                assert msgpack.unpackb(frames[-2]) == [V, 2, 43, 0]
                assert server.stats.stale == 2 and server.stats.cancelled == 0
            finally:
                sock.close(linger=0)

    asyncio.run(asyncio.wait_for(main(), 10))


class ThreadStuck(Calculator):
    """``add`` waits for ever; a threading event tells the test it was cancelled."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()
        self.cancelled = threading.Event()

    async def add(self, *, a: int, b: int) -> int:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return a + b


def test_a_blocking_call_that_times_out_sends_a_cancel(tmp_path: Path) -> None:
    router: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    endpoint = f"ipc://{tmp_path / 'router.sock'}"
    router.bind(endpoint)
    try:
        with CalculatorSyncClient(endpoint) as calc:
            with pytest.raises(uvrpc.DeadlineExceeded):
                calc.add(a=1, b=2, timeout=0.05)
        assert router.poll(5000)
        request = msgpack.unpackb(router.recv_multipart()[-2])
        assert request[:2] == [V, 1]
        assert router.poll(5000)
        frames = router.recv_multipart()
        # The CANCEL says the call ran out of time: DEADLINE_EXCEEDED's code.
        assert msgpack.unpackb(frames[-2]) == [V, 5, request[2], 4]
    finally:
        router.close(linger=0)


class InterruptedAfterSending(zmq.Socket[bytes]):
    """A socket that raises ``KeyboardInterrupt`` just after it queued the last
    frame of a request: where Python runs a pending SIGINT's handler, the first
    check after the C call that sent it."""

    interrupted = False

    def send(self, data: Any, flags: int = 0, *args: Any, **kwargs: Any) -> Any:
        result = super().send(data, flags, *args, **kwargs)
        if not flags & zmq.SNDMORE and not self.interrupted:
            self.interrupted = True
            raise KeyboardInterrupt
        return result


class InterruptingContext(zmq.Context[zmq.Socket[bytes]]):
    """Makes :class:`InterruptedAfterSending` sockets."""

    _socket_class = InterruptedAfterSending


def test_an_interrupt_just_after_the_request_went_still_cancels(
    tmp_path: Path,
) -> None:
    router: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    endpoint = f"ipc://{tmp_path / 'router.sock'}"
    router.bind(endpoint)
    context = InterruptingContext()
    channel = uvrpc.SyncChannel(endpoint, context=context)
    try:
        with CalculatorSyncClient(channel) as calc:
            with pytest.raises(KeyboardInterrupt):
                calc.add(a=1, b=2, timeout=60)
            assert router.poll(5000)
            request = msgpack.unpackb(router.recv_multipart()[-2])
            assert request[:2] == [V, 1]
            # The request went before the interrupt: the server is told to stop.
            assert router.poll(5000)
            frames = router.recv_multipart()
            assert msgpack.unpackb(frames[-2]) == [V, 5, request[2], 0]
    finally:
        channel.close()
        router.close(linger=0)
        context.destroy(linger=0)


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt, as in an interactive program. Python sets
    that up only where SIGINT is not ignored at start, and a background job of a
    script (such as CI's concurrent suites) starts with it ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("sigint_raises")
def test_an_interrupted_blocking_call_cancels_the_handler(tmp_path: Path) -> None:
    service = ThreadStuck()
    with server_thread(service, bind=f"ipc://{tmp_path / 's.sock'}") as running:
        with CalculatorSyncClient(running.endpoint) as calc:
            main_thread = threading.get_ident()

            def interrupt() -> None:
                if service.started.wait(30):
                    signal.pthread_kill(main_thread, signal.SIGINT)

            interrupter = threading.Thread(target=interrupt)
            interrupter.start()
            try:
                with pytest.raises(KeyboardInterrupt):
                    # A deadline, so that a handler that never starts (on a badly
                    # overloaded machine) fails the test instead of hanging it.
                    calc.add(a=1, b=2, timeout=60)
            finally:
                interrupter.join(30)
            # Checked with the client still open: closing a socket drops what it
            # has not sent yet (LINGER=0), the CANCEL included.
            assert service.cancelled.wait(5), running.stats
