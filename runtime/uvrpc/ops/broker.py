"""A broker: many clients, many servers, and every call followed to its end.

Clients connect their channels to the broker's *frontend*, a ROUTER socket; servers
connect to its *backend*, another ROUTER (:meth:`uvrpc.Server.connect`), and say
READY, naming the services they serve. Each request goes to a server of its
service (the route's ``namespace.Service``), the one with the fewest calls in flight
(in turn among equals), and the broker remembers which server took which call until
the call's reply passes through. That is what a proxy that forwards without looking
cannot do, and it buys three things:

- every later message of a call — a stream's items, END and credit, a CANCEL —
  reaches the server running it, so stream calls and cancellation work through a
  broker as they do on a bound server;
- when a server's connection drops (a crashed process: at once; a vanished host:
  within the heartbeat timeout), the calls it had taken fail at once with
  ``UNAVAILABLE`` instead of waiting for their deadline;
- a server that is stopping says LEAVING and gets no new calls while it finishes
  its running ones.

The price is that Python reads the header of every message (never the payload:
a message sent alone is forwarded as received, without a copy) in the broker's own
thread, draining each socket in batches; ``docs/scaling.md`` has what that costs.

Both sockets announce that they read batches (``docs/protocol.md``, "Batches").
Each message of a batch received is routed as if it came alone (a call's server
depends on the call: the least loaded one when it arrives). A batch whose messages
all go to one peer — new calls that one server alone serves, replies to one caller —
goes on as it came, its frames sent again; any other is split, and what one turn
of the loop has for one peer goes out as a batch again
(:class:`~uvrpc.ops.outbox.Outbox`), so that a batch of calls reaches each server
as one batch, and their replies each caller as one. A malformed batch is dropped
whole and counted in :attr:`BrokerStats.dropped`; a batch that cannot be passed on
does to each of its calls what a lone message that cannot would.

Requests that arrive while no server of their service is connected wait (for their
deadline at the longest) until one says READY; oneway requests, and messages the
broker cannot read (which it leaves a server to answer), are dropped then. A request
for a service that no server has ever announced is answered ``UNIMPLEMENTED`` at
once, once servers are connected and the broker has run long enough to have heard
from all of them (:data:`UNKNOWN_SERVICE_GRACE`).

One client (one connection to the frontend) may have at most
``max_calls_per_client`` calls followed by the broker at once, and at most
``max_waiting_per_client`` of them waiting for a server: a request over either
share is refused with ``RESOURCE_EXHAUSTED``, and no other client's.

A call one of whose messages cannot be passed on because a pipe is full is failed
and cancelled, never left with a hole in its stream (:attr:`BrokerStats.broken`).
"""

from __future__ import annotations

import itertools
import logging
import math
import sys
import threading
import time
from collections.abc import Container, Sequence
from dataclasses import dataclass
from typing import Any, Self, cast

import zmq
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import parse_monitor_message

from ..core.lograte import RateLimitedWarning
from ..transport.coalesce import announce_batches
from ..transport.heap import keep_message_buffers
from ..transport.inproc import inproc_released
from ..transport.liveness import DEFAULT_HEARTBEAT, Heartbeat
from ..transport.security import (
    AllowList,
    ServerSecurity,
    check_zap_handler,
    checked_security,
)
from ..transport.sockets import (
    SocketFile,
    bind,
    plain_context,
    remove_socket_files,
)
from ..wire.batch import KIND_BATCH, is_batch_header, split_batch
from ..wire.errors import (
    ProtocolError,
    ResourceExhausted,
    RpcError,
    Unavailable,
    Unimplemented,
)
from ..wire.limits import (
    HIGH_WATER_MARK,
    MAX_MESSAGE_SIZE,
    STREAM_WINDOW,
    backstop_size,
    check_limit,
    check_seconds,
    echo,
)
from ..wire.protocol import (
    ABOUT_SERVICE,
    DELIMITER,
    KIND_CANCEL,
    KIND_LEAVING,
    KIND_READY,
    KIND_REPLY,
    KIND_REQUEST,
    NIL_BODY,
    ONEWAY_CALL_ID,
    READY_INTERVAL,
    MalformedHeader,
    decode_header,
    encode_error_body,
    encode_reply_header,
    encode_stream_header,
    ready_services,
    route_service,
)
from ..wire.version import PROTOCOL_VERSION
from .outbox import Outbox
from .signals import on_ctrl_c, stop_on_signals

__all__ = ["Broker", "BrokerStats", "SharedKeysError", "run_broker"]

BATCH = 256
"""Messages read from one socket before the broker looks at the others."""

SWEEP_INTERVAL = 1.0
"""Seconds between two looks for calls whose callers have given up."""

EXPIRY_GRACE = 5.0
"""Seconds after a call's deadline that the broker still expects its reply: a reply
later than that finds no call and is forwarded untracked."""

UNKNOWN_SERVICE_GRACE = 2 * READY_INTERVAL
"""Seconds after it starts that a broker lets a call for a service no server has
announced wait, rather than answer it ``UNIMPLEMENTED``: every server says READY
each :data:`~uvrpc.protocol.READY_INTERVAL`, so a broker that (re)started has heard
from all of them by then."""

REPLY_SETTLE = 0.2
"""Seconds a close with a grace keeps the sockets open after the last call in
flight ended (within the grace), so that its last replies reach their callers: a
client's socket drops what it has not read when its connection drops."""

MAX_HELD_PER_CALL = STREAM_WINDOW
"""The messages of a stream call (after its request) the broker keeps while the
call waits for a server: a client sends none before its server's first CREDIT,
and a server queues at most its window of items sent before it, so a client
that sends more is refused; the broker's memory stays bounded by calls waiting."""

MAX_CALLS_PER_CLIENT = 1000
"""The calls one client may have followed by a broker at once, by default. Behind a
broker every server sees the broker as one caller, so this is what keeps one
client from taking every server's share of calls."""

WAITING_SHARE = 4
"""By default one client may fill ``1 / WAITING_SHARE`` of the requests that may
wait for a server (the broker's ``hwm``)."""

FRONTEND_DOMAIN = "uvrpc-frontend"
"""The ZAP domain of a secured broker's frontend (clients' keys are checked here)."""
BACKEND_DOMAIN = "uvrpc-backend"
"""The ZAP domain of a secured broker's backend (servers' keys are checked here)."""

_SENT, _FULL, _GONE = range(3)
"""What became of a message sent to a server."""

_A_REPLY = (0, True, None)
"""The tag of a reply passed on in a batch received whole (``_from_server``'s
tags are ``(call id, reply, call)``; of a reply's, only that it is one is read)."""

_CLOSING = "the broker is shutting down: the call did not run; try another broker"
_CLIENT_GONE = (
    "this client's connection to the broker closed while the call waited for a "
    "server: the call did not run"
)

_log = logging.getLogger("uvrpc.broker")
_CONTROLS = itertools.count()  # numbers the brokers' control endpoints


@dataclass(slots=True)
class BrokerStats:
    """What a :class:`Broker` has done so far."""

    requests: int = 0
    """Requests handed to a server."""
    replies: int = 0
    """Replies handed back to a client."""
    failed: int = 0
    """Calls failed with ``UNAVAILABLE`` because their server went away."""
    refused: int = 0
    """Requests refused: at once when every server was full, too many waited or
    their client was over its share (``max_calls_per_client``,
    ``max_waiting_per_client``); new or still waiting for a server when the
    broker began to close with a grace; waiting for a server when their client's
    connection closed."""
    unserved: int = 0
    """Requests answered ``UNIMPLEMENTED``: no server serves their service."""
    expired: int = 0
    """Calls forgotten because their caller's deadline passed long ago, and
    oneway requests whose deadline passed while they waited for a server."""
    broken: int = 0
    """Calls failed and cancelled because one of their messages could not be
    passed on (a full pipe): a stream never goes on with a hole in it."""
    dropped: int = 0
    """Messages dropped: for a call the broker does not know (one that ended), or
    for a client that is gone or does not read, or a oneway request while the
    broker closes with a grace or beyond the requests that may wait for a
    server; a malformed batch counts once."""


