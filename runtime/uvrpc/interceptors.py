"""Interceptors: code that runs around every call, on the server and the client.

An interceptor wraps a call: it gets what the call is (:class:`ServerCallInfo` or
:class:`ClientCallInfo`) and ``proceed``, which runs the rest of the chain and then
the call itself. It may read and change the metadata, time the call, see its
error, retry it, or answer without calling ``proceed`` at all.

Interceptors are given as a list; the first one is the outermost: it is entered
first and left last. One object may serve several sides by having several of the
methods below (:class:`LoggingInterceptor` and
:class:`~uvrpc.metrics.MetricsInterceptor` have all three):

- a :class:`ServerInterceptor` has ``async def intercept_server(call, proceed)``,
  for :class:`~uvrpc.Server` (``interceptors=``);
- a :class:`ClientInterceptor` has ``async def intercept_client(call, proceed)``,
  for :class:`~uvrpc.Channel` and :class:`~uvrpc.AsyncClient`;
- a :class:`SyncClientInterceptor` has ``def intercept_sync(call, proceed)``, for
  :class:`~uvrpc.SyncChannel` and :class:`~uvrpc.SyncClient`.

See ``docs/interceptors.md``. Without interceptors nothing of this runs: the
handlers and the call methods are the plain ones.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from functools import partial
from typing import Any, Protocol, TypeVar

from .context import (
    CallMetadata,
    Metadata,
    ServerCall,
    _current,
    _outgoing,
    validate_metadata,
)
from .errors import RpcError
from .methods import StreamingMethod, Unary
from .status import Status

__all__ = [
    "ClientCallInfo",
    "ClientInterceptor",
    "LoggingInterceptor",
    "Proceed",
    "ServerCallInfo",
    "ServerInterceptor",
    "SyncClientInterceptor",
    "SyncProceed",
    "status_of",
]

_T = TypeVar("_T")

Proceed = Callable[[], Awaitable[Any]]
"""Runs the rest of the chain and the call; returns the call's result or raises
its error. It may be called more than once (to retry) or not at all."""

SyncProceed = Callable[[], Any]
"""The blocking form of :data:`Proceed`, for :class:`SyncClientInterceptor`."""


def _kind(method: Unary[Any, Any] | StreamingMethod) -> str:
    if isinstance(method, Unary) and method.oneway:
        return "oneway"
    return method.kind


class ServerCallInfo:
    """A call as a server interceptor sees it.

    Attributes:
        method: the method's descriptor (:class:`~uvrpc.Unary` or a streaming
            kind).
        call: the :class:`~uvrpc.ServerCall` the handler serves
            (:func:`uvrpc.current_call`): set trailers on it with
            :meth:`~uvrpc.ServerCall.set_trailer`.
        args: the handler's keyword arguments, validated (for a client stream,
            the stream argument is the iterator of the client's items).
    """

    __slots__ = ("args", "call", "method")

    def __init__(
        self,
        method: Unary[Any, Any] | StreamingMethod,
        call: ServerCall,
        args: dict[str, Any],
    ) -> None:
        self.method = method
        self.call = call
        self.args = args

    @property
    def route(self) -> str:
        """The method's route (``calculator.Calculator.add``)."""
        return self.method.route

    @property
    def kind(self) -> str:
        """``unary``, ``oneway``, ``server_stream``, ``client_stream`` or
        ``bidi_stream``."""
        return _kind(self.method)

    @property
    def metadata(self) -> Metadata:
        """The request's metadata (empty if none was sent)."""
        return self.call.metadata

    @property
    def deadline(self) -> float | None:
        """The call's deadline in :func:`time.monotonic` seconds, or ``None``."""
        return self.call.deadline

    def __repr__(self) -> str:
        return f"<ServerCallInfo {self.kind} {self.route}>"


