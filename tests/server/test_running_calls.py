"""``RunningCalls``: a CANCEL finds a handler's task from the moment it is tracked;
its deadline and its end are watched once its first step left it waiting.

A task that has not started yet (no eager start: Python 3.11, the in-memory
transport) is tracked before its first step, which most handlers finish in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any, cast

import pytest

from uvrpc.core.context import ServerCall
from uvrpc.server.dispatch import Request, RunningCalls
from uvrpc.server.eager import start_eagerly
from uvrpc.status import Status


def request(deadline: float | None) -> Request:
    call = ServerCall("feed.Feed.ping", deadline, None)
    return Request(1, cast(Any, None), {}, None, call=call)


def run(main: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(main, 10))


class Ends:
    """An ``on_end`` callback: the tasks it was called with, and the first one."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.tasks: list[asyncio.Task[Any]] = []
        self.first: asyncio.Future[asyncio.Task[Any]] = loop.create_future()

    def __call__(self, task: asyncio.Task[Any]) -> None:
        self.tasks.append(task)
        if not self.first.done():
            self.first.set_result(task)


def test_a_task_done_in_its_first_step_is_forgotten_right_after_it() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        running = RunningCalls(loop)
        ended: list[asyncio.Task[Any]] = []
        ran = []

        async def handler() -> None:
            ran.append(True)

        task = loop.create_task(handler())
        running.track("caller", task, request(time.monotonic() + 60), ended.append)
        assert len(running) == 1 and ran == []  # a CANCEL would find it
        await task
        assert ran == [True] and ended == [task] and len(running) == 0

    run(main())


@pytest.mark.parametrize("started", ["eagerly", "on the next iteration"])
def test_a_task_that_waits_is_cancelled_at_the_call_s_deadline(started: str) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        running = RunningCalls(loop)
        ends = Ends(loop)
        gate: asyncio.Future[None] = loop.create_future()

        async def handler() -> None:
            await gate

        if started == "eagerly":
            task = start_eagerly(handler(), loop)
        else:
            task = loop.create_task(handler())
        assert task is not None
        waiting = request(time.monotonic() + 0.01)
        running.track("caller", task, waiting, ends)
        with pytest.raises(asyncio.CancelledError):
            await task
        call = waiting.call
        assert call is not None and call.expired()
        assert await ends.first is task  # its done callbacks run after ours
        assert ends.tasks == [task] and len(running) == 0

    run(main())


def test_a_cancel_before_the_first_step_ends_the_handler_unrun() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        running = RunningCalls(loop)
        ends = Ends(loop)
        ran = []

        async def handler() -> None:
            ran.append(True)

        task = loop.create_task(handler())
        cancelled = request(time.monotonic() + 60)
        running.track("caller", task, cancelled, ends)
        assert running.cancel("caller", 1) is Status.CANCELLED
        with pytest.raises(asyncio.CancelledError):
            await task
        call = cancelled.call
        assert call is not None and call.cancelled() and not call.expired()
        assert await ends.first is task
        assert ran == [] and ends.tasks == [task] and len(running) == 0
        assert running.cancel("caller", 1) is None  # over: nothing left to cancel

    run(main())


def test_a_cancel_that_comes_after_the_deadline_ends_the_call_expired() -> None:
    # A client sends CANCEL as its deadline passes, about when the server's timer
    # for the same deadline is due; a loop that reads the CANCEL first must still
    # end the call as expired (DEADLINE_EXCEEDED), as its timer would have.
    async def main() -> None:
        loop = asyncio.get_running_loop()
        running = RunningCalls(loop)
        started = asyncio.Event()

        async def handler() -> None:
            started.set()
            await asyncio.Event().wait()

        task = loop.create_task(handler())
        req = request(time.monotonic() + 60)
        running.track("caller", task, req)
        await started.wait()
        assert req.call is not None
        req.call.deadline = time.monotonic() - 0.001  # due, its timer not yet run
        assert running.cancel("caller", req.call_id) is Status.DEADLINE_EXCEEDED
        with pytest.raises(asyncio.CancelledError):
            await task
        assert req.call.expired() and req.call.cancelled()

        # Before its deadline, a CANCEL is the client's own.
        task = loop.create_task(handler())
        started.clear()
        req = request(time.monotonic() + 60)
        running.track("caller", task, req)
        await started.wait()
        assert running.cancel("caller", req.call_id) is Status.CANCELLED
        with pytest.raises(asyncio.CancelledError):
            await task
        assert req.call is not None
        assert req.call.cancelled() and not req.call.expired()

    run(main())
