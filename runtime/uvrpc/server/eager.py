"""Start a coroutine in a task of its own, its first step at once where Python can.

A server handles most requests with handlers that never wait for anything (they
compute and return). Scheduling a task for each delays its reply by a loop
iteration, and costs more than many such handlers take to run. On Python 3.12+
:func:`start_eagerly` starts the task eagerly, as :data:`asyncio.eager_task_factory`
does: the coroutine's first step runs at once, inside its task, so one that never
waits is done before :func:`start_eagerly` returns, and its task is never scheduled.
Python 3.11 has no eager start: there the task runs from the next loop iteration,
as any task does.

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

    def _task(
        coro: Coroutine[Any, Any, None], loop: asyncio.AbstractEventLoop
    ) -> asyncio.Task[None]:
        return loop.create_task(coro)
