"""Ctrl-C on a ``uvrpc`` command that waits for a server: exit 130, no traceback,
as ``uvrpc health --watch`` does."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from conftest import server_thread
from feed_server import Feed

import uvrpc

# The uvrpc under test, whatever the working directory.
RUNTIME = Path(uvrpc.__file__).resolve().parents[1]


class Stuck(Feed):
    """A Feed whose ``ping`` never answers; ``entered`` is set once it is called."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()

    async def ping(self, *, n: int) -> int:
        self.entered.set()
        await asyncio.Event().wait()
        return n


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    """A child started with SIGINT ignored would ignore it too (a background job
    of a script starts so); a handler here is reset to the default in the child,
    where Python then raises KeyboardInterrupt."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt(argv: list[str], in_flight: threading.Event) -> tuple[int, str]:
    """Run ``uvrpc ARGV``, send it SIGINT once ``in_flight`` is set; return its
    exit status and stderr."""
    process = subprocess.Popen(
        [sys.executable, "-m", "uvrpc", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(RUNTIME)},
    )
    try:
        assert in_flight.wait(30), "the command never reached the server"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
        return process.returncode, err
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.usefixtures("sigint_raises")
def test_ctrl_c_on_a_call_in_flight_exits_130_quietly() -> None:
    service = Stuck()
    with server_thread(service) as running:
        status, err = _interrupt(
            ["call", running.endpoint, "feed.Feed.ping", '{"n": 1}', "--timeout",
             "60"],
            service.entered,
        )  # fmt: skip
    assert (status, err) == (130, "")


@pytest.mark.usefixtures("sigint_raises")
@pytest.mark.parametrize("command", ["list", "describe"])
def test_ctrl_c_on_a_server_that_never_answers_exits_130_quietly(
    command: str,
) -> None:
    with zmq.Context() as context, context.socket(zmq.ROUTER) as silent:
        silent.bind("tcp://127.0.0.1:*")
        endpoint = silent.getsockopt_string(zmq.LAST_ENDPOINT)
        received = threading.Event()

        def listen() -> None:
            if silent.poll(30_000):
                received.set()

        listener = threading.Thread(target=listen)
        listener.start()
        try:
            status, err = _interrupt([command, endpoint, "--timeout", "60"], received)
        finally:
            listener.join(35)
    assert (status, err) == (130, "")
