"""Start a coroutine at once, and make a task of it only if it has to wait.

A server handles most requests with handlers that never wait for anything (they
compute and return). Wrapping each in an :class:`asyncio.Task` costs more than many
such handlers take to run, and delays the reply by at least one loop iteration.
:func:`start_eagerly` runs the coroutine right away, in a context of its own as a task
would; if it completes, no task is made. If it suspends, a task takes over from where
it stopped, with a task's semantics: it resumes when the awaited future is done, and
cancelling the task cancels that future (so the coroutine sees ``CancelledError``
where it waits). Python 3.12's eager task factory does the same inside the loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from collections.abc import Coroutine
from typing import Any

__all__ = ["start_eagerly"]


def start_eagerly(
    coro: Coroutine[Any, Any, None], loop: asyncio.AbstractEventLoop
) -> asyncio.Task[None] | None:
    """Run ``coro`` until it finishes or first waits.

    Returns ``None`` if it finished (its exception, if any, propagates), or the task
    that runs the rest of it.
    """
    context = contextvars.copy_context()
    try:
        waiting_on = _released(context.run(coro.send, None))
    except StopIteration:
        return None
    task = loop.create_task(_resume(coro, waiting_on), context=context)
    task.add_done_callback(lambda done: _cancelled_early(done, coro, context))
    return task


def _cancelled_early(
    task: asyncio.Task[None], coro: Coroutine[Any, Any, None], context: Any
) -> None:
    """A task cancelled before its first step never ran ``_resume``: the coroutine,
    still waiting where it first stopped, gets the ``CancelledError`` there, as a
    task's coroutine would, so that its ``except`` and ``finally`` clauses run."""
    if not task.cancelled() or inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED:
        return
    try:
        context.run(coro.throw, asyncio.CancelledError())
    except (asyncio.CancelledError, StopIteration):
        return
    except BaseException:  # its cleanup failed: nobody is left to tell
        return
    coro.close()  # its cleanup waits for something: no loop step is left for it


def _released(waiting_on: Any) -> Any:
    """Clear the mark a coroutine's await leaves on the future it yields.

    ``await future`` marks the future as blocking a task and yields it; the task's
    step clears the mark at once. Until it is cleared, any other coroutine awaiting
    the same future fails ("await wasn't used with future"), so it is cleared right
    after every step here too.
    """
    if asyncio.isfuture(waiting_on):
        waiting_on._asyncio_future_blocking = False
    return waiting_on


async def _resume(coro: Coroutine[Any, Any, None], waiting_on: Any) -> None:
    """Drive ``coro`` on from a suspension, as a task's steps would."""
    while True:
        error: BaseException | None = None
        if waiting_on is None:  # a bare yield, as in asyncio.sleep(0)
            try:
                await asyncio.sleep(0)
            except asyncio.CancelledError as exc:
                error = exc
        elif asyncio.isfuture(waiting_on):
            try:
                await waiting_on
            except asyncio.CancelledError as exc:
                # If cancelling this task cancelled the awaited future, resuming the
                # coroutine raises CancelledError where it waits. If that future
                # was already done, throw the cancellation in ourselves.
                if not waiting_on.cancelled():
                    error = exc
            except BaseException:
                pass  # the coroutine sees the future's exception when it resumes
        else:
            error = RuntimeError(f"coroutine yielded {waiting_on!r}, not a future")
        try:
            step = coro.send(None) if error is None else coro.throw(error)
            waiting_on = _released(step)
        except StopIteration:
            return
