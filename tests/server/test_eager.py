"""``start_eagerly`` runs a coroutine in a real task of its own, from its first
line; on Python 3.12+, and on asyncio's own loop on 3.11, it makes no task a loop
iteration has to run for a coroutine that never waits."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import sys
from collections.abc import Coroutine
from typing import Any

import pytest

from uvrpc.eager import start_eagerly

request_id: contextvars.ContextVar[int] = contextvars.ContextVar("request_id")

not_eager = pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="3.12+ starts tasks eagerly on any loop"
)


def run_on_uvloop(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop, whose queue of callbacks Python cannot reach."""
    uvloop = pytest.importorskip("uvloop")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


@pytest.mark.parametrize("waits", [False, True], ids=["returns", "waits"])
def test_the_coroutine_runs_in_a_task_of_its_own_from_its_first_line(
    waits: bool,
) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        caller = asyncio.current_task()
        seen: list[asyncio.Task[Any] | None] = []

        async def handler() -> None:
            seen.append(asyncio.current_task())
            if waits:
                await asyncio.sleep(0)
            seen.append(asyncio.current_task())

        task = start_eagerly(handler(), loop)
        assert asyncio.current_task() is caller
        if task is not None:
            await task
        first, last = seen
        assert first is not None and first is not caller and last is first
        assert task is None or task is first

    asyncio.run(main())


def test_a_coroutine_that_never_waits_is_done_at_once_and_never_scheduled() -> None:
    async def main() -> None:
        ran = []

        async def handler() -> None:
            ran.append(True)

        assert start_eagerly(handler(), asyncio.get_running_loop()) is None
        assert ran == [True]
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(main())


@not_eager
def test_on_uvloop_before_3_12_the_task_runs_from_the_next_loop_iteration() -> None:
    async def main() -> None:
        ran = []

        async def handler() -> None:
            ran.append(True)

        task = start_eagerly(handler(), asyncio.get_running_loop())
        assert task is not None and ran == []
        await task
        assert ran == [True]

    run_on_uvloop(main())


def test_a_coroutine_that_waits_continues_in_a_task() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        gate: asyncio.Future[int] = loop.create_future()
        seen: list[object] = []

        async def handler() -> None:
            seen.append(await gate)
            await asyncio.sleep(0)  # a bare yield
            await asyncio.sleep(0.01)  # a timer future
            seen.append("done")

        task = start_eagerly(handler(), loop)
        assert task is not None and not task.done()
        gate.set_result(7)
        await task
        assert seen == [7, "done"]

    asyncio.run(main())


def test_the_future_s_exception_reaches_the_coroutine() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        gate: asyncio.Future[int] = loop.create_future()
        caught: list[BaseException] = []

        async def handler() -> None:
            try:
                await gate
            except KeyError as exc:
                caught.append(exc)

        task = start_eagerly(handler(), loop)
        assert task is not None
        gate.set_exception(KeyError("k"))
        await task
        assert [type(e) for e in caught] == [KeyError]

    asyncio.run(main())


def test_cancelling_the_task_cancels_where_the_coroutine_waits() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        gate: asyncio.Future[None] = loop.create_future()
        cleaned_up = []

        async def handler() -> None:
            try:
                await gate
            finally:
                cleaned_up.append(True)

        task = start_eagerly(handler(), loop)
        assert task is not None
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert gate.cancelled() and cleaned_up == [True]

    asyncio.run(main())


def test_each_coroutine_runs_in_a_context_of_its_own() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        gate: asyncio.Future[None] = loop.create_future()
        seen: list[int] = []

        async def handler(n: int) -> None:
            request_id.set(n)
            await gate
            seen.append(request_id.get())

        tasks = [start_eagerly(handler(n), loop) for n in (1, 2)]
        assert request_id.get(None) is None  # nothing leaked into the caller
        gate.set_result(None)
        await asyncio.gather(*(t for t in tasks if t is not None))
        assert sorted(seen) == [1, 2]

    asyncio.run(main())


def test_an_exception_before_the_first_wait_propagates_to_the_caller() -> None:
    async def main() -> None:
        async def handler() -> None:
            raise ValueError("early")

        with pytest.raises(ValueError, match="early"):
            start_eagerly(handler(), asyncio.get_running_loop())

    asyncio.run(main())


@not_eager
def test_on_uvloop_before_3_12_an_early_exception_ends_the_task() -> None:
    async def main() -> None:
        async def handler() -> None:
            raise ValueError("early")

        task = start_eagerly(handler(), asyncio.get_running_loop())
        assert task is not None
        with pytest.raises(ValueError, match="early"):
            await task

    run_on_uvloop(main())


def test_a_task_cancelled_before_its_next_step_still_cleans_up() -> None:
    """Cancelled at once, before the loop runs it again: the coroutine started
    (eagerly) and gets the ``CancelledError`` where it waits, so its ``finally``
    runs, and it is closed, not left suspended."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        gate: asyncio.Future[None] = loop.create_future()
        started, cleaned_up = [], []

        async def handler() -> None:
            started.append(True)
            try:
                await gate
            finally:
                cleaned_up.append(True)

        coro = handler()
        task = start_eagerly(coro, loop)
        assert task is not None
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert cleaned_up == started == [True]
        assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED

    asyncio.run(main())


def test_a_loop_s_own_task_factory_makes_the_task() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        made: list[asyncio.Task[Any]] = []

        def factory(
            loop: asyncio.AbstractEventLoop,
            coro: Any,
            **options: Any,
        ) -> asyncio.Task[Any]:
            task = asyncio.Task(coro, loop=loop, **options)
            made.append(task)
            return task

        loop.set_task_factory(factory)
        ran = []

        async def handler() -> None:
            ran.append(asyncio.current_task())

        task = start_eagerly(handler(), loop)
        assert task is not None and made == [task]
        await task
        assert ran == [task]

    asyncio.run(main())
