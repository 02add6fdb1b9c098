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
import math
import os
import weakref
from collections.abc import AsyncIterable, Callable, Coroutine, Iterable, Sequence
from functools import partial
from typing import Any, NoReturn, Protocol, Self, cast

import zmq

from ..core.client import CallState, ClientCore, finish
from ..core.context import CURRENT_CALL, OUTGOING, CallMetadata, inherited_timeout
from ..core.credit import check_window
from ..interceptors.base import (
    ClientCallInfo,
    ClientInterceptor,
    checked_interceptors,
)
from ..transport.coalesce import CoalescingSender, announce_batches, reads_batches
from ..transport.forks import check_process, not_picklable
from ..transport.inproc import InprocTarget
from ..transport.liveness import (
    DEFAULT_HEARTBEAT,
    Heartbeat,
    Refusal,
    handshake_refusal,
    monitor_address,
    monitor_event,
)
from ..transport.reactor import SocketReactor
from ..transport.security import ClientSecurity, checked_security, no_reply_text
from ..transport.sockets import (
    CONNECT_TIMEOUT,
    LINGER,
    close_when_dropped,
    connect,
    open_socket,
)
from ..wire.buffers import ATTACHMENT_MIN, BodyEncoder, BufferPool
from ..wire.errors import (
    ChannelClosed,
    DeadlineExceeded,
    Unavailable,
)
from ..wire.limits import (
    HIGH_WATER_MARK,
    MAX_IN_FLIGHT,
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
from ..wire.protocol import DELIMITER, restamp_request_header, send_stamp
from .deadlines import DeadlineWheel, settle_heap
from .dropped import close_transport_when_dropped, weakly
from .handle import Call
from .intercept import client_info, intercept_call, intercept_start, intercept_stream
from .streams import InterceptedItemStream, ItemStream, StreamCall, sent_items

__all__ = ["Channel", "ClientTransport", "DealerTransport", "OnMessage"]

OnMessage = Callable[[list[Any]], None]
"""Receives the frames of one message: ``[delimiter, attachment..., header, body]``."""

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
        context: the ZeroMQ context, of any class (a ``zmq.asyncio.Context`` too);
            the process-wide one by default. ``inproc://`` endpoints only reach
            servers in the same context.
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
            # Nothing is queued for a server that is not connected: a request
            # either goes to a live connection or is refused at once, and is
            # never run by a server that comes up after its caller gave up.
            immediate=True,
            # One oversized reply fails its call, not the channel for good.
            backstop=False,
        )
        # The monitor is there before the connection, so that no event is lost: a
        # handshake refused before the first call is not retried by libzmq.
        self._monitor: zmq.Socket[bytes] | None = self._sock.get_monitor_socket(
            _WATCHED | zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_MONITOR_STOPPED,
            monitor_address(),
        )
        self._monitor.setsockopt(zmq.LINGER, 0)
        self._when_dropped = close_when_dropped(self, self._sock, self._monitor)
        announce_batches(self._sock)
        self._live: set[bytes] = set()
        self._reactor: SocketReactor | None = None
        self._sender: CoalescingSender | None = None
        self._deliver: OnMessage | None = None
        self._batches: bool | None = None
        """Whether the server connected now reads batches (``None``: not known
        until its first message)."""
        self._monitor_reactor: SocketReactor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Future[None] | None = None
        # inproc:// has no handshake, so no event says it is connected, and libzmq
        # queues what is sent to an endpoint nobody bound yet: one counts as
        # connected while the uvrpc server it reaches is bound (see
        # uvrpc.transport.inproc), which tells inproc_changed().
        self._inproc: list[InprocTarget] = []
        self._inproc_up = 0
        self._on_connect: OnConnect | None = None
        self._on_disconnect: OnDisconnect | None = None
        try:
            endpoints = _endpoints(endpoint)
            for each in endpoints:
                if isinstance(each, str) and each.startswith("inproc://"):
                    self._inproc.append(InprocTarget(self._sock.context, each, self))
                connect(self._sock, each)
        except BaseException:
            self.close()
            raise
        self.endpoints: tuple[str, ...] = tuple(endpoints)
        """The endpoints connected to, in the order given."""
        self.where = ", ".join(endpoints)
        """The endpoints connected to, for error messages."""
        # Batches go only where this socket has one connection at a time: a
        # message to several goes to whichever is next, which may not read them.
        self.one_server = len(endpoints) == 1
        """Whether every message goes to the one server its calls went to (a
        socket connected to several sends each to whichever is next)."""

    @property
    def connected(self) -> bool:
        """Whether a connection's handshake succeeded and it has not dropped since
        (as far as the events read so far tell), or an ``inproc://`` endpoint's
        uvrpc server is bound."""
        return bool(self._live) or any(target.up() for target in self._inproc)

    @property
    def connections(self) -> int:
        """How many of the endpoints are connected (as far as the events read so
        far tell)."""
        return len(self._live) + sum(target.up() for target in self._inproc)

    def live_endpoints(self) -> list[str]:
        """The endpoints connected now (as far as the events read so far tell),
        in the order given."""
        up = {target.endpoint for target in self._inproc if target.up()}
        live = self._live
        return [e for e in self.endpoints if e in up or e.encode() in live]

    def attach(self, loop: asyncio.AbstractEventLoop, on_message: OnMessage) -> None:
        """Watch the socket from ``loop``."""
        # Nothing is sent while no connection is up (as far as the events read
        # so far tell): with ZMQ_IMMEDIATE, libzmq drops what went to the pipe
        # of a connection that dropped, and the message would be lost unseen.
        live = self._live
        inproc = self._inproc
        self._deliver = on_message
        self._reactor = SocketReactor(
            self._sock,
            loop,
            self._learn if self.one_server else on_message,
            may_send=(
                (lambda: bool(live) or any(target.up() for target in inproc))
                if inproc
                else (lambda: bool(live))
            ),
        )
        if self.one_server:
            self._sender = CoalescingSender(self._reactor, loop, self._peer_of, end=0)
        self._loop = loop

    def _learn(self, frames: list[Any]) -> None:
        """Deliver a message, learning from it whether its server reads batches
        (then deliver straight, until the connection changes)."""
        assert self._deliver is not None and self._reactor is not None
        self._batches = reads_batches(frames[0])
        self._reactor.deliver_to(self._deliver)
        self._deliver(frames)

    def _relearn(self) -> None:
        """The connection changed: no batch goes until its server's first
        message says it reads them."""
        self._batches = None
        if self._reactor is not None and self.one_server:
            self._reactor.deliver_to(self._learn)

    def _peer_of(self, frames: Sequence[Any]) -> bytes | None:
        return DELIMITER if self._batches else None

    @property
    def batches(self) -> int:
        """Batches sent so far (each counts once, whatever it held)."""
        return 0 if self._sender is None else self._sender.batches

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
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._inproc_up = sum(target.up() for target in self._inproc)

        def on_event(frames: list[Any]) -> None:
            # Event frames: a 16-bit event number and a 32-bit value, then the
            # endpoint.
            if len(frames) != 2:
                return
            event, value = monitor_event(frames[0])
            if event & zmq.EVENT_DISCONNECTED:
                self._relearn()
                if self._sender is not None:
                    self._sender.abandon()
                self._live.discard(bytes(frames[1]))
                # Replies that arrived before the connection dropped are queued:
                # answer their calls before failing the rest.
                if self._reactor is not None:
                    self._reactor.drain()
                on_disconnect(None)
            elif event & zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self._relearn()
                self._live.add(bytes(frames[1]))
                if self._reactor is not None:
                    self._reactor.wake_writers()
                if on_connect is not None:
                    on_connect()
            elif event & zmq.EVENT_MONITOR_STOPPED:
                if self._stopped is not None and not self._stopped.done():
                    self._stopped.set_result(None)
            elif event & _WATCHED:
                on_disconnect(handshake_refusal(event, value))

        self._monitor_reactor = SocketReactor(monitor, self._loop, on_event)

    def inproc_changed(self) -> None:
        """An ``inproc://`` endpoint's server was bound or released (on any
        thread): the loop sees whether that connected or disconnected this."""
        loop = self._loop
        if loop is None or self._sock.closed:
            return
        try:
            loop.call_soon_threadsafe(self._inproc_check)
        except RuntimeError:  # its loop is closed: nothing waits on it
            pass

    def _inproc_check(self) -> None:
        if self._sock.closed:
            return
        up = sum(target.up() for target in self._inproc)
        before, self._inproc_up = self._inproc_up, up
        if up > before:
            self._relearn()
            if self._reactor is not None:
                self._reactor.wake_writers()
            if self._on_connect is not None:
                self._on_connect()
        elif up < before:
            self._relearn()
            if self._sender is not None:
                self._sender.abandon()
            # The replies it sent before it closed are still in the pipe.
            if self._reactor is not None:
                self._reactor.drain()
            if self._on_disconnect is not None:
                self._on_disconnect(None)

    def read_events(self) -> None:
        """Handle the monitor's events that wait now (a connection made or lost
        that the loop has not yet seen)."""
        if self._monitor_reactor is not None:
            self._monitor_reactor.drain()

    def try_send(self, frames: Sequence[Any]) -> bool:
        """Send now if the socket has room."""
        assert self._reactor is not None, "attach() first"
        if self._sender is not None:
            return self._sender.try_send(frames)
        return self._reactor.try_send(frames)

    async def send(
        self, frames: Sequence[Any], prepare: Callable[[], bool] | None = None
    ) -> bool:
        """Send, waiting while the socket is at its high-water mark or no server
        is connected; ``prepare`` is called before each try after a wait (it may
        update ``frames``; False gives up). Returns whether it was sent: once the
        socket is closed, the message is dropped (its call was failed at the
        close)."""
        assert self._reactor is not None, "attach() first"
        try:
            if self._sender is not None:
                return await self._sender.send(frames, prepare)
            return await self._reactor.send(frames, prepare)
        except zmq.ZMQError:
            if not self._sock.closed:
                raise
            return False

    def close(self) -> None:
        """Stop watching and close the socket without lingering."""
        self._forget_inproc()
        try:
            if self._sender is not None:
                self._sender.close()
            if self._reactor is not None:
                self._reactor.close()
        finally:  # the sockets close whatever their watchers' loop has become
            if self._monitor is not None:
                if self._monitor_reactor is not None:
                    self._monitor_reactor.close()
                self._sock.disable_monitor()
                self._monitor.close(linger=0)
                self._monitor = None
            self._sock.close(linger=0)
            self._when_dropped.detach()

    async def close_lingering(self, linger: float) -> None:
        """Close the socket, letting libzmq send what it queued for up to
        ``linger`` seconds, and return once it did (or gave up).

        libzmq keeps a closed socket's queued messages in its I/O thread, and a
        process that exits then loses them: the socket's monitor reports
        ``MONITOR_STOPPED`` only once the socket is gone for good, after its
        connections were flushed or their linger ran out, so that is what this
        waits for (bounded, should the report never come).
        """
        monitor_reactor = self._monitor_reactor
        if linger <= 0 or self._monitor is None or monitor_reactor is None:
            self.close()
            return
        assert self._loop is not None
        self._forget_inproc()
        stopped = self._stopped = self._loop.create_future()
        if self._sender is not None:
            self._sender.close()  # what it held goes into the socket first
        if self._reactor is not None:
            self._reactor.close()
        self._sock.close(linger=max(1, round(linger * 1000)))
        # The wait goes on in a task of its own if this one is cancelled (a
        # timeout around the close, say): a monitor closed before its socket is
        # gone leaves libzmq's socket, and its descriptors, there for good.
        waiting = self._await_stopped(stopped, linger, self._monitor, monitor_reactor)
        await asyncio.shield(self._loop.create_task(waiting))

    async def _await_stopped(
        self,
        stopped: asyncio.Future[None],
        linger: float,
        monitor: zmq.Socket[bytes],
        monitor_reactor: SocketReactor,
    ) -> None:
        """Wait for the closed socket to be gone (see :meth:`close_lingering`),
        then close its ``monitor``."""
        try:
            # A margin over the linger: libzmq's own timer ends the wait.
            await asyncio.wait_for(asyncio.shield(stopped), linger + 0.5)
        except TimeoutError:
            pass
        finally:
            monitor_reactor.close()
            monitor.close(linger=0)
            self._monitor = None
            self._when_dropped.detach()

    def _forget_inproc(self) -> None:
        for target in self._inproc:
            target.close()


