"""Runs the handlers of a server's calls: the waiting half of a call.

A :class:`Dispatcher` wraps the handlers of the services it serves in the server's
interceptors and keeps the protocol core (:class:`~uvrpc.core.server.ServerProtocol`)
that routes, decodes and encodes. :meth:`Dispatcher.run` awaits a request's handler
in the call's context and turns how it ended into the reply frames the core makes;
:class:`RunningCalls` keeps the handlers that wait, for a CANCEL or their deadline.
:class:`uvrpc.Server` drives it from a ROUTER socket; :mod:`uvrpc.testing` in memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable, KeysView, Sequence
from functools import partial
from typing import Any

from ..core.context import CURRENT_CALL, MAX_METADATA, ServerCall
from ..core.server import (
    Handler,
    Rejected,
    Request,
    Route,
    ServerProtocol,
    StreamMessage,
    error_reply,
    gives_up_expired,
)
from ..interceptors.base import ServerInterceptor, checked_interceptors
from ..wire.buffers import ATTACHMENT_MIN, BufferPool
from ..wire.limits import MAX_MESSAGE_SIZE
from ..wire.methods import StreamingMethod, Unary
from ..wire.protocol import StreamHeader
from ..wire.service import ServiceBase
from ..wire.status import Status
from .intercept import intercept_handler

__all__ = [
    "Dispatcher",
    "Route",
    "Rejected",
    "Request",
    "RunningCalls",
    "StreamMessage",
    "error_reply",
]

_log = logging.getLogger("uvrpc.server")

_STOPS = (KeyboardInterrupt, SystemExit)
"""What a handler raises that is not answered as its call's failure."""