class _Server:
    """A server connected to the backend, the services it serves (``None``: a
    server that did not say, taken to serve all) and the calls it has taken."""

    __slots__ = ("calls", "fd", "identity", "leaving", "services")

    def __init__(self, identity: bytes, fd: int) -> None:
        self.identity = identity
        self.fd = fd
        self.calls: set[tuple[bytes, int]] = set()
        self.leaving = False
        self.services: frozenset[str] | None = None


class _Call:
    """A call in flight: the server that took it (``None`` while it waits for one,
    its messages then kept in ``waiting``), and when the broker forgets it.

    A call that lost a message (a pipe was full) is *broken*: it was failed and
    cancelled, and what still arrives for it is dropped until it is forgotten, so
    that neither side ever sees a stream with a hole in it.
    """

    __slots__ = ("broken", "expires", "server", "service", "waiting")

    def __init__(self, expires: float, service: str | None) -> None:
        self.expires = expires
        self.service = service
        self.server: _Server | None = None
        self.waiting: list[list[Any]] | None = None
        self.broken = False


class SharedKeysError(ValueError):
    """A secured broker's backend would admit keys its frontend admits: a client
    could connect as a server, be sent other clients' calls and answer them."""


def check_separate_lists(
    frontend: ServerSecurity | None, backend: ServerSecurity | None
) -> None:
    """Refuse a backend allow-list that admits a key the frontend's admits.

    Raises:
        SharedKeysError: the lists share keys, or the backend admits any key of a
            key pair the frontend's clients know.
    """
    if frontend is None or backend is None:
        return
    fix = (
        "give the backend a list of the servers' keys only (Broker("
        "backend_security=…), uvrpc broker --allow-servers), or pass "
        "allow_shared_keys=True (--same-keys-for-clients-and-servers) to accept it"
    )
    if backend.allow == "any":
        if frontend.keypair.public == backend.keypair.public:
            raise SharedKeysError(
                'the backend admits "any" key while clients know its public key '
                f"(the frontend's): any client could connect as a server; {fix}"
            )
        return
    if frontend.allow == "any":
        shared = backend.allow
    else:
        shared = backend.allow & frontend.allow
    if shared:
        raise SharedKeysError(
            f"{len(shared)} of the {len(backend.allow)} keys the backend admits "
            f"(servers) are admitted by the frontend too (clients), such as "
            f"{min(shared)}: such a client could connect as a server; {fix}"
        )


