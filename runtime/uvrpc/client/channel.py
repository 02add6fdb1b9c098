"""The asynchronous channel: many concurrent calls over one DEALER socket.

The channel is an I/O shell over the client's protocol core
(:mod:`uvrpc.core.client`): the core keeps the table of calls and every rule of the
protocol; the channel owns the transport, the futures and tasks that wait, and the
deadline wheel. Each call's state carries a future; the socket's reactor drains every
ready reply in one go, the core matches each to its call, and the channel resolves
the call's future. A reply is decoded in the task that awaits it, not in the receive
loop, so one large reply never delays the delivery of others.

Request bodies are encoded into pooled buffers and large binary arguments sent as
attachment frames straight from the caller's objects (:mod:`uvrpc.buffers`); a
reply's binary values are views of the received frames (``docs/memory.md``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable, Callable, Coroutine, Sequence
from functools import partial
from typing import Any, Protocol, Self, cast

import zmq

from ..core.client import CallState, ClientCore, finish
from ..core.context import CURRENT_CALL, OUTGOING, CallMetadata, inherited_timeout
from ..interceptors.base import ClientCallInfo, ClientInterceptor
from ..transport.forks import check_process
from ..transport.liveness import DEFAULT_HEARTBEAT, Heartbeat
from ..transport.reactor import SocketReactor
from ..transport.security import ClientSecurity, no_reply_text
from ..transport.sockets import open_socket
from ..wire.buffers import ATTACHMENT_MIN, BodyEncoder, BufferPool
from ..wire.errors import (
    DeadlineExceeded,
    RpcError,
    Unauthenticated,
    Unavailable,
)
from ..wire.limits import (
    HIGH_WATER_MARK,
    MAX_IN_FLIGHT,
    MAX_MESSAGE_SIZE,
    STREAM_WINDOW,
    check_limit,
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
from ..wire.protocol import restamp_request_header, send_stamp
from .deadlines import DeadlineWheel
from .handle import Call
from .intercept import client_info, intercept_call, intercept_start, intercept_stream
from .streams import InterceptedItemStream, ItemStream, StreamCall

__all__ = ["Channel", "ClientTransport", "DealerTransport", "OnMessage"]

OnMessage = Callable[[list[Any]], None]
"""Receives the frames of one message: ``[delimiter, attachment..., header, body]``."""

Refusal = tuple[type[RpcError], str]
"""Why a server refused a connection's handshake: the error to fail calls with, and
what happened."""

OnDisconnect = Callable[[Refusal | None], None]
"""Told that the connection to the server dropped (``None``) or that its handshake
failed (a :data:`Refusal`)."""

OnConnect = Callable[[], None]
"""Told that a connection's handshake succeeded."""

_WATCHED = (
    zmq.EVENT_DISCONNECTED
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
)


class ClientTransport(Protocol):
    """What a :class:`Channel` sends requests through and receives replies from."""

    def attach(self, loop: asyncio.AbstractEventLoop, on_message: OnMessage) -> None:
        """Start delivering each received message's frames to ``on_message``."""

    def try_send(self, frames: Sequence[Any]) -> bool:
        """Send now if possible; return whether the message was sent.

        Frames shorter than :data:`~uvrpc.buffers.ZERO_COPY_MIN` must have been
        copied when it returns True (their buffers are reused at once); longer ones
        may be referenced until they are sent.
        """

    async def send(self, frames: Sequence[Any]) -> bool | None:
        """Send, waiting for room (False: it gave up, the message unsent)."""

    def close(self) -> None:
        """Release the transport's resources."""