class ClientCallInfo:
    """A call as a client interceptor sees it, before it is sent.

    An interceptor may change the attributes before calling ``proceed``: the
    request is made from them.

    Attributes:
        method: the method's descriptor (:class:`~uvrpc.Unary`).
        args: the call's arguments by Python name.
        timeout: the call's timeout in seconds, or ``None``.
        metadata: the headers sent with the call: those of the enclosing
            :func:`uvrpc.metadata` blocks, to which an interceptor may add (or
            from which it may remove) entries.
        trailers: the trailers of the reply, once ``proceed`` returned (or
            raised); empty before.
    """

    __slots__ = ("args", "metadata", "method", "timeout", "trailers")

    def __init__(
        self,
        method: Unary[Any, Any],
        args: dict[str, Any],
        timeout: float | None,
        metadata: dict[str, str | bytes],
    ) -> None:
        self.method = method
        self.args = args
        self.timeout = timeout
        self.metadata = metadata
        self.trailers: Metadata = {}

    @property
    def route(self) -> str:
        """The method's route (``calculator.Calculator.add``)."""
        return self.method.route

    @property
    def kind(self) -> str:
        """``unary`` or ``oneway``."""
        return _kind(self.method)

    def __repr__(self) -> str:
        return f"<ClientCallInfo {self.kind} {self.route}>"


class ServerInterceptor(Protocol):
    """Runs around each call a :class:`~uvrpc.Server` serves."""

    async def intercept_server(self, call: ServerCallInfo, proceed: Proceed) -> Any:
        """Return the call's result, usually ``await proceed()``; raise an
        :class:`~uvrpc.RpcError` to fail the call with its status.

        For a unary or oneway call ``proceed`` runs the handler and returns its
        result. For a stream call it runs the whole call: it returns once the
        handler has sent its last item (``None``) or returned its result (a
        client stream).
        """
        ...


class ClientInterceptor(Protocol):
    """Runs around each unary or oneway call of a :class:`~uvrpc.Channel`."""

    async def intercept_client(self, call: ClientCallInfo, proceed: Proceed) -> Any:
        """Return the call's result, usually ``await proceed()`` (a oneway
        call's is ``None``)."""
        ...


class SyncClientInterceptor(Protocol):
    """Runs around each unary or oneway call of a :class:`~uvrpc.SyncChannel`."""

    def intercept_sync(self, call: ClientCallInfo, proceed: SyncProceed) -> Any:
        """Return the call's result, usually ``proceed()``."""
        ...


def status_of(error: BaseException | None, call: ServerCall | None = None) -> Status:
    """The status a call ends with when it ends with ``error`` (``None``: OK).

    An :class:`~uvrpc.RpcError` carries its own; a cancellation is CANCELLED, or
    DEADLINE_EXCEEDED when ``call`` (a server's) ran past its deadline; any
    other exception is UNKNOWN, as the server replies it.
    """
    if error is None:
        return Status.OK
    if isinstance(error, RpcError):
        return error.status
    if isinstance(error, asyncio.CancelledError):
        if call is not None and call.expired():
            return Status.DEADLINE_EXCEEDED
        return Status.CANCELLED
    return Status.UNKNOWN


# --- the chains --------------------------------------------------------------


def intercept_handler(
    interceptors: Sequence[ServerInterceptor],
    method: Unary[Any, Any] | StreamingMethod,
    handler: Callable[..., Awaitable[Any]],
) -> Callable[..., Awaitable[Any]]:
    """``handler`` wrapped in ``interceptors`` (itself when there are none).

    The wrapped handler must run where :func:`uvrpc.current_call` answers, as the
    dispatcher runs handlers.
    """
    if not interceptors:
        return handler
    chain = tuple(reversed(interceptors))

    async def intercepted(**args: Any) -> Any:
        call = _current.get()
        assert call is not None, "handlers run with their call set"
        info = ServerCallInfo(method, call, args)
        proceed: Proceed = partial(handler, **args)
        for interceptor in chain:
            proceed = partial(interceptor.intercept_server, info, proceed)
        return await proceed()

    return intercepted


def _info(
    method: Unary[Any, Any], args: dict[str, Any], timeout: float | None
) -> tuple[ClientCallInfo, CallMetadata | None]:
    scope = _outgoing.get()
    headers = dict(scope.headers) if scope is not None else {}
    return ClientCallInfo(method, args, timeout, headers), scope


def _scope_for(info: ClientCallInfo, outer: CallMetadata | None) -> CallMetadata | None:
    """The metadata scope the request is made in: the enclosing one if the
    interceptors left the headers as they were."""
    if outer is not None and info.metadata == outer.headers:
        return outer
    if outer is None and not info.metadata:
        return None
    return CallMetadata(validate_metadata(info.metadata, "metadata"))


def _ended(
    info: ClientCallInfo, scope: CallMetadata, outer: CallMetadata | None
) -> None:
    info.trailers = scope.trailers
    if outer is not None:
        outer.trailers = scope.trailers