class Dispatcher:
    """Runs the handlers of the services it serves.

    Args:
        services: instances of generated ``<Service>Server`` subclasses. Two services
            with the same wire name are an error.
        pool: the pool of encode buffers for replies; the process-wide one by
            default.
        attachment_min: binary results at least this many bytes long travel as
            frames of their own.
        debug: send the server's traceback of an undeclared exception to the
            caller (in the error's ``details["traceback"]``); off by default, as a
            traceback tells a caller about the server's code.
        max_metadata: the most bytes a request's metadata may add up to; a
            request with more is refused with RESOURCE_EXHAUSTED.
        max_message_size: the largest message taken, in bytes.
        interceptors: run around each handler, the first outermost
            (:class:`~uvrpc.ServerInterceptor`); a stream's by :mod:`uvrpc.sessions`
            through :meth:`intercept_stream`.
    """

    def __init__(
        self,
        services: Sequence[ServiceBase],
        *,
        pool: BufferPool | None = None,
        attachment_min: int = ATTACHMENT_MIN,
        debug: bool = False,
        max_metadata: int = MAX_METADATA,
        max_message_size: int = MAX_MESSAGE_SIZE,
        interceptors: Sequence[ServerInterceptor] = (),
    ) -> None:
        self._interceptors = checked_interceptors(interceptors, "intercept_server")
        self.protocol = ServerProtocol(
            services,
            pool=pool,
            attachment_min=attachment_min,
            debug=debug,
            max_metadata=max_metadata,
            max_message_size=max_message_size,
            wrap=lambda method, handler: intercept_handler(
                self._interceptors,
                method,
                handler,
                # Inside the interceptors, so that they see the INTERNAL error
                # a result not of the declared type is answered with.
                check_result=None
                if method.oneway
                else partial(self._check_result, method),
            ),
        )
        """The protocol core: routes, decodes requests, encodes replies."""
        protocol = self.protocol
        self.decode = protocol.decode
        """Decode and validate a request's header and body (see
        :meth:`ServerProtocol.decode <uvrpc.core.server.ServerProtocol.decode>`)."""
        self.settle: Callable[[Any, bool], None] = protocol.settle
        """Say whether the reply with this body went out (see
        :meth:`uvrpc.buffers.BodyEncoder.settle`)."""
        self._reply = protocol.reply
        self._failed = protocol.failed_reply
        self._expired = protocol.expired_reply

    def _check_result(self, method: Unary[Any, Any], result: Any) -> None:
        """:meth:`ServerProtocol.check_result`, looked up when a call ends: the
        protocol wraps its handlers while it is being made."""
        self.protocol.check_result(method, result)

    def intercept_stream(self, method: StreamingMethod, handler: Handler) -> Handler:
        """A stream call's handler (as the session runs it) wrapped in the
        interceptors; itself without any."""
        return intercept_handler(self._interceptors, method, handler)

    async def run(self, request: Request, *, reply_expired: bool = True) -> list[Any]:
        """Run a request's handler; return the reply ``[attachment..., header, body]``.

        Never raises for the handler's own failures: an :class:`RpcError` becomes a
        reply with its status, any other exception an ``UNKNOWN`` reply naming it.
        A call whose deadline passed before the handler started, or while it ran
        (its task is cancelled then), is answered DEADLINE_EXCEEDED; without
        ``reply_expired`` (a stream's), the latter raises ``CancelledError``
        instead: a stream ends at its deadline without a reply.
        The body, the last frame, may be a view of a pooled buffer: pass it to
        :meth:`settle` once the reply was sent (or could not be).
        """
        call = request.call
        if call is not None:
            CURRENT_CALL.set(call)  # in the handler's own context: its task's
            deadline = call.deadline
            if deadline is not None and time.monotonic() >= deadline:
                call.mark_expired()
                return self._expired(request, started=False)
        try:
            result = await request.route.handler(**request.params)
        except Exception as exc:
            return self._failed(request, exc)
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            assert task is not None  # a handler always runs in a task of its own
            if not task.cancelling():
                # Raised by the handler (it awaited a future someone cancelled),
                # not a cancellation of its task: a failure like any other.
                return self._failed(request, exc)
            if call is None or not call.expired() or not reply_expired:
                raise  # cancelled by the client, or the server is closing
            task.uncancel()
            return self._expired(request)
        except _STOPS:
            raise  # Ctrl-C or sys.exit() in a handler stops the server, as in asyncio
        except BaseException as exc:
            # GeneratorExit or a BaseException of the handler's own: answered as
            # any failure. Left to propagate, it would reach the socket's reader
            # and lose the other requests of the batch it read.
            return self._failed(request, exc)
        return self._reply(request, result)

    async def run_oneway(self, request: Request) -> bool | None:
        """Run the handler of a oneway request; nothing is replied.

        Returns whether the handler succeeded (its exception, if any, is logged),
        or ``None`` if it did not start: the request's deadline had passed.
        """
        route = request.route
        call = request.call
        if call is not None:
            CURRENT_CALL.set(call)
            deadline = call.deadline
            if deadline is not None and time.monotonic() >= deadline:
                call.mark_expired()
                return None
        try:
            await route.handler(**request.params)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is None or task.cancelling():
                raise  # the server is closing
            _log.exception("oneway handler of %s raised", route.method.route)
            return False
        except _STOPS:
            raise
        except BaseException:
            _log.exception("oneway handler of %s raised", route.method.route)
            return False
        return True

    def close(self) -> None:
        """Give the reply encoder's buffer back to its pool."""
        self.protocol.close()


