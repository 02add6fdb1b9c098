"""Start a coroutine in a task of its own, its first step at once where Python can.

A server handles most requests with handlers that never wait for anything (they
compute and return). Scheduling a task for each delays its reply by a loop
iteration, and costs more than many such handlers take to run. On Python 3.12+
:func:`start_eagerly` starts the task eagerly, as :data:`asyncio.eager_task_factory`
does: the coroutine's first step runs at once, inside its task, so one that never
waits is done before :func:`start_eagerly` returns, and its task is never scheduled.
Python 3.11 has no eager start; on asyncio's own loop :func:`start_eagerly` does
what it would do: the task's first step, which the loop queued as the task was made,
is taken off the loop's queue and run at once (the caller's task, if any, set aside
meanwhile, as 3.12 does). On another loop (uvloop) the task runs from the next loop
iteration, as any task does.

Either way the coroutine runs in a real task from its first line, so what needs one
(``asyncio.timeout``, ``asyncio.TaskGroup``, ``asyncio.current_task()``, anyio's
cancel scopes) works there, and in a copy of the caller's context, as every task's.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

__all__ = ["start_eagerly"]


def start_eagerly(
    coro: Coroutine[Any, Any, None], loop: asyncio.AbstractEventLoop
) -> asyncio.Task[None] | None:
    """Run ``coro`` in a task of its own, its first step now where Python can.

    Returns ``None`` if it finished already (its exception, if any, propagates to
    the caller, as from a plain call), or the task that runs the rest of it.
    """
    task = _task(coro, loop)
    if not task.done():
        return task
    task.result()  # retrieved, so asyncio never logs it as lost
    return None


if sys.version_info >= (3, 12):

    def _task(
        coro: Coroutine[Any, Any, None], loop: asyncio.AbstractEventLoop
    ) -> asyncio.Task[None]:
        if loop.get_task_factory() is not None:
            # A loop given a task factory (instrumentation, say) makes every task
            # with it: handlers' tasks too, eager or not as it makes them.
            return loop.create_task(coro)
        # What asyncio.eager_task_factory does, less a call: loop.create_task
        # takes no eager_start in 3.12 and 3.13.
        return asyncio.Task(coro, loop=loop, eager_start=True)

else:
    from asyncio.tasks import _enter_task, _leave_task

    # The task running on each loop, which asyncio.current_task reads through a
    # Python call on 3.11 (not in typeshed: read by name).
    _current_tasks: dict[asyncio.AbstractEventLoop, asyncio.Task[Any]] = getattr(  # noqa: B009
        asyncio.tasks, "_current_tasks"
    )

    def _task(
        coro: Coroutine[Any, Any, None], loop: asyncio.AbstractEventLoop
    ) -> asyncio.Task[None]:
        if loop.get_task_factory() is not None:
            return loop.create_task(coro)
        # What loop.create_task does with no task factory, less its name: the
        # task queues its first step on the loop as it is made.
        task = asyncio.Task(coro, loop=loop)
        _step_now(task, loop)
        return task

    def _step_now(task: asyncio.Task[None], loop: asyncio.AbstractEventLoop) -> None:
        """Run ``task``'s first step now if it is the last callback the loop
        queued (asyncio's loop queues it as the task is made); else leave it.

        What 3.12 does through ``eager_start``, 3.11 offers only through its loop's
        internals, read by name here (this runs on 3.11 alone): the loop's queue
        of ready callbacks, a queued callback's function and context (the step
        catches whatever the coroutine raises, so it is run bare, without
        ``Handle._run``'s reporting), and the table of the task running on each
        loop.
        """
        ready = getattr(loop, "_ready", None)
        if not ready:
            return  # not asyncio's loop (uvloop): the task starts next iteration
        handle = ready[-1]
        # The step is a method wrapper of the task's: its __self__ is the task.
        step = getattr(handle, "_callback", None)
        if getattr(step, "__self__", None) is not task:
            return
        ready.pop()
        context = getattr(handle, "_context")  # noqa: B009 (asyncio's own, by name)
        # A task entered on the loop would refuse to let another step; set the
        # caller's aside meanwhile, as 3.12's eager start does.
        caller = _current_tasks.get(loop)
        if caller is None:
            context.run(step)
            return
        _leave_task(loop, caller)
        try:
            context.run(step)
        finally:
            _enter_task(loop, caller)