def _endpoints(endpoint: str | Sequence[str]) -> list[str]:
    """The endpoints of ``"a"``, ``"a,b"`` or ``["a", "b"]``."""
    parts = endpoint.split(",") if isinstance(endpoint, str) else endpoint
    endpoints = [part.strip() for part in parts if part.strip()]
    if not endpoints:
        raise ValueError("no endpoint to connect to")
    return endpoints


def _is_target(target: object) -> bool:
    """Whether ``target`` is what a :class:`Channel` takes: an endpoint, a list or
    tuple of them, or a :class:`ClientTransport`."""
    if isinstance(target, str):
        return True
    if isinstance(target, list | tuple):
        return all(isinstance(endpoint, str) for endpoint in target)
    return all(
        callable(getattr(target, name, None))
        for name in ("attach", "try_send", "send", "close")
    )


class Channel:
    """A connection that multiplexes any number of concurrent calls.

    Args:
        target: an endpoint (``tcp://host:port``, ``ipc://path``, ``inproc://name``),
            several (a sequence, or separated by commas: calls go to each in turn)
            or a :class:`ClientTransport` (see :mod:`uvrpc.testing`).
        context: the ZeroMQ context for an endpoint, of any class; the process-wide
            one by default.
        pool: the pool of encode buffers; the process-wide one by default.
        attachment_min: binary arguments at least this many bytes long travel as
            frames of their own, sent without a copy, instead of inside the body.
        stream_window: the items a server may send ahead of the caller taking them,
            per stream call: the most each stream buffers. ``None`` (the default):
            :data:`~uvrpc.wire.limits.STREAM_WINDOW` items, grown while the items
            are small, to at most :data:`~uvrpc.wire.limits.STREAM_BYTES` of them
            and :data:`~uvrpc.wire.limits.STREAM_WINDOW_MAX` items.
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
            that refuses the handshake sends nothing back; the socket monitor
            sees the refusal and calls fail at once with
            :class:`~uvrpc.Unauthenticated` (a key not allowed) or
            :class:`~uvrpc.Unavailable` (CURVE on one side only).
        heartbeat: ZeroMQ heartbeats (:class:`~uvrpc.Heartbeat`; a PING each
            second, a server silent for five is dead), so a server that vanished
            without closing the connection fails the pending calls with
            :class:`~uvrpc.Unavailable` instead of leaving them to their deadline;
            ``None`` turns them off. Only for an endpoint, not a transport.
        interceptors: run around each call, the first outermost: unary and
            oneway (:meth:`call`), started (:meth:`start`) and stream calls
            (:class:`~uvrpc.ClientInterceptor`, ``docs/interceptors.md``).
        connect_timeout: seconds to wait for a connection after the channel is
            first used, and after its connection dropped. Calls made meanwhile
            wait for it; once it has passed with no server connected, a call
            fails at once with :class:`~uvrpc.Unavailable` naming the endpoint
            (``docs/reliability.md``). Nothing is ever queued for a server that
            is not connected.
        wait_for_ready: the default of each call's ``wait_for_ready``: with
            ``True``, a call with no server connected waits for one until its
            deadline instead of failing at once (gRPC's ``wait_for_ready``).
        linger: seconds :meth:`close` waits, at most, for requests already
            handed to the socket (oneway calls above all) to reach the server.
        check_requests: check each request, and each item of a client stream,
            before it is sent, exactly as the server will: the encoded message
            is decoded and validated by the method's own
            :meth:`~uvrpc.wire.methods.Unary.read_params` (or
            :meth:`~uvrpc.wire.methods.StreamingMethod.read_request_item`), which
            the server runs too. A value the server would refuse raises the
            :class:`~uvrpc.InvalidArgument` it would send back (the same text and
            field path) at the call, and never reaches the wire; a refused item
            cancels its call. The check runs after the client interceptors, on
            the arguments they pass on, so they see its error as they would the
            server's. It costs about 3 µs of CPU per call of a small request
            (a quarter more than the async client's own cost; more for a larger
            request, which is decoded and validated whole), so it is off by
            default (``docs/performance.md``, "Checking requests on the
            client").

    A channel belongs to the event loop that first uses it, and to the process that
    created it: used in a child process after a fork, it raises
    :class:`RuntimeError`. Several generated clients
    may share one channel; close it when done (``async with``). One dropped
    unclosed is closed once collected, its calls all ended (its loop holds it
    weakly; :mod:`uvrpc.client.dropped`). :meth:`close` fails every pending call with
    :class:`~uvrpc.Unavailable`, and so does a dropped connection to the server
    (seen through a ZeroMQ socket monitor) for the calls pending at that moment.
    Connected to several endpoints, the channel cannot tell which server a unary
    call went to: a connection to any of them dropping fails every unary call
    pending then. A stream call there runs on a connection of its own to one of
    the servers connected, each in turn (one socket per server, opened at its
    first stream call), which carries all of the call's messages.
    """

    def __init__(
        self,
        target: str | Sequence[str] | ClientTransport,
        *,
        context: zmq.Context[Any] | None = None,
        pool: BufferPool | None = None,
        attachment_min: int = ATTACHMENT_MIN,
        stream_window: int | None = None,
        max_message_size: int = MAX_MESSAGE_SIZE,
        max_in_flight: int = MAX_IN_FLIGHT,
        hwm: int = HIGH_WATER_MARK,
        security: ClientSecurity | None = None,
        heartbeat: Heartbeat | None = DEFAULT_HEARTBEAT,
        interceptors: Sequence[ClientInterceptor] = (),
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
        self._pid = os.getpid()
        # The first deadlines of a fresh process are then as punctual as later ones.
        settle_heap()
        self._interceptors = checked_interceptors(interceptors, "intercept_client")
        self.max_message_size = check_limit("max_message_size", max_message_size)
        """The largest message sent or taken, in bytes."""
        self.max_in_flight = check_limit("max_in_flight", max_in_flight)
        """Calls pending at once, at most."""
        check_limit("hwm", hwm, 0)
        if not _is_target(target):
            raise TypeError(
                "a channel's target is an endpoint (tcp://host:port, ipc://path, "
                "inproc://name), a list of them or a ClientTransport, not "
                f"{target!r:.60} ({type(target).__name__})"
            )
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
            check_requests=check_requests,
        )
        self.stream_window = stream_window
        """Items a server may send ahead, per stream call (``None``: the default
        window, grown for small items)."""
        self._deadlines: DeadlineWheel | None = None
        self._senders: set[asyncio.Task[Any]] = set()
        self._oneway_waits: set[asyncio.Future[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._refusal: Refusal | None = None
        self.connect_timeout = connect_timeout
        """Seconds to wait for a connection before calls fail at once."""
        self.wait_for_ready = wait_for_ready
        """Whether calls wait for a connection by default."""
        self.linger = linger
        """Seconds :meth:`close` waits, at most, for queued requests to go out."""
        self._dealer = (
            self._transport if isinstance(self._transport, DealerTransport) else None
        )
        # Over several endpoints, each stream call runs on a channel of its own
        # server's (see _stream_channel), made with these options when first needed.
        self._stream_options: dict[str, Any] = {
            "context": context,
            "pool": pool,
            "attachment_min": attachment_min,
            "stream_window": stream_window,
            "max_message_size": max_message_size,
            "max_in_flight": max_in_flight,
            "hwm": hwm,
            "security": security,
            "heartbeat": heartbeat,
            "check_requests": check_requests,
        }
        self._stream_channels: dict[str, Channel] = {}
        self._stream_turn = 0
        self._dropped: weakref.finalize[Any, Any] | None = None
        # No server connected for connect_timeout: calls fail at once.
        self._down = False
        self._unsent: set[int] = set()
        """The unary calls whose requests wait to be sent (no room, or no
        server): one that expires there says it was never sent."""
        self._grace: asyncio.TimerHandle | None = None
        self._down_waiter: asyncio.Future[None] | None = None
        self._connected_waiter: asyncio.Future[None] | None = None

    @property
    def check_requests(self) -> bool:
        """Whether each request and client-stream item is checked as the server
        will check it, before it is sent (see the ``check_requests`` argument)."""
        return self._core.check_requests

    @property
    def connected(self) -> bool:
        """Whether a server is connected, as far as the channel's loop has seen
        (a channel over a :class:`ClientTransport` other than an endpoint's is
        always connected)."""
        return self._dealer is None or self._dealer.connected

    @property
    def connections(self) -> int:
        """How many servers are connected, as far as the channel's loop has seen:
        calls go to these in turn (1 for a :class:`ClientTransport` other than
        an endpoint's)."""
        return 1 if self._dealer is None else self._dealer.connections

    @property
    def handshake_failure(self) -> str | None:
        """Why the last handshake with a server failed (a CURVE key refused,
        CURVE on one side only), until one succeeds; ``None`` otherwise. New
        calls fail at once with it meanwhile."""
        return None if self._refusal is None else self._refusal[1]

    async def ready(self, timeout: float | None = None) -> bool:
        """Wait until a server is connected, ``timeout`` seconds at most; return
        whether one is (gRPC's ``channel_ready``).

        A refused handshake (:attr:`handshake_failure` says why) ends the wait
        at once with ``False``: libzmq does not retry a refused key, so without
        a timeout it waited for ever, and with one for all of it, as calls on
        the channel fail at once.

        Raises:
            ChannelClosed: the channel is closed, or was closed as this waited.
            ValueError: ``timeout`` is no number of seconds (NaN included, with
                which asyncio's wait never ended); ``None`` and ``math.inf``
                wait for ever, and zero or less not at all.
        """
        given: object = timeout  # what the caller passed, whatever its type
        if given is not None and not (
            isinstance(given, int | float)
            and not isinstance(given, bool)
            and given <= 0
        ):
            timeout = check_seconds("timeout", given, forever=True)
        if self._closed:
            raise ChannelClosed("the channel is closed")
        self._running_loop()
        if self.connected:
            return True
        if self._refusal is not None:
            return False
        if self._connected_waiter is None:
            assert self._loop is not None
            self._connected_waiter = self._loop.create_future()
        try:
            await asyncio.wait_for(asyncio.shield(self._connected_waiter), timeout)
        except TimeoutError:
            return False
        return self._refusal is None

    @property
    def pending(self) -> int:
        """How many unary calls are waiting for their reply."""
        return len(self._core.calls) - self._core.streams

    @property
    def streaming(self) -> int:
        """How many stream calls are in progress."""
        return self._core.streams + sum(
            channel.streaming for channel in self._stream_channels.values()
        )

    @property
    def dropped_replies(self) -> int:
        """Replies dropped: late for their call, or malformed."""
        return self._core.dropped_replies

    @property
    def stale_messages(self) -> int:
        """Messages of stream calls that had ended (items and replies in flight when
        the call was cancelled or timed out): ignored."""
        return self._core.stale_messages

    @property
    def batches_sent(self) -> int:
        """Batches sent: ZeroMQ messages that carried several calls' messages
        (``docs/protocol.md``, "Batches")."""
        return 0 if self._dealer is None else self._dealer.batches

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return loop
        check_process("Channel", self._pid)
        if self._closed:
            raise ChannelClosed("the channel is closed")
        if self._loop is not None:
            raise RuntimeError("a Channel belongs to the loop that first used it")
        # The loop holds the channel weakly: one dropped unclosed is collected
        # and closed (uvrpc.client.dropped), not kept open while the loop runs.
        self._transport.attach(loop, weakly(self._on_message))
        self._deadlines = DeadlineWheel(loop, weakly(self._expire))
        self._loop = loop
        self._dropped = close_transport_when_dropped(self, loop, self._transport)
        dealer = self._dealer
        if dealer is not None:
            dealer.watch_disconnects(
                weakly(self._on_disconnect), weakly(self._on_connect)
            )
            if not dealer.connected:
                self._await_server(loop)
        return loop

    def _await_server(self, loop: asyncio.AbstractEventLoop) -> None:
        """Give a server ``connect_timeout`` to connect before calls fail at once
        (for ever with ``math.inf``, which needs no timer)."""
        if math.isfinite(self.connect_timeout):
            self._grace = loop.call_later(self.connect_timeout, self._no_server)

    def call(
        self,
        method: Unary[Any, Reply],
        args: dict[str, Any],
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> Coroutine[Any, Any, Reply]:
        """Make one call and return its typed result (await what this returns).

        A oneway method's call returns ``None`` once its request is handed to the
        socket, waiting for room at most ``timeout`` seconds; no reply comes.

        Made inside a handler, the call's timeout is at most the time the served
        call has left (:func:`uvrpc.current_call`). Inside a :func:`uvrpc.metadata`
        block, the request carries the block's metadata and the block records the
        reply's trailers. Cancelling the awaiting task sends the server a CANCEL,
        which cancels the handler.

        With no server connected (none within the channel's ``connect_timeout``),
        the call fails at once with :class:`~uvrpc.Unavailable`, unless
        ``wait_for_ready`` (the channel's :attr:`wait_for_ready` if ``None``)
        makes it wait for one until its deadline.

        Raises:
            RpcError: the server replied with an error (the subclass names the status).
            DeadlineExceeded: no reply within ``timeout`` seconds (for a oneway
                call: the request could not be sent within it).
            Unavailable: no server is connected, the connection dropped during
                the call, or the channel is closed, or was closed during the call.
        """
        if self._interceptors:
            call = (
                self._call
                if wait_for_ready is None
                else partial(self._call, wait_for_ready=wait_for_ready)
            )
            return intercept_call(self._interceptors, call, method, args, timeout)
        return self._call(method, args, timeout, wait_for_ready)

    async def _call(
        self,
        method: Unary[Any, Reply],
        args: dict[str, Any],
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> Reply:
        scope = OUTGOING.get()
        if CURRENT_CALL.get() is not None:
            timeout = inherited_timeout(timeout, method.route)
        if method.oneway:
            await self._send_oneway(method, args, timeout, scope, wait_for_ready)
            return cast(Reply, None)
        state, frames = self._begin(method, args, timeout, scope, False, wait_for_ready)
        future: asyncio.Future[None] = state.waker
        try:
            if frames is not None:
                deadline = _deadline(future, timeout)
                self._unsent.add(state.call_id)
                try:
                    if self._waits(wait_for_ready):
                        await self._send_before(future, frames, deadline, state)
                    else:
                        await self._send_or_fail(
                            future, frames, method.route, deadline, state
                        )
                finally:
                    self._unsent.discard(state.call_id)
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
        wait_for_ready: bool | None = None,
    ) -> None:
        """Send a request with call id 0, which gets no reply; register nothing."""
        loop = self._running_loop()
        if self._closed:
            raise ChannelClosed("the channel is closed")
        if self._refusal is not None:
            self._refused(method.route)
        frames = self._core.oneway_request(method, args, timeout, scope)
        sent = False
        waits = self._waits(wait_for_ready)
        try:
            sent = self._transport.try_send(frames)
            if not sent and self._down and not waits:
                sent = self._retry_connected(frames)
                if not sent:
                    raise self._unreachable(method.route)
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
            deadline = _deadline(over, timeout)
            if waits:
                await self._send_before(over, frames, deadline)
            else:
                await self._send_or_fail(over, frames, method.route, deadline)
        finally:
            self._oneway_waits.discard(over)
            if timer is not None:
                timer.cancel()
        if over.done():
            over.result()  # raises why the request could not be sent

    def start(
        self,
        method: Unary[Any, Reply],
        args: dict[str, Any],
        timeout: float | None,
        wait_for_ready: bool | None = None,
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

        ``wait_for_ready`` is as for :meth:`call`.

        Raises:
            InvalidArgument: an argument cannot be encoded.
            Unavailable: the channel is closed, or no server is connected.
        """
        if self._interceptors:
            start = (
                self._start
                if wait_for_ready is None
                else partial(self._start, wait_for_ready=wait_for_ready)
            )
            return intercept_start(self._interceptors, start, method, args, timeout)
        return self._start(method, args, timeout, wait_for_ready)

    def _start(
        self,
        method: Unary[Any, Reply],
        args: dict[str, Any],
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> Call[Reply]:
        scope = OUTGOING.get()
        if CURRENT_CALL.get() is not None:
            timeout = inherited_timeout(timeout, method.route)
        state, frames = self._begin(method, args, timeout, scope, True, wait_for_ready)
        future: asyncio.Future[None] = state.waker
        future.add_done_callback(partial(self._settled, state))
        if frames is not None:
            waits = self._waits(wait_for_ready)
            deadline = _deadline(future, timeout)
            self._unsent.add(state.call_id)
            self._spawn(self._send_request(state, future, frames, waits, deadline))
        return Call(method, future, state)

    def _begin(
        self,
        method: Unary[Any, Any],
        args: dict[str, Any],
        timeout: float | None,
        scope: CallMetadata | None,
        started: bool = False,
        wait_for_ready: bool | None = None,
    ) -> tuple[CallState, list[Any] | None]:
        """Register a call, hang its future on it and send its request if the
        socket has room.

        Returns the call's state, and its frames if they still have to be sent
        (``None`` once sent).

        Raises:
            Unavailable: no server is connected, and the call does not wait.
        """
        loop = self._loop
        if loop is None or loop is not asyncio.get_running_loop():
            loop = self._running_loop()
        if self._closed:
            raise ChannelClosed("the channel is closed")
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
            # No room: with no server connected (nothing is queued for one that
            # is not), the call fails now rather than at its deadline.
            if not sent and self._down and not self._waits(wait_for_ready):
                sent = self._retry_connected(frames)
                if not sent:
                    raise self._unreachable(method.route)
        except BaseException as exc:
            self._core.fail(state, exc)
            if state.timer is not None:
                self._unschedule(state)
            raise
        finally:
            self._encoder.settle(frames[-1], sent)
        return state, None if sent else frames

    def _retry_connected(self, frames: Sequence[Any]) -> bool:
        """Before failing a call for want of a server, read the connection events
        the loop has not handled yet (a server that came back just now) and, if
        one connected, try again."""
        dealer = self._dealer
        assert dealer is not None
        dealer.read_events()
        return not self._down and self._transport.try_send(frames)

    def _waits(self, wait_for_ready: bool | None) -> bool:
        """Whether a call waits for a connection (its own choice, or the
        channel's)."""
        return self.wait_for_ready if wait_for_ready is None else wait_for_ready

    def _unreachable(self, route: str) -> Unavailable:
        """The error of a call made with no server connected."""
        where = self._dealer.where if self._dealer is not None else "the server"
        return Unavailable(
            f"not sending {route}: no connection to {where} for "
            f"{self.connect_timeout:g} s (is the server running and reachable? "
            f"wait_for_ready=True waits for it)"
        )

    def _down_signal(self) -> asyncio.Future[None]:
        """A future done once the channel finds itself without a server."""
        waiter = self._down_waiter
        if waiter is None:
            assert self._loop is not None
            waiter = self._down_waiter = self._loop.create_future()
            if self._down:
                waiter.set_result(None)
        return waiter

    def _no_server(self) -> None:
        """``connect_timeout`` passed with no server connected: calls that do not
        wait for ready fail from now on, those parked until now included."""
        self._grace = None
        dealer = self._dealer
        assert dealer is not None
        dealer.read_events()  # a connection made just now counts
        if self._closed or dealer.connected:
            return
        self._down = True
        waiter = self._down_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

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
        self._unsent.discard(state.call_id)
        if state.timer is not None:
            self._unschedule(state)
        if future.cancelled():
            self._give_up(state)

    async def _send_before(
        self,
        future: asyncio.Future[Any],
        frames: list[Any],
        deadline: float | None = None,
        state: CallState | None = None,
    ) -> bool:
        """Wait for room to send, unless the call ends (deadline, close) first;
        return whether the message was sent (a unary call's ``state`` leaves
        :attr:`_unsent` as it goes).

        A request with a ``deadline`` (loop time) that waited goes with its
        timeout cut to the time left and a fresh send stamp, or not at all once
        the deadline passed: however long it waited here, a server never gives
        its handler more time than its caller waits.
        """
        sending = self._start_sending(future, frames, deadline, state)
        try:
            await asyncio.wait((sending, future), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not sending.done():
                sending.cancel()  # it ends at its next step, unsent
        if not sending.done() or sending.cancelled() or sending.exception():
            return False
        return sending.result() is not False

    def _start_sending(
        self,
        future: asyncio.Future[Any],
        frames: list[Any],
        deadline: float | None,
        state: CallState | None = None,
    ) -> asyncio.Future[bool | None]:
        """Send ``frames`` in a future of their own; a request with a
        ``deadline`` that has to wait is re-stamped before each try (see
        :meth:`_send_before`)."""
        transport = self._transport
        sending: Coroutine[Any, Any, bool | None]
        if deadline is not None and isinstance(transport, DealerTransport):
            restamp = partial(_restamp, frames, deadline, future.get_loop())
            sending = transport.send(frames, restamp)
        else:
            sending = transport.send(frames)
        if state is not None:
            sending = self._sent_of(state, sending)
        return asyncio.ensure_future(sending)

    async def _sent_of(
        self, state: CallState, sending: Coroutine[Any, Any, bool | None]
    ) -> bool | None:
        """Send a unary call's request; once it went, the call leaves
        :attr:`_unsent` in the same step, before any timer can run."""
        sent = await sending
        if sent is not False:
            self._unsent.discard(state.call_id)
        return sent

    async def _send_or_fail(
        self,
        future: asyncio.Future[Any],
        frames: list[Any],
        route: str,
        deadline: float | None = None,
        state: CallState | None = None,
    ) -> None:
        """As :meth:`_send_before`, but give up when the channel finds itself
        without a server: the request was not sent (a socket that sends only to
        connected servers had no room for it), so it never runs.

        Raises:
            Unavailable: no server connected within ``connect_timeout``.
        """
        sending = self._start_sending(future, frames, deadline, state)
        try:
            await asyncio.wait(
                (sending, future, self._down_signal()),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            sent = sending.done()
            if not sent:
                sending.cancel()
        if not sent and not future.done():
            raise self._unreachable(route)

    async def _send_request(
        self,
        state: CallState,
        until: asyncio.Future[Any],
        frames: list[Any],
        wait_for_ready: bool,
        deadline: float | None,
    ) -> None:
        """Send a started call's request in the background; with no server to
        take it, the call fails with :class:`~uvrpc.Unavailable`."""
        if wait_for_ready:
            await self._send_before(until, frames, deadline, state)
            return
        try:
            await self._send_or_fail(until, frames, state.method.route, deadline, state)
        except Unavailable as error:
            self._core.fail(state, error)
            self._wake(state)

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
        core.expire(state, sent=state.call_id not in self._unsent)
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
        elif core.woken:  # a batch: the calls of its messages
            for state in core.woken:
                self._wake(state)
            core.woken.clear()
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
                self._spawn_send(frames)

    def _on_connect(self) -> None:
        self._refusal = None
        self._down = False
        # A handshake succeeded, so the server took this key: a call that gets
        # no reply now is not a refused CURVE handshake, which the hint says.
        self._core.no_reply = no_reply_text(None)
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        if self._down_waiter is not None and self._down_waiter.done():
            self._down_waiter = None
        if self._connected_waiter is not None:
            if not self._connected_waiter.done():
                self._connected_waiter.set_result(None)
            self._connected_waiter = None

    def _on_disconnect(self, refusal: Refusal | None) -> None:
        """The connection dropped, or its handshake failed: no reply to a call
        pending now will come. After a failed handshake, and until one succeeds,
        new calls fail at once with the same error."""
        if refusal is not None:
            self._refusal = refusal
            waiter, self._connected_waiter = self._connected_waiter, None
            if waiter is not None and not waiter.done():
                waiter.set_result(None)  # ready() answers False
        error, why = (
            (Unavailable, "the connection dropped") if refusal is None else refusal
        )
        for state in self._core.fail_all(
            lambda state: error(f"{why} during {state.method.route}")
        ):
            self._wake(state)
        dealer = self._dealer
        if (
            dealer is not None
            and not dealer.connected
            and self._grace is None
            and not self._down
            and not self._closed
            and self._loop is not None
        ):
            # A restarted server is found again within libzmq's reconnection
            # interval; until connect_timeout has passed, new calls wait for it.
            self._await_server(self._loop)

    # --- streams -------------------------------------------------------------

    def server_stream(
        self,
        method: ServerStreaming[Any, Out],
        args: dict[str, Any],
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> ItemStream[Out]:
        """Return the stream of a server-streaming call; it starts when first used.

        See :class:`~uvrpc.ItemStream`; with interceptors, an
        :class:`~uvrpc.streams.InterceptedItemStream`. ``wait_for_ready`` is as
        for :meth:`call`.
        """
        if self._interceptors:
            return InterceptedItemStream(
                self, method, args, None, timeout, self._interceptors, wait_for_ready
            )
        return ItemStream(self, method, args, None, timeout, wait_for_ready)

    def bidi_stream(
        self,
        method: BidiStreaming[Any, In, Out],
        args: dict[str, Any],
        items: AsyncIterable[In] | Iterable[In],
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> ItemStream[Out]:
        """Return the stream of a bidirectional call; it starts when first used, and
        sends ``items`` (an async iterable, or a plain one read on the loop an item
        at a time) as the server grants credit.

        If ``items`` raises, the call is cancelled and iterating the returned
        stream raises that exception.

        Raises:
            TypeError: ``items`` is not an iterable (``None``, say).
        """
        items = sent_items(method, items)
        if self._interceptors:
            return InterceptedItemStream(
                self, method, args, items, timeout, self._interceptors, wait_for_ready
            )
        return ItemStream(self, method, args, items, timeout, wait_for_ready)

    async def client_stream(
        self,
        method: ClientStreaming[Any, In, Reply],
        args: dict[str, Any],
        items: AsyncIterable[In] | Iterable[In],
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> Reply:
        """Send ``items`` (an async iterable, or a plain one read on the loop an
        item at a time) as the server grants credit and return the call's result.

        Raises:
            TypeError: ``items`` is not an iterable (``None``, say); nothing is
                sent.
            RpcError: the server replied with an error (the subclass names the
                status); the client stops sending.
            DeadlineExceeded: the call did not finish within ``timeout`` seconds.
            Unavailable: the channel is closed, or the connection dropped.
            Exception: whatever ``items`` raised; the call is cancelled (a
                ``CancelledError`` they raised is :class:`~uvrpc.Cancelled`,
                caused by it: the caller itself was not cancelled).
        """
        items = sent_items(method, items)
        if self._interceptors:
            info, outer = client_info(method, args, timeout, items)
            opener = (
                self._open_intercepted
                if wait_for_ready is None
                else partial(self._open_intercepted, wait_for_ready=wait_for_ready)
            )
            result = await intercept_stream(self._interceptors, info, outer, opener)
            return cast(Reply, result)
        call = self.open_stream(method, args, items, timeout, wait_for_ready)
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

    def _stream_channel(self, dealer: DealerTransport) -> Channel:
        """The channel a stream call goes on, over several endpoints: one to a
        single server, the next connected one in turn (any, in turn, while none
        is; one whose stream channel is connected too, while any is), made at
        its first stream call and closed with this channel.

        The socket to several sends each message to whichever server is next,
        so a stream's items, credit and end would be shared among servers that
        are not all running its call; a socket to one server carries them all
        to its own.
        """
        live = dealer.live_endpoints()
        # Each socket reconnects on its own: a server the shared socket sees come
        # back may not be connected yet on its streams' socket, which fails a
        # call at once once it has found itself without a server. Streams go to
        # the servers connected on both, while there are any.
        channels = self._stream_channels
        ready = [e for e in live if e not in channels or channels[e].connected]
        endpoints = ready or live or dealer.endpoints
        endpoint = endpoints[self._stream_turn % len(endpoints)]
        self._stream_turn += 1
        channel = self._stream_channels.get(endpoint)
        if channel is None:
            channel = self._stream_channels[endpoint] = Channel(
                endpoint,
                connect_timeout=self.connect_timeout,
                wait_for_ready=self.wait_for_ready,
                linger=self.linger,
                **self._stream_options,
            )
        return channel

    def open_stream(
        self,
        method: StreamingMethod,
        args: dict[str, Any],
        items: AsyncIterable[Any] | Iterable[Any] | None,
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> StreamCall:
        """Register a stream call, send its request and start sending its items
        (an async iterable or a plain one; any other value fails the call with a
        TypeError).

        On a channel to several endpoints, the call runs on a channel of its own
        to one of the servers connected, taken in turn (see
        :meth:`_stream_channel`), which carries all of its messages.

        Raises:
            Unavailable: the channel is closed, or no server is connected and
                the call does not wait for one (``wait_for_ready``, as for
                :meth:`call`).
        """
        loop = self._running_loop()
        if self._closed:
            raise ChannelClosed("the channel is closed")
        dealer = self._dealer
        if dealer is not None and not dealer.one_server:
            return self._stream_channel(dealer).open_stream(
                method, args, items, timeout, wait_for_ready
            )
        if CURRENT_CALL.get() is not None:
            timeout = inherited_timeout(timeout, method.route)
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
        waits = self._waits(wait_for_ready)
        try:
            sent = self._transport.try_send(frames)
            if not sent and self._down and not waits:
                sent = self._retry_connected(frames)
                if not sent:
                    raise self._unreachable(method.route)
        except BaseException as exc:
            self._core.fail(state, exc)
            self.stream_ended(state)
            raise
        finally:
            self._encoder.settle(frames[-1], sent)
        if not sent:
            call.request_sending = self._spawn(
                self._send_request(
                    state, call.done, frames, waits, _deadline(call.done, timeout)
                )
            )
        if items is not None:
            call.pump = loop.create_task(call.send_items(items))
        return call

    def _open_intercepted(
        self, info: ClientCallInfo, wait_for_ready: bool | None = None
    ) -> StreamCall:
        """Open a stream call as the interceptors left its info."""
        method = cast(StreamingMethod, info.method)
        return self.open_stream(
            method, info.args, info.items, info.timeout, wait_for_ready
        )

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

    def _spawn_send(self, frames: list[Any]) -> asyncio.Task[Any]:
        """Send ``frames`` in a task of its own."""
        return self._spawn(self._transport.send(frames))

    def _spawn(self, sending: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a sending coroutine in a task of its own, cancelled at close."""
        assert self._loop is not None
        task = self._loop.create_task(sending)
        self._senders.add(task)
        task.add_done_callback(self._senders.discard)
        return task

    def try_send_frames(self, frames: list[Any]) -> bool:
        """Send a message of a stream call if there is room now; whether it
        went. A message sent gives its body back to the encoder; one that did
        not keeps it, for :meth:`send_frames`."""
        try:
            sent = self._transport.try_send(frames)
        except BaseException:
            self._encoder.settle(frames[-1], False)
            raise
        if sent:
            self._encoder.settle(frames[-1], True)
        return sent

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
            self._spawn_send(frames)

    def _fail_pending(self, tell: bool) -> None:
        """Fail what waits on the closing channel with ChannelClosed: calls,
        oneway sends, a wait for a connection; with ``tell`` (closed from the
        channel's own loop), the server is told to stop each call's handler, as
        far as the socket has room (the CANCELs go out within the linger, as any
        message sent), unless the socket spreads its messages over several
        servers and would send a CANCEL to another than its call's."""
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        for over in self._oneway_waits:
            _fail(over, ChannelClosed("the channel was closed"))
        waiter = self._connected_waiter
        if waiter is not None:
            _fail(waiter, ChannelClosed("the channel was closed"))
            if not waiter.cancelled():
                waiter.exception()  # read: a ready() that timed out waits no more
            self._connected_waiter = None
        core = self._core
        tell = tell and (self._dealer is None or self._dealer.one_server)
        for state in core.fail_all(
            lambda _: ChannelClosed("the channel was closed"), cancel=tell
        ):
            self._wake(state)
        for frames in core.outbox if tell else ():
            self._transport.try_send(frames)
        core.outbox.clear()
        if self._deadlines is not None:
            self._deadlines.close()
        for sender in self._senders:
            sender.cancel()

    async def close(self, linger: float | None = None) -> None:
        """Fail pending calls with :class:`~uvrpc.ChannelClosed` (an
        :class:`~uvrpc.Unavailable`), telling the server to stop their handlers
        (a CANCEL each; not for a channel spreading its calls over several
        endpoints, whose socket could not send each to its call's server), and
        close the socket.

        Requests already handed to the socket (oneway calls, say) still go out:
        this returns once they did, or after ``linger`` seconds (the channel's
        :attr:`linger` if ``None``) at most; what is still queued then is lost.
        Nothing is queued for a server that is not connected, so closing a
        channel whose server is down returns at once. In a child process after
        a fork it does nothing: the socket is the parent's.

        Raises:
            RuntimeError: the channel's loop runs in another thread, whose
                futures and socket these are (close it there:
                ``asyncio.run_coroutine_threadsafe(channel.close(), loop)``).
        """
        if linger is not None:
            linger = check_seconds("linger", linger, zero=True)
        if self._closed:
            return
        if os.getpid() != self._pid:
            # A child's copy: the socket is the parent's. Checked first: the
            # copy of a loop that ran as the process forked says it runs still,
            # in a thread the child does not have.
            self._closed = True
            return
        loop = self._loop
        own_loop = loop is asyncio.get_running_loop()
        if not own_loop and loop is not None and loop.is_running():
            # Its futures and its socket are that loop's thread's.
            raise RuntimeError(
                "close a Channel on the loop that uses it, which runs in another "
                "thread: asyncio.run_coroutine_threadsafe(channel.close(), loop)"
            )
        self._closed = True
        if self._dropped is not None:
            self._dropped.detach()  # closed here
        try:
            if self._loop is None or not self._loop.is_closed():
                self._fail_pending(tell=own_loop)
            # else nothing can await them: their loop is gone
        finally:
            # The stream calls' channels close in tasks of their own, started
            # before the wait for this socket's linger: a close cancelled as it
            # waits (a timeout around it, a task group cancelled) still ends
            # their calls and closes their sockets, which a second close() no
            # longer would.
            streams = (
                asyncio.gather(
                    *(
                        channel.close(linger)
                        for channel in self._stream_channels.values()
                    )
                )
                if self._stream_channels
                else None
            )
            if self._dealer is not None and own_loop:
                await self._dealer.close_lingering(
                    self.linger if linger is None else linger
                )
            else:
                self._transport.close()
            if streams is not None:
                await streams
        self._encoder.close()

    def __reduce__(self) -> NoReturn:
        """Refuse to be pickled: its sockets are this process's."""
        not_picklable("Channel")

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
