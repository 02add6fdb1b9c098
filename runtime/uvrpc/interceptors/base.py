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

On every side they run around every call, stream calls and (on the client)
started calls included, and ``proceed`` returns when the call ends: the same
code times and counts every kind.

See ``docs/interceptors.md``. Without interceptors nothing of this runs: the
handlers and the call methods are the plain ones.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Coroutine, Iterable
from functools import partial
from typing import Any, Protocol, TypeVar

from ..core.context import Metadata, ServerCall
from ..wire.errors import RpcError
from ..wire.methods import StreamingMethod, Unary
from ..wire.status import Status

__all__ = [
    "ClientCallInfo",
    "ClientInterceptor",
    "LoggingInterceptor",
    "Proceed",
    "ServerCallInfo",
    "ServerInterceptor",
    "SyncClientInterceptor",
    "SyncProceed",
    "checked_interceptors",
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
        method: the method's descriptor (:class:`~uvrpc.Unary` or a streaming
            kind).
        args: the call's arguments keyed by their wire ids, as the request
            carries them (``{"1": 40, "2": 2}``; for a stream call, those other
            than the stream).
        timeout: the call's timeout in seconds, or ``None``.
        metadata: the headers sent with the call: those of the enclosing
            :func:`uvrpc.metadata` blocks, to which an interceptor may add (or
            from which it may remove) entries.
        items: the items a client- or bidirectional-streaming call sends (an
            iterable; asynchronous on a :class:`~uvrpc.Channel`, where a plain
            iterable the caller gave arrives wrapped in a
            :class:`~uvrpc.client.streams.SyncItems`), which an interceptor may wrap;
            ``None`` for other calls.
        trailers: the trailers of the reply, once ``proceed`` returned (or
            raised); empty before.
    """

    __slots__ = ("args", "items", "metadata", "method", "timeout", "trailers")

    def __init__(
        self,
        method: Unary[Any, Any] | StreamingMethod,
        args: dict[str, Any],
        timeout: float | None,
        metadata: dict[str, str | bytes],
        items: AsyncIterable[Any] | Iterable[Any] | None = None,
    ) -> None:
        self.method = method
        self.args = args
        self.timeout = timeout
        self.metadata = metadata
        self.items = items
        self.trailers: Metadata = {}

    @property
    def route(self) -> str:
        """The method's route (``calculator.Calculator.add``)."""
        return self.method.route

    @property
    def kind(self) -> str:
        """``unary``, ``oneway``, ``server_stream``, ``client_stream`` or
        ``bidi_stream`` (a started call is ``unary``)."""
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
    """Runs around each call of a :class:`~uvrpc.Channel`: unary, oneway,
    started (``start_<method>``) and stream calls of every kind."""

    async def intercept_client(self, call: ClientCallInfo, proceed: Proceed) -> Any:
        """Return the call's result, usually ``await proceed()``.

        ``proceed`` returns when the call ends, with its result (``None`` for a
        oneway call, and for a server or bidirectional stream, whose items
        reach the caller meanwhile), or raises its error. For a stream call it
        returns once the last reply arrived, and raises the call's error if it
        failed, was cancelled or closed early; it may be called only once.
        """
        ...


class SyncClientInterceptor(Protocol):
    """Runs around each call of a :class:`~uvrpc.SyncChannel`: unary, oneway,
    client stream, server stream and bidirectional stream calls.

    A server or bidirectional stream's interceptors run on a thread of their own
    while the caller iterates the items (``proceed`` returns when the stream
    ends); the others run in the caller's thread.
    """

    def intercept_sync(self, call: ClientCallInfo, proceed: SyncProceed) -> Any:
        """Return the call's result, usually ``proceed()``; ``proceed`` returns
        when the call ends, as for :meth:`ClientInterceptor.intercept_client`."""
        ...