async def intercept_call(
    interceptors: Sequence[ClientInterceptor],
    call: Callable[[Unary[Any, _T], dict[str, Any], float | None], Awaitable[_T]],
    method: Unary[Any, _T],
    args: dict[str, Any],
    timeout: float | None,
) -> _T:
    """Make a call through ``interceptors``; ``call`` makes the call itself."""
    info, outer = _info(method, args, timeout)

    async def send() -> Any:
        scope = _scope_for(info, outer)
        if scope is None:
            return await call(info.method, info.args, info.timeout)
        token = _outgoing.set(scope)
        try:
            return await call(info.method, info.args, info.timeout)
        finally:
            _outgoing.reset(token)
            _ended(info, scope, outer)

    proceed: Proceed = send
    for interceptor in reversed(interceptors):
        proceed = partial(interceptor.intercept_client, info, proceed)
    result: _T = await proceed()
    return result


def intercept_sync_call(
    interceptors: Sequence[SyncClientInterceptor],
    call: Callable[[Unary[Any, _T], dict[str, Any], float | None], _T],
    method: Unary[Any, _T],
    args: dict[str, Any],
    timeout: float | None,
) -> _T:
    """Make a blocking call through ``interceptors``."""
    info, outer = _info(method, args, timeout)

    def send() -> Any:
        scope = _scope_for(info, outer)
        if scope is None:
            return call(info.method, info.args, info.timeout)
        token = _outgoing.set(scope)
        try:
            return call(info.method, info.args, info.timeout)
        finally:
            _outgoing.reset(token)
            _ended(info, scope, outer)

    proceed: SyncProceed = send
    for interceptor in reversed(interceptors):
        proceed = partial(interceptor.intercept_sync, info, proceed)
    result: _T = proceed()
    return result


# --- logging -----------------------------------------------------------------


class LoggingInterceptor:
    """Logs one line per call: side, route, status and duration.

    Usable on a server, an asyncio channel and a blocking channel alike::

        log = uvrpc.LoggingInterceptor()
        server = uvrpc.Server(Calculator(), interceptors=[log])

    Lines look like ``server calculator.Calculator.add OK 0.153 ms`` (a failed
    call adds its error's message).

    Args:
        logger: where the lines go; ``logging.getLogger("uvrpc.calls")`` by
            default.
        level: the level of successful calls' lines.
        error_level: the level of failed calls' lines.
    """

    def __init__(
        self,
        logger: logging.Logger | None = None,
        *,
        level: int = logging.INFO,
        error_level: int = logging.INFO,
    ) -> None:
        self.logger = logger if logger is not None else logging.getLogger("uvrpc.calls")
        self.level = level
        self.error_level = error_level

    def _log(
        self,
        side: str,
        route: str,
        error: BaseException | None,
        started: float,
        call: ServerCall | None = None,
    ) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        status = status_of(error, call)
        if error is None:
            if self.logger.isEnabledFor(self.level):
                self.logger.log(self.level, "%s %s OK %.3f ms", side, route, elapsed)
        elif self.logger.isEnabledFor(self.error_level):
            message = error.message if isinstance(error, RpcError) else str(error)
            self.logger.log(
                self.error_level,
                "%s %s %s %.3f ms: %s",
                side,
                route,
                status.name,
                elapsed,
                message,
            )

    async def intercept_server(self, call: ServerCallInfo, proceed: Proceed) -> Any:
        """Log the call the server served."""
        return await _timed(
            proceed(), partial(self._log, "server", call.route), call.call
        )

    async def intercept_client(self, call: ClientCallInfo, proceed: Proceed) -> Any:
        """Log the call the channel made."""
        return await _timed(proceed(), partial(self._log, "client", call.route))

    def intercept_sync(self, call: ClientCallInfo, proceed: SyncProceed) -> Any:
        """Log the call the blocking channel made."""
        started = time.perf_counter()
        try:
            result = proceed()
        except BaseException as exc:
            self._log("client", call.route, exc, started)
            raise
        self._log("client", call.route, None, started)
        return result


Observe = Callable[[BaseException | None, float, ServerCall | None], None]


async def _timed(
    work: Coroutine[Any, Any, _T] | Awaitable[_T],
    observe: Observe,
    call: ServerCall | None = None,
) -> _T:
    """Await ``work``, then tell ``observe`` how it ended and when it started."""
    started = time.perf_counter()
    try:
        result = await work
    except BaseException as exc:
        observe(exc, started, call)
        raise
    observe(None, started, call)
    return result
