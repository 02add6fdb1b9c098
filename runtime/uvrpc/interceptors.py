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
import contextvars
import logging
import threading
import time
from collections.abc import (
    AsyncIterable,
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Iterable,
    Iterator,
    Sequence,
)
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from .calls import decode_reply
from .context import (
    CallMetadata,
    Metadata,
    ServerCall,
    _current,
    _outgoing,
    validate_metadata,
)
from .errors import Cancelled, RpcError
from .handle import Call, InterceptedCall
from .methods import StreamingMethod, Unary
from .protocol import ReplyHeader
from .status import Status

if TYPE_CHECKING:
    from .streams import StreamCall

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
        method: the method's descriptor (:class:`~uvrpc.Unary` or a streaming
            kind).
        args: the call's arguments by Python name (for a stream call, those
            other than the stream).
        timeout: the call's timeout in seconds, or ``None``.
        metadata: the headers sent with the call: those of the enclosing
            :func:`uvrpc.metadata` blocks, to which an interceptor may add (or
            from which it may remove) entries.
        items: the items a client- or bidirectional-streaming call sends (an
            iterable; asynchronous on a :class:`~uvrpc.Channel`), which an
            interceptor may wrap; ``None`` for other calls.
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
    client stream and server stream calls.

    A server stream's interceptors run on a thread of their own while the
    caller iterates the items (``proceed`` returns when the stream ends); the
    others run in the caller's thread.
    """

    def intercept_sync(self, call: ClientCallInfo, proceed: SyncProceed) -> Any:
        """Return the call's result, usually ``proceed()``; ``proceed`` returns
        when the call ends, as for :meth:`ClientInterceptor.intercept_client`."""
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
    method: Unary[Any, Any] | StreamingMethod,
    args: dict[str, Any],
    timeout: float | None,
    items: AsyncIterable[Any] | Iterable[Any] | None = None,
) -> tuple[ClientCallInfo, CallMetadata | None]:
    scope = _outgoing.get()
    headers = dict(scope.headers) if scope is not None else {}
    return ClientCallInfo(method, args, timeout, headers, items), scope


def _unary(info: ClientCallInfo) -> Unary[Any, Any]:
    """The method of a unary call's info."""
    return cast(Unary[Any, Any], info.method)


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
            return await call(_unary(info), info.args, info.timeout)
        token = _outgoing.set(scope)
        try:
            return await call(_unary(info), info.args, info.timeout)
        finally:
            _outgoing.reset(token)
            _ended(info, scope, outer)

    result: _T = await _client_chain(interceptors, info, send)()
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
            return call(_unary(info), info.args, info.timeout)
        token = _outgoing.set(scope)
        try:
            return call(_unary(info), info.args, info.timeout)
        finally:
            _outgoing.reset(token)
            _ended(info, scope, outer)

    result: _T = _sync_chain(interceptors, info, send)()
    return result


def _client_chain(
    interceptors: Sequence[ClientInterceptor], info: ClientCallInfo, send: Proceed
) -> Proceed:
    proceed = send
    for interceptor in reversed(interceptors):
        proceed = partial(interceptor.intercept_client, info, proceed)
    return proceed


def _sync_chain(
    interceptors: Sequence[SyncClientInterceptor],
    info: ClientCallInfo,
    send: SyncProceed,
) -> SyncProceed:
    proceed = send
    for interceptor in reversed(interceptors):
        proceed = partial(interceptor.intercept_sync, info, proceed)
    return proceed


def _in_scope(
    info: ClientCallInfo, outer: CallMetadata | None, make: Callable[[], _T]
) -> _T:
    """``make()`` the request with the interceptors' metadata."""
    scope = _scope_for(info, outer)
    if scope is None or scope is outer:
        return make()
    token = _outgoing.set(scope)
    try:
        return make()
    finally:
        _outgoing.reset(token)


def _once(info: ClientCallInfo) -> Callable[[], None]:
    """A check that ``proceed`` of a stream call runs once only."""
    made = False

    def check() -> None:
        nonlocal made
        if made:
            raise RuntimeError(
                f"{info.route} is a stream call: its proceed() may run once only"
            )
        made = True

    return check


OpenStream = Callable[[ClientCallInfo], "StreamCall"]
"""Opens a stream call from what the interceptors left in the call's info."""


def client_info(
    method: Unary[Any, Any] | StreamingMethod,
    args: dict[str, Any],
    timeout: float | None,
    items: AsyncIterable[Any] | Iterable[Any] | None = None,
) -> tuple[ClientCallInfo, CallMetadata | None]:
    """A call's info for the interceptors, and the metadata scope it is made in."""
    return _info(method, args, timeout, items)


async def intercept_stream(
    interceptors: Sequence[ClientInterceptor],
    info: ClientCallInfo,
    outer: CallMetadata | None,
    open_stream: OpenStream,
    opened: Callable[[StreamCall], None] | None = None,
) -> Any:
    """Make a stream call through ``interceptors``; return when it ends.

    ``open_stream`` registers and sends the call; ``opened`` is told the call
    once it is (the caller reads its items meanwhile). Returns the call's result
    (``None`` but for a client stream) or raises its error.
    """
    once = _once(info)

    async def send() -> Any:
        once()
        call = _in_scope(info, outer, partial(open_stream, info))
        if opened is not None:
            opened(call)
        try:
            header, body, attachments = await call.result()
        except asyncio.CancelledError:
            call.cancel()
            raise
        info.trailers = header.trailers or {}
        method = cast(StreamingMethod, info.method)
        return decode_reply(method.final, header, body, attachments)

    return await _client_chain(interceptors, info, send)()


