"""A caller that does not read its replies costs the server next to nothing, and
holds up no other caller.

The replies to such a caller wait for room in its pipe. A ROUTER is writable while
any caller's pipe has room, so nothing says when that one's has: the server tries
its parked replies again when it sends something, when the socket wakes with
nothing to read, and otherwise after a delay that doubles up to a second. Its
waiting replies count against its share of ``max_in_flight``, so they are bounded
too, and others keep theirs.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import msgpack
import zmq
from calculator import CalculatorClient, CalculatorSyncClient
from calculator_server import Calculator
from conftest import RunningServer, server_thread
from echo_server import Echo
from raw_frames import V, next_reply, request

import uvrpc

ECHO = "echo.Echo.echo"
PAYLOAD = b"p" * 64 * 1024
SENT = 200
"""Echo calls of 64 KiB the silent caller sends: far more than its pipe holds."""
WINDOW = 2.0
"""Seconds over which the cost of the parked replies is counted."""


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def thread_cpu(running: RunningServer) -> Callable[[], float]:
    """A reader of the CPU seconds the server's thread has used so far."""
    assert running.loop is not None
    found: list[int] = []
    ready = threading.Event()

    def note() -> None:
        found.append(threading.get_native_id())
        ready.set()

    running.loop.call_soon_threadsafe(note)
    assert ready.wait(10)
    stat = Path(f"/proc/self/task/{found[0]}/stat")
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu() -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    return cpu


def silent_caller(endpoint: str) -> zmq.Socket[bytes]:
    """A DEALER that queues one message at most on its side and never reads."""
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVHWM, 1)
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.connect(endpoint)
    for call_id in range(1, SENT + 1):
        sock.send_multipart(request(call_id, ECHO, {"1": PAYLOAD}))
    return sock


def read_all(sock: zmq.Socket[bytes], count: int) -> tuple[int, int]:
    """Read ``count`` replies: (answers, refusals)."""
    answers = refusals = 0
    for _ in range(count):
        frames = next_reply(sock)
        header = msgpack.unpackb(frames[-2])  # after attachments, before the body
        assert header[:2] == [V, 2]
        if header[3] == uvrpc.Status.OK:
            assert PAYLOAD in frames  # an attachment frame of its own
            answers += 1
        else:
            assert header[3] == uvrpc.Status.RESOURCE_EXHAUSTED
            body = msgpack.unpackb(frames[-1])
            assert "max_in_flight_per_caller" in body["message"]
            refusals += 1
    return answers, refusals


def test_replies_parked_for_a_caller_that_never_reads_do_not_spin(
    tmp_path: Path,
) -> None:
    """While another caller is connected (the ROUTER then always says it can send),
    a silent caller's parked replies are tried again a handful of times over two
    seconds — not every few milliseconds — and the server's thread stays idle."""
    with server_thread(
        Echo(), Calculator(), bind=f"ipc://{tmp_path / 's.sock'}", hwm=4
    ) as running:
        cpu = thread_cpu(running)
        silent = silent_caller(running.endpoint)
        try:
            with CalculatorSyncClient(running.endpoint, timeout=10) as other:
                assert other.add(a=1, b=2) == 3
                # Every message of a parked caller wakes its queue: count once it
                # has sent them all.
                wait_for(lambda: running.stats.received == SENT + 1)
                wait_for(lambda: running.stats.send_retries > 0)
                retries, used = running.stats.send_retries, cpu()
                time.sleep(WINDOW)
                retries = running.stats.send_retries - retries
                used = cpu() - used
                # Doubling from 5 ms, eight timed tries fit in two seconds, and a
                # few more as the socket wakes for other reasons; a spin tries
                # every 5 ms, 400 times.
                assert retries <= 25, retries
                assert used < 0.2 * WINDOW, f"{used:.2f} s of CPU in {WINDOW} s"
                assert other.add(a=2, b=3) == 5
            # Once the caller reads, every reply reaches it.
            answers, refusals = read_all(silent, SENT - running.stats.shed)
            assert answers > 0
            assert not silent.poll(100, zmq.POLLIN)  # and nothing more
        finally:
            silent.close()
        wait_for(lambda: running.server is not None and running.server.in_flight == 0)


def test_a_full_pipe_to_one_caller_neither_delays_nor_refuses_another(
    tmp_path: Path,
) -> None:
    """The silent caller's waiting replies hold its share of ``max_in_flight`` at
    most: another caller's calls all succeed while they wait, and once the silent
    caller is gone its slots are free again."""
    with server_thread(
        Echo(),
        Calculator(),
        bind=f"ipc://{tmp_path / 's.sock'}",
        hwm=4,
        max_in_flight=40,
        max_in_flight_per_caller=10,
    ) as running:
        silent = silent_caller(running.endpoint)
        try:
            wait_for(lambda: running.stats.received == SENT)
            assert running.server is not None
            assert 0 < running.server.in_flight <= 10
            assert running.stats.overloaded > 0

            async def others() -> list[int]:
                async with CalculatorClient(running.endpoint, timeout=10) as calc:
                    sums: list[int] = []
                    for first in range(0, 30, 5):  # five at once: half its share
                        calls = (calc.add(a=n, b=1) for n in range(first, first + 5))
                        sums += await asyncio.gather(*calls)
                    return sums

            assert asyncio.run(others()) == [n + 1 for n in range(30)]
        finally:
            silent.close()
        # Its replies are undeliverable now: their slots come free within the
        # longest retry delay.
        wait_for(lambda: running.server is not None and running.server.in_flight == 0)
        assert running.stats.undeliverable > 0