class DealerTransport:
    """A ZeroMQ DEALER socket connected to one endpoint, or to several.

    Args:
        endpoint: where to connect (``tcp://``, ``ipc://`` or ``inproc://``); several
            endpoints, as a sequence or separated by commas, share the calls in
            turn (ZeroMQ's round-robin over the connected ones).
        context: the ZeroMQ context; the process-wide one by default. ``inproc://``
            endpoints only reach servers in the same context.
        max_message_size: ZeroMQ drops the connection of a server that sends a
            frame of more than twice this many bytes.
        hwm: messages queued each way before ZeroMQ pushes back.
        security: connect over CURVE (:class:`~uvrpc.security.ClientSecurity`).
        heartbeat: ZeroMQ heartbeats, so a server that vanished without closing
            the connection is noticed; ``None`` turns them off.
    """

    def __init__(
        self,
        endpoint: str | Sequence[str],
        context: zmq.Context[Any] | None = None,
        *,
        max_message_size: int = MAX_MESSAGE_SIZE,
        hwm: int = HIGH_WATER_MARK,
        security: ClientSecurity | None = None,
        heartbeat: Heartbeat | None = DEFAULT_HEARTBEAT,
    ) -> None:
        self._sock = open_socket(
            context,
            zmq.DEALER,
            max_message_size=max_message_size,
            hwm=hwm,
            heartbeat=heartbeat,
            security=security,
            immediate=True,
        )
        # The monitor is there before the connection, so that no event is lost: a
        # handshake refused before the first call is not retried by libzmq.
        self._monitor: zmq.Socket[bytes] | None = self._sock.get_monitor_socket(
            _WATCHED | zmq.EVENT_HANDSHAKE_SUCCEEDED
        )
        self._monitor.setsockopt(zmq.LINGER, 0)
        for each in _endpoints(endpoint):
            self._sock.connect(each)
        self._reactor: SocketReactor | None = None
        self._monitor_reactor: SocketReactor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, loop: asyncio.AbstractEventLoop, on_message: OnMessage) -> None:
        """Watch the socket from ``loop``."""
        self._reactor = SocketReactor(self._sock, loop, on_message)
        self._loop = loop

    def watch_disconnects(
        self, on_disconnect: OnDisconnect, on_connect: OnConnect | None = None
    ) -> None:
        """Call ``on_disconnect`` whenever a connection to the server drops, or
        its handshake fails (a server refusing this client's CURVE key, say), and
        ``on_connect`` when a handshake succeeds; events since the socket was
        created come first.

        A monitor socket reports the socket's events; the loop reads it through a
        :class:`~uvrpc.reactor.SocketReactor` of its own, like any socket. Call
        after :meth:`attach`.
        """
        assert self._loop is not None, "attach() first"
        monitor = self._monitor
        assert monitor is not None

        def on_event(frames: list[Any]) -> None:
            # Event frames: a 16-bit event number and a 32-bit value, then the
            # endpoint.
            if len(frames) != 2:
                return
            event, value = _event_of(frames[0])
            if event & zmq.EVENT_DISCONNECTED:
                # Replies that arrived before the connection dropped are queued:
                # answer their calls before failing the rest.
                if self._reactor is not None:
                    self._reactor.drain()
                on_disconnect(None)
            elif event & zmq.EVENT_HANDSHAKE_SUCCEEDED:
                if on_connect is not None:
                    on_connect()
            elif event & _WATCHED:
                on_disconnect(_refusal(event, value))

        self._monitor_reactor = SocketReactor(monitor, self._loop, on_event)

    def try_send(self, frames: Sequence[Any]) -> bool:
        """Send now if the socket has room."""
        assert self._reactor is not None, "attach() first"
        return self._reactor.try_send(frames)

    async def send(
        self, frames: Sequence[Any], prepare: Callable[[], bool] | None = None
    ) -> bool:
        """Send, waiting while the socket is at its high-water mark or no server
        is connected; ``prepare`` is called before each try after a wait (it may
        update ``frames``; False gives up). Returns whether it was sent."""
        assert self._reactor is not None, "attach() first"
        return await self._reactor.send(frames, prepare)

    def close(self) -> None:
        """Stop watching and close the socket without lingering."""
        if self._reactor is not None:
            self._reactor.close()
        if self._monitor is not None:
            if self._monitor_reactor is not None:
                self._monitor_reactor.close()
            self._sock.disable_monitor()
            self._monitor.close(linger=0)
            self._monitor = None
        self._sock.close(linger=0)