def intercept_start(
    interceptors: Sequence[ClientInterceptor],
    start: Callable[[Unary[Any, _T], dict[str, Any], float | None], Call[_T]],
    method: Unary[Any, _T],
    args: dict[str, Any],
    timeout: float | None,
) -> Call[_T]:
    """Start a call through ``interceptors`` and return its handle at once.

    The interceptors run in a task of their own, which sends the request when
    they proceed (not, then, before this returns). The handle's result is what
    they return; its trailers are the call's.
    """
    loop = asyncio.get_running_loop()
    info, outer = _info(method, args, timeout)
    handle: InterceptedCall[_T] = InterceptedCall(method, loop.create_future())

    async def send() -> Any:
        method = cast(Unary[Any, _T], info.method)
        made = _in_scope(info, outer, partial(start, method, info.args, info.timeout))
        handle.made.append(made)
        try:
            return await made
        except asyncio.CancelledError:
            if made.refcount:  # else released already, which cancelled it
                made.cancel()
            raise
        finally:
            info.trailers = _trailers_of(made)

    proceed = _client_chain(interceptors, info, send)

    async def run() -> None:
        try:
            value = await proceed()
        except BaseException as exc:
            handle.settle(None, exc, info.trailers)
        else:
            handle.settle(value, None, info.trailers)

    handle.task = loop.create_task(run())
    return handle


def _trailers_of(call: Call[Any]) -> Metadata:
    """A started call's trailers; empty if it ended without a reply."""
    try:
        return dict(call.trailers)
    except (Exception, asyncio.CancelledError):
        return {}


def intercept_sync_stream(
    interceptors: Sequence[SyncClientInterceptor],
    call: Callable[[ClientCallInfo, list[ReplyHeader]], _T],
    method: StreamingMethod,
    args: dict[str, Any],
    items: Iterable[Any],
    timeout: float | None,
) -> _T:
    """Make a blocking client stream call through ``interceptors``; ``call``
    makes it from the info, and appends the final reply's header to the list."""
    info, outer = _info(method, args, timeout, items)
    once = _once(info)

    def send() -> Any:
        once()
        final: list[ReplyHeader] = []
        try:
            return _in_scope(info, outer, partial(call, info, final))
        finally:
            if final:
                info.trailers = final[0].trailers or {}

    result: _T = _sync_chain(interceptors, info, send)()
    return result


_END = object()


class _Relay:
    """Hands a blocking server stream between the thread its interceptors run
    on and the caller's, which makes the call and iterates it."""

    def __init__(self) -> None:
        self.turn = threading.Event()
        """Set when the interceptors proceed, or end without proceeding."""
        self.ended = threading.Event()
        """Set when the caller's iteration ended."""
        self.scope: CallMetadata | None = None
        self.proceeded = False
        self.finished = False
        self.error: BaseException | None = None
        """How the call ended (``None``: its last reply came)."""
        self.failure: BaseException | None = None
        """What the interceptors raised."""


def intercept_sync_server_stream(
    interceptors: Sequence[SyncClientInterceptor],
    stream: Callable[[ClientCallInfo, list[ReplyHeader]], Generator[_T, None, None]],
    method: StreamingMethod,
    args: dict[str, Any],
    timeout: float | None,
) -> Iterator[_T]:
    """Iterate a blocking server stream whose interceptors run on a thread of
    their own, while the caller iterates: their ``proceed`` returns (or raises)
    when the stream ends. The stream ends as their chain does: with its error
    if it raised one."""
    info, outer = _info(method, args, timeout)
    relay = _Relay()
    once = _once(info)

    def send() -> Any:
        once()
        if not relay.ended.is_set():  # else the caller stopped waiting for it
            relay.scope = _scope_for(info, outer)
            relay.proceeded = True
            relay.turn.set()
            relay.ended.wait()
        if relay.error is not None:
            raise relay.error
        return None

    proceed = _sync_chain(interceptors, info, send)

    def run() -> None:
        try:
            proceed()
        except BaseException as exc:
            relay.failure = exc
        finally:
            relay.finished = True
            relay.turn.set()

    context = contextvars.copy_context()
    thread = threading.Thread(
        target=context.run, args=(run,), name=f"uvrpc {info.route}", daemon=True
    )
    try:
        thread.start()
        relay.turn.wait()
        if not relay.proceeded:
            thread.join()
            if relay.failure is not None:
                raise relay.failure
            return
        final: list[ReplyHeader] = []
        token = None if relay.scope is None else _outgoing.set(relay.scope)
        items = stream(info, final)
        try:
            try:
                item = next(items, _END)
            finally:
                if token is not None:
                    _outgoing.reset(token)
            while item is not _END:
                yield cast(_T, item)
                item = next(items, _END)
        except BaseException as exc:
            items.close()
            caller = not isinstance(exc, Exception)  # closed or interrupted
            relay.error = Cancelled(f"{info.route} was {_how(exc)}") if caller else exc
            relay.ended.set()
            thread.join()
            if caller:
                raise
            if relay.failure is not None:
                raise relay.failure from None
            return  # the interceptors took the error
        if final:
            info.trailers = final[0].trailers or {}
        relay.ended.set()
        thread.join()
        if relay.failure is not None:
            raise relay.failure
    finally:
        if not relay.ended.is_set():
            # The caller stopped waiting (interrupted, or the iterator closed):
            # the interceptors' proceed() raises this rather than wait for it.
            if relay.error is None:
                relay.error = Cancelled(f"{info.route} was interrupted")
            relay.ended.set()


def _how(exc: BaseException) -> str:
    return "closed" if isinstance(exc, GeneratorExit) else "interrupted"


# --- logging -----------------------------------------------------------------


class LoggingInterceptor:
    """Logs one line per call, when it ends: side, route, status and duration
    (a stream call's whole, from its first use to its last reply).

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
