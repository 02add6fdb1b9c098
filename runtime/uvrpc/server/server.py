"""The server: services on a ROUTER socket, driven from an asyncio loop.

Every ready request is received in one batch (:class:`~uvrpc.reactor.SocketReactor`),
decoded and validated on the spot — so a malformed request or an unknown method is
answered at once, without a task — and each valid request's handler runs in a task
of its own (:func:`~uvrpc.eager.start_eagerly`), so a slow handler never holds up
the others. The task starts eagerly (on Python 3.12+, and on 3.11 on asyncio's own
loop): a handler that returns without waiting is answered within the same batch,
and its task is never scheduled nor kept. Stream calls run in tasks of their own,
kept by a :class:`~uvrpc.sessions.StreamHost` under the caller's identity and call
id.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, Self

import zmq
import zmq.asyncio
from zmq.auth import CURVE_ALLOW_ANY
from zmq.auth.asyncio import AsyncioAuthenticator

from ..core.calls import control_frames
from ..core.context import MAX_METADATA
from ..core.credit import check_window
from ..core.lograte import RateLimitedWarning
from ..core.server import (
    RefusedStreamMessage,
    Rejected,
    Request,
    StreamMessage,
    caller_overloaded_error,
    closing_error,
    duplicate_error,
    overloaded_error,
    refusal,
)
from ..interceptors.base import ServerInterceptor
from ..services.health import HEALTH_SERVICE, Health, HealthState
from ..services.reflection import REFLECTION_SERVICE, Reflection
from ..transport.coalesce import CoalescingSender, PeerBatches, announce_batches
from ..transport.forks import check_process, not_picklable
from ..transport.heap import HeapTrimmer
from ..transport.inproc import inproc_released
from ..transport.liveness import (
    DEFAULT_HEARTBEAT,
    Heartbeat,
    connection_to,
    monitor_address,
    monitor_event,
    tcp_port,
)
from ..transport.reactor import RouterReactor, SocketReactor
from ..transport.security import (
    ZAP_CHECK_TIMEOUT,
    AllowList,
    ClientSecurity,
    ServerSecurity,
    checked_security,
    zap_check_failure,
    zap_check_request,
)
from ..transport.serving import serving, stopped_serving
from ..transport.sockets import (
    SocketFile,
    bind,
    connect,
    open_socket,
    remove_socket_files,
)
from ..wire.batch import is_batch_header, split_batch
from ..wire.buffers import ATTACHMENT_MIN, BufferPool
from ..wire.errors import ProtocolError
from ..wire.limits import (
    HIGH_WATER_MARK,
    MAX_IN_FLIGHT,
    MAX_MESSAGE_SIZE,
    check_limit,
    check_seconds,
)
from ..wire.protocol import (
    DELIMITER,
    KIND_CREDIT,
    KIND_LEAVING,
    ONEWAY_CALL_ID,
    READY_INTERVAL,
    encode_ready_header,
    encode_stream_header,
)
from ..wire.service import ServiceBase, service_spec
from ..wire.status import Status
from .dispatch import Dispatcher, RunningCalls
from .eager import start_eagerly
from .sessions import (
    MAX_STREAMS,
    MAX_STREAMS_PER_CALLER,
    PROBE_INTERVAL,
    CallerGone,
    StreamHost,
)

__all__ = ["Server", "ServerStats"]

_log = logging.getLogger("uvrpc.server")

_HANDSHAKE_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
)
"""The socket monitor events of a connection whose handshake failed."""


def broker_refusal(event: int, value: int) -> str:
    """Why a broker's backend refused this server's connection (a
    ``HANDSHAKE_FAILED_*`` monitor event), and what to check."""
    if event & zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        return (
            f"it refused this server's CURVE key (ZAP status {value}): the "
            "broker's list of servers (--allow-servers) must name its public key"
        )
    if value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        return (
            "the broker and this server use different security mechanisms (CURVE "
            "on one side only? Server.connect(security=), uvrpc serve --broker-key)"
        )
    if event & zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
        return f"the handshake failed (ZMTP protocol error {value:#x})"
    return (
        "the broker closed the connection (does it serve its backend over "
        "CURVE, and is its public key the one given, --broker-key?)"
    )


_SWEEP_MIN = 64
"""Callers' counters kept, at least, before those at zero are swept."""

REPLY_SETTLE = 0.2
"""Seconds (at most, and within the grace) a server closing with a grace keeps
its connections once the calls it let finish have replied, so that callers read
the replies sent last first: a client's socket, which queues requests only to
connected servers (``ZMQ_IMMEDIATE``), drops what it has not read when its
connection drops."""

LEAVING_SETTLE = 0.05
"""Seconds a server connected to brokers and closing without a grace waits after
telling them it is LEAVING, before it closes its socket."""

CANCELLED_WAIT = 1.0
"""Seconds a closing server waits, at most, for the handlers it cancelled to end
(their ``except CancelledError`` or ``finally`` blocks running): one that takes
longer is left running, logged, and the server closes without it, so that a
close never outlasts its grace by more than this."""


@dataclass(slots=True)
class ServerStats:
    """Counters of what a server has handled since it started."""

    received: int = 0
    """Messages received."""
    replied: int = 0
    """Replies sent, error replies included."""
    rejected: int = 0
    """Requests answered with an error before their handler ran."""
    dropped: int = 0
    """Messages too malformed to answer (no envelope, no header), and oneway
    requests that cannot run: dropped."""
    undeliverable: int = 0
    """Replies whose caller had disconnected before they were sent."""
    oneway: int = 0
    """Oneway requests (call id 0) whose handler ran; nothing is replied to them."""
    oneway_failed: int = 0
    """Oneway requests whose handler raised: logged, never replied."""
    streams: int = 0
    """Stream calls started."""
    stale: int = 0
    """Messages of streams that were already over (items sent before the client
    learnt the call ended, say), and CANCELs of calls unknown or already over:
    ignored."""
    expired: int = 0
    """Unary calls answered DEADLINE_EXCEEDED: their deadline had passed before
    the handler started, or passed while it ran (the handler was cancelled); and
    oneway requests whose deadline had passed before their handler started (not
    run, nothing replied). A deadline counts the time the request waited in
    queues before the server read it."""
    cancelled: int = 0
    """Unary handlers cancelled because their caller gave them up (no reply):
    its CANCEL, or the caller found gone (a probe that could not reach it, or
    the broker it came through lost)."""
    oversized: int = 0
    """Messages larger than ``max_message_size``, refused before decoding their
    body (each is counted in ``rejected``, ``dropped`` or ``stale`` too)."""
    send_retries: int = 0
    """Tries to send a reply parked for a caller whose pipe was full that found
    it full still: a few a second per caller that does not read its replies."""
    shed: int = 0
    """Error replies dropped because their caller's pipe was full while
    ``max_in_flight`` replies were already waiting for room (a flood)."""
    overloaded: int = 0
    """Requests refused with RESOURCE_EXHAUSTED because ``max_in_flight``
    handlers were running, or ``max_in_flight_per_caller`` of their caller's
    (each is counted in ``rejected`` or ``dropped`` too)."""
    duplicate: int = 0
    """Requests refused with FAILED_PRECONDITION because their caller had a call
    of the same id in flight (each is counted in ``rejected`` too)."""


