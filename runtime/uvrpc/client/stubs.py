"""Base classes of generated clients: :class:`AsyncClient` and :class:`SyncClient`."""

from __future__ import annotations

import asyncio
from collections.abc import (
    AsyncIterable,
    Coroutine,
    Generator,
    Iterable,
    Mapping,
    Sequence,
)
from types import TracebackType
from typing import Any, Self, cast

from ..core.calls import checked_timeout
from ..interceptors.base import ClientInterceptor, SyncClientInterceptor
from ..transport.security import ClientSecurity
from ..wire.methods import (
    BidiStreaming,
    ClientStreaming,
    In,
    Out,
    Reply,
    ServerStreaming,
    Unary,
)
from .channel import Channel
from .handle import Call, InterceptedCall, ended_trailers
from .retry import Retry, checked_retry
from .streams import ItemStream
from .sync_channel import SyncChannel

__all__ = ["AsyncClient", "SyncClient"]


class AsyncClient:
    """Base class of the generated ``<Service>Client`` classes (asyncio).

    Args:
        target: an endpoint to connect to (``tcp://127.0.0.1:5555``, ``ipc://…``,
            ``inproc://…``), or a :class:`Channel` shared with other clients.
        timeout: the default deadline of each call in seconds, a positive
            number (else ``ValueError``, or ``TypeError`` for no number);
            ``None`` (or ``math.inf``) waits for ever.
            A call's own ``timeout=`` argument takes precedence; its ``None``
            means this default, and ``math.inf`` no deadline.
        retry: retry the methods the IDL marks ``idempotent`` when they fail with
            ``UNAVAILABLE`` (:class:`~uvrpc.Retry`), started ones too (their
            ``start_m``'s request then goes from a task of its own, as with
            interceptors); by default nothing is retried.
        security: connect over CURVE (:class:`~uvrpc.security.ClientSecurity`);
            for an endpoint only (a given channel has its own).
        interceptors: run around each call (unary, oneway, started and stream
            calls), the first outermost (:class:`~uvrpc.ClientInterceptor`); for
            an endpoint only (a given channel has its own).
        check_requests: check each request as the server will before sending
            it, raising the server's :class:`~uvrpc.InvalidArgument` at the call
            (:class:`Channel`'s argument; off by default, as it costs about 3 µs
            a call); for an endpoint only.

    Use it as ``async with Client(endpoint) as client:``; leaving the block closes the
    channel if this client opened it. Many calls may be in flight at once; they share
    one socket and are matched to their replies by request id.

    Each method ``m`` has a twin ``start_m`` that sends the call and returns its
    :class:`~uvrpc.Call` handle at once: a result several tasks can share, whose
    zero-copy views are freed when its last reference is released. A method whose
    server streams returns an :class:`~uvrpc.ItemStream`; one whose client streams
    takes its items as an async iterable or a plain one (a list, a generator: read
    on the event loop an item at a time, so one that blocks blocks the loop).
    """

    def __init__(
        self,
        target: str | Channel,
        *,
        timeout: float | None = None,
        retry: Retry | None = None,
        security: ClientSecurity | None = None,
        interceptors: Sequence[ClientInterceptor] = (),
        check_requests: bool = False,
    ) -> None:
        timeout = checked_timeout(timeout)  # before a channel is made
        retry = checked_retry(retry)
        if isinstance(target, Channel):
            if security is not None or interceptors or check_requests:
                raise ValueError(
                    "security=, interceptors= and check_requests= are for an "
                    "endpoint; the channel has its own"
                )
            self._channel = target
            self._owns_channel = False
        elif isinstance(target, SyncChannel):
            raise TypeError(
                "an asyncio client takes an endpoint or a Channel, not a "
                "SyncChannel (that is for the blocking <Service>SyncClient)"
            )
        else:
            self._channel = Channel(
                target,
                security=security,
                interceptors=interceptors,
                check_requests=check_requests,
            )
            self._owns_channel = True
        self._timeout = timeout
        self._retry = retry

    @property
    def channel(self) -> Channel:
        """The channel this client sends its calls through."""
        return self._channel

    def _call(
        self,
        method: Unary[Any, Reply],
        values: tuple[Any, ...],
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> Coroutine[Any, Any, Reply]:
        # Returns the channel's coroutine rather than awaiting it: one coroutine
        # frame less per call.
        args = method.wire_args(values)
        timeout = _given_or(timeout, self._timeout)
        if self._retry is not None and method.idempotent:
            channel = self._channel
            return self._retry.run(
                lambda remaining: channel.call(method, args, remaining, wait_for_ready),
                timeout,
            )
        return self._channel.call(method, args, timeout, wait_for_ready)

    def _start(
        self,
        method: Unary[Any, Reply],
        values: tuple[Any, ...],
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> Call[Reply]:
        args = method.wire_args(values)
        timeout = _given_or(timeout, self._timeout)
        if self._retry is not None and method.idempotent:
            return _retried_start(
                self._retry, self._channel, method, args, timeout, wait_for_ready
            )
        return self._channel.start(method, args, timeout, wait_for_ready)

    def _server_stream(
        self,
        method: ServerStreaming[Any, Out],
        values: tuple[Any, ...],
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> ItemStream[Out]:
        return self._channel.server_stream(
            method,
            method.wire_args(values),
            _given_or(timeout, self._timeout),
            wait_for_ready,
        )

    def _client_stream(
        self,
        method: ClientStreaming[Any, In, Reply],
        values: tuple[Any, ...],
        items: AsyncIterable[In] | Iterable[In],
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> Coroutine[Any, Any, Reply]:
        return self._channel.client_stream(
            method,
            method.wire_args(values),
            items,
            _given_or(timeout, self._timeout),
            wait_for_ready,
        )

    def _bidi_stream(
        self,
        method: BidiStreaming[Any, In, Out],
        values: tuple[Any, ...],
        items: AsyncIterable[In] | Iterable[In],
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> ItemStream[Out]:
        return self._channel.bidi_stream(
            method,
            method.wire_args(values),
            items,
            _given_or(timeout, self._timeout),
            wait_for_ready,
        )

    async def close(self) -> None:
        """Close the channel if this client opened it; pending calls fail."""
        if self._owns_channel:
            await self._channel.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class SyncClient:
    """Base class of the generated ``<Service>SyncClient`` classes (blocking).

    Args:
        target: an endpoint to connect to, or a :class:`SyncChannel`.
        timeout: the default deadline of each call in seconds, a positive
            number (else ``ValueError``, or ``TypeError`` for no number);
            ``None`` (or ``math.inf``) waits for ever.
        retry: retry idempotent methods that fail with ``UNAVAILABLE``.
        security: connect over CURVE (:class:`~uvrpc.security.ClientSecurity`);
            for an endpoint only.
        interceptors: run around each call (stream calls too), the first
            outermost (:class:`~uvrpc.SyncClientInterceptor`); for an endpoint
            only.
        check_requests: check each request as the server will before sending
            it (:class:`SyncChannel`'s argument); for an endpoint only.

    Threads may share it, as its :class:`SyncChannel` (a call made while another
    thread's is in flight goes over a spare connection, see there).
    Use it as ``with Client(endpoint) as client:``. A server-streaming method returns
    an iterator of items, which holds its connection until it is exhausted or closed;
    a client-streaming method takes an iterable of items, and a bidirectional
    one both (:meth:`SyncChannel.bidi_stream`).
    """

    def __init__(
        self,
        target: str | SyncChannel,
        *,
        timeout: float | None = None,
        retry: Retry | None = None,
        security: ClientSecurity | None = None,
        interceptors: Sequence[SyncClientInterceptor] = (),
        check_requests: bool = False,
    ) -> None:
        timeout = checked_timeout(timeout)  # before a channel is made
        retry = checked_retry(retry)
        if isinstance(target, SyncChannel):
            if security is not None or interceptors or check_requests:
                raise ValueError(
                    "security=, interceptors= and check_requests= are for an "
                    "endpoint; the channel has its own"
                )
            self._channel = target
            self._owns_channel = False
        elif isinstance(target, Channel):
            raise TypeError(
                "a blocking client takes an endpoint or a SyncChannel, not an "
                "asyncio Channel; in tests, uvrpc.testing.sync_memory_channel(...) "
                "serves one in memory"
            )
        else:
            self._channel = SyncChannel(
                target,
                security=security,
                interceptors=interceptors,
                check_requests=check_requests,
            )
            self._owns_channel = True
        self._timeout = timeout
        self._retry = retry

    @property
    def channel(self) -> SyncChannel:
        """The channel this client sends its calls through."""
        return self._channel

    def _call(
        self,
        method: Unary[Any, Reply],
        values: tuple[Any, ...],
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> Reply:
        args = method.wire_args(values)
        timeout = _given_or(timeout, self._timeout)
        if self._retry is not None and method.idempotent:
            channel = self._channel
            return self._retry.run_sync(
                lambda remaining: channel.call(method, args, remaining, wait_for_ready),
                timeout,
            )
        return self._channel.call(method, args, timeout, wait_for_ready)

    def _server_stream(
        self,
        method: ServerStreaming[Any, Out],
        values: tuple[Any, ...],
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> Generator[Out, None, None]:
        return self._channel.server_stream(
            method,
            method.wire_args(values),
            _given_or(timeout, self._timeout),
            wait_for_ready,
        )

    def _client_stream(
        self,
        method: ClientStreaming[Any, In, Reply],
        values: tuple[Any, ...],
        items: Iterable[In],
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> Reply:
        return self._channel.client_stream(
            method,
            method.wire_args(values),
            items,
            _given_or(timeout, self._timeout),
            wait_for_ready,
        )

    def _bidi_stream(
        self,
        method: BidiStreaming[Any, In, Out],
        values: tuple[Any, ...],
        items: Iterable[In],
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> Generator[Out, None, None]:
        return self._channel.bidi_stream(
            method,
            method.wire_args(values),
            items,
            _given_or(timeout, self._timeout),
            wait_for_ready,
        )

    def close(self) -> None:
        """Close the channel if this client opened it."""
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _retried_start(
    retry: Retry,
    channel: Channel,
    method: Unary[Any, Reply],
    args: dict[str, Any],
    timeout: float | None,
    wait_for_ready: bool | None,
) -> Call[Reply]:
    """``start_<method>`` of an idempotent method on a client with a retry
    policy: a handle whose result is the call's, retried as the method's own
    call is (one handle is one request, which could not be sent again).

    The attempts run in a task of their own, as a call's interceptors do (its
    first request goes as that task starts, not before this returns), each a
    started call whose handle is released with this one's last reference;
    cancelling this one cancels the attempt in flight.
    """
    loop = asyncio.get_running_loop()
    handle: InterceptedCall[Reply] = InterceptedCall(method, loop.create_future())
    trailers: list[Mapping[str, str | bytes]] = [{}]

    async def attempt(remaining: float | None) -> Reply:
        # One that fails before it is sent (a closed channel, no server) has
        # none: the handle must not show an earlier attempt's beside its error.
        trailers[0] = {}
        made = channel.start(method, args, remaining, wait_for_ready)
        try:
            return cast(Reply, await handle.take(made))
        finally:
            trailers[0] = ended_trailers(made)

    async def run() -> None:
        try:
            value = await retry.run(attempt, timeout)
        except BaseException as exc:
            handle.settle(None, exc, trailers[0])
        else:
            handle.settle(value, None, trailers[0])

    handle.task = loop.create_task(run())
    return handle


def _given_or(timeout: float | None, default: float | None) -> float | None:
    """A call's timeout: the one it was given, checked (``math.inf``: none), or
    else its client's."""
    return default if timeout is None else checked_timeout(timeout)