class RunningCalls:
    """The unary handlers running in tasks, by caller and call id: what a CANCEL
    finds, and what a deadline cancels.

    A handler that finished while its task started eagerly never gets here, and
    one whose task had yet to start is watched only if its first step leaves it
    waiting (see :meth:`track`). Entries leave as their tasks end, so the table
    holds only running handlers.

    Args:
        loop: the loop whose timers expire the calls.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._calls: dict[
            tuple[Hashable, int], tuple[asyncio.Task[Any], ServerCall | None]
        ] = {}
        self.calls: KeysView[tuple[Hashable, int]] = self._calls.keys()
        """The ``(caller, call id)`` of every call running here (a live view)."""

    def __len__(self) -> int:
        return len(self._calls)

    def track(
        self,
        caller: Hashable,
        task: asyncio.Task[Any],
        request: Request,
        on_end: Callable[[asyncio.Task[Any]], object] | None = None,
    ) -> None:
        """Keep ``task``, which runs ``request``'s handler, until it ends; cancel it
        at the call's deadline (the handler replies DEADLINE_EXCEEDED then). Then
        call ``on_end(task)``: the caller's own bookkeeping of the task, which
        needs no done callback of its own.

        A CANCEL finds the task at once. A task that has not run its first step
        (not started eagerly: Python 3.11, or a loop's own task factory) is watched
        to its end only after the loop has run that step, which is all most
        handlers need: until then the deadline needs no timer, since the handler
        checks it as it starts (:meth:`Dispatcher.run`).
        """
        key = (caller, request.call_id)
        call = request.call
        self._calls[key] = (task, call)
        if getattr(task.get_coro(), "cr_suspended", True):
            self._watch(key, task, call, on_end)
        else:
            # Callbacks run in the order they were scheduled: this one right after
            # the task's first step. Run before it, it would watch the task as one
            # that waits: the order decides the cost, never the outcome.
            self._loop.call_soon(self._watch, key, task, call, on_end)

    def _watch(
        self,
        key: tuple[Hashable, int],
        task: asyncio.Task[Any],
        call: ServerCall | None,
        on_end: Callable[[asyncio.Task[Any]], object] | None,
    ) -> None:
        """Forget ``task`` if it is done; else arm its deadline and forget it when
        it ends."""
        if task.done():
            self._end(key, task, None, on_end)
            return
        timer = None
        if call is not None and call.deadline is not None:
            delay = call.deadline - time.monotonic()
            timer = self._loop.call_later(delay, _expire, task, call)
        task.add_done_callback(lambda _: self._end(key, task, timer, on_end))

    def _end(
        self,
        key: tuple[Hashable, int],
        task: asyncio.Task[Any],
        timer: asyncio.TimerHandle | None,
        on_end: Callable[[asyncio.Task[Any]], object] | None,
    ) -> None:
        if timer is not None:
            timer.cancel()
        entry = self._calls.get(key)
        if entry is not None and entry[0] is task:
            del self._calls[key]
        if on_end is not None:
            on_end(task)

    def mark_cancelled(self, spare: asyncio.Task[Any] | None = None) -> None:
        """Record every running call (but ``spare``'s) as cancelled, before the
        server closing cancels their tasks: a handler's work that reads
        ``current_call().cancelled()`` (a thread it handed its work to, say)
        learns of it, as the handler of a stream call does."""
        for task, call in self._calls.values():
            if call is not None and task is not spare and not task.done():
                call.mark_cancelled()

    def cancel(
        self, caller: Hashable, call_id: int, message: StreamHeader | None = None
    ) -> Status | None:
        """End the handler of a call its client gave up (``message``: the
        CANCEL; ``None``: the caller is gone), and say how: CANCELLED, or
        DEADLINE_EXCEEDED if the call ran out of time (see
        :func:`~uvrpc.core.server.gives_up_expired`; it then replies as its
        deadline would have made it, and is counted so). ``None`` if no handler
        of the call runs, or its deadline ended it already."""
        entry = self._calls.get((caller, call_id))
        if entry is None or entry[0].done():
            return None
        task, call = entry
        if call is not None and call.expired():
            return None  # its deadline cancelled it already: one end, one count
        if call is not None and gives_up_expired(
            message, call.deadline, time.monotonic()
        ):
            _expire(task, call)
            return Status.DEADLINE_EXCEEDED
        if call is not None:
            call.mark_cancelled()
        task.cancel()
        return Status.CANCELLED


def _expire(task: asyncio.Task[Any], call: ServerCall) -> None:
    # A handler its client cancelled is ending already: it ends once, cancelled.
    if not task.done() and not call.cancelled():
        call.mark_expired()
        task.cancel()
