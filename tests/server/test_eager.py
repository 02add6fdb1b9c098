"""``start_eagerly`` keeps task semantics, and makes no task when none is needed."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from uvrpc.eager import start_eagerly

request_id: contextvars.ContextVar[int] = contextvars.ContextVar("request_id")


def test_a_coroutine_that_never_waits_needs_no_task() -> None:
    async def main() -> None:
        ran = []

        async def handler() -> None:
            ran.append(True)

        assert start_eagerly(handler(), asyncio.get_running_loop()) is None
        assert ran == [True]
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(main())


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
