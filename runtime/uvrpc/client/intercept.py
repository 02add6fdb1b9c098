"""The clients' interceptor chains: every call kind of the asyncio and the blocking
channel run through the interceptors given to them (:class:`~uvrpc.ClientInterceptor`,
:class:`~uvrpc.SyncClientInterceptor`)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import (
    AsyncIterable,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Sequence,
)
from functools import partial
from typing import Any, Protocol, TypeVar, cast

from ..core.client import CallState, finish, trailers_of
from ..core.context import OUTGOING, CallMetadata, validate_metadata
from ..interceptors.base import (
    ClientCallInfo,
    ClientInterceptor,
    Proceed,
    SyncClientInterceptor,
    SyncProceed,
)
from ..wire.errors import Cancelled
from ..wire.methods import StreamingMethod, Unary
from ..wire.protocol import ReplyHeader
from .handle import Call, InterceptedCall, ended_trailers

__all__ = [
    "OpenedStream",
    "client_info",
    "intercept_call",
    "intercept_start",
    "intercept_stream",
    "intercept_sync_call",
    "intercept_sync_server_stream",
    "intercept_sync_stream",
]

_T = TypeVar("_T")


def _info(
    method: Unary[Any, Any] | StreamingMethod,
    args: dict[str, Any],
    timeout: float | None,
    items: AsyncIterable[Any] | Iterable[Any] | None = None,
) -> tuple[ClientCallInfo, CallMetadata | None]:
    scope = OUTGOING.get()
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
        token = OUTGOING.set(scope)
        try:
            return await call(_unary(info), info.args, info.timeout)
        finally:
            OUTGOING.reset(token)
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
        token = OUTGOING.set(scope)
        try:
            return call(_unary(info), info.args, info.timeout)
        finally:
            OUTGOING.reset(token)
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
    token = OUTGOING.set(scope)
    try:
        return make()
    finally:
        OUTGOING.reset(token)


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


class OpenedStream(Protocol):
    """What the chain needs of a stream call it opened."""

    async def result(self) -> CallState:
        """Wait for the call to be over; its state."""
        ...

    def cancel(self) -> None:
        """Give up the call."""
        ...


_S = TypeVar("_S", bound=OpenedStream)


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
    open_stream: Callable[[ClientCallInfo], _S],
    opened: Callable[[_S], None] | None = None,
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
            state = await call.result()
        except asyncio.CancelledError:
            call.cancel()
            raise
        info.trailers = dict(trailers_of(state))
        if outer is not None:
            outer.trailers = info.trailers
        return finish(state)

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
        try:
            return await handle.take(made)
        finally:
            info.trailers = ended_trailers(made)

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
    items: Iterable[Any] | None = None,
) -> Generator[_T, None, None]:
    """Iterate a blocking server (or bidirectional) stream whose interceptors run
    on a thread of their own, while the caller iterates: their ``proceed``
    returns (or raises) when the stream ends. The stream ends as their chain
    does: with its error if it raised one. ``items`` are a bidirectional call's
    (the info's :attr:`~uvrpc.ClientCallInfo.items`)."""
    info, outer = _info(method, args, timeout, items)
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
        token = None if relay.scope is None else OUTGOING.set(relay.scope)
        items = stream(info, final)
        try:
            try:
                item = next(items, _END)
            finally:
                if token is not None:
                    OUTGOING.reset(token)
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