class Server:
    """Serve one or more services on every endpoint it is bound to.

    Args:
        services: instances of generated ``<Service>Server`` subclasses.
        context: the ZeroMQ context, of any class (a ``zmq.asyncio.Context`` too);
            the process-wide one by default.
        pool: the pool of encode buffers for replies; the process-wide one by
            default.
        attachment_min: binary results at least this many bytes long travel as
            frames of their own, sent without a copy.
        debug: send the traceback of a handler's undeclared exception to the
            caller, in :class:`~uvrpc.RemoteError`'s ``details["traceback"]``.
            Off by default: the caller gets the exception's type and message, and
            the traceback stays in the server's log.
        stream_window: the items a client may send ahead of the handler taking
            them, per stream call: the most the server buffers for one. ``None``
            (the default): :data:`~uvrpc.wire.limits.STREAM_WINDOW` items, grown
            while the items are small, to at most
            :data:`~uvrpc.wire.limits.STREAM_BYTES` of them and
            :data:`~uvrpc.wire.limits.STREAM_WINDOW_MAX` items.
        max_streams: stream calls running at once; more are refused with
            RESOURCE_EXHAUSTED.
        max_streams_per_caller: stream calls one caller (one connection) runs
            at once; more are refused with RESOURCE_EXHAUSTED.
        max_message_size: the largest request or stream item, in bytes (all its
            frames after the envelope); a larger one is answered with
            RESOURCE_EXHAUSTED before its body is decoded. ZeroMQ drops the
            connection of a peer that sends a single frame of more than twice
            this.
        max_in_flight: handlers running at once (stream calls, and replies
            waiting for a slow caller, included); a request beyond it is answered
            with RESOURCE_EXHAUSTED at once. A handler that answers without
            waiting never counts.
        max_in_flight_per_caller: the share of ``max_in_flight`` one caller (one
            connection) may hold, counted the same way: its handlers, its stream
            calls and the replies waiting for it to read. A request beyond it is
            answered with RESOURCE_EXHAUSTED naming this option, and other callers
            are still served. By default a quarter of ``max_in_flight``.
        hwm: messages queued per caller and direction before ZeroMQ pushes back
            (``SNDHWM``, ``RCVHWM``).
        probe_interval: seconds a stream may be idle, or a unary handler may run,
            before the server checks that its caller is still connected (an empty
            CREDIT, which fails to send to a caller gone); the call of a caller
            gone is cancelled, as a CANCEL would.
        max_metadata: the most bytes a request's metadata may add up to (keys
            and values); a request with more is refused with RESOURCE_EXHAUSTED.

        security: serve over CURVE with this key pair, admitting the clients of
            its allow-list (:class:`~uvrpc.security.ServerSecurity`,
            ``docs/security.md``). The server then runs a ZAP handler on a ZeroMQ
            context of its own (or on ``context``, which must have no other),
            checks in :meth:`start` that it answers, and binds only after that.
        heartbeat: ZeroMQ heartbeats on each connection, so a caller that vanished
            without closing it is noticed (:class:`~uvrpc.Heartbeat`); ``None``
            turns them off.
        interceptors: run around each call, the first outermost: they see its
            metadata, may time it, fail it or answer it themselves
            (:class:`~uvrpc.ServerInterceptor`, ``docs/interceptors.md``).
        trim_memory: while serving, give memory freed since the resident size
            last grew by 8 MiB back to the system (glibc's ``malloc_trim``, on a
            worker thread): what libzmq held for a peer that sent a huge
            unfinished message, say (``docs/limits.md``). Off: glibc keeps it.

    A request's timeout becomes the handler's deadline, counted from when the
    client sent the request (the time it waited in queues on its way, measured
    against the other requests of its connection, counts: the two hosts' clocks
    need not agree; ``docs/reliability.md``): a handler that has not started by
    then is never started, and one still running then is cancelled; a unary
    call then replies DEADLINE_EXCEEDED. A CANCEL from the caller cancels the
    handler, and nothing is replied. See :func:`uvrpc.current_call`.

    A server belongs to the process that created it: used in a child process
    after a fork, it raises :class:`RuntimeError`.

    A handler's binary arguments are read-only views of the received frames; a
    handler may keep them (they keep their frame alive) and may return them, which
    sends the received bytes back without a copy.

    Usage::

        async with uvrpc.Server(MyCalculator()) as server:
            endpoint = server.bind("tcp://127.0.0.1:*")
            await server.serve_forever()

    A server answers once started (``async with``, :meth:`start` or
    :meth:`serve_forever`): bound and not started, ZeroMQ accepts connections for
    it, and their calls wait unread until it starts (or their deadlines pass).
    Leaving the ``async with`` block (or :meth:`close`) stops receiving, cancels the
    handlers still running and closes the socket; ``await server.close(grace=5)``
    first lets running calls finish for up to five seconds.
    """

    def __init__(
        self,
        *services: ServiceBase,
        context: zmq.Context[Any] | None = None,
        pool: BufferPool | None = None,
        attachment_min: int = ATTACHMENT_MIN,
        debug: bool = False,
        stream_window: int | None = None,
        max_streams: int = MAX_STREAMS,
        max_streams_per_caller: int = MAX_STREAMS_PER_CALLER,
        max_message_size: int = MAX_MESSAGE_SIZE,
        max_in_flight: int = MAX_IN_FLIGHT,
        max_in_flight_per_caller: int | None = None,
        hwm: int = HIGH_WATER_MARK,
        probe_interval: float = PROBE_INTERVAL,
        max_metadata: int = MAX_METADATA,
        security: ServerSecurity | None = None,
        heartbeat: Heartbeat | None = DEFAULT_HEARTBEAT,
        interceptors: Sequence[ServerInterceptor] = (),
        trim_memory: bool = True,
    ) -> None:
        check_window(stream_window)
        self.max_message_size = check_limit("max_message_size", max_message_size)
        """The largest message taken, in bytes."""
        self.max_in_flight = check_limit("max_in_flight", max_in_flight)
        """Handlers running at once, at most."""
        if max_in_flight_per_caller is None:
            max_in_flight_per_caller = max(1, max_in_flight // 4)
        self.max_in_flight_per_caller = check_limit(
            "max_in_flight_per_caller", max_in_flight_per_caller
        )
        """Handlers one caller runs at once, at most (its share)."""
        check_limit("max_streams", max_streams)
        check_limit("max_streams_per_caller", max_streams_per_caller)
        check_limit("hwm", hwm, 0)
        check_limit("max_metadata", max_metadata, 0)
        probe_interval = check_seconds("probe_interval", probe_interval)
        self._pid = os.getpid()
        checked_security(security, ServerSecurity)
        self._security = security
        self._authenticator: AsyncioAuthenticator | None = None
        self._owned_context: zmq.Context[Any] | None = None
        if security is not None and context is None:
            # A ZAP handler serves a whole context: this server's is its own.
            context = self._owned_context = zmq.Context()
        self.health = HealthState(
            [service_spec(s).name for s in services]
            + [HEALTH_SERVICE, REFLECTION_SERVICE]
        )
        """What the built-in health check answers (:mod:`uvrpc.health`)."""
        health = Health(self.health)
        self._dispatcher = Dispatcher(
            (*services, health, Reflection([*services, health])),
            pool=pool,
            attachment_min=attachment_min,
            debug=debug,
            max_metadata=max_metadata,
            max_message_size=max_message_size,
            interceptors=interceptors,
        )
        self._protocol = self._dispatcher.protocol
        self._stream_options = (
            stream_window,
            max_streams,
            max_streams_per_caller,
            probe_interval,
        )
        self._streams: StreamHost | None = None
        self._running: RunningCalls | None = None
        self._probe_interval = probe_interval
        self._prober: asyncio.TimerHandle | None = None
        self._sock = open_socket(
            context,
            zmq.ROUTER,
            max_message_size=max_message_size,
            hwm=hwm,
            heartbeat=heartbeat,
            security=security,
        )
        # Without ROUTER_MANDATORY a ROUTER silently drops a reply when the caller's
        # pipe is at its high-water mark. With it, a full pipe is backpressure (the
        # reply waits for room) and a vanished caller is an error we count.
        self._sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        announce_batches(self._sock)
        self._peers = PeerBatches()
        self._dropped_batch = RateLimitedWarning(_log, "dropped a malformed batch")
        # libzmq retries a refused connection quietly (or never, for a refused
        # key): without a line in the log, a server the broker does not admit
        # waited for calls that never came, and its operator never knew why.
        self._refused_by_broker = RateLimitedWarning(
            _log, "a broker refused this server's connection"
        )
        self._sender: CoalescingSender | None = None
        self._endpoints: list[str] = []
        self._socket_files: list[SocketFile] = []  # removed as it closes
        self._brokers: list[bytes] = []
        self._broker_of: dict[bytes, bytes] = {}
        """Each broker's alias, by the endpoint this server connected to it at
        (as the socket monitor names it)."""
        self._monitor: zmq.Socket[bytes] | None = None
        self._monitor_reactor: SocketReactor | None = None
        self._leaving = False
        self._announcer: asyncio.Future[None] | None = None
        self._reactor: RouterReactor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: dict[asyncio.Task[None], list[int]] = {}
        """The tasks kept running, each with its caller's counter."""
        self._of_caller: dict[tuple[bytes, ...], list[int]] = {}
        """Each caller's counter: a one-item list of how many of :attr:`_tasks`
        it holds, shared by those tasks so that ending one is one decrement.
        Counters at zero stay until the table doubles (:meth:`_counter`)."""
        self._sweep_at = _SWEEP_MIN
        self._closed: asyncio.Event | None = None
        self._trim_memory = trim_memory
        self._trimmer: HeapTrimmer | None = None
        self.stats = ServerStats()
        """What this server has handled so far."""

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The endpoints bound so far, with wildcard ports resolved."""
        return tuple(self._endpoints)

    def bind(self, endpoint: str) -> str:
        """Listen on ``endpoint`` and return it as clients should connect to it.

        ``tcp://127.0.0.1:*`` picks a free port; the returned endpoint names it.

        Raises:
            RuntimeError: a secured server was not started yet (its ZAP handler
                must run before any client can connect), the server is closed,
                or this is another process than the server's.
            ValueError: the endpoint is malformed (the message says how), or a
                secured server asked to bind ``inproc://``, where no handshake
                happens.
            OSError: (``errno.EADDRINUSE``) the endpoint is in use: a tcp port
                something listens on, or an ``ipc://`` path a live server
                listens on (which ZeroMQ alone would take over).
        """
        self._check_usable()
        if self._security is not None:
            if endpoint.startswith("inproc://"):
                raise ValueError(
                    f"cannot bind {endpoint} with CURVE: inproc:// connections "
                    "skip the handshake; bind tcp:// or ipc://"
                )
            if self._authenticator is None:
                raise RuntimeError(
                    "start a secured server (async with, or await start()) before "
                    "binding: its ZAP handler must run before clients connect"
                )
        bound = bind(self._sock, endpoint, self._socket_files)
        self._endpoints.append(bound)
        return bound

    def connect(self, endpoint: str, *, security: ClientSecurity | None = None) -> None:
        """Take calls from the broker whose backend is at ``endpoint``
        (``uvrpc broker``, :class:`~uvrpc.broker.Broker`; ``docs/scaling.md``).

        Once started, the server tells the broker it is READY, and again each
        :data:`~uvrpc.protocol.READY_INTERVAL` seconds so that a broker that
        restarted learns of it; closing it says LEAVING first, so the broker sends
        it no new calls while its running ones finish. The broker keeps every
        message of a call on the server that took it: stream calls and cancelling
        work as on a bound server.

        ``security`` makes this connection a CURVE client of a broker whose
        backend is secured (``Broker(backend_security=…)``): the broker's public
        key, and this server's key pair, which the broker's allow-list must name.
        Without it the connection is plain, even from a secured server. The
        server's own endpoints keep their security (or none).

        Raises:
            RuntimeError: the server is closed, or this is another process
                than the server's.
            ValueError: the endpoint is malformed (the message says how).
            TypeError: ``security`` is no :class:`ClientSecurity` (the server
                connects to a broker as its client does).
        """
        self._check_usable()
        checked_security(security, ClientSecurity)
        # The broker's backend is a ROUTER too: name it here so this server can
        # say READY before the broker has said anything. The name is one no
        # peer can guess: a client of this server's own endpoints may choose its
        # routing id, and one that took a broker's name first would abort the
        # process in libzmq as the broker connects (an assertion), or be taken
        # for the broker, its routing frames for the broker's callers.
        alias = b"uvrpc-broker-%d-%s" % (
            len(self._brokers),
            os.urandom(8).hex().encode(),
        )
        if self._monitor is None:
            # Made before the connection, so that no drop of it goes unseen.
            self._monitor = self._sock.get_monitor_socket(
                zmq.EVENT_DISCONNECTED | _HANDSHAKE_FAILED, monitor_address()
            )
            self._monitor.setsockopt(zmq.LINGER, 0)
        self._broker_of[endpoint.encode()] = alias
        self._sock.setsockopt(zmq.CONNECT_ROUTING_ID, alias)
        if security is None and self._security is None:
            connect(self._sock, endpoint)
        else:
            # ZeroMQ takes a connection's security options when it is made: be a
            # CURVE client for this one (or plain: a secured server's socket is a
            # CURVE server, which no broker's backend can talk to), then what the
            # server was before.
            if security is not None:
                security.apply(self._sock)
            else:
                self._sock.setsockopt(zmq.CURVE_SERVER, 0)  # NULL
            try:
                connect(self._sock, endpoint)
            finally:
                if self._security is not None:
                    self._security.apply(self._sock)
                else:
                    self._sock.setsockopt(zmq.CURVE_SERVER, 0)  # back to NULL
        self._brokers.append(alias)
        if self._reactor is not None and self._announcer is None:
            self._announcer = asyncio.ensure_future(self._announce())
        self._watch_brokers()

    def _watch_brokers(self) -> None:
        """Read the socket monitor once the server runs and has connected to a
        broker: a broker lost ends the calls that came through it."""
        if (
            self._monitor_reactor is None
            and self._monitor is not None
            and self._reactor is not None
            and self._loop is not None
        ):
            self._monitor_reactor = SocketReactor(
                self._monitor, self._loop, self._on_monitor_event
            )

    def _on_monitor_event(self, frames: list[Any]) -> None:
        # Event frames: a 16-bit event number and a 32-bit value, then the
        # endpoint.
        if len(frames) != 2:
            return
        event, value = monitor_event(frames[0])
        if not event & (zmq.EVENT_DISCONNECTED | _HANDSHAKE_FAILED):
            return
        reported = bytes(frames[1])
        alias = self._broker_of.get(reported)
        if alias is None:
            alias = self._reconnected_broker(reported)
        if alias is None:
            return  # a client of the server's own endpoints
        if event & _HANDSHAKE_FAILED:
            why = broker_refusal(event, value)
            self._refused_by_broker(f"{reported.decode(errors='replace')}: {why}")
        else:
            self._lost_broker(alias)

    def _reconnected_broker(self, reported: bytes) -> bytes | None:
        """The broker whose connection a monitor event names ``reported``, the
        address its host name resolved to once it reconnected; ``None`` if none.

        A client's connection to this server is named by this server's own
        address, on a port it bound: on any other port, the only broker
        connected to on that port is the one, without a lookup of its name.
        That lookup runs on the event loop, where a resolver that does not
        answer (a broker and its DNS may be lost together) would stall every
        call, and it finds nothing once the name points elsewhere.
        """
        if reported in {endpoint.encode() for endpoint in self._endpoints}:
            return None
        port = tcp_port(reported)
        brokers = [
            (endpoint, alias)
            for endpoint, alias in self._broker_of.items()
            if port is not None and tcp_port(endpoint) == port
        ]
        bound = {tcp_port(endpoint.encode()) for endpoint in self._endpoints}
        if len(brokers) == 1 and port not in bound:
            return brokers[0][1]
        for endpoint, alias in brokers:
            if connection_to(reported, endpoint):
                return alias
        return None

    def _lost_broker(self, alias: bytes) -> None:
        """The connection to a broker dropped: end every call that came through
        it, as if each caller had sent CANCEL. Their callers were told
        UNAVAILABLE (by the broker, or by their own connection to it dropping),
        and no reply can reach them: a broker that comes back follows none of
        these calls. Left running, their call ids would also be in use for a new
        client of a restarted broker, which libzmq numbers as it numbered the
        old broker's clients: its calls would be refused as duplicates."""
        reactor, running, streams = self._reactor, self._running, self._streams
        if reactor is None or running is None or streams is None:
            return
        # What the broker sent before it went is queued: read it first.
        reactor.drain()

        def behind(caller: Hashable) -> bool:
            return type(caller) is tuple and len(caller) > 1 and caller[0] == alias

        for caller, call_id in [key for key in running.calls if behind(key[0])]:
            if running.cancel(caller, call_id) is Status.CANCELLED:
                self.stats.cancelled += 1
        streams.abandon(behind)

    async def _announce(self) -> None:
        """Say READY to every broker this server connected to, now and each
        :data:`READY_INTERVAL` seconds, naming the services it serves: a broker
        sends it only their calls."""
        ready = encode_ready_header(self._protocol.services)
        while True:
            self._tell_brokers(ready)
            await asyncio.sleep(READY_INTERVAL)

    def _tell_brokers(self, header: bytes) -> None:
        """Send ``header`` (READY, LEAVING) to every broker that can take it now;
        one that cannot (not connected, or refused the handshake) hears the next
        READY, or never needed to hear LEAVING."""
        reactor = self._reactor
        if reactor is None:
            return
        for alias in self._brokers:
            try:
                reactor.try_send([alias, DELIMITER, header])
            except zmq.ZMQError:  # EHOSTUNREACH: that connection is down
                pass

    def _check_usable(self) -> None:
        """Raise unless the server may bind, connect or start.

        Raises:
            RuntimeError: another process than the server's, or the server is
                closed: its socket is gone, and ZeroMQ's own error ("Socket
                operation on non-socket", or a bad endpoint) would not say so.
        """
        check_process("Server", self._pid)
        if self._sock.closed:
            raise RuntimeError("this Server is closed: create a new one to serve")

    async def start(self) -> None:
        """Start serving on the running loop (``async with`` does this).

        Raises:
            RuntimeError: the server is closed, or this is another process than
                the server's.
        """
        self._check_usable()
        if self._reactor is not None:
            return
        if self._security is not None:
            await self._start_authenticator(self._security)
        loop = self._loop = asyncio.get_running_loop()
        self._closed = asyncio.Event()
        window, max_streams, per_caller, probe_interval = self._stream_options
        self._streams = StreamHost(
            self._dispatcher,
            loop,
            window=window,
            max_streams=max_streams,
            max_streams_per_caller=per_caller,
            probe_interval=probe_interval,
        )
        self._running = RunningCalls(loop)
        self._reactor = RouterReactor(
            self._sock, loop, self._on_message, self._count_retry
        )
        self._sender = CoalescingSender(
            self._reactor,
            loop,
            self._peer_of,
            end=1,
            on_lost=self._lost,
            end_of=_end_of,
        )
        if self._trim_memory:
            self._trimmer = HeapTrimmer(loop)
        if self._brokers:
            self._announcer = asyncio.ensure_future(self._announce())
        self._watch_brokers()
        serving(loop, id(self), self._endpoints.copy)

    async def _start_authenticator(self, security: ServerSecurity) -> None:
        """Run the allow-list's ZAP handler and check that it answers.

        Raises:
            RuntimeError: the context already has a ZAP handler, or the handler did
                not answer a test request as the allow-list says within
                :data:`ZAP_CHECK_TIMEOUT` seconds.
        """
        context = self._sock.context
        authenticator = AsyncioAuthenticator(
            context, log=logging.getLogger("uvrpc.server.zap")
        )
        try:
            authenticator.start()
        except zmq.ZMQError as exc:
            raise RuntimeError(
                "the server's ZeroMQ context already has a ZAP handler "
                f"({exc}); give each secured server a context of its own "
                "(the default)"
            ) from None
        if security.allow == "any":
            authenticator.configure_curve(domain="*", location=CURVE_ALLOW_ANY)
        else:
            authenticator.configure_curve_callback(
                domain="*", credentials_provider=AllowList(security)
            )
        self._authenticator = authenticator
        await self._check_zap(security)

    async def _check_zap(self, security: ServerSecurity) -> None:
        """Ask this context's ZAP handler about a new random client key."""
        request, expected = zap_check_request("", security)
        shadow = zmq.asyncio.Context.shadow(self._sock.context)
        probe = shadow.socket(zmq.REQ)
        probe.setsockopt(zmq.LINGER, 0)
        try:
            probe.connect("inproc://zeromq.zap.01")
            await probe.send_multipart(request)
            try:
                reply = await asyncio.wait_for(
                    probe.recv_multipart(), ZAP_CHECK_TIMEOUT
                )
            except TimeoutError:
                reply = None
        finally:
            probe.close(linger=0)
        failure = zap_check_failure(reply, expected, "the server")
        if failure:
            self._stop_authenticator()
            raise RuntimeError(failure)

    def _stop_authenticator(self) -> None:
        if self._authenticator is not None:
            self._authenticator.stop()
            self._authenticator = None

    async def serve_forever(self) -> None:
        """Serve until :meth:`close` is called (from another task).

        A server bound to no endpoint and connected to no broker is logged as a
        warning: no call can reach it, and it would wait without a word.
        """
        await self.start()
        if not self._endpoints and not self._brokers:
            _log.warning(
                "serve_forever(): this server is bound to no endpoint and "
                "connected to no broker, so no call can reach it; call "
                "bind('tcp://127.0.0.1:*'), say, or connect() first"
            )
        assert self._closed is not None
        await self._closed.wait()

    @property
    def in_flight(self) -> int:
        """Handlers running now (stream calls included)."""
        return len(self._tasks)

    @property
    def stream_host(self) -> StreamHost | None:
        """The stream calls in progress, once started (for introspection)."""
        return self._streams

    def _on_message(self, frames: list[zmq.Frame]) -> None:
        stats = self.stats
        stats.received += 1
        try:
            end, message = self._protocol.receive(frames)
        except Rejected as rejected:
            if (
                rejected.reply is None
                and len(frames) == rejected.end + 3
                and is_batch_header(frames[-2])
            ):
                # Taken whatever it adds up to: each of its messages is measured
                # against the limit as if it came alone.
                self._on_batch(frames, rejected.end)
                return
            if rejected.oversized:
                stats.oversized += 1
            self._refuse(frames[: rejected.end + 1], rejected)
            return
        self._on_received(frames[: end + 1], message, frames)

    def _on_received(
        self,
        envelope: list[zmq.Frame],
        message: Request | StreamMessage | RefusedStreamMessage,
        frames: list[zmq.Frame],
    ) -> None:
        """Act on a message the core classified; ``frames`` are the ones it came
        in (a batch's, for a message taken from one)."""
        if type(message) is Request:
            if self._security is not None and message.call is not None:
                # Read only on a secured server: the plain path pays nothing.
                message.call.peer_key = _peer_key(frames)
            call_id = message.call_id
            running = len(self._tasks)
            if self._leaving:
                self._refuse(envelope, refusal(call_id, closing_error()))
            elif running >= self.max_in_flight_per_caller and self._over_share(
                envelope
            ):
                # Checked only once that many tasks run in all: no caller can hold
                # more than all, so the common path never names the caller here.
                self.stats.overloaded += 1
                error = caller_overloaded_error(self.max_in_flight_per_caller)
                self._refuse(envelope, refusal(call_id, error))
            elif running >= self.max_in_flight:
                self.stats.overloaded += 1
                error = overloaded_error(self.max_in_flight)
                self._refuse(envelope, refusal(call_id, error))
            elif call_id == ONEWAY_CALL_ID:  # never a stream: the core refuses those
                self._spawn(envelope, self._serve_oneway(message))
            else:
                self._start_call(envelope, message)
        elif type(message) is StreamMessage:
            self._on_stream_message(self._caller(envelope), message)
        else:
            assert type(message) is RefusedStreamMessage
            self._on_refused_stream_message(envelope, message)

    def _on_batch(self, frames: list[zmq.Frame], end: int) -> None:
        """Take each message of a batch as if it came alone; a malformed batch
        is dropped whole (every message in it is the same caller's)."""
        stats = self.stats
        try:
            messages = split_batch(frames[-2], frames[-1])
        except ProtocolError as exc:
            stats.dropped += 1
            self._dropped_batch(exc)
            return
        stats.received -= 1  # each of its messages counts instead
        envelope = frames[: end + 1]
        receive = self._protocol.receive_batched
        caller: tuple[bytes, ...] | None = None
        for header, body in messages:
            stats.received += 1
            try:
                message = receive(header, body, envelope)
            except Rejected as rejected:
                if rejected.oversized:
                    stats.oversized += 1
                self._refuse(envelope, rejected)
            else:
                if type(message) is StreamMessage:
                    # A stream's items come in trains: its caller is named once.
                    if caller is None:
                        caller = self._caller(envelope)
                    self._on_stream_message(caller, message)
                else:
                    self._on_received(envelope, message, frames)
            if self._reactor is None:
                return  # a handler closed the server: the rest never run

    def _peer_of(self, frames: Sequence[Any]) -> Hashable | None:
        """The peer a message may join a batch for, if its connection reads
        batches: a direct caller (one routing frame), or a caller behind a broker
        (two: the broker's, then the caller's), keyed by both, since a batch's
        envelope is all of its messages'."""
        if not len(frames[1]):
            return self._peers.peer(frames[0])
        if len(frames) < 5 or len(frames[2]):
            return None  # routed through more than one hop
        broker = self._peers.peer(frames[0])
        if broker is None:
            return None
        caller = frames[1]
        return (broker, caller if type(caller) is bytes else bytes(caller))

    def _lost(self, count: int) -> None:
        self.stats.undeliverable += count

    def _start_call(self, envelope: list[zmq.Frame], request: Request) -> None:
        """Start a call, unless its caller has a call of its id in flight here."""
        running, streams = self._running, self._streams
        assert running is not None and streams is not None
        caller = None
        # Looked up only when a call is in flight: most requests skip it.
        if running.calls or streams.calls:
            caller = self._caller(envelope)
            key = (caller, request.call_id)
            if key in running.calls or key in streams.calls:
                self.stats.duplicate += 1
                error = duplicate_error(request.call_id)
                self._refuse(envelope, refusal(request.call_id, error))
                return
        if request.route.stream is not None:
            self._open_stream(envelope, request, caller)
        else:
            self._serve_unary(envelope, request, caller)

    def _refuse(self, envelope: list[zmq.Frame], rejected: Rejected) -> None:
        """Answer a message that cannot run with its error, or drop it."""
        stats = self.stats
        if rejected.reply is None:
            stats.dropped += 1
            _log.debug("dropped a message: %s", rejected)
        else:
            stats.rejected += 1
            reply: list[Any] = [*envelope, *rejected.reply]
            if self._try_reply(reply):
                return
            if len(self._tasks) >= self.max_in_flight or self._over_share(envelope):
                # The caller reads slowly and its share of replies (or as many
                # as calls may run) already wait: waiting for room too would
                # take memory without bound under a flood.
                stats.shed += 1
                return
            self._spawn(envelope, self._reply(reply))

    def _caller(self, envelope: list[zmq.Frame]) -> tuple[bytes, ...]:
        """Who sent a message: its connection, and behind a broker this server
        connected to, the client the broker's routing frames name. A direct
        peer's own extra routing frames name no one: keyed by them, one
        connection could pass for any number of callers, each with a share of
        its own of the calls and streams in flight."""
        if len(envelope) == 2:  # a direct peer: no generator for the common case
            return (envelope[0].bytes,)
        first = envelope[0].bytes
        if first not in self._brokers:
            return (first,)
        return tuple(frame.bytes for frame in envelope[:-1])

    def _over_share(self, envelope: list[zmq.Frame]) -> bool:
        """Whether the caller of ``envelope`` holds its whole share already."""
        counter = self._of_caller.get(self._caller(envelope))
        return counter is not None and counter[0] >= self.max_in_flight_per_caller

    def _counter(self, caller: tuple[bytes, ...]) -> list[int]:
        """A new counter for ``caller``; first, if the table doubled since the
        last sweep, forget the counters of callers that hold nothing."""
        of_caller = self._of_caller
        if len(of_caller) >= self._sweep_at:
            for idle in [key for key, held in of_caller.items() if not held[0]]:
                del of_caller[idle]
            self._sweep_at = max(_SWEEP_MIN, 2 * len(of_caller))
        counter = of_caller[caller] = [0]
        return counter

    def _keep(self, task: asyncio.Task[None], caller: tuple[bytes, ...]) -> None:
        """Count ``task`` against the server and its caller until it ends."""
        counter = self._of_caller.get(caller) or self._counter(caller)
        counter[0] += 1
        self._tasks[task] = counter

    def _ended(self, task: asyncio.Task[Any]) -> None:
        """A kept task ended: its slot, and its caller's, are free."""
        self._tasks.pop(task)[0] -= 1

    def _on_refused_stream_message(
        self, envelope: list[zmq.Frame], message: RefusedStreamMessage
    ) -> None:
        """End the stream call of a message larger than the limit, or whose
        header is malformed (that one is dropped, whether its call runs or not)."""
        streams = self._streams
        assert streams is not None
        if not message.oversized:
            self.stats.dropped += 1
            streams.refuse(self._caller(envelope), message.call_id, message.error)
            return
        self.stats.oversized += 1
        if not streams.refuse(self._caller(envelope), message.call_id, message.error):
            self.stats.stale += 1

    def _open_stream(
        self,
        envelope: list[zmq.Frame],
        request: Request,
        caller: tuple[bytes, ...] | None,
    ) -> None:
        streams = self._streams
        assert streams is not None
        if caller is None:
            caller = self._caller(envelope)
        # Learnt now, from the received frame: the stream's own messages carry
        # a copy of it, which cannot tell whether its caller reads batches.
        self._peers.peer(envelope[0])
        try:
            task = streams.open(
                caller, _Link(self._current_reactor, self.stats, envelope), request
            )
        except Rejected as rejected:
            self._refuse(envelope, rejected)
            return
        self.stats.streams += 1
        self._keep(task, caller)
        task.add_done_callback(self._ended)

    def _on_stream_message(
        self, caller: tuple[bytes, ...], message: StreamMessage
    ) -> None:
        streams = self._streams
        assert streams is not None and self._running is not None
        if streams.deliver(caller, message):
            return
        header = message.header
        ended = None
        if message.cancels:
            ended = self._running.cancel(caller, header.call_id, header)
        if ended is Status.CANCELLED:
            self.stats.cancelled += 1
        elif ended is None:
            self.stats.stale += 1  # one that expires is counted as it replies

    def _count_retry(self) -> None:
        self.stats.send_retries += 1

    def _current_reactor(self) -> CoalescingSender | None:
        return self._sender

    def _spawn(
        self, envelope: list[zmq.Frame], work: Coroutine[Any, Any, None]
    ) -> None:
        """Run ``work`` for the caller of ``envelope`` in a task; keep the task
        unless it is done already."""
        assert self._loop is not None
        task = start_eagerly(work, self._loop)
        if task is not None:
            self._keep(task, self._caller(envelope))
            task.add_done_callback(self._ended)

    def _serve_unary(
        self,
        envelope: list[zmq.Frame],
        request: Request,
        caller: tuple[bytes, ...] | None,
    ) -> None:
        """Run a unary handler in a task, which a CANCEL finds and the call's
        deadline cancels; one done already (eagerly) needs neither."""
        assert self._loop is not None and self._running is not None
        task = start_eagerly(self._serve(envelope, request), self._loop)
        if task is not None:
            if caller is None:
                caller = self._caller(envelope)
            # What _keep does, inline: this runs for every unary call that waits
            # (every one where its task cannot start eagerly: 3.11 on uvloop).
            counter = self._of_caller.get(caller) or self._counter(caller)
            counter[0] += 1
            self._tasks[task] = counter
            self._running.track(caller, task, request, self._ended)
            if self._prober is None:
                self._prober = self._loop.call_later(
                    self._probe_interval, self._probe_callers
                )

    def _probe_callers(self) -> None:
        """Look whether the callers of the unary handlers still running are
        there, every ``probe_interval`` while any runs: an empty CREDIT, which a
        client ignores, fails to send to a caller whose connection closed (the
        ROUTER is ``ROUTER_MANDATORY``), and its handler is cancelled, as its
        CANCEL would, rather than run on for nobody. Behind a broker, the broker
        finds the caller gone and sends the CANCEL itself."""
        self._prober = None
        running, sender, loop = self._running, self._sender, self._loop
        if running is None or sender is None or loop is None or not running.calls:
            return
        gone: dict[Hashable, bool] = {}  # one probe a caller: it tests its connection
        for caller, call_id in list(running.calls):
            lost = gone.get(caller)
            if lost is None:
                assert type(caller) is tuple
                try:
                    sender.try_send([*caller, *control_frames(KIND_CREDIT, call_id)])
                    lost = False
                except zmq.ZMQError as exc:
                    if exc.errno != zmq.EHOSTUNREACH:
                        raise
                    lost = True
                gone[caller] = lost
            if lost and running.cancel(caller, call_id) is Status.CANCELLED:
                self.stats.cancelled += 1
        if running.calls:
            self._prober = loop.call_later(self._probe_interval, self._probe_callers)

    async def _serve(self, envelope: list[zmq.Frame], request: Request) -> None:
        dispatcher = self._dispatcher
        frames = await dispatcher.run(request)
        call = request.call
        if call is not None and call.expired():
            self.stats.expired += 1
        reply: list[Any] = [*envelope, *frames]
        sent = False
        try:
            sent = self._try_reply(reply)
        finally:
            dispatcher.settle(frames[-1], sent)
        if not sent:
            await self._reply(reply)

    async def _serve_oneway(self, request: Request) -> None:
        succeeded = await self._dispatcher.run_oneway(request)
        if succeeded is None:
            self.stats.expired += 1
            return
        self.stats.oneway += 1
        if not succeeded:
            self.stats.oneway_failed += 1

    def _try_reply(self, frames: list[Any]) -> bool:
        """Send a reply now if the caller's pipe has room; False if it must wait."""
        reactor = self._sender
        if reactor is None:
            return True
        # Counted before it goes: a caller that has read its reply, asking for
        # the server's stats, finds it counted (the thread may switch between).
        stats = self.stats
        stats.replied += 1
        try:
            sent = reactor.try_send(frames)
        except zmq.ZMQError as exc:
            stats.replied -= 1
            return self._undeliverable(exc)
        if not sent:
            stats.replied -= 1
        return sent

    async def _reply(self, frames: list[Any]) -> None:
        """Send a reply, waiting while the caller's pipe is full."""
        reactor = self._sender
        if reactor is None:
            return
        try:
            await reactor.send(frames)
        except zmq.ZMQError as exc:
            self._undeliverable(exc)
        else:
            self.stats.replied += 1  # once it went: a waiting reply is not one

    def _undeliverable(self, exc: zmq.ZMQError) -> bool:
        if exc.errno != zmq.EHOSTUNREACH:
            raise exc
        # The caller disconnected while its call ran: nobody to tell.
        self.stats.undeliverable += 1
        return True

    def set_serving(self, service: str, serving: bool) -> None:
        """Make the health check report ``service`` (``""``: the whole server)
        SERVING or NOT_SERVING; calls are served either way.

        Raises:
            ValueError: this server serves no such service.
        """
        self.health.set_serving(service, serving)

    async def close(self, grace: float = 0.0) -> None:
        """Stop serving: take no more calls, let running ones finish for up to
        ``grace`` seconds, cancel the rest and close the socket.

        With a grace, the server reads on: a new request, or one still queued
        in the socket, is refused at once with ``UNAVAILABLE`` saying that it did
        not run, while the messages of running streams (items, credit, cancels)
        still reach them, so a stream whose caller is still sending can finish
        within the grace. The endpoints stay bound until the close,
        because unbinding one drops the connections made through it, and with
        them the replies still to send. Handlers, streams included, that finish
        within ``grace`` send their replies, and the connections then stay up for
        :data:`REPLY_SETTLE` more (within the grace; so a grace makes any close
        take that long) for the callers to read the replies sent last; handlers
        still running at the end of the grace are cancelled and send nothing; the
        close waits :data:`CANCELLED_WAIT` at most for them to end, and logs any
        that goes on regardless.
        The health check reports NOT_SERVING from the start (in
        :attr:`health`; a check sent during the grace is refused as above).

        A server connected to brokers (:meth:`connect`) first tells them it is
        LEAVING, so that they send it no more calls; without a grace it waits
        :data:`LEAVING_SETTLE` for that to go out before it closes.

        A handler may close its own server: the grace is the others', and the
        close does not cancel the handler that made it, which goes on once the
        close returns (its reply, if any, finds the connection gone).

        In a child process after a fork (leaving an ``async with`` block that
        the fork happened in, say) it does nothing: the socket, and the epoll
        instance its loop watches the socket with, are the parent's, and
        removing the reader there would remove the parent's, which would stop
        serving.
        """
        if os.getpid() != self._pid:
            return  # a child's copy: closing it would disturb the parent
        # A handler may close its server (a "shutdown" method): the close neither
        # waits out the grace for it, which waits for the close, nor cancels it,
        # which would interrupt the close half done and leave the server
        # closing for good. It runs on once the close returns, as one that
        # closes without a grace does before its task is kept.
        handler = asyncio.current_task()
        self.health.closing()
        if self._announcer is not None:
            self._announcer.cancel()
            self._announcer = None
        self._tell_brokers(encode_stream_header(KIND_LEAVING, 0))
        if self._reactor is not None and self._brokers and grace <= 0:
            # Its process may end right after the close, and ZeroMQ's thread
            # with it: LEAVING gets a moment to go out first, or a broker takes
            # a server that left for one it lost (a grace gives it more).
            await asyncio.sleep(LEAVING_SETTLE)
        if self._reactor is not None and grace > 0:
            # Read on: the calls running need what their callers still send
            # (stream items, END, credit, CANCEL) to finish within the grace. A
            # new request is refused at once as not run, rather than left unread
            # to fail at the close as a call that may have run; a broker may have
            # sent some before it read LEAVING.
            self._leaving = True
            loop = asyncio.get_running_loop()
            grace_end = loop.time() + grace
            running = [
                task
                for task in (
                    *self._tasks,
                    *(self._streams.tasks() if self._streams else ()),
                )
                if task is not handler
            ]
            if running:
                await asyncio.wait(running, timeout=grace)
            # Replies just sent, by these calls or by calls answered a moment
            # before the close, may still be travelling: callers read them
            # before their connections drop.
            settle = min(REPLY_SETTLE, grace_end - loop.time())
            if settle > 0:
                await asyncio.sleep(settle)
        if self._prober is not None:
            self._prober.cancel()
            self._prober = None
        if self._sender is not None:
            self._sender.close()
            self._sender = None
        if self._reactor is not None:
            self._reactor.close()
            self._reactor = None
            if self._loop is not None:
                stopped_serving(self._loop, id(self))
        if self._trimmer is not None:
            self._trimmer.close()
            self._trimmer = None
        if self._streams is not None:
            self._streams.close()
        tasks = [task for task in self._tasks if task is not handler]
        if self._running is not None:
            self._running.mark_cancelled(spare=handler)
        for task in tasks:
            task.cancel()
        try:
            if tasks:
                _, left = await asyncio.wait(tasks, timeout=CANCELLED_WAIT)
                for task in tasks:
                    if task.done() and not task.cancelled():
                        task.exception()  # retrieved: the close reports none of them
                if left:
                    _log.warning(
                        "closed with %d handler(s) still running %.1f s after they "
                        "were cancelled (they catch CancelledError and go on): %s",
                        len(left),
                        CANCELLED_WAIT,
                        ", ".join(sorted({_handler_name(task) for task in left})),
                    )
        finally:
            # Closed however the wait ends: a stream handler closing its own
            # server was cancelled with the others, and is at this wait.
            if self._monitor_reactor is not None:
                self._monitor_reactor.close()
                self._monitor_reactor = None
            if self._monitor is not None:
                self._sock.disable_monitor()
                self._monitor.close(linger=0)
                self._monitor = None
            self._sock.close(linger=0)
            inproc_released(self._sock)
            remove_socket_files(self._socket_files)
            self._stop_authenticator()
            if self._owned_context is not None:
                self._owned_context.destroy(linger=0)
            self._dispatcher.close()
            if self._closed is not None:
                self._closed.set()

    def __reduce__(self) -> NoReturn:
        """Refuse to be pickled: its sockets are this process's."""
        not_picklable("Server")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def _handler_name(task: asyncio.Task[Any]) -> str:
    """Where a handler's task waits, for a log line: the coroutines it awaits,
    outermost first (``Server._serve > Dispatcher.run > Shop.buy > sleep``)."""
    names: list[str] = []
    awaited: Any = task.get_coro()
    while awaited is not None and len(names) < 8:
        name = getattr(awaited, "__qualname__", None)
        if name is None:
            break
        names.append(name)
        awaited = getattr(awaited, "cr_await", None) or getattr(
            awaited, "ag_await", None
        )
    return " > ".join(names) or task.get_name()


def _end_of(peer: Hashable) -> int:
    """The index of the delimiter of the messages for ``peer`` (a key of
    :meth:`Server._peer_of`): 2 behind a broker, 1 for a direct caller."""
    return 2 if type(peer) is tuple else 1


def _peer_key(frames: list[Any]) -> str | None:
    """The Z85 CURVE public key a frame's connection authenticated with.

    The ZAP handler (pyzmq's authenticator) names a CURVE client by its public
    key's Z85 text, and libzmq hands that ``User-Id`` to every message of the
    connection. A connection without it (one the server made to a broker, or
    none over CURVE) has no key. A message taken from a batch asks the batch's
    frames (its own are copies).
    """
    try:
        user = frames[-1].get("User-Id")
    except zmq.ZMQError:
        return None
    return user if isinstance(user, str) and user else None


class _Link:
    """Sends the messages of one stream call to its caller through the server."""

    __slots__ = ("_envelope", "_reactor", "_stats")

    def __init__(
        self,
        reactor: Callable[[], CoalescingSender | None],
        stats: ServerStats,
        envelope: list[zmq.Frame],
    ) -> None:
        self._reactor = reactor
        """The server's reactor now (``None`` once it closed)."""
        self._stats = stats
        # The frames are copied: the received ones go with their message.
        self._envelope = [frame.bytes for frame in envelope]

    def try_send(self, frames: list[Any]) -> bool:
        reactor = self._reactor()
        if reactor is None:
            raise CallerGone("the server is closed")
        try:
            return reactor.try_send([*self._envelope, *frames])
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            raise CallerGone("the caller disconnected") from None

    async def send(self, frames: list[Any]) -> None:
        reactor = self._reactor()
        if reactor is None:
            raise CallerGone("the server is closed")
        try:
            await reactor.send([*self._envelope, *frames])
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            raise CallerGone("the caller disconnected") from None

    def replied(self) -> None:
        self._stats.replied += 1