def checked_interceptors(interceptors: Iterable[_T], method: str) -> tuple[_T, ...]:
    """The ``interceptors=`` of a channel or a server, as a tuple, each having
    ``method`` (``intercept_client``, ``intercept_sync`` or ``intercept_server``).

    Raises:
        TypeError: one interceptor was given where a list goes, or something that
            has no ``method``: said as the channel or server is made, not at its
            first call.
    """
    if hasattr(interceptors, method) or not isinstance(interceptors, Iterable):
        name = type(interceptors).__name__
        raise TypeError(
            f"interceptors= takes a list, interceptors=[{name}(...)], not {name} "
            f"{interceptors!r:.60}"
        )
    chain = tuple(interceptors)
    for each in chain:
        if isinstance(each, type):  # its method is there, unbound: it needs self
            raise TypeError(
                f"{each.__name__} is an interceptor class: give an instance of it, "
                f"interceptors=[{each.__name__}(...)]"
            )
        if not callable(getattr(each, method, None)):
            raise TypeError(
                f"{each!r:.60} ({type(each).__name__}) is no interceptor here: it has "
                f"no {method}() method"
            )
    return chain


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


# --- logging -----------------------------------------------------------------


class LoggingInterceptor:
    """Logs one line per call, when it ends: side, route, status and duration
    (a stream call's whole, from its first use to its last reply).

    Usable on a server, an asyncio channel and a blocking channel alike::

        log = uvrpc.LoggingInterceptor()
        server = uvrpc.Server(Calculator(), interceptors=[log])

    Lines look like ``server calculator.Calculator.add OK 0.153 ms`` (a failed
    call adds its error's message). Each record also carries the call's fields as
    attributes (``extra=``), for a structured (JSON) formatter or a filter:
    ``rpc_side`` (``server`` or ``client``), ``rpc_route``, ``rpc_kind``,
    ``rpc_status`` (the status name), ``rpc_status_code`` (its number),
    ``duration_ms``, ``peer`` (on a server over CURVE the caller's public key,
    :attr:`~uvrpc.ServerCall.peer_key`; else ``None``) and ``rpc_error`` (the
    error's message, ``None`` for OK).

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
        info: ServerCallInfo | ClientCallInfo,
        error: BaseException | None,
        started: float,
        call: ServerCall | None = None,
    ) -> None:
        level = self.level if error is None else self.error_level
        if not self.logger.isEnabledFor(level):
            return
        elapsed = (time.perf_counter() - started) * 1000
        status = status_of(error, call)
        message: str | None = None
        if error is not None:
            message = (
                error.message
                if isinstance(error, RpcError)
                else f"{type(error).__name__}: {error}"  # as the caller reads it
            )
        extra = {
            "rpc_side": side,
            "rpc_route": info.route,
            "rpc_kind": info.kind,
            "rpc_status": status.name,
            "rpc_status_code": int(status),
            "duration_ms": elapsed,
            "peer": call.peer_key if call is not None else None,
            "rpc_error": message,
        }
        if error is None:
            self.logger.log(
                level, "%s %s OK %.3f ms", side, info.route, elapsed, extra=extra
            )
        else:
            self.logger.log(
                level,
                "%s %s %s %.3f ms: %s",
                side,
                info.route,
                status.name,
                elapsed,
                message,
                extra=extra,
            )

    async def intercept_server(self, call: ServerCallInfo, proceed: Proceed) -> Any:
        """Log the call the server served."""
        return await _timed(proceed(), partial(self._log, "server", call), call.call)

    async def intercept_client(self, call: ClientCallInfo, proceed: Proceed) -> Any:
        """Log the call the channel made."""
        return await _timed(proceed(), partial(self._log, "client", call))

    def intercept_sync(self, call: ClientCallInfo, proceed: SyncProceed) -> Any:
        """Log the call the blocking channel made."""
        started = time.perf_counter()
        try:
            result = proceed()
        except BaseException as exc:
            self._log("client", call, exc, started)
            raise
        self._log("client", call, None, started)
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
