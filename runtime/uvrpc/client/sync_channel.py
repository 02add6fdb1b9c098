"""The blocking channel: calls that block their thread, over one connection per
thread calling at once.

Each call is made over a :class:`~uvrpc.client.sync_connection.SyncConnection` (a
DEALER socket, waited on in ``recv``, as close to raw blocking pyzmq as the
protocol allows); this shell runs the interceptors and picks the connection: the
channel's own, or, for a thread that finds it busy, a spare
(:mod:`uvrpc.client.spares`).
"""

from __future__ import annotations

import contextvars
import os
import threading
import time
import weakref
from collections.abc import (
    AsyncIterable,
    Callable,
    Generator,
    Iterable,
    Sequence,
)
from functools import partial
from typing import Any, NoReturn, cast

import zmq

from ..core.calls import not_items, refuse_text
from ..core.credit import check_window
from ..interceptors.base import (
    ClientCallInfo,
    SyncClientInterceptor,
    checked_interceptors,
)
from ..transport.forks import check_process, not_picklable
from ..transport.liveness import DEFAULT_HEARTBEAT, Heartbeat
from ..transport.security import ClientSecurity, checked_security
from ..transport.sockets import CONNECT_TIMEOUT, LINGER
from ..wire.buffers import ATTACHMENT_MIN, BufferPool
from ..wire.errors import ChannelClosed
from ..wire.limits import (
    HIGH_WATER_MARK,
    MAX_MESSAGE_SIZE,
    check_limit,
    check_seconds,
)
from ..wire.methods import (
    BidiStreaming,
    ClientStreaming,
    In,
    Out,
    Reply,
    ServerStreaming,
    StreamingMethod,
    Unary,
)
from ..wire.protocol import ReplyHeader
from .closing import Closing
from .deadlines import settle_heap
from .intercept import (
    intercept_sync_call,
    intercept_sync_server_stream,
    intercept_sync_stream,
)
from .spares import Spares
from .sync_connection import SyncConnection

__all__ = ["HOLDER_WAIT", "SyncChannel"]

HOLDER_WAIT = 0.5
"""Seconds past its linger a close waits for a thread inside a call to leave
the connection it closes (it is woken at once: this bounds one that is slow to
leave, an interceptor of the caller's own, say)."""