def _endpoints(endpoint: str | Sequence[str]) -> list[str]:
    """The endpoints of ``"a"``, ``"a,b"`` or ``["a", "b"]``."""
    parts = endpoint.split(",") if isinstance(endpoint, str) else endpoint
    endpoints = [part.strip() for part in parts if part.strip()]
    if not endpoints:
        raise ValueError("no endpoint to connect to")
    return endpoints


def _event_of(frame: Any) -> tuple[int, int]:
    """A monitor event's number and value."""
    view = memoryview(frame)
    return int.from_bytes(view[:2], "little"), int.from_bytes(view[2:6], "little")


def _refusal(event: int, value: int) -> Refusal:
    """What a failed handshake means to the caller."""
    if event & zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        return (
            Unauthenticated,
            f"the server refused this client's CURVE key (ZAP status {value})",
        )
    if value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        return (
            Unavailable,
            "the handshake failed: the server and this client use different "
            "security mechanisms (CURVE on one side only?)",
        )
    if event & zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
        return Unavailable, f"the handshake failed (ZMTP protocol error {value:#x})"
    return (
        Unavailable,
        "the handshake failed: the server closed the connection (do both sides "
        "use CURVE, and is the server's public key the one pinned?)",
    )


class Channel:
    """A connection that multiplexes any number of concurrent calls.

    Args:
        target: an endpoint (``tcp://host:port``, ``ipc://path``, ``inproc://name``),
            several (a sequence, or separated by commas: calls go to each in turn)
            or a :class:`ClientTransport` (see :mod:`uvrpc.testing`).
        context: the ZeroMQ context for an endpoint; the process-wide one by default.
        pool: the pool of encode buffers; the process-wide one by default.
        attachment_min: binary arguments at least this many bytes long travel as
            frames of their own, sent without a copy, instead of inside the body.
        stream_window: the items a server may send ahead of the caller taking them,
            per stream call: the most each stream buffers.
        max_message_size: the largest request, reply or stream item in bytes (all
            its frames). A call whose request is larger fails at once with
            :class:`~uvrpc.ResourceExhausted`, before anything is sent; so does a
            call whose reply is larger, without decoding it.
        max_in_flight: calls pending at once (unary and stream calls; oneway
            calls are never pending). A call beyond it fails at once with
            :class:`~uvrpc.ResourceExhausted`: it does not wait.
        hwm: messages queued each way before ZeroMQ pushes back (``SNDHWM``,
            ``RCVHWM``); for an endpoint only.
        security: connect over CURVE, pinning the server's public key
            (:class:`~uvrpc.security.ClientSecurity`, ``docs/security.md``). A server
            that refuses the handshake sends nothing back: calls then fail at their
            deadline, with a :class:`~uvrpc.DeadlineExceeded` whose message says
            the server may have refused the handshake.
        heartbeat: ZeroMQ heartbeats (:class:`~uvrpc.Heartbeat`; a PING each
            second, a server silent for five is dead), so a server that vanished
            without closing the connection fails the pending calls with
            :class:`~uvrpc.Unavailable` instead of leaving them to their deadline;
            ``None`` turns them off. Only for an endpoint, not a transport.
        interceptors: run around each call, the first outermost: unary and
            oneway (:meth:`call`), started (:meth:`start`) and stream calls
            (:class:`~uvrpc.ClientInterceptor`, ``docs/interceptors.md``).

    A channel belongs to the event loop that first uses it, and to the process that
    created it: used in a child process after a fork, it raises
    :class:`RuntimeError`. Several generated clients
    may share one channel. :meth:`close` fails every pending call with
    :class:`~uvrpc.Unavailable`, and so does a dropped connection to the server
    (seen through a ZeroMQ socket monitor) for the calls pending at that moment.
    Connected to several endpoints, the channel cannot tell which server a call
    went to: a connection to any of them dropping fails every call pending then.
    """

    def __init__(
        self,
        target: str | Sequence[str] | ClientTransport,
        *,
        context: zmq.Context[Any] | None = None,
        pool: BufferPool | None = None,
        attachment_min: int = ATTACHMENT_MIN,
        stream_window: int = STREAM_WINDOW,
        max_message_size: int = MAX_MESSAGE_SIZE,
        max_in_flight: int = MAX_IN_FLIGHT,
        hwm: int = HIGH_WATER_MARK,
        security: ClientSecurity | None = None,
        heartbeat: Heartbeat | None = DEFAULT_HEARTBEAT,
        interceptors: Sequence[ClientInterceptor] = (),
    ) -> None:
        if stream_window < 1:
            raise ValueError("a stream window must be at least 1")
        self._pid = os.getpid()
        self._interceptors = tuple(interceptors)
        self.max_message_size = check_limit("max_message_size", max_message_size)
        """The largest message sent or taken, in bytes."""
        self.max_in_flight = check_limit("max_in_flight", max_in_flight)
        """Calls pending at once, at most."""
        check_limit("hwm", hwm, 0)
        self._transport: ClientTransport = (
            DealerTransport(
                target,
                context,
                max_message_size=max_message_size,
                hwm=hwm,
                security=security,
                heartbeat=heartbeat,
            )
            if isinstance(target, str | list | tuple)
            else cast(ClientTransport, target)
        )
        self._encoder = BodyEncoder(pool, attachment_min=attachment_min)
        self._core = ClientCore(
            self._encoder,
            stream_window=stream_window,
            max_message_size=max_message_size,
            max_in_flight=max_in_flight,
            no_reply=no_reply_text(security),
        )
        self.stream_window = stream_window
        """Items a server may send ahead, per stream call."""
        self._deadlines: DeadlineWheel | None = None
        self._senders: set[asyncio.Task[Any]] = set()
        self._oneway_waits: set[asyncio.Future[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._refusal: Refusal | None = None

    @property
    def pending(self) -> int:
        """How many unary calls are waiting for their reply."""
        return len(self._core.calls) - self._core.streams

    @property
    def streaming(self) -> int:
        """How many stream calls are in progress."""
        return self._core.streams

    @property
    def dropped_replies(self) -> int:
        """Replies dropped: late for their call, or malformed."""
        return self._core.dropped_replies

    @property
    def stale_messages(self) -> int:
        """Messages of stream calls that had ended (items and replies in flight when
        the call was cancelled or timed out): ignored."""
        return self._core.stale_messages

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return loop
        check_process("Channel", self._pid)
        if self._closed:
            raise Unavailable("the channel is closed")
        if self._loop is not None:
            raise RuntimeError("a Channel belongs to the loop that first used it")
        self._transport.attach(loop, self._on_message)
        if isinstance(self._transport, DealerTransport):
            self._transport.watch_disconnects(self._on_disconnect, self._on_connect)
        self._deadlines = DeadlineWheel(loop, self._expire)
        self._loop = loop
        return loop

    def call(
        self, method: Unary[Any, Reply], args: dict[str, Any], timeout: float | None
    ) -> Coroutine[Any, Any, Reply]:
        """Make one call and return its typed result (await what this returns).

        A oneway method's call returns ``None`` once its request is handed to the
        socket, waiting for room at most ``timeout`` seconds; no reply comes.

        Made inside a handler, the call's timeout is at most the time the served
        call has left (:func:`uvrpc.current_call`). Inside a :func:`uvrpc.metadata`
        block, the request carries the block's metadata and the block records the
        reply's trailers. Cancelling the awaiting task sends the server a CANCEL,
        which cancels the handler.

        Raises:
            RpcError: the server replied with an error (the subclass names the status).
            DeadlineExceeded: no reply within ``timeout`` seconds (for a oneway
                call: the request could not be sent within it).
            Unavailable: the channel is closed, or was closed during the call.
        """
        if self._interceptors:
            return intercept_call(self._interceptors, self._call, method, args, timeout)
        return self._call(method, args, timeout)

    async def _call(
        self, method: Unary[Any, Reply], args: dict[str, Any], timeout: float | None
    ) -> Reply:
        scope = OUTGOING.get()
        if CURRENT_CALL.get() is not None:
            timeout = inherited_timeout(timeout)
        if method.oneway:
            await self._send_oneway(method, args, timeout, scope)
            return cast(Reply, None)
        state, frames = self._begin(method, args, timeout, scope)
        future: asyncio.Future[None] = state.waker
        try:
            if frames is not None:
                await self._send_before(future, frames, _deadline(future, timeout))
            await future
        except asyncio.CancelledError:
            self._give_up(state)
            raise
        except BaseException as exc:
            self._core.fail(state, exc)  # the request could not be sent
            raise
        finally:
            if timeout is not None and self._deadlines is not None:
                self._deadlines.remove(state.call_id, state.timer)
        result: Reply = finish(state)  # no cast(): a call, on every call's path
        return result

    async def _send_oneway(
        self,
        method: Unary[Any, Any],
        args: dict[str, Any],
        timeout: float | None,
        scope: CallMetadata | None,
    ) -> None:
        """Send a request with call id 0, which gets no reply; register nothing."""
        loop = self._running_loop()
        if self._closed:
            raise Unavailable("the channel is closed")
        if self._refusal is not None:
            self._refused(method.route)
        frames = self._core.oneway_request(method, args, timeout, scope)
        sent = False
        try:
            sent = self._transport.try_send(frames)
        finally:
            self._encoder.settle(frames[-1], sent)
        if sent:
            return
        # The socket is full: wait for room until the deadline or a close.
        over: asyncio.Future[None] = loop.create_future()
        self._oneway_waits.add(over)
        timer = None
        if timeout is not None:
            error = DeadlineExceeded(
                f"{method.route} could not be sent within {timeout:g} s"
            )
            timer = loop.call_later(timeout, _fail, over, error)
        try:
            sent = await self._send_before(over, frames, _deadline(over, timeout))
        finally:
            self._oneway_waits.discard(over)
            if timer is not None:
                timer.cancel()
        if over.done():
            over.result()  # raises why the request could not be sent
        if not sent:
            raise DeadlineExceeded(
                f"{method.route} could not be sent within {timeout:g} s"
            )

    def start(
        self, method: Unary[Any, Reply], args: dict[str, Any], timeout: float | None
    ) -> Call[Reply]:
        """Send one call and return its handle at once (see :class:`~uvrpc.Call`).

        Must be called from a coroutine running on the channel's loop. Deadlines
        and metadata are as for :meth:`call`; the reply's trailers are the
        handle's :attr:`~uvrpc.Call.trailers`. Cancelling the handle (or
        releasing its last reference before the reply) sends the server a CANCEL.

        With interceptors, they run in a task of their own and the request is
        sent when they proceed, after this returned; the handle's result is what
        they return, and an error they raise is raised when the handle is
        awaited.

        Raises:
            InvalidArgument: an argument cannot be encoded.
            Unavailable: the channel is closed.
        """
        if self._interceptors:
            return intercept_start(
                self._interceptors, self._start, method, args, timeout
            )
        return self._start(method, args, timeout)

    def _start(
        self, method: Unary[Any, Reply], args: dict[str, Any], timeout: float | None
    ) -> Call[Reply]:
        scope = OUTGOING.get()
        if CURRENT_CALL.get() is not None:
            timeout = inherited_timeout(timeout)
        state, frames = self._begin(method, args, timeout, scope, started=True)
        future: asyncio.Future[None] = state.waker
        future.add_done_callback(partial(self._settled, state))
        if frames is not None:
            deadline = _deadline(future, timeout)
            sender = future.get_loop().create_task(
                self._send_before(future, frames, deadline)
            )
            self._senders.add(sender)
            sender.add_done_callback(self._senders.discard)
        return Call(method, future, state)

    def _begin(
        self,
        method: Unary[Any, Any],
        args: dict[str, Any],
        timeout: float | None,
        scope: CallMetadata | None,
        started: bool = False,
    ) -> tuple[CallState, list[Any] | None]:
        """Register a call, hang its future on it and send its request if the
        socket has room.

        Returns the call's state, and its frames if they still have to be sent
        (``None`` once sent).
        """
        loop = self._loop
        if loop is None or loop is not asyncio.get_running_loop():
            loop = self._running_loop()
        if self._closed:
            raise Unavailable("the channel is closed")
        if self._refusal is not None:
            self._refused(method.route)
        state, frames = self._core.start_call(method, args, timeout, scope, started)
        state.waker = loop.create_future()
        if timeout is None:
            state.timer = None
        else:
            deadlines = self._deadlines
            assert deadlines is not None
            state.timer = deadlines.add(state.call_id, timeout)
        sent = False
        try:
            sent = self._transport.try_send(frames)
        except BaseException as exc:
            self._core.fail(state, exc)
            if state.timer is not None:
                self._unschedule(state)
            raise
        finally:
            self._encoder.settle(frames[-1], sent)
        return state, None if sent else frames

    def _refused(self, route: str) -> None:
        """Raise why the server refused the last handshake."""
        assert self._refusal is not None
        error, why = self._refusal
        raise error(f"{why}; not sending {route}")

    def _unschedule(self, state: CallState) -> None:
        """Take a call off the deadline wheel."""
        if self._deadlines is not None:
            self._deadlines.remove(state.call_id, state.timer)

    def _give_up(self, state: CallState) -> None:
        """The caller stopped waiting for a call: the server is told if the call
        was still in progress."""
        self._core.cancel(state)
        self._flush()

    def _settled(self, state: CallState, future: asyncio.Future[Any]) -> None:
        """A started call's handle is done: by its reply, or cancelled."""
        if state.timer is not None:
            self._unschedule(state)
        if future.cancelled():
            self._give_up(state)

    async def _send_before(
        self,
        future: asyncio.Future[Any],
        frames: list[Any],
        deadline: float | None = None,
    ) -> bool:
        """Wait for room to send, unless the call ends (deadline, close) first;
        return whether the message was sent.

        A request with a ``deadline`` (loop time) that waited goes with its
        timeout cut to the time left and a fresh send stamp, or not at all once
        the deadline passed: however long it waited here, a server never gives
        its handler more time than its caller waits.
        """
        transport = self._transport
        sending: asyncio.Future[bool | None]
        if deadline is not None and isinstance(transport, DealerTransport):
            loop = future.get_loop()
            restamp = partial(_restamp, frames, deadline, loop)
            sending = asyncio.ensure_future(transport.send(frames, restamp))
        else:
            sending = asyncio.ensure_future(transport.send(frames))
        try:
            await asyncio.wait((sending, future), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not sending.done():
                sending.cancel()  # it ends at its next step, unsent
        if not sending.done() or sending.cancelled() or sending.exception():
            return False
        return sending.result() is not False

    def _expire(self, call_id: int) -> None:
        state = self._core.calls.get(call_id)
        if state is None:
            return
        if state.items is not None:
            self._core.expire(state)
            self._wake(state)
            self._flush()
            return
        # A unary call's server keeps the deadline the request carried and never
        # starts its handler after it; the CANCEL stops one already running. It
        # goes only if the socket has room now, as the blocking client's does:
        # waiting for room (a server that is down leaves the socket none) would
        # keep a task for each call that expired meanwhile.
        self._flush()
        core = self._core
        core.expire(state)
        self._wake(state)
        outbox = core.outbox
        if outbox:
            if not self._closed:
                for frames in outbox:
                    self._transport.try_send(frames)
            outbox.clear()

    def _on_message(self, frames: list[Any]) -> None:
        core = self._core
        state = core.receive(frames)
        if state is not None:
            waker = state.waker
            if state.items is None:
                if not waker.done():
                    waker.set_result(None)  # the awaiting task holds the state
            else:
                waker.wake()
        if core.outbox:
            self._flush()

    def _wake(self, state: CallState) -> None:
        """Tell whoever waits on a call that its state changed."""
        waker = state.waker
        if state.items is not None:
            waker.wake()
        elif not waker.done():
            waker.set_result(None)

    def _flush(self) -> None:
        """Send the control messages the core owes the server."""
        outbox = self._core.outbox
        if not outbox:
            return
        messages = outbox[:]
        outbox.clear()
        if self._closed:
            return
        for frames in messages:
            if not self._transport.try_send(frames):
                self._spawn_send(None, frames)

    def _on_connect(self) -> None:
        self._refusal = None

    def _on_disconnect(self, refusal: Refusal | None) -> None:
        """The connection dropped, or its handshake failed: no reply to a call
        pending now will come. After a failed handshake, and until one succeeds,
        new calls fail at once with the same error."""
        if refusal is not None:
            self._refusal = refusal
        error, why = (
            (Unavailable, "the connection dropped") if refusal is None else refusal
        )
        for state in self._core.fail_all(
            lambda state: error(f"{why} during {state.method.route}")
        ):
            self._wake(state)

    # --- streams -------------------------------------------------------------

    def server_stream(
        self,
        method: ServerStreaming[Any, Out],
        args: dict[str, Any],
        timeout: float | None,
    ) -> ItemStream[Out]:
        """Return the stream of a server-streaming call; it starts when first used.

        See :class:`~uvrpc.ItemStream`; with interceptors, an
        :class:`~uvrpc.streams.InterceptedItemStream`.
        """
        if self._interceptors:
            return InterceptedItemStream(
                self, method, args, None, timeout, self._interceptors
            )
        return ItemStream(self, method, args, None, timeout)

    def bidi_stream(
        self,
        method: BidiStreaming[Any, In, Out],
        args: dict[str, Any],
        items: AsyncIterable[In],
        timeout: float | None,
    ) -> ItemStream[Out]:
        """Return the stream of a bidirectional call; it starts when first used, and
        sends ``items`` as the server grants credit.

        If ``items`` raises, the call is cancelled and iterating the returned
        stream raises that exception.
        """
        if self._interceptors:
            return InterceptedItemStream(
                self, method, args, items, timeout, self._interceptors
            )
        return ItemStream(self, method, args, items, timeout)

    async def client_stream(
        self,
        method: ClientStreaming[Any, In, Reply],
        args: dict[str, Any],
        items: AsyncIterable[In],
        timeout: float | None,
    ) -> Reply:
        """Send ``items`` as the server grants credit and return the call's result.

        Raises:
            RpcError: the server replied with an error (the subclass names the
                status); the client stops sending.
            DeadlineExceeded: the call did not finish within ``timeout`` seconds.
            Unavailable: the channel is closed, or the connection dropped.
            Exception: whatever ``items`` raised; the call is cancelled.
        """
        if self._interceptors:
            info, outer = client_info(method, args, timeout, items)
            result = await intercept_stream(
                self._interceptors, info, outer, self._open_intercepted
            )
            return cast(Reply, result)
        call = self.open_stream(method, args, items, timeout)
        try:
            state = await call.result()
        except asyncio.CancelledError:
            call.cancel()
            raise
        finally:
            pump = call.pump
            if pump is not None and not pump.done():
                pump.cancel()
        return cast(Reply, finish(state))

    def open_stream(
        self,
        method: StreamingMethod,
        args: dict[str, Any],
        items: AsyncIterable[Any] | None,
        timeout: float | None,
    ) -> StreamCall:
        """Register a stream call, send its request and start sending its items."""
        loop = self._running_loop()
        if CURRENT_CALL.get() is not None:
            timeout = inherited_timeout(timeout)
        if self._closed:
            raise Unavailable("the channel is closed")
        if self._refusal is not None:
            self._refused(method.route)
        state, frames = self._core.open_stream(method, args, timeout, OUTGOING.get())
        call = StreamCall(self, state, loop)
        # As _begin does for a unary call, written out in both: a shared helper
        # would cost every unary call one more Python call.
        state.timer = None
        if timeout is not None:
            deadlines = self._deadlines
            assert deadlines is not None
            state.timer = deadlines.add(state.call_id, timeout)
        sent = False
        try:
            sent = self._transport.try_send(frames)
        except BaseException as exc:
            self._core.fail(state, exc)
            self.stream_ended(state)
            raise
        finally:
            self._encoder.settle(frames[-1], sent)
        if not sent:
            call.request_sending = self._spawn_send(
                call.done, frames, _deadline(call.done, timeout)
            )
        if items is not None:
            call.pump = loop.create_task(call.send_items(items))
        return call

    def _open_intercepted(self, info: ClientCallInfo) -> StreamCall:
        """Open a stream call as the interceptors left its info."""
        method = cast(StreamingMethod, info.method)
        items = cast(AsyncIterable[Any] | None, info.items)
        return self.open_stream(method, info.args, items, info.timeout)

    @property
    def core(self) -> ClientCore:
        """The protocol core behind this channel: its calls and counters."""
        return self._core

    def stream_ended(self, state: CallState) -> None:
        """A stream call is over: take it off the deadline wheel."""
        if state.timer is not None:
            self._unschedule(state)
            state.timer = None

    def flush(self) -> None:
        """Send the control messages the core owes the server (see
        :attr:`ClientCore.outbox`)."""
        self._flush()

    def _spawn_send(
        self,
        until: asyncio.Future[Any] | None,
        frames: list[Any],
        deadline: float | None = None,
    ) -> asyncio.Task[Any]:
        """Send ``frames`` in a task of its own (unless ``until`` is done first;
        ``deadline``: a request's, see :meth:`_send_before`)."""
        assert self._loop is not None
        sending: asyncio.Task[Any]
        if until is None:
            sending = self._loop.create_task(self._transport.send(frames))
        else:
            sending = self._loop.create_task(self._send_before(until, frames, deadline))
        self._senders.add(sending)
        sending.add_done_callback(self._senders.discard)
        return sending

    async def send_frames(self, call: StreamCall, frames: list[Any]) -> None:
        """Send a message of a stream call, waiting for room (until the call
        ends); its body goes back to the encoder."""
        sent = False
        try:
            sent = self._transport.try_send(frames)
        finally:
            self._encoder.settle(frames[-1], sent)
        if not sent:
            await self._send_before(call.done, frames)

    def send_now(self, frames: list[Any]) -> None:
        """Send a control message (in the background if no room)."""
        if self._closed:
            return
        if not self._transport.try_send(frames):
            self._spawn_send(None, frames)

    async def close(self) -> None:
        """Fail pending calls with :class:`~uvrpc.Unavailable` and close the socket."""
        if self._closed:
            return
        self._closed = True
        if os.getpid() != self._pid:
            return  # a child's copy: the socket is the parent's
        for over in self._oneway_waits:
            _fail(over, Unavailable("the channel was closed"))
        for state in self._core.fail_all(
            lambda _: Unavailable("the channel was closed")
        ):
            self._wake(state)
        self._core.outbox.clear()
        if self._deadlines is not None:
            self._deadlines.close()
        for sender in self._senders:
            sender.cancel()
        self._transport.close()
        self._encoder.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def _deadline(future: asyncio.Future[Any], timeout: float | None) -> float | None:
    """The loop time a request that waits for room must go by, if it has a
    timeout (read only on that slow path)."""
    return None if timeout is None else future.get_loop().time() + timeout


def _restamp(
    frames: list[Any], deadline: float, loop: asyncio.AbstractEventLoop
) -> bool:
    """Make a request that waited for room go with the time it has left and a
    fresh send stamp; False once its deadline passed (it is not sent)."""
    left = deadline - loop.time()
    if left <= 0:
        return False
    frames[-2] = restamp_request_header(
        frames[-2], max(1, int(left * 1000)), send_stamp()
    )
    return True


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