class Broker:
    """Forward calls between clients and the servers connected to it.

    Args:
        frontends: endpoints clients connect to (``tcp://127.0.0.1:*`` picks a
            port; :attr:`frontends` names it).
        backends: endpoints servers connect to (:meth:`uvrpc.Server.connect`).
        context: the ZeroMQ context, of any class (a ``zmq.asyncio.Context`` too);
            the process-wide one by default.
        hwm: messages queued per peer and direction before ZeroMQ pushes back;
            also the number of requests that may wait for a server.
        heartbeat: ZeroMQ heartbeats on every connection, so a peer that vanished
            is noticed; ``None`` turns them off.
        security: serve the frontend over CURVE with this key pair, admitting the
            clients its allow-list names (``docs/security.md``).
        backend_security: the same for the backend, admitting the servers its
            allow-list names (they connect with
            ``Server.connect(endpoint, security=ClientSecurity(...))``). A key on
            both lists (or a backend admitting ``"any"`` with the frontend's key
            pair) would let a client serve other clients' calls: the broker
            refuses it with :class:`SharedKeysError`.
        allow_shared_keys: accept a backend list that shares keys with the
            frontend's (each key then trusted as a server too).
        max_calls_per_client: the calls one client (one connection to the
            frontend) may have followed by the broker at once, waiting or on a
            server; another is refused with ``RESOURCE_EXHAUSTED``.
        max_waiting_per_client: the requests of one client that may wait for a
            server; another is refused with ``RESOURCE_EXHAUSTED``, so that one
            client cannot fill the queue of ``hwm`` requests. A quarter of
            ``hwm`` by default.
        unknown_service_grace: seconds after the broker starts during which a
            request for a service no server has announced waits instead of being
            answered ``UNIMPLEMENTED`` (servers announce every second).
        max_message_size: the largest message its servers take, in bytes: a
            client's frame of more than twice it (512 KiB at least) drops that
            client's connection (``ZMQ_MAXMSGSIZE``), as it would a server's;
            what is below passes on, for the server to judge.

    A secured broker runs a ZAP handler, a domain per socket, on a ZeroMQ context
    of its own (unless given one, which must have no other ZAP handler), and checks
    that it answers before binding. An endpoint that is malformed raises
    :class:`ValueError`, one in use :class:`OSError` (``errno.EADDRINUSE``), as
    :meth:`uvrpc.Server.bind` does.

    The broker runs in a thread of its own from :meth:`start` until :meth:`close`.
    Usage::

        with Broker(["tcp://*:5555"], ["tcp://*:5556"]) as broker:
            ...  # serve until told to stop
    """

    def __init__(
        self,
        frontends: Sequence[str],
        backends: Sequence[str],
        *,
        context: zmq.Context[Any] | None = None,
        hwm: int = HIGH_WATER_MARK,
        heartbeat: Heartbeat | None = DEFAULT_HEARTBEAT,
        security: ServerSecurity | None = None,
        backend_security: ServerSecurity | None = None,
        allow_shared_keys: bool = False,
        max_calls_per_client: int = MAX_CALLS_PER_CLIENT,
        max_waiting_per_client: int | None = None,
        unknown_service_grace: float = UNKNOWN_SERVICE_GRACE,
        max_message_size: int = MAX_MESSAGE_SIZE,
    ) -> None:
        if not frontends or not backends:
            raise ValueError("a broker needs a frontend and a backend endpoint")
        checked_security(security, ServerSecurity)
        checked_security(backend_security, ServerSecurity)
        if not allow_shared_keys:
            check_separate_lists(security, backend_security)
        # A NaN would pass unnoticed: the broker would never judge a service
        # unserved, and its calls would wait for their deadlines.
        unknown_service_grace = check_seconds(
            "unknown_service_grace", unknown_service_grace, zero=True
        )
        check_limit("max_message_size", max_message_size)
        self.max_calls_per_client = check_limit(
            "max_calls_per_client", max_calls_per_client
        )
        """The calls one client may have followed at once."""
        self.max_waiting_per_client = check_limit(
            "max_waiting_per_client",
            max(1, hwm // WAITING_SHARE)
            if max_waiting_per_client is None
            else max_waiting_per_client,
        )
        """The requests of one client that may wait for a server."""
        secured = [
            (domain, sockets_security)
            for domain, sockets_security in (
                (FRONTEND_DOMAIN, security),
                (BACKEND_DOMAIN, backend_security),
            )
            if sockets_security is not None
        ]
        self._owned_context: zmq.Context[Any] | None = None
        self._authenticator: ThreadAuthenticator | None = None
        if secured and context is None:
            # A ZAP handler serves a whole context: this broker's is its own.
            context = self._owned_context = zmq.Context()
        ctx = plain_context(context)
        self.stats = BrokerStats()
        """What this broker has done so far (updated by its thread)."""
        self._dropped_batch = RateLimitedWarning(
            _log, "the broker dropped a malformed batch"
        )
        # A server and a client connected to each other's endpoint (the
        # frontend and backend swapped) get no answer from the broker's usual
        # paths: each waits in silence, so the broker's log says why.
        self._server_on_front = RateLimitedWarning(
            _log, "a server connected to the broker's frontend"
        )
        self._client_on_back = RateLimitedWarning(
            _log, "a client connected to the broker's backend"
        )
        self._hwm = hwm
        self._servers: dict[bytes, _Server] = {}
        self._by_fd: dict[int, bytes] = {}
        self._stale_fds: set[int] = set()
        self._calls: dict[tuple[bytes, int], _Call] = {}
        self._waiting = 0
        self._oneways: list[tuple[bytes, _Call]] = []
        """The oneway requests waiting for a server (counted in ``_waiting``)."""
        # Per client, only while it has any: a dict entry per connected caller.
        self._client_calls: dict[bytes, int] = {}
        self._client_waiting: dict[bytes, int] = {}
        # The connection (its descriptor) of each client with calls waiting for
        # a server, both ways: a client gone meanwhile has them ended, rather
        # than run for nobody once a server comes.
        self._waiting_fd: dict[bytes, int] = {}
        self._waiting_client: dict[int, bytes] = {}
        self._closed_fds: set[int] = set()
        """The descriptors whose last connection closed (and none came since)."""
        self._known: set[str] = set()
        """The services some server has announced since the broker started."""
        self._unknown_service_grace = unknown_service_grace
        self._judges_services_at = math.inf
        keep_message_buffers()  # its frames are libzmq's: glibc's heap pools them
        self._front: zmq.Socket[bytes] = ctx.socket(zmq.ROUTER)
        self._back: zmq.Socket[bytes] = ctx.socket(zmq.ROUTER)
        self._control: zmq.Socket[bytes] = ctx.socket(zmq.PAIR)
        self._command: zmq.Socket[bytes] = ctx.socket(zmq.PAIR)
        self._monitor: zmq.Socket[bytes] | None = None
        self._client_monitor: zmq.Socket[bytes] | None = None
        self._socket_files: list[SocketFile] = []  # removed as it closes
        self._thread: threading.Thread | None = None
        # Set by a close with a grace: new calls are refused.
        self._draining = False
        self._front_out = Outbox(self._front, 1, self._client_batch_failed)
        self._back_out = Outbox(self._back, 2, self._server_batch_failed)
        try:
            for sock in (self._front, self._back):
                sock.setsockopt(zmq.LINGER, 0)
                sock.setsockopt(zmq.SNDHWM, hwm)
                sock.setsockopt(zmq.RCVHWM, hwm)
                # A send to a peer that is gone, or whose pipe is full, raises
                # instead of vanishing: the broker must know, to fail the call.
                sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
                # Clients and servers send it batches, and are sent batches.
                announce_batches(sock)
                if heartbeat is not None:
                    heartbeat.apply(sock)
            # A client's frame is bounded as a server bounds it: libzmq drops
            # the connection of one that sends a larger frame, rather than the
            # broker buffering it whole. Servers' replies are not: a reply may
            # be as large as its server sends it, for its client to judge.
            self._front.setsockopt(zmq.MAXMSGSIZE, backstop_size(max_message_size))
            for sock in (self._control, self._command):
                sock.setsockopt(zmq.LINGER, 0)
            if secured:
                self._start_authenticator(ctx, secured)
            for sock, domain, sockets_security in (
                (self._front, FRONTEND_DOMAIN, security),
                (self._back, BACKEND_DOMAIN, backend_security),
            ):
                if sockets_security is not None:
                    sock.setsockopt(zmq.ZAP_DOMAIN, domain.encode())
                    sockets_security.apply(sock)
            self._monitor = self._back.get_monitor_socket(zmq.EVENT_DISCONNECTED)
            self._client_monitor = self._front.get_monitor_socket(
                zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED
            )
            self.frontends = tuple(self._bind(self._front, e) for e in frontends)
            """The frontend endpoints, wildcard ports resolved."""
            self.backends = tuple(self._bind(self._back, e) for e in backends)
            """The backend endpoints, wildcard ports resolved."""
            # A name of its own: an id() is reused once an object is freed, maybe
            # before the freed broker's inproc endpoint is unbound.
            control = f"inproc://uvrpc-broker-control-{next(_CONTROLS)}"
            self._control.bind(control)
            self._command.connect(control)
        except BaseException:
            self._close_sockets()
            raise

    def _start_authenticator(
        self, context: zmq.Context[Any], secured: list[tuple[str, ServerSecurity]]
    ) -> None:
        """Run the allow-lists' ZAP handler, a domain per socket, and check it.

        Raises:
            RuntimeError: the context already has a ZAP handler, or the handler
                did not answer a test request as an allow-list says.
        """
        authenticator = ThreadAuthenticator(
            context, log=logging.getLogger("uvrpc.broker.zap")
        )
        try:
            authenticator.start()
        except zmq.ZMQError as exc:
            raise RuntimeError(
                f"the broker's ZeroMQ context already has a ZAP handler ({exc}); "
                "give a secured broker a context of its own (the default)"
            ) from None
        self._authenticator = authenticator
        for domain, sockets_security in secured:
            # A callback for "any" too: pyzmq's allow-any would cover every domain.
            authenticator.configure_curve_callback(
                domain=domain, credentials_provider=AllowList(sockets_security)
            )
        for domain, sockets_security in secured:
            check_zap_handler(context, domain, sockets_security)

    @property
    def servers(self) -> int:
        """The servers connected and taking calls."""
        return sum(1 for server in list(self._servers.values()) if not server.leaving)

    @property
    def in_flight(self) -> int:
        """The calls handed to a server (or waiting for one) and not yet answered."""
        return len(self._calls)

    def start(self) -> None:
        """Start forwarding, in a thread of its own (``with`` does this).

        Raises:
            RuntimeError: the broker was closed (make a new one).
        """
        if self._thread is not None:
            return
        if self._monitor is None:
            raise RuntimeError("this broker is closed: make a new one")
        self._judges_services_at = time.monotonic() + self._unknown_service_grace
        self._thread = threading.Thread(
            target=self._run, name="uvrpc-broker", daemon=True
        )
        self._thread.start()

    def close(self, grace: float = 0.0, *, cut: threading.Event | None = None) -> None:
        """Stop forwarding and close the sockets.

        With no ``grace``, at once: calls in flight are dropped, and their callers
        get their deadline (or UNAVAILABLE as their connection drops). With a
        ``grace`` in seconds, calls in flight finish first: new calls, and those
        still waiting for a server, are answered UNAVAILABLE (oneway ones
        dropped), what belongs to the calls in flight
        (replies, stream items, cancels) is still forwarded until the last ends
        or the grace runs out, and the sockets stay open :data:`REPLY_SETTLE`
        more (within the grace) for the last replies to reach their callers.
        ``cut``, once set, ends the grace at once (a second Ctrl-C).

        Raises:
            TypeError: ``grace`` is no number.
            ValueError: ``grace`` is negative, infinite or NaN.
        """
        given: object = grace  # what a caller gave, whatever its annotation says
        if isinstance(given, str | bytes) or not hasattr(given, "__float__"):
            raise TypeError(f"a grace is a number of seconds, not {grace!r}")
        grace = float(grace)  # sent to the broker's thread as text
        if not 0 <= grace < math.inf:
            raise ValueError(f"a grace is a finite number of seconds, not {grace!r}")
        thread = self._thread
        if thread is not None:
            self._command.send(b"DRAIN %r" % grace if grace > 0 else b"TERMINATE")
            while thread.is_alive():
                if cut is not None and cut.wait(0.05):
                    self._command.send(b"TERMINATE")
                    cut = None
                thread.join(0.05)
            self._thread = None
        self._close_sockets()

    def _bind(self, sock: zmq.Socket[bytes], endpoint: str) -> str:
        # uvrpc's bind: a clear error for an endpoint that is malformed or in
        # use, and an ipc:// path a live server listens on is refused, not taken
        # over; its socket file is removed as the broker closes.
        return bind(sock, endpoint, self._socket_files)

    def _close_sockets(self) -> None:
        if self._monitor is not None:
            self._back.disable_monitor()
            self._monitor.close(linger=0)
            self._monitor = None
        if self._client_monitor is not None:
            self._front.disable_monitor()
            self._client_monitor.close(linger=0)
            self._client_monitor = None
        for sock in (self._front, self._back, self._control, self._command):
            sock.close(linger=0)
            inproc_released(sock)
        remove_socket_files(self._socket_files)
        if self._authenticator is not None:
            self._authenticator.stop()
            self._authenticator = None
        if self._owned_context is not None:
            self._owned_context.destroy(linger=0)
            self._owned_context = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # The broker's thread: everything below runs there and only there.

    def _run(self) -> None:
        monitor, client_monitor = self._monitor, self._client_monitor
        assert monitor is not None and client_monitor is not None
        poller = zmq.Poller()
        for sock in (self._control, monitor, client_monitor, self._back, self._front):
            poller.register(sock, zmq.POLLIN)
        next_sweep = time.monotonic() + SWEEP_INTERVAL
        ends: float | None = None  # when a close with a grace ends, at the latest
        try:
            while True:
                now = time.monotonic()
                wait = next_sweep - now
                if ends is not None:
                    if not self._calls:
                        # The last call ended: let its reply settle, within the
                        # grace.
                        ends = min(ends, now + REPLY_SETTLE)
                    if now >= ends:
                        if self._calls:
                            _log.warning(
                                "calls still in flight as the grace ended: %d "
                                "(their callers see their connection drop)",
                                len(self._calls),
                            )
                        else:
                            _log.info("every call in flight ended: closing")
                        return
                    wait = min(wait, ends - now)
                ready = dict(poller.poll(math.ceil(max(0.0, wait) * 1000)))
                if self._control in ready:
                    command = self._control.recv()
                    if ends is not None and self._calls:
                        _log.warning(
                            "calls still in flight as the grace was cut short: %d "
                            "(their callers see their connection drop)",
                            len(self._calls),
                        )
                    if ends is not None or not command.startswith(b"DRAIN "):
                        return
                    grace = float(command[6:])
                    ends = time.monotonic() + grace
                    self._draining = True
                    self._refuse_waiting()
                    _log.info(
                        "closing: new calls refused, %d in flight given up to "
                        "%g s to end",
                        len(self._calls),
                        grace,
                    )
                    self._end_turn()
                    continue
                # Disconnections first: a descriptor a lost server had may already
                # belong to a new connection whose READY is in the backend.
                if monitor in ready:
                    self._drain(monitor, self._on_event)
                if client_monitor in ready:
                    self._drain(client_monitor, self._on_client_event)
                if self._back in ready:
                    self._drain(self._back, self._from_server)
                if self._front in ready:
                    self._drain(self._front, self._from_client)
                now = time.monotonic()
                if now >= next_sweep:
                    self._sweep(now)
                    next_sweep = now + SWEEP_INTERVAL
                self._end_turn()
        except zmq.ContextTerminated:
            pass

    def _drain(self, sock: zmq.Socket[bytes], handle: Any) -> None:
        for _ in range(BATCH):
            try:
                frames = _recv(sock)
            except zmq.Again:
                return
            try:
                handle(frames)
            except zmq.ContextTerminated:
                raise
            except Exception:
                # One message must not stop the broker for everyone.
                _log.exception("the broker dropped a message it failed to forward")
                self.stats.dropped += 1

    def _end_turn(self) -> None:
        """Send what each outbox held this turn. A batch that cannot go fails
        its calls, which may send more (a CANCEL, an error): until all went."""
        back, front = self._back_out, self._front_out
        while back.pending or front.pending:
            back.end_turn()
            front.end_turn()

    def _from_client(self, frames: list[Any]) -> None:
        """``[client, b"", attachments…, header, body]`` from a client."""
        first = frames[0]
        self._front_out.learn(first)
        client = first.bytes
        head = _head(frames, self._known)
        if head is None:
            if _is_server_control(frames):
                self.stats.dropped += 1
                self._server_on_front(_SWAPPED)
                return
            if _peer_batch(frames):
                self._on_batch(frames, 1, self._from_client)
                return
            # Not ours to judge: a server answers it with the protocol's error.
            self._hand_untracked(frames, None)
            return
        kind, call_id, timeout_ms, service = head
        if kind == KIND_BATCH:
            self._on_batch(frames, 1, self._from_client)
            return
        if kind != KIND_REQUEST:
            call = self._calls.get((client, call_id))
            if call is None or call.broken:
                self.stats.dropped += 1
            elif call.server is not None:
                if self._to_call_server(client, call_id, call, frames):
                    if kind == KIND_CANCEL:
                        self._end(client, call_id)  # the server sends nothing more
            elif kind == KIND_CANCEL:
                self._end(client, call_id)  # it never reached a server
            elif call.waiting is not None:
                if len(call.waiting) > MAX_HELD_PER_CALL:
                    self.stats.dropped += 1
                    error = ResourceExhausted(
                        f"this call sent more than {MAX_HELD_PER_CALL} messages "
                        "of its stream before a server took it (a client sends "
                        "none before its server's CREDIT), so it was ended"
                    )
                    self._break(client, call_id, call, error)
                else:
                    call.waiting.append(frames)
            return
        if self._draining:
            self._refuse_closing(client, call_id, frames)
            return
        if call_id == ONEWAY_CALL_ID and not len(frames[1]):
            self._hand_oneway(client, frames, timeout_ms, service)
            return
        if call_id < ONEWAY_CALL_ID or len(frames[1]):
            # None its server can answer and so end: a negative call id, or no
            # delimiter where a client's DEALER puts it.
            self._hand_untracked(frames, service)
            return
        # A call id a client reuses while its call runs ends the older call here.
        self._end(client, call_id)
        calls = self._client_calls.get(client, 0)
        if calls >= self.max_calls_per_client:
            self._refuse_share(
                client,
                call_id,
                f"this client has {calls} calls in flight through this broker, its "
                f"share (max_calls_per_client={self.max_calls_per_client})",
            )
            return
        self._client_calls[client] = calls + 1
        timeout = math.inf if timeout_ms is None else timeout_ms / 1000
        call = _Call(time.monotonic() + timeout + EXPIRY_GRACE, service)
        self._calls[(client, call_id)] = call
        self._dispatch(client, call_id, call, frames)

    def _on_batch(self, frames: list[Any], end: int, handle: Any) -> None:
        """Take each message of a batch (its delimiter at ``end``) as if it came
        alone; their messages on to the same peer are held to go as one batch
        too. A malformed batch is dropped whole: its messages are one peer's."""
        try:
            if len(frames) != end + 3 or len(frames[end]):
                raise ProtocolError(
                    f"a batch must be one header and one body after the envelope, "
                    f"not {len(frames) - end - 1} frames"
                )
            messages = split_batch(frames[-2], frames[-1])
        except ProtocolError as exc:
            self.stats.dropped += 1
            self._dropped_batch(exc)
            return
        if (
            self._forward_requests(frames, messages)
            if end == 1
            else (self._forward_replies(frames, messages))
        ):
            return
        envelope = frames[: end + 1]
        front, back = self._front_out, self._back_out
        front.hold = back.hold = True
        try:
            for header, body in messages:
                try:
                    handle([*envelope, header, body])
                except zmq.ContextTerminated:
                    raise
                except Exception:
                    _log.exception("the broker dropped a message it failed to forward")
                    self.stats.dropped += 1
        finally:
            front.hold = back.hold = False

    def _forward_requests(
        self, frames: list[Any], messages: list[tuple[bytes, bytes]]
    ) -> bool:
        """Take a client's batch of calls whole if every call would go to one
        server anyway: each a new followed request (not oneway, its call id not
        in use) within the client's share, for a service one server alone serves
        and has room for, as the batch's server reads batches. The calls are
        followed as if they came alone, and the batch goes on as it came; return
        whether it did (if not, nothing was done and each call is taken alone)."""
        if self._draining:
            return False  # each call is refused alone
        client = frames[0].bytes
        calls = self._calls
        keys: list[tuple[bytes, int]] = []
        taken: list[tuple[int, int | None, str]] = []
        services: set[str] = set()
        for header, _ in messages:
            head = _request(header, self._known)
            if head is None:
                return False
            key = (client, head[0])
            if key[1] <= ONEWAY_CALL_ID or key in calls:
                return False
            services.add(head[2])
            keys.append(key)
            taken.append(head)
        count = len(keys)
        if len(set(keys)) != count:
            return False
        server = self._sole_server(services)
        if (
            server is None
            or not self._back_out.can_forward(server.identity, frames[:2])
            # What was held for the server went first, and if it could not
            # go the server may be lost.
            or self._servers.get(server.identity) is not server
        ):
            return False
        followed = self._client_calls.get(client, 0)
        if followed + count > self.max_calls_per_client:
            return False
        # Each call as _dispatch would take it alone: the sole server picked each
        # time (to the end of the order, so ties go round), followed until its
        # reply, counted against its client's share.
        del self._servers[server.identity]
        self._servers[server.identity] = server
        self._client_calls[client] = followed + count
        self.stats.requests += count
        server.calls.update(keys)
        now = time.monotonic() + EXPIRY_GRACE
        for key, (_, timeout_ms, service) in zip(keys, taken, strict=True):
            call = calls[key] = _Call(
                math.inf if timeout_ms is None else now + timeout_ms / 1000, service
            )
            call.server = server
        self._back_out.forward(server.identity, frames, keys)
        return True

    def _sole_server(self, services: set[str]) -> _Server | None:
        """The one server that would take every call of ``services``: the only
        one not leaving that serves any of them, serving them all. ``None`` if
        the calls would be shared among servers, or would wait for one."""
        sole: _Server | None = None
        for server in self._servers.values():
            served = server.services
            if server.leaving or (served is not None and served.isdisjoint(services)):
                continue
            if sole is not None or (served is not None and not services <= served):
                return None
            sole = server
        return sole

    def _forward_replies(
        self, frames: list[Any], messages: list[tuple[bytes, bytes]]
    ) -> bool:
        """Take a server's batch of replies whole if none is for a call that
        broke, as the client reads batches: each followed call ends as if its
        reply came alone, and the batch goes on as it came; return whether it
        did (if not, nothing was done and each reply is taken alone)."""
        client_frame = frames[1]
        if not self._front_out.can_forward(client_frame, frames[2:3]):
            return False  # (what was held for the client went first)
        client = client_frame.bytes
        identity = frames[0].bytes
        calls = self._calls
        ended: list[tuple[tuple[bytes, int], _Server]] = []
        for header, _ in messages:
            call_id = _reply(header)
            if call_id is None:
                return False
            key = (client, call_id)
            call = calls.get(key)
            if call is not None:
                if call.broken:
                    return False
                server = call.server
                if server is None or server.identity != identity:
                    return False  # another server's call: dropped, alone
                ended.append((key, server))
        if ended:
            # Each call ends as _end ends it (a call on a server waits not); a
            # call id twice in the batch ends its call once.
            done = 0
            for key, server in ended:
                if calls.pop(key, None) is not None:
                    server.calls.discard(key)
                    done += 1
            left = self._client_calls.pop(client) - done
            if left:
                self._client_calls[client] = left
        count = len(messages)
        self.stats.replies += count
        # Of a reply's tag only that it is one matters, should the batch not go.
        self._front_out.forward(client_frame, frames[2:], [_A_REPLY] * count)
        return True

    def _dispatch(
        self, client: bytes, call_id: int, call: _Call, frames: list[Any]
    ) -> None:
        """Hand a request (and what followed it while it waited) to a server:
        the one with the fewest calls in flight that has room for it."""
        messages = [frames] if call.waiting is None else call.waiting
        full: set[bytes] = set()
        while True:
            server = self._pick(call.service, full)
            if server is None:
                if full:
                    self._refuse_full(client, call_id)
                elif self._unserved(call.service):
                    self._refuse_unserved(client, call_id, call.service)
                else:
                    self._wait(client, call_id, call, messages)
                return
            outcome = self._to_server(server, messages[0], (client, call_id))
            if outcome == _FULL:
                full.add(server.identity)
            if outcome != _SENT:
                continue
            self._unwait(client, call)
            call.server = server
            server.calls.add((client, call_id))
            self.stats.requests += 1
            for message in messages[1:]:
                if not self._to_call_server(client, call_id, call, message):
                    return
            return

    def _unserved(self, service: str | None) -> bool:
        """Whether no server will serve ``service``: none has announced it since
        the broker started, servers are connected and none said what it serves,
        and the broker has run long enough to have heard from every server."""
        if service is None or service in self._known or not self._servers:
            return False
        if any(server.services is None for server in self._servers.values()):
            return False
        return time.monotonic() >= self._judges_services_at

    def _refuse_unserved(
        self, client: bytes, call_id: int, service: str | None
    ) -> None:
        # Each refusal is counted before its reply goes: a client that holds the
        # reply finds it counted (the broker runs in a thread of its own).
        self._end(client, call_id)
        self.stats.unserved += 1
        served = sorted(self._known)
        self._reply_error(
            client,
            call_id,
            Unimplemented(
                # Cut as a server cuts what a peer sent: a client's 8 MiB route,
                # or a server's name of that size, must not make an 8 MiB error.
                f"no server behind this broker serves '{echo(service)}'; they serve "
                f"{', '.join(map(echo, served[:10])) or 'nothing'}"
                + (f" and {len(served) - 10} more" if len(served) > 10 else "")
            ),
        )

    def _refuse_closing(self, client: bytes, call_id: int, frames: list[Any]) -> None:
        """A new call while the broker closes with a grace: UNAVAILABLE, so that
        its caller may try another broker (a oneway call is dropped)."""
        if call_id <= ONEWAY_CALL_ID or len(frames[1]):
            self.stats.dropped += 1
            return
        self._end(client, call_id)
        self.stats.refused += 1
        self._reply_error(client, call_id, Unavailable(_CLOSING))

    def _refuse_waiting(self) -> None:
        """The broker begins to close with a grace: the calls still waiting for
        a server never reached one, and are refused as new calls are."""
        for (client, call_id), call in list(self._calls.items()):
            if call.server is None:
                self._end(client, call_id)
                self.stats.refused += 1
                self._reply_error(client, call_id, Unavailable(_CLOSING))
        self._release_oneways(drop=True)

    def _refuse_share(self, client: bytes, call_id: int, why: str) -> None:
        self._end(client, call_id)
        self.stats.refused += 1
        self._reply_error(
            client, call_id, ResourceExhausted(f"{why}; other clients are served")
        )

    def _refuse_full(self, client: bytes, call_id: int) -> None:
        self._end(client, call_id)
        self.stats.refused += 1
        self._reply_error(
            client,
            call_id,
            ResourceExhausted(
                "every server behind this broker has a full queue; try later"
            ),
        )

    def _wait(
        self, client: bytes, call_id: int, call: _Call, messages: list[list[Any]]
    ) -> None:
        if call.waiting is None:
            waiting = self._client_waiting.get(client, 0)
            if waiting >= self.max_waiting_per_client:
                self._refuse_share(
                    client,
                    call_id,
                    f"this client has {waiting} calls waiting for a server of this "
                    "broker, its share (max_waiting_per_client="
                    f"{self.max_waiting_per_client})",
                )
                return
            if self._waiting >= self._hwm:
                self._end(client, call_id)
                self.stats.refused += 1
                self._reply_error(
                    client,
                    call_id,
                    Unavailable(
                        "no server is connected to this broker, and "
                        f"{self._waiting} calls already wait for one"
                    ),
                )
                return
            self._waiting += 1
            self._client_waiting[client] = waiting + 1
            call.waiting = messages
            if not waiting:
                self._watch_client(client, messages[0][0])
            return
        call.waiting = messages

    def _unwait(self, client: bytes, call: _Call) -> None:
        """The call waits no more (it went to a server, or ended)."""
        if call.waiting is None:
            return
        call.waiting = None
        self._waiting -= 1
        left = self._client_waiting.pop(client) - 1
        if left:
            self._client_waiting[client] = left
        else:
            fd = self._waiting_fd.pop(client, -1)
            if self._waiting_client.get(fd) == client:
                del self._waiting_client[fd]

    def _watch_client(self, client: bytes, first: Any) -> None:
        """Note the connection of ``client``, whose first frame is ``first`` and
        whose calls begin to wait for a server (none on ``inproc://``); end
        them if it closed already."""
        try:
            fd = first.get(zmq.SRCFD)
        except zmq.ZMQError:
            return  # inproc://: no descriptor, and no connection to lose
        # The monitor tells of a connection's accepting before any message of
        # it is read, and of its closing before its descriptor is freed for
        # another: what it said so far tells whether this descriptor's last
        # connection, the client's, closed, and a closing still unread there
        # cannot be an earlier connection's, taken later for this client's.
        monitor = self._client_monitor
        while monitor is not None:
            try:
                frames = _recv(monitor)
            except zmq.Again:
                break
            self._on_client_event(frames)
        if fd in self._closed_fds:
            self._client_gone(client)
            return
        previous = self._waiting_client.get(fd)
        if previous is not None and previous != client:
            self._client_gone(previous)  # its closing was never told
        self._waiting_fd[client] = fd
        self._waiting_client[fd] = client

    def _on_client_event(self, frames: list[zmq.Frame]) -> None:
        event = parse_monitor_message([frame.bytes for frame in frames])
        fd = event["value"]
        if event["event"] & zmq.EVENT_ACCEPTED:
            self._closed_fds.discard(fd)
            return
        self._closed_fds.add(fd)
        client = self._waiting_client.get(fd)
        if client is not None:
            self._client_gone(client)

    def _client_gone(self, client: bytes) -> None:
        """``client``'s connection closed while calls of it wait for a server:
        end them, refused as not run, rather than run them once a server comes
        for a caller that was told its connection dropped, or is no more."""
        for (owner, call_id), call in list(self._calls.items()):
            if owner == client and call.waiting is not None:
                self._end(client, call_id)
                self.stats.refused += 1
                self._reply_error(client, call_id, Unavailable(_CLIENT_GONE))

    def _pick(
        self,
        service: str | None,
        excluded: set[bytes] | frozenset[bytes] = frozenset(),
    ) -> _Server | None:
        """The server of ``service`` with the fewest calls in flight, ``excluded``
        aside; the one that got a call longest ago among equals."""
        best: _Server | None = None
        for server in self._servers.values():
            services = server.services  # inline: this runs per server per call
            if (
                not server.leaving
                and (best is None or len(server.calls) < len(best.calls))
                and (services is None or service in services or service is None)
                and server.identity not in excluded
            ):
                best = server
        if best is not None:
            # To the end of the order, so that ties go round.
            del self._servers[best.identity]
            self._servers[best.identity] = best
        return best

    def _hand_oneway(
        self,
        client: bytes,
        frames: list[Any],
        timeout_ms: int | None,
        service: str | None,
    ) -> None:
        """Hand a oneway request to a server of its service, unfollowed. With
        none connected it waits for one as a call does, within the same shares
        (dropped beyond them): its caller was told it went, and nobody could be
        told it was dropped. Its deadline ends the wait, with no grace: no CANCEL
        follows a oneway request, and a server reading it as its caller's first
        through this broker could not tell how long it waited."""
        server = self._pick(service)
        if server is not None or self._unserved(service):
            self._untracked_to(server, frames)
            return
        waiting = self._client_waiting.get(client, 0)
        if waiting >= self.max_waiting_per_client or self._waiting >= self._hwm:
            self.stats.dropped += 1
            return
        self._waiting += 1
        self._client_waiting[client] = waiting + 1
        timeout = math.inf if timeout_ms is None else timeout_ms / 1000
        call = _Call(time.monotonic() + timeout, service)
        call.waiting = [frames]
        self._oneways.append((client, call))

    def _release_oneways(self, drop: bool = False) -> None:
        """Hand the oneway requests waiting to the servers now there, and forget
        those whose deadline passed (each second's sweep runs it too); with
        ``drop`` (the broker closes), drop them all."""
        oneways, self._oneways = self._oneways, []
        now = time.monotonic()
        for client, call in oneways:
            frames = call.waiting
            assert frames is not None
            if call.expires <= now and not drop:
                self._unwait(client, call)
                self.stats.expired += 1
                continue
            server = None if drop else self._pick(call.service)
            if server is None and not drop and not self._unserved(call.service):
                self._oneways.append((client, call))
                continue
            self._unwait(client, call)
            self._untracked_to(server, frames[0])

    def _hand_untracked(self, frames: list[Any], service: str | None) -> None:
        self._untracked_to(self._pick(service), frames)

    def _untracked_to(self, server: _Server | None, frames: list[Any]) -> None:
        """Send an unfollowed message to ``server``; drop it if there is none
        or its pipe is full."""
        if server is None or self._to_server(server, frames) == _FULL:
            self.stats.dropped += 1

    def _to_server(
        self,
        server: _Server,
        frames: list[Any],
        call: tuple[bytes, int] | None = None,
    ) -> int:
        """Send a message (of ``call``, if the broker follows it) to ``server``:
        :data:`_SENT` (or held for its batch), :data:`_FULL` (its pipe has no
        room) or :data:`_GONE` (its connection is gone: it is lost)."""
        try:
            self._back_out.send(server.identity, frames, call)
        except zmq.Again:
            return _FULL
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            self._lose(server, "its connection is gone")
            return _GONE
        return _SENT

    def _to_call_server(
        self, client: bytes, call_id: int, call: _Call, frames: list[Any]
    ) -> bool:
        """Send a message of a followed call to its server; whether it went. One
        that cannot go (the server's pipe is full) breaks the call."""
        assert call.server is not None
        outcome = self._to_server(call.server, frames, (client, call_id))
        if outcome == _FULL:
            error = ResourceExhausted(
                "the server running this call has a full queue: a message of the "
                "call could not be passed on, so the call was cancelled"
            )
            self._break(client, call_id, call, error)
        return outcome == _SENT

    def _break(self, client: bytes, call_id: int, call: _Call, error: RpcError) -> None:
        """A message of the call was lost: fail it at the client (if it can take
        the reply), cancel it at its server (if it has room), and drop whatever
        else arrives for it until it is forgotten."""
        # Counted before the client's reply goes: whoever reads the stats once
        # the reply came (a test, a dashboard) finds the call counted.
        self.stats.broken += 1
        server = call.server
        if server is not None:
            server.calls.discard((client, call_id))
            self._cancel_at(server, client, call_id)
        self._unwait(client, call)
        call.server = None
        call.broken = True
        # Kept only to drop what still comes for it: for a grace, not until a
        # deadline it may not have.
        call.expires = min(call.expires, time.monotonic() + EXPIRY_GRACE)
        self._reply_error(client, call_id, error)

    def _server_batch_failed(
        self, identity: bytes, calls: list[Any], exc: zmq.ZMQError
    ) -> None:
        """A batch for a server could not go: as for each of its messages alone."""
        server = self._servers.get(identity)
        self.stats.dropped += sum(1 for call in calls if call is None)
        if server is None:
            return
        if exc.errno == zmq.EHOSTUNREACH:
            self._lose(server, "its connection is gone")
            return
        error = ResourceExhausted(
            "the server running this call has a full queue: a message of the "
            "call could not be passed on, so the call was cancelled"
        )
        for key in calls:
            call = None if key is None else self._calls.get(key)
            if call is not None and call.server is server and not call.broken:
                self._break(key[0], key[1], call, error)

    def _client_batch_failed(
        self, client: bytes, messages: list[Any], exc: zmq.ZMQError
    ) -> None:
        """A batch for a client could not go: as for each of its messages alone."""
        self.stats.dropped += len(messages)
        for tag in messages:
            if tag is None:
                continue
            call_id, reply, followed = tag
            call = self._calls.get((client, call_id))
            if reply:
                self.stats.replies -= 1  # counted when it was held
            elif call is not None and call is followed and not call.broken:
                if exc.errno == zmq.EHOSTUNREACH:
                    self._cancel_for_gone_client(client, call_id, call)
                else:
                    error = ResourceExhausted(
                        "this client does not read its messages: one could not "
                        "be passed on, so the call was cancelled"
                    )
                    self._break(client, call_id, call, error)

    def _from_server(self, frames: list[Any]) -> None:
        """``[server, b"", header]`` (READY, LEAVING) or ``[server, client, b"",
        attachments…, header, body]`` for a client."""
        first = frames[0]
        self._back_out.learn(first)
        identity = first.bytes
        if len(frames) == 3 and len(frames[1]) == 0:
            self._on_control(identity, frames)
            return
        if len(frames) < 4:
            self.stats.dropped += 1
            return
        if not len(frames[1]):
            # A server's message for a client names the client before the
            # delimiter; a client's own request starts with the delimiter.
            self._from_client_on_back(frames)
            return
        client = frames[1].bytes
        head = _head(frames)
        if (head[0] == KIND_BATCH) if head is not None else _peer_batch(frames):
            self._on_batch(frames, 2, self._from_server)
            return
        reply = head is not None and head[0] == KIND_REPLY
        call = None
        if head is not None:
            call = self._calls.get((client, head[1]))
            if call is not None and call.broken:
                if reply:
                    self._end(client, head[1])  # the server is done with it too
                self.stats.dropped += 1
                return
            if call is not None and (
                call.server is None or call.server.identity != identity
            ):
                # A call this broker gave another server (or none yet): a
                # message for it from this one is a late reply of a server the
                # call left, or a forgery of a peer that learned the client's
                # identity from its own calls. Neither may reach the caller.
                self.stats.dropped += 1
                return
        elif self._forged(client, identity, frames[-2]):
            self.stats.dropped += 1
            return
        if reply and call is not None:
            assert head is not None
            self._end(client, head[1])
        tag = None if head is None else (head[1], reply, call)
        # A reply is counted before it can reach its client (this runs in the
        # broker's thread), and uncounted if it does not go.
        self.stats.replies += reply
        try:
            self._front_out.send(client, frames[2:], tag)
        except zmq.Again:
            self.stats.replies -= reply
            self.stats.dropped += 1
            if call is not None and not reply:
                assert head is not None
                error = ResourceExhausted(
                    "this client does not read its messages: one could not be "
                    "passed on, so the call was cancelled"
                )
                self._break(client, head[1], call, error)
            return
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            self.stats.replies -= reply
            self.stats.dropped += 1
            if call is not None and not reply:
                assert head is not None
                self._cancel_for_gone_client(client, head[1], call)
            return

    def _from_client_on_back(self, frames: list[Any]) -> None:
        """A client's message on the backend: its requests are answered
        ``UNAVAILABLE`` naming the mistake, rather than left to their deadline."""
        self.stats.dropped += 1
        self._client_on_back(_SWAPPED)
        head = _head(frames)
        if head is None:
            return
        if head[0] == KIND_BATCH:
            try:
                headers = [header for header, _ in split_batch(frames[-2], frames[-1])]
            except ProtocolError:
                return
        else:
            headers = [frames[-2].bytes]
        error = Unavailable(
            "this endpoint is a broker's backend, where servers connect (uvrpc "
            "serve --connect); connect clients to the broker's frontend"
        )
        body = encode_error_body(error)
        for header in headers:
            fields = _fields_of(header)
            if fields is None or fields[1] != KIND_REQUEST:
                continue
            call_id = fields[2]
            if call_id <= ONEWAY_CALL_ID:
                continue
            reply = [DELIMITER, encode_reply_header(call_id, error.status), body]
            try:
                self._back_out.send(frames[0].bytes, reply)
            except zmq.ZMQError:
                return

    def _forged(self, client: bytes, identity: bytes, header: Any) -> bool:
        """Whether a server's message whose header this broker does not read
        (another protocol version, or an element malformed) names a call of
        ``client`` that is not this server's, or that broke. Its client still
        reads the call id in it, the same in every version, and would take it
        for that call's answer (an error reply of any version, or a failure
        naming the call): from a server the call left, or a peer forging it,
        it must not reach the caller, as a message this broker reads does not."""
        call_id = _any_call_id(header if type(header) is bytes else header.bytes)
        call = None if call_id is None else self._calls.get((client, call_id))
        return call is not None and (
            call.broken or call.server is None or call.server.identity != identity
        )

    def _cancel_for_gone_client(self, client: bytes, call_id: int, call: _Call) -> None:
        """A stream's message found its client gone: cancel the call for it."""
        server = call.server
        self._end(client, call_id)
        if server is None:
            return
        self._cancel_at(server, client, call_id)

    def _cancel_at(self, server: _Server, client: bytes, call_id: int) -> None:
        """Send ``server`` a CANCEL of the call, as its client would."""
        cancel = [client, DELIMITER, encode_stream_header(KIND_CANCEL, call_id)]
        if self._to_server(server, [*cancel, NIL_BODY]) == _FULL:
            self.stats.dropped += 1  # the call's deadline still ends it there

    def _on_control(self, identity: bytes, frames: list[zmq.Frame]) -> None:
        try:
            # Read as any header is: a later element does not matter.
            fields = decode_header(frames[2].bytes, "control message")
            kind = fields[1]
        except Exception:  # noqa: BLE001 - anything malformed is dropped alike
            self.stats.dropped += 1
            return
        if kind == KIND_READY:
            try:
                fd = frames[0].get(zmq.SRCFD)
            except zmq.ZMQError:
                fd = -1  # inproc://: no descriptor, and no connection to lose
            self._ready(identity, fd, ready_services(fields))
        elif kind == KIND_LEAVING:
            server = self._servers.get(identity)
            if server is not None:
                server.leaving = True
                running = len(server.calls)
                _log.info(
                    "a server is leaving: %d call%s still run%s",
                    running,
                    "" if running == 1 else "s",
                    "s" if running == 1 else "",
                )
        else:
            self.stats.dropped += 1

    def _ready(self, identity: bytes, fd: int, services: frozenset[str] | None) -> None:
        server = self._servers.get(identity)
        if server is None:
            previous = self._by_fd.get(fd)
            if previous is not None and previous != identity:
                # The descriptor was reused: its former server's connection closed,
                # and the monitor's word of it, still to come, is not about this one.
                lost = self._servers.get(previous)
                if lost is not None:
                    self._lose(lost, "its connection is gone")
                self._stale_fds.add(fd)
            server = self._servers[identity] = _Server(identity, fd)
            _log.info("a server connected (%d now)", len(self._servers))
        elif server.fd != fd:
            if self._by_fd.get(server.fd) == identity:
                del self._by_fd[server.fd]
            server.fd = fd
        server.leaving = False
        if services != server.services:
            server.services = services
            if services is not None:
                self._known.update(services)
                _log.info("a server serves %s", ", ".join(sorted(services)))
        if fd >= 0:
            self._by_fd[fd] = identity
        if self._waiting:
            self._release_waiting()

    def _release_waiting(self) -> None:
        for (client, call_id), call in list(self._calls.items()):
            if call.waiting is not None:
                self._dispatch(client, call_id, call, call.waiting[0])
        if self._oneways:
            self._release_oneways()

    def _on_event(self, frames: list[zmq.Frame]) -> None:
        event = parse_monitor_message([frame.bytes for frame in frames])
        fd = event["value"]
        if fd in self._stale_fds:
            self._stale_fds.discard(fd)  # its server was let go at its reuse
            return
        identity = self._by_fd.pop(fd, None)
        if identity is not None:
            server = self._servers.get(identity)
            if server is not None:
                self._lose(server, "its connection closed")

    def _lose(self, server: _Server, why: str) -> None:
        """``server`` is gone: fail the calls it had taken."""
        if self._servers.get(server.identity) is server:
            del self._servers[server.identity]
        if self._by_fd.get(server.fd) == server.identity:
            del self._by_fd[server.fd]
        # Said as "a server connected (N now)" is: an operator reading the log
        # sees the servers come and go, an idle one that crashed included.
        if server.calls:
            calls = len(server.calls)
            _log.warning(
                "lost a server with %d call%s in flight (%s; %d now)",
                calls,
                "" if calls == 1 else "s",
                why,
                len(self._servers),
            )
        elif server.leaving:
            _log.info("a server left (%d now)", len(self._servers))
        else:
            _log.warning("lost a server (%s; %d now)", why, len(self._servers))
        error = Unavailable(
            f"the server running this call went away ({why}); it may or may not "
            "have run"
        )
        # Its calls fail together: each client that reads batches is sent its
        # errors as batches of this turn, the first one included, never one
        # alone and the others a moment later; and every one of them is ended
        # and counted before the first batch can leave (a full one goes at once).
        lost = list(server.calls)
        for client, call_id in lost:
            self._end(client, call_id)
        self.stats.failed += len(lost)
        front = self._front_out
        holding, front.hold = front.hold, True
        try:
            for client, call_id in lost:
                self._reply_error(client, call_id, error)
        finally:
            front.hold = holding

    def _end(self, client: bytes, call_id: int) -> None:
        call = self._calls.pop((client, call_id), None)
        if call is None:
            return
        left = self._client_calls.pop(client) - 1
        if left:
            self._client_calls[client] = left
        if call.server is not None:
            call.server.calls.discard((client, call_id))
        else:
            self._unwait(client, call)

    def _reply_error(self, client: bytes, call_id: int, error: RpcError) -> None:
        header = encode_reply_header(call_id, error.status)
        try:
            self._front_out.send(client, [DELIMITER, header, encode_error_body(error)])
        except zmq.ZMQError:
            self.stats.dropped += 1

    def _sweep(self, now: float) -> None:
        """Forget the calls whose callers have long given up on them."""
        for (client, call_id), call in list(self._calls.items()):
            if call.expires <= now:
                self._end(client, call_id)
                self.stats.expired += 1
        if self._oneways:
            self._release_oneways()


# pyzmq's flags are enums, whose arithmetic costs a microsecond a message: the
# broker's loop uses plain ints and its own receive and send loops.
_NOBLOCK = int(zmq.NOBLOCK)


def _recv(sock: zmq.Socket[bytes]) -> list[zmq.Frame]:
    """One message's frames, without copying them.

    Raises:
        zmq.Again: no message is waiting.
    """
    frame = sock.recv(_NOBLOCK, copy=False)
    frames = [frame]
    while frame.more:
        frame = sock.recv(0, copy=False)
        frames.append(frame)
    return frames


def _head(
    frames: list[Any], known: Container[str] = ()
) -> tuple[int, int, int | None, str | None] | None:
    """The kind, call id and (for a request) timeout and service of a message of
    this protocol version; ``None`` for anything else. The header is a received
    ``zmq.Frame``, or ``bytes`` for a message taken from a batch. ``known``: the
    services some server announced (:func:`_service_of`)."""
    if len(frames) < 4:
        return None
    header = frames[-2]
    fields = _fields_of(header if type(header) is bytes else header.bytes)
    if fields is None:
        return None
    if fields[1] != KIND_REQUEST:
        return fields[1], fields[2], None, None
    route = fields[3]
    service = _service_of(route, fields, known) if type(route) is str else None
    timeout = fields[4] if len(fields) > 4 else None
    return fields[1], fields[2], timeout if type(timeout) is int else None, service


def _peer_batch(frames: list[Any]) -> bool:
    """Whether a message whose header :func:`_head` does not read is a batch to
    the peer it would go to, which reads only a batch header's version and kind
    (:func:`~uvrpc.wire.batch.is_batch_header`: ``[3, 9, "x", 1]``). It is taken
    as a batch here too: passed on, its calls would go unfollowed (past their
    client's share), and held with other messages into a batch of the broker's
    it would make the peer drop them all, other servers' replies included."""
    if len(frames) < 4:
        return False  # no header and body after an envelope: no batch either
    header = frames[-2]
    return is_batch_header(header if type(header) is bytes else header.bytes)


def _request(
    header: bytes, known: Container[str] = ()
) -> tuple[int, int | None, str] | None:
    """The call id, timeout and service of a request header of this protocol
    version, as :func:`_head` reads them; ``None`` for any other header (or a
    request whose route is not a string)."""
    fields = _fields_of(header)
    if fields is None or fields[1] != KIND_REQUEST or type(fields[3]) is not str:
        return None
    timeout = fields[4] if len(fields) > 4 else None
    return (
        fields[2],
        timeout if type(timeout) is int else None,
        _service_of(fields[3], fields, known),
    )


_ASKING = frozenset({"uvrpc.Health", "uvrpc.Reflection"})
"""The built-in services every server answers, whose calls ask about a service
(``services.health.HEALTH_SERVICE``, ``services.reflection.REFLECTION_SERVICE``,
spelt out: the broker, which judges no service, imports none)."""


def _service_of(route: str, fields: list[Any], known: Container[str]) -> str:
    """The service whose servers may take a request of ``route``: the route's
    own, or for a health check or a description whose metadata names a service
    some server announced (``known``) in :data:`ABOUT_SERVICE`, that service. A
    server of another service would answer SERVICE_UNKNOWN or NOT_FOUND about
    it, though a server of it is connected."""
    service = route_service(route)
    if service in _ASKING and len(fields) > 6 and type(fields[6]) is dict:
        about = fields[6].get(ABOUT_SERVICE)
        if type(about) is str and about in known:
            return about
    return service


def _reply(header: bytes) -> int | None:
    """The call id of a reply header of this protocol version, as :func:`_head`
    reads it; ``None`` for any other header."""
    fields = _fields_of(header)
    if fields is None or fields[1] != KIND_REPLY:
        return None
    return cast(int, fields[2])


_SWAPPED = (
    "servers connect to the backend (uvrpc serve --connect BACKEND) and clients "
    "to the frontend; are the two endpoints swapped?"
)


def _is_server_control(frames: list[Any]) -> bool:
    """Whether ``frames``, from the frontend, are a server's READY or LEAVING
    (``[peer, b"", header]``): a server connected to the wrong endpoint."""
    if len(frames) != 3 or len(frames[1]):
        return False
    fields = _fields_of(frames[2].bytes)
    return fields is not None and fields[1] in (KIND_READY, KIND_LEAVING)


def _any_call_id(header: bytes) -> int | None:
    """The call id a client reads in a header of any protocol version, even one
    whose other elements are malformed (see :func:`_fields_of` for the headers
    this broker follows); ``None`` if it names no call."""
    try:
        fields = decode_header(header, "message")
    except MalformedHeader as exc:
        return exc.call_id
    except Exception:  # noqa: BLE001 - not a header: it names no call
        return None
    if type(fields) is list and len(fields) >= 4 and type(fields[2]) is int:
        return fields[2]
    return None


def _fields_of(header: bytes) -> list[Any] | None:
    """The fields of a header of this protocol version, with an integer kind and
    call id; ``None`` for any other header."""
    try:
        # Read as a server reads it, so that the broker follows exactly the
        # calls a server answers: an element after those this version reads
        # does not matter, and a header a server drops is not followed.
        fields = decode_header(header, "message")
    except Exception:  # noqa: BLE001 - not a header: not ours to judge
        return None
    if (
        type(fields) is not list
        or len(fields) < 4
        or type(fields[0]) is not int
        or fields[0] != PROTOCOL_VERSION
        or type(fields[1]) is not int
        or type(fields[2]) is not int
    ):
        return None
    return fields


def run_broker(
    frontends: Sequence[str],
    backends: Sequence[str],
    security: ServerSecurity | None = None,
    backend_security: ServerSecurity | None = None,
    *,
    allow_shared_keys: bool = False,
    max_calls_per_client: int = MAX_CALLS_PER_CLIENT,
    max_waiting_per_client: int | None = None,
    grace: float = 0.0,
) -> None:
    """Run a broker until SIGINT, SIGTERM or SIGHUP (``uvrpc broker``); print each bound
    endpoint first, frontends then backends, one a line. ``security`` secures the
    frontend (the clients' allow-list), ``backend_security`` the backend (the
    servers'); ``grace`` is :meth:`Broker.close`'s, which a Ctrl-C meanwhile cuts
    short; the other arguments are :class:`Broker`'s."""
    with (
        stop_on_signals() as stop,
        Broker(
            frontends,
            backends,
            security=security,
            backend_security=backend_security,
            allow_shared_keys=allow_shared_keys,
            max_calls_per_client=max_calls_per_client,
            max_waiting_per_client=max_waiting_per_client,
        ) as broker,
    ):
        for endpoint in (*broker.frontends, *broker.backends):
            print(endpoint, flush=True)
        while not stop.wait(1.0):
            pass
        if grace:
            with on_ctrl_c() as again:
                broker.close(grace, cut=again)
                if again.is_set():
                    print(
                        "uvrpc: signalled again: dropping the calls still in flight",
                        file=sys.stderr,
                        flush=True,
                    )
