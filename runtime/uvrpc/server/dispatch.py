"""The server half of a call, independent of sockets.

A :class:`Dispatcher` holds the route table of the services it serves. It turns the
frames of a request into a :class:`Request` (or an immediate error reply) and runs a
request's handler to produce the reply frames; the messages of streams it hands on
as :class:`StreamMessage` for :mod:`uvrpc.sessions`. :class:`uvrpc.Server` drives it
from a ROUTER socket; :mod:`uvrpc.testing` drives it in memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from pydantic import ValidationError

from ..core.calls import MethodInfo
from ..core.context import CURRENT_CALL, MAX_METADATA, ServerCall, encode_metadata
from ..core.context import validate_metadata as _validate_metadata
from ..interceptors.base import ServerInterceptor
from ..wire.buffers import ATTACHMENT_MIN, BodyEncoder, BufferPool
from ..wire.codec import DecodeError, EncodeError, unpack
from ..wire.errors import (
    DeadlineExceeded,
    DeclaredError,
    InternalError,
    InvalidArgument,
    ProtocolError,
    RemoteError,
    RpcError,
    Unimplemented,
)
from ..wire.methods import StreamingMethod, Unary
from ..wire.protocol import (
    ONEWAY_CALL_ID,
    RequestHeader,
    StreamHeader,
    encode_error_body,
    encode_reply_header,
    parse_request_header,
    parse_server_header,
    version_mismatch_message,
)
from ..wire.service import ServiceBase
from ..wire.status import Status
from ..wire.validation import invalid_argument
from ..wire.version import PROTOCOL_VERSION
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

Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Route:
    """A served method: its descriptor and the handler that serves it."""

    method: Unary[Any, Any]
    """The method, or for a stream the unary method of its last reply."""
    handler: Handler
    stream: StreamingMethod | None = None
    """The streaming method, if this is one."""


class Request(NamedTuple):
    """A request that decoded and validated: ready to run.

    A named tuple, because a frozen dataclass costs several times as much to build
    and one is built per request.
    """

    call_id: int
    route: Route
    params: dict[str, Any]
    timeout_ms: int | None
    window: int | None = None
    """The items the client lets the server send at first (streams only)."""
    call: ServerCall | None = None
    """What :func:`uvrpc.current_call` returns to the handler: the deadline (from
    the time the request was read), the metadata, the trailers to send."""


class StreamMessage(NamedTuple):
    """An ITEM, END, CANCEL or CREDIT message of a stream, not yet decoded."""

    header: StreamHeader
    body: Any
    attachments: Sequence[Any]


class Rejected(Exception):
    """A request that cannot run.

    ``reply`` holds the error reply's frames, or is ``None`` when the request was too
    malformed to say which call it was (it is then dropped and counted).
    """

    def __init__(self, reason: str, reply: list[bytes] | None) -> None:
        super().__init__(reason)
        self.reply = reply


def error_reply(
    call_id: int, error: RpcError, call: ServerCall | None = None
) -> list[bytes]:
    """The frames ``[header, body]`` of an error reply (with ``call``'s trailers)."""
    header = encode_reply_header(call_id, error.status, _trailers(call))
    return [header, encode_error_body(error)]


def _trailers(call: ServerCall | None) -> bytes | None:
    if call is None or not call.trailers:
        return None
    return encode_metadata(call.trailers)


def _rejected(call_id: int, error: RpcError) -> Rejected:
    return Rejected(error.message, error_reply(call_id, error))


class Dispatcher:
    """Routes requests to the handlers of the services it serves.

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
        interceptors: Sequence[ServerInterceptor] = (),
    ) -> None:
        self._debug = debug
        self._interceptors = tuple(interceptors)
        self._max_metadata = max_metadata
        self._routes: dict[str, Route] = {}
        self._services: set[str] = set()
        for service in services:
            spec = type(service).uvrpc_service
            if spec.name in self._services:
                raise ValueError(f"service {spec.name} is served twice")
            self._services.add(spec.name)
            for method in spec.methods:
                handler = getattr(service, method.handler)
                if isinstance(method, StreamingMethod):
                    route = Route(method.final, handler, method)
                else:
                    handler = intercept_handler(self._interceptors, method, handler)
                    route = Route(method, handler)
                self._routes[method.route] = route
        self._encoder = BodyEncoder(pool, attachment_min=attachment_min)
        self.settle: Callable[[Any, bool], None] = self._encoder.settle
        """Say whether the reply with this body went out (see
        :meth:`uvrpc.buffers.BodyEncoder.settle`)."""

    def handler_error(self, method: MethodInfo, exc: Exception) -> RpcError:
        """The error a handler's exception is sent back as.

        An :class:`RpcError` is sent as it is, except an IDL-declared exception the
        method does not declare; that one, and every other exception, is an
        ``UNKNOWN`` :class:`RemoteError` naming the exception's type and message
        (and, with ``debug``, carrying the server's traceback in its details).
        """
        if isinstance(exc, DeclaredError):
            if method.errors_by_name.get(exc.uvrpc_name) is type(exc):
                return exc
        elif isinstance(exc, RpcError):
            return exc
        _log.error("handler of %s raised", method.route, exc_info=exc)
        detail = exc.message if isinstance(exc, RpcError) else str(exc)
        details: dict[str, Any] = {}
        if self._debug:
            details["traceback"] = "".join(traceback.format_exception(exc))
        return RemoteError(f"{type(exc).__name__}: {detail}", details)

    def intercept_stream(self, method: StreamingMethod, handler: Handler) -> Handler:
        """A stream call's handler (as the session runs it) wrapped in the
        interceptors; itself without any."""
        return intercept_handler(self._interceptors, method, handler)

    @property
    def services(self) -> frozenset[str]:
        """The wire names of the services served."""
        return frozenset(self._services)

    def decode(
        self, header: Any, body: Any, attachments: Sequence[Any] = ()
    ) -> Request:
        """Decode and validate a request's header and body.

        A request with call id 0 (oneway) that cannot run is rejected with no reply.

        Raises:
            Rejected: the request cannot run; its ``reply`` (if any) says why.
        """
        try:
            head = parse_request_header(header)
        except ProtocolError as exc:
            raise Rejected(str(exc), None) from None
        return self._request(head, body, attachments)

    def receive(
        self, header: Any, body: Any, attachments: Sequence[Any] = ()
    ) -> Request | StreamMessage:
        """Decode any message a client sends: a request, as :meth:`decode` does, or
        a message of a stream, returned undecoded.

        Raises:
            Rejected: the message is a request that cannot run, or is malformed.
        """
        try:
            head = parse_server_header(header)
        except ProtocolError as exc:
            raise Rejected(str(exc), None) from None
        if type(head) is StreamHeader:
            return StreamMessage(head, body, attachments)
        assert type(head) is RequestHeader
        return self._request(head, body, attachments)

    def _request(
        self, head: RequestHeader, body: Any, attachments: Sequence[Any]
    ) -> Request:
        try:
            call_id = head.call_id
            if head.version != PROTOCOL_VERSION:
                message = version_mismatch_message(head.version)
                raise _rejected(call_id, Unimplemented(message))
            route = self._routes.get(head.route)
            if route is None:
                raise _rejected(call_id, self._unknown(head.route))
            try:
                args = unpack(body, attachments)
                params = route.method.params.model_validate(args)
            except DecodeError as exc:
                message = f"request of {head.route} is malformed: {exc}"
                raise _rejected(call_id, InvalidArgument(message)) from None
            except ValidationError as exc:
                raise _rejected(call_id, invalid_argument(head.route, exc)) from None
            if call_id == ONEWAY_CALL_ID and route.stream is not None:
                raise Rejected(f"{head.route} is a stream: it cannot be oneway", None)
            metadata = head.metadata
            if metadata is not None:
                metadata = self._metadata(head.route, call_id, metadata)
        except Rejected as rejected:
            if head.call_id == ONEWAY_CALL_ID:
                # Nothing is ever sent back for a oneway request, errors included.
                rejected.reply = None
            raise
        timeout_ms = head.timeout_ms
        # The deadline counts from now, on this host's clock: the peers' clocks
        # need not agree, and the time the request spent in transit is not known.
        deadline = None if timeout_ms is None else time.monotonic() + timeout_ms / 1000
        return Request(
            call_id,
            route,
            params.__dict__,
            timeout_ms,
            head.window,
            ServerCall(head.route, deadline, metadata),
        )

    def _metadata(self, route: str, call_id: int, metadata: Any) -> Any:
        """Check a request's metadata (a map of lowercase keys to str or bytes)."""
        if type(metadata) is not dict:
            error: RpcError = InvalidArgument(
                f"the metadata of a request of {route} is not a map"
            )
            raise _rejected(call_id, error)
        try:
            return _validate_metadata(metadata, "metadata", self._max_metadata)
        except RpcError as exc:
            raise _rejected(call_id, exc) from None

    def _unknown(self, route: str) -> Unimplemented:
        service = route.rpartition(".")[0]
        if service not in self._services:
            return Unimplemented(
                f"unknown service '{service}' (method '{route}'); this server serves "
                f"{', '.join(sorted(self._services)) or 'nothing'}"
            )
        return Unimplemented(f"unknown method '{route}'")

    async def run(self, request: Request) -> list[Any]:
        """Run a request's handler; return the reply ``[attachment..., header, body]``.

        Never raises for the handler's own failures: an :class:`RpcError` becomes a
        reply with its status, any other exception an ``UNKNOWN`` reply naming it.
        The body, the last frame, may be a view of a pooled buffer: pass it to
        :meth:`settle` once the reply was sent (or could not be).
        """
        route = request.route
        call = request.call
        if call is not None:
            CURRENT_CALL.set(call)  # in the handler's own context: its task's
            deadline = call.deadline
            if deadline is not None and time.monotonic() >= deadline:
                call.mark_expired()
                late = _expired(route.method, request.timeout_ms)
                return error_reply(request.call_id, late, call)
        try:
            result = await route.handler(**request.params)
        except Exception as exc:
            error = self.handler_error(route.method, exc)
            return error_reply(request.call_id, error, call)
        except asyncio.CancelledError:
            if call is None or not call.expired():
                raise  # cancelled by the client, or the server is closing
            task = asyncio.current_task()
            assert task is not None  # a handler always runs in a task of its own
            task.uncancel()
            late = _expired(route.method, request.timeout_ms)
            return error_reply(request.call_id, late, call)
        try:
            body, attachments = self._encoder.encode(
                result, route.method.reply_carries_bytes
            )
        except (EncodeError, ValueError, OverflowError) as exc:
            _log.error("reply of %s cannot be encoded: %s", route.method.route, exc)
            error = InternalError(f"the reply of {route.method.route} failed: {exc}")
            return error_reply(request.call_id, error, call)
        if call is not None and call.trailers:
            header = encode_reply_header(
                request.call_id, Status.OK, encode_metadata(call.trailers)
            )
        else:
            header = encode_reply_header(request.call_id, Status.OK)
        if attachments:
            return [*attachments, header, body]
        return [header, body]

    async def run_oneway(self, request: Request) -> bool:
        """Run the handler of a oneway request; nothing is replied.

        Returns whether the handler succeeded; its exception, if any, is logged.
        """
        route = request.route
        if request.call is not None:
            CURRENT_CALL.set(request.call)
        try:
            await route.handler(**request.params)
        except Exception:
            _log.exception("oneway handler of %s raised", route.method.route)
            return False
        return True

    def encode(self, value: Any, payloads: bool) -> tuple[Any, Sequence[Any]]:
        """Encode a message body (an item of a stream) with the reply encoder.

        The body must be passed to :attr:`settle` before the next encode.

        Raises:
            EncodeError, ValueError, OverflowError: the value cannot be encoded.
        """
        return self._encoder.encode(value, payloads)

    def close(self) -> None:
        """Give the reply encoder's buffer back to its pool."""
        self._encoder.close()


def _expired(method: MethodInfo, timeout_ms: int | None) -> DeadlineExceeded:
    timeout = "its deadline" if timeout_ms is None else f"{timeout_ms / 1000:g} s"
    return DeadlineExceeded(
        f"{method.route} did not finish within {timeout} (the server's deadline)"
    )


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

    def cancel(self, caller: Hashable, call_id: int) -> bool:
        """Cancel the handler of a call its client gave up; False if none runs."""
        entry = self._calls.get((caller, call_id))
        if entry is None or entry[0].done():
            return False
        task, call = entry
        if call is not None and call.expired():
            return False  # its deadline cancelled it already: one end, one count
        if call is not None:
            call.mark_cancelled()
        task.cancel()
        return True


def _expire(task: asyncio.Task[Any], call: ServerCall) -> None:
    # A handler its client cancelled is ending already: it ends once, cancelled.
    if not task.done() and not call.cancelled():
        call.mark_expired()
        task.cancel()