class SyncChannel:
    """A blocking channel to one endpoint: calls block their thread until they end.

    Args:
        endpoint: where to connect (``tcp://``, ``ipc://`` or ``inproc://``): one
            server, or a broker in front of several (the asyncio
            :class:`~uvrpc.Channel` takes several endpoints itself).
        context: the ZeroMQ context, of any class (a ``zmq.asyncio.Context`` too);
            the process-wide one by default.
        pool: the pool of encode buffers; the process-wide one (thread-safe) by
            default.
        attachment_min: binary arguments at least this many bytes long travel as
            frames of their own, sent without a copy, instead of inside the body.
        stream_window: the items a server may send ahead of the caller taking them,
            per stream call. ``None`` (the default):
            :data:`~uvrpc.wire.limits.STREAM_WINDOW` items, grown while the items
            are small, to at most :data:`~uvrpc.wire.limits.STREAM_BYTES` of them
            and :data:`~uvrpc.wire.limits.STREAM_WINDOW_MAX` items.
        max_message_size: the largest request, reply or stream item in bytes (all
            its frames). A call whose request is larger fails at once with
            :class:`~uvrpc.ResourceExhausted`, before anything is sent; so does a
            call whose reply is larger, without decoding it.
        hwm: messages queued each way before ZeroMQ pushes back (``SNDHWM``,
            ``RCVHWM``).
        security: connect over CURVE, pinning the server's public key
            (:class:`~uvrpc.security.ClientSecurity`); a refused handshake fails
            the call at once with :class:`~uvrpc.Unauthenticated` (a key not
            allowed) or :class:`~uvrpc.Unavailable` (CURVE on one side only).
        heartbeat: ZeroMQ heartbeats on the connection (:class:`~uvrpc.Heartbeat`);
            ``None`` turns them off. A server that died, or whose heartbeats
            stopped, fails the call waiting on it with :class:`~uvrpc.Unavailable`,
            as in the asyncio channel.
        interceptors: run around each call, the first outermost: unary and
            oneway (:meth:`call`) and stream calls
            (:class:`~uvrpc.SyncClientInterceptor`, ``docs/interceptors.md``).
        connect_timeout: seconds to wait for a connection after the channel is
            made, and after its connection dropped; once passed with no server
            connected, a call fails at once with :class:`~uvrpc.Unavailable`
            (as for :class:`~uvrpc.Channel`).
        wait_for_ready: the default of each call's ``wait_for_ready``: with
            ``True``, a call with no server connected waits for one until its
            deadline.
        linger: seconds :meth:`close` waits, at most, for requests already
            sent (oneway calls above all) to reach the server.
        check_requests: check each request, and each item of a client stream,
            before it is sent, exactly as the server will, and raise the
            :class:`~uvrpc.InvalidArgument` it would send back; off by default
            (as :class:`~uvrpc.Channel`'s ``check_requests``, which says what
            it checks and costs).

    Threads may share a channel, as they share a gRPC channel: a socket serves
    one call at a time, so a call or stream made while another thread is inside a
    call on the channel, or has a stream open on it, goes over a spare connection
    to the same endpoint, made at the first such call and kept for the next
    (:mod:`uvrpc.client.spares`); as many are made as threads ever called at once.
    A stream's steps stay on the connection it started on, from whichever thread
    takes them. Not usable in a child process after a fork (:class:`RuntimeError`).
    A reply's binary values are views of the received frames, which live as long
    as the views do.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        context: zmq.Context[Any] | None = None,
        pool: BufferPool | None = None,
        attachment_min: int = ATTACHMENT_MIN,
        stream_window: int | None = None,
        max_message_size: int = MAX_MESSAGE_SIZE,
        hwm: int = HIGH_WATER_MARK,
        security: ClientSecurity | None = None,
        heartbeat: Heartbeat | None = DEFAULT_HEARTBEAT,
        interceptors: Sequence[SyncClientInterceptor] = (),
        connect_timeout: float = CONNECT_TIMEOUT,
        wait_for_ready: bool = False,
        linger: float = LINGER,
        check_requests: bool = False,
    ) -> None:
        check_window(stream_window)
        # Checked here, not where they are used: a NaN passed every comparison
        # and named itself in each call's error ("no connection ... for nan s"),
        # and an infinite linger met int() only as the channel closed, which
        # raised OverflowError and left its socket open.
        connect_timeout = check_seconds(
            "connect_timeout", connect_timeout, zero=True, forever=True
        )
        linger = check_seconds("linger", linger, zero=True)
        checked_security(security, ClientSecurity)
        settle_heap()  # see Channel
        self._interceptors = checked_interceptors(interceptors, "intercept_sync")
        self.stream_window = stream_window
        """The items a server may send ahead of the caller taking them (``None``:
        the default window, grown for small items)."""
        self.max_message_size = check_limit("max_message_size", max_message_size)
        """The largest message sent or taken, in bytes."""
        check_limit("hwm", hwm, 0)
        _check_one_endpoint(endpoint)
        self.endpoint = endpoint
        """The endpoint connected to."""
        self._closed = False
        self._close_lock = threading.Lock()
        self._pid = os.getpid()
        self._closing = Closing()
        self._connection = partial(
            SyncConnection,
            endpoint,
            context=context,
            pool=pool,
            attachment_min=attachment_min,
            stream_window=stream_window,
            max_message_size=self.max_message_size,
            hwm=hwm,
            security=security,
            heartbeat=heartbeat,
            check_requests=check_requests,
            closing=self._closing,
        )
        self._main = self._connection(
            connect_timeout=connect_timeout,
            wait_for_ready=wait_for_ready,
            linger=linger,
        )
        # The pool holds the channel weakly: a bound method would make a
        # cycle, which keeps a closed channel's closing pipe, and a dropped
        # one's sockets, open until the garbage collector finds it.
        self._spares: Spares[SyncConnection] = Spares(
            _spare_maker(weakref.WeakMethod(self._open_spare)),
            SyncConnection.claim,
            SyncConnection.close,
        )

    def _open_spare(self) -> SyncConnection:
        """A new spare connection, with the channel's current settings.

        It is made as threads collide, and has no connection yet: while the
        channel's own is up, so is the server, and the spare waits for its own
        handshake for at least the default ``connect_timeout``, however short
        the channel's (a call would fail at once with 0).
        """
        main = self._main
        connect_timeout = main.connect_timeout
        if main.was_connected:
            connect_timeout = max(connect_timeout, CONNECT_TIMEOUT)
        return self._connection(
            connect_timeout=connect_timeout,
            wait_for_ready=main.wait_for_ready,
            linger=main.linger,
        )

    @property
    def connect_timeout(self) -> float:
        """Seconds to wait for a connection before calls fail at once."""
        return self._main.connect_timeout

    @connect_timeout.setter
    def connect_timeout(self, seconds: float) -> None:
        self._main.connect_timeout = seconds

    @property
    def wait_for_ready(self) -> bool:
        """Whether calls wait for a connection by default."""
        return self._main.wait_for_ready

    @wait_for_ready.setter
    def wait_for_ready(self, wait: bool) -> None:
        self._main.wait_for_ready = wait

    @property
    def linger(self) -> float:
        """Seconds :meth:`close` waits, at most, for sent requests to go out."""
        return self._main.linger

    @linger.setter
    def linger(self, seconds: float) -> None:
        self._main.linger = seconds

    @property
    def check_requests(self) -> bool:
        """Whether each request and client-stream item is checked as the server
        will check it, before it is sent (see the ``check_requests`` argument)."""
        return self._main.check_requests

    @property
    def connected(self) -> bool:
        """Whether the server is connected (to the channel's own connection, not
        its spares'), as far as the monitor's events read so far tell (while
        another thread is inside a call, as they told when it last read them)."""
        return self._main.poll_connected()

    @property
    def dropped_replies(self) -> int:
        """Replies that were late for their call (or malformed) and were skipped,
        on the channel's connection and its spares."""
        spares = self._spares.made
        return self._main.dropped_replies + sum(s.dropped_replies for s in spares)

    @property
    def stale_messages(self) -> int:
        """Messages of stream calls that had ended, skipped (spares' included)."""
        spares = self._spares.made
        return self._main.stale_messages + sum(s.stale_messages for s in spares)

    def _borrow(self) -> SyncConnection:
        """A spare connection, claimed, for a thread that found the channel's own
        busy; with the channel's current defaults.

        Raises:
            RuntimeError: this is a child process (the channel's own connection
                says so when free; a spare made here would hide it).
            ChannelClosed: the channel is closed.
        """
        check_process("SyncChannel", self._pid)
        spare = self._spares.borrow()
        main = self._main
        if spare.was_connected:
            # Else its first wait for a handshake, set as it was made
            # (_open_spare), is what its errors name.
            spare.connect_timeout = main.connect_timeout
        spare.wait_for_ready = main.wait_for_ready
        spare.linger = main.linger
        return spare

    def call(
        self,
        method: Unary[Any, Reply],
        args: dict[str, Any],
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> Reply:
        """Make one call and return its typed result.

        A oneway method's call returns ``None`` once its request is sent; no reply
        comes. Metadata and trailers are as for :meth:`uvrpc.Channel.call`. When
        the deadline passes, or the wait is interrupted (``KeyboardInterrupt``),
        the server is sent a CANCEL if the socket has room for it.

        With no server connected (none within the channel's ``connect_timeout``),
        the call fails at once with :class:`~uvrpc.Unavailable`, unless
        ``wait_for_ready`` (the channel's :attr:`wait_for_ready` if ``None``)
        makes it wait for one until its deadline.

        Raises:
            RpcError: the server replied with an error (the subclass names the status).
            DeadlineExceeded: no reply within ``timeout`` seconds (for a oneway
                call: the request could not be sent within it).
            Unavailable: no server is connected, or the connection dropped
                during the call.
            ChannelClosed: the channel is closed, or was closed during the call
                (an :class:`~uvrpc.Unavailable`).
        """
        if self._interceptors:
            call = (
                self._call
                if wait_for_ready is None
                else partial(self._call, wait_for_ready=wait_for_ready)
            )
            return intercept_sync_call(self._interceptors, call, method, args, timeout)
        return self._call(method, args, timeout, wait_for_ready)

    def _call(
        self,
        method: Unary[Any, Reply],
        args: dict[str, Any],
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> Reply:
        main = self._main
        if main.claim():
            return main.call(method, args, timeout, wait_for_ready)
        spare = self._borrow()
        try:
            return spare.call(method, args, timeout, wait_for_ready)
        finally:
            self._spares.give_back(spare)

    # --- streams -------------------------------------------------------------

    def server_stream(
        self,
        method: ServerStreaming[Any, Out],
        args: dict[str, Any],
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> Generator[Out, None, None]:
        """Iterate the items of a server-streaming call (sent on the first ``next``).

        The call keeps its socket for the calling thread until the iterator is
        exhausted or closed (``break`` out of a ``for`` loop closes it once it is
        dropped; ``contextlib.closing`` or ``iterator.close()`` close it at once):
        other threads' calls meanwhile go over spare connections. Closing it
        early, or the deadline passing, cancels the call.

        Raises:
            RpcError: the server ended the stream with an error.
            DeadlineExceeded: the stream did not end within ``timeout`` seconds.
            ChannelClosed: the channel is closed.

        With interceptors, they run on a thread of their own from the first
        ``next`` until the stream ends, and the stream ends as they do.
        """
        if self._interceptors:
            return _opened_here(
                intercept_sync_server_stream(
                    self._interceptors,
                    partial(self._intercepted_items, wait_for_ready=wait_for_ready),
                    method,
                    args,
                    timeout,
                )
            )
        return _opened_here(self._items(method, args, timeout, None, wait_for_ready))

    def _intercepted_items(
        self,
        info: ClientCallInfo,
        final: list[ReplyHeader],
        wait_for_ready: bool | None = None,
    ) -> Generator[Any, None, None]:
        method = cast(ServerStreaming[Any, Any], info.method)
        return self._items(method, info.args, info.timeout, final, wait_for_ready)

    def _items(
        self,
        method: ServerStreaming[Any, Out],
        args: dict[str, Any],
        timeout: float | None,
        final: list[ReplyHeader] | None = None,
        wait_for_ready: bool | None = None,
    ) -> Generator[Out, None, None]:
        main = self._main
        if main.claim():
            yield from main.items(method, args, timeout, final, wait_for_ready)
            return
        spare = self._borrow()
        try:
            yield from spare.items(method, args, timeout, final, wait_for_ready)
        finally:
            self._spares.give_back(spare)

    def client_stream(
        self,
        method: ClientStreaming[Any, In, Reply],
        args: dict[str, Any],
        items: Iterable[In],
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> Reply:
        """Send ``items`` as the server grants credit and return the call's result.

        ``items`` is read on a thread of its own (in a copy of the caller's
        context), as gRPC's blocking stream-unary call reads its iterator: the
        deadline, the server's reply (an error before the handler took every
        item) and the channel's close end the call whatever the iterable does
        meanwhile. It reads up to 32 items ahead of what was sent
        (``CLIENT_STREAM_AHEAD``): a call that ends early has taken those from
        the iterable without sending them. A stream of this same channel cannot be the
        items (the call holds the connection it would step on: ``RuntimeError``);
        open it on another channel.

        Raises:
            RpcError: the server replied with an error; the client stops sending.
            DeadlineExceeded: the call did not end within ``timeout`` seconds.
            ChannelClosed: the channel is closed.
            Exception: whatever iterating ``items`` raised; the call is cancelled.
            TypeError: ``items`` is not iterable.
        """
        _check_items(method, items)
        if self._interceptors:
            result = intercept_sync_stream(
                self._interceptors,
                partial(self._intercepted_client_stream, wait_for_ready=wait_for_ready),
                method,
                args,
                items,
                timeout,
            )
            return cast(Reply, result)
        return self._client_stream(method, args, items, timeout, None, wait_for_ready)

    def _intercepted_client_stream(
        self,
        info: ClientCallInfo,
        final: list[ReplyHeader],
        wait_for_ready: bool | None = None,
    ) -> Any:
        method = cast(ClientStreaming[Any, Any, Any], info.method)
        items = cast(Iterable[Any], info.items)
        return self._client_stream(
            method, info.args, items, info.timeout, final, wait_for_ready
        )

    def _client_stream(
        self,
        method: ClientStreaming[Any, In, Reply],
        args: dict[str, Any],
        items: Iterable[In],
        timeout: float | None,
        replied: list[ReplyHeader] | None = None,
        wait_for_ready: bool | None = None,
    ) -> Reply:
        main = self._main
        if main.claim():
            return main.client_stream(
                method, args, items, timeout, replied, wait_for_ready
            )
        spare = self._borrow()
        try:
            return spare.client_stream(
                method, args, items, timeout, replied, wait_for_ready
            )
        finally:
            self._spares.give_back(spare)

    def bidi_stream(
        self,
        method: BidiStreaming[Any, In, Out],
        args: dict[str, Any],
        items: Iterable[In],
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> Generator[Out, None, None]:
        """Iterate the items of a bidirectional call (sent on the first ``next``),
        sending ``items`` as the server grants credit.

        ``items`` is read on a thread of its own, so it may block, or wait for
        the items this returns (a chat); the caller's thread sends them. The socket
        is the call's until the iterator is exhausted or closed, as for
        :meth:`server_stream`; closing it early, the deadline passing, or ``items``
        raising cancels the call (the iterator then raises what ``items`` raised).
        ``items`` may be another stream's iterator (a relay), if not one opened
        on this channel by this thread and already started: both would need the
        one connection at once (``RuntimeError``).

        Raises:
            RpcError: the server ended the stream with an error.
            DeadlineExceeded: the stream did not end within ``timeout`` seconds.
            ChannelClosed: the channel is closed.
            TypeError: ``items`` is not iterable (raised at the call, not at the
                first ``next``).

        With interceptors, they run on a thread of their own, as for
        :meth:`server_stream`.
        """
        _check_items(method, items)
        if self._interceptors:
            return _opened_here(
                intercept_sync_server_stream(
                    self._interceptors,
                    partial(self._intercepted_bidi, wait_for_ready=wait_for_ready),
                    method,
                    args,
                    timeout,
                    items,
                )
            )
        return _opened_here(
            self._bidi(method, args, items, timeout, None, wait_for_ready)
        )

    def _intercepted_bidi(
        self,
        info: ClientCallInfo,
        final: list[ReplyHeader],
        wait_for_ready: bool | None = None,
    ) -> Generator[Any, None, None]:
        method = cast(BidiStreaming[Any, Any, Any], info.method)
        items = cast(Iterable[Any], info.items)
        return self._bidi(method, info.args, items, info.timeout, final, wait_for_ready)

    def _bidi(
        self,
        method: BidiStreaming[Any, In, Out],
        args: dict[str, Any],
        items: Iterable[In],
        timeout: float | None,
        final: list[ReplyHeader] | None = None,
        wait_for_ready: bool | None = None,
    ) -> Generator[Out, None, None]:
        main = self._main
        if main.claim():
            yield from main.bidi(method, args, items, timeout, final, wait_for_ready)
            return
        spare = self._borrow()
        try:
            yield from spare.bidi(method, args, items, timeout, final, wait_for_ready)
        finally:
            self._spares.give_back(spare)

    def close(self, linger: float | None = None) -> None:
        """Close the channel, ending the calls and streams open on it in every
        thread, as a gRPC channel's close does.

        Each fails with :class:`~uvrpc.ChannelClosed`, and the server is sent a
        CANCEL for it: a call waiting for its reply, for a server or for room
        to send, and a client stream, at once; a stream at its next step
        (its caller's iterable, read on a thread of its own, is not
        interrupted: that thread leaves once it yields). Later
        calls fail at once. Requests already sent (oneway calls, say) still go
        out: this returns once they did, or after ``linger`` seconds (the
        channel's :attr:`linger` if ``None``) at most. Nothing is queued for a
        server that is not connected, so closing a channel whose server is
        down returns at once.

        The channel's spare connections (see :class:`SyncChannel`) close with
        it, within the same ``linger``. A connection another thread is inside a
        call on is closed once that thread leaves it, which this waits for until
        :data:`HOLDER_WAIT` seconds past the linger at most; past that, the
        thread closes it as it leaves. A second close, made while the first
        waits, returns at once.
        """
        if linger is not None:
            linger = check_seconds("linger", linger, zero=True)
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        linger = self.linger if linger is None else linger
        wait = HOLDER_WAIT
        if os.getpid() != self._pid:
            # A child's copy: the sockets are the parent's, and a socket a
            # parent's thread held as it forked is held by no thread here.
            linger = wait = 0.0
        connections = [self._main, *self._spares.close()]
        for connection in connections:
            connection.stop()
        self._closing.set()
        # One linger for them all: the channel's own connection first.
        end = time.monotonic() + linger
        errors: list[BaseException] = []
        for connection in connections:
            now = time.monotonic()
            try:
                connection.close_when_free(
                    max(0.0, end - now), max(0.0, end + wait - now)
                )
            except BaseException as exc:  # the others are closed all the same
                errors.append(exc)
        if errors:
            raise errors[0]

    def __reduce__(self) -> NoReturn:
        """Refuse to be pickled: its sockets are this process's."""
        not_picklable("SyncChannel")

    def __enter__(self) -> SyncChannel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _check_items(method: StreamingMethod, items: object) -> None:
    """Raise the TypeError of a stream's ``items`` that a blocking call cannot
    iterate, or that is text (:func:`~uvrpc.core.calls.refuse_text`), naming
    the method and its stream parameter."""
    refuse_text(method, items)
    if not isinstance(items, Iterable):
        asynchronous = isinstance(items, AsyncIterable)
        raise not_items(
            method,
            items,
            "an iterable of items (an async iterable is for the asyncio client)"
            if asynchronous
            else "an iterable of items",
        )


def _opened_here(items: Generator[Out, None, None]) -> Generator[Out, None, None]:
    """``items``, whose first step (which sends the call) runs in the context of
    this call to the channel: the call carries the headers of the
    :func:`uvrpc.metadata` block it was made in, and sets its trailers, and
    inherits the deadline of the handler it was made in, wherever it is read (a
    helper may return it from inside the block)."""
    context = contextvars.copy_context()

    def stream() -> Generator[Out, None, None]:
        try:
            first = context.run(next, items)
        except StopIteration:
            return
        try:
            yield first
            yield from items
        finally:
            items.close()  # closed at its first item too: cancel the call now

    return stream()


def _check_one_endpoint(endpoint: object) -> None:
    """Refuse several endpoints, which only the asyncio channel spreads calls
    over, with what to do instead (rather than a malformed endpoint's error)."""
    if isinstance(endpoint, list | tuple) and len(endpoint) == 1:
        raise TypeError(
            f"a SyncChannel takes its endpoint as a str, not a "
            f"{type(endpoint).__name__}: SyncChannel({endpoint[0]!r:.120})"
        )
    if isinstance(endpoint, list | tuple) or (
        isinstance(endpoint, str) and "," in endpoint
    ):
        raise ValueError(
            f"a SyncChannel connects to one endpoint, not several ({endpoint!r:.120}): "
            "spread blocking calls over servers with a broker (uvrpc broker), or "
            "over several endpoints with the asyncio uvrpc.Channel"
        )


def _spare_maker(
    open_spare: weakref.WeakMethod[Callable[[], SyncConnection]],
) -> Callable[[], SyncConnection]:
    """``open_spare`` of a channel the spares' pool does not keep alive."""

    def make() -> SyncConnection:
        bound = open_spare()
        if bound is None:  # collected: nobody can be calling it
            raise ChannelClosed("the channel is closed")
        return bound()

    return make
