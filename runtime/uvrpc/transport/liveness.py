"""ZeroMQ heartbeats: how a dead peer is noticed without a TCP reset.

A connection whose peer vanished without closing it (a network partition, a host
that lost power, a frozen process) looks idle, not closed: without heartbeats a
call waits for its deadline, or for ever. With them, each side's libzmq I/O thread
sends a PING every ``interval`` seconds on an otherwise quiet connection and closes
the connection when nothing at all arrived for ``timeout`` seconds; the client's
disconnect monitor then fails the calls pending on it with
:class:`~uvrpc.Unavailable`, and the server sees the caller as gone.

PINGs are answered by libzmq's I/O thread, never by Python, so a handler that runs
for minutes — or a loop blocked by one — is not mistaken for a dead peer.
Heartbeats apply to ``tcp://`` and ``ipc://`` connections; ``inproc://`` has no
connection to lose.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import socket
from dataclasses import dataclass
from typing import Any

import zmq

from ..wire.errors import RpcError, Unauthenticated, Unavailable
from ..wire.limits import check_seconds

__all__ = [
    "Heartbeat",
    "Refusal",
    "connection_to",
    "handshake_refusal",
    "monitor_address",
    "monitor_event",
    "tcp_port",
]

Refusal = tuple[type[RpcError], str]
"""Why a server refused a connection's handshake: the error to fail calls with, and
what happened."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """ZeroMQ heartbeat settings of a socket (``ZMQ_HEARTBEAT_*``).

    Attributes:
        interval: seconds between PINGs on a quiet connection.
        timeout: seconds without any traffic after which the connection is
            closed as dead; several intervals, so one lost PING is not fatal.
        ttl: seconds the peer should wait for traffic before closing its side
            (sent in each PING; at most 6553.5); ``timeout`` if ``None``.
    """

    interval: float = 1.0
    timeout: float = 5.0
    ttl: float | None = None

    def __post_init__(self) -> None:
        check_seconds("a heartbeat's interval", self.interval)
        check_seconds("a heartbeat's timeout", self.timeout)
        if self.ttl is not None:
            check_seconds("a heartbeat's ttl", self.ttl)
        if self.timeout < self.interval:
            raise ValueError("a heartbeat's timeout must be at least its interval")
        ttl = self.timeout if self.ttl is None else self.ttl
        if not 0 < ttl <= 6553.5:
            raise ValueError("a heartbeat's ttl must be in (0, 6553.5] seconds")

    def apply(self, sock: zmq.Socket[Any]) -> None:
        """Set the heartbeat options of ``sock`` (before it binds or connects)."""
        ttl = self.timeout if self.ttl is None else self.ttl
        sock.setsockopt(zmq.HEARTBEAT_IVL, _ms(self.interval))
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, _ms(self.timeout))
        sock.setsockopt(zmq.HEARTBEAT_TTL, _ms(ttl))


DEFAULT_HEARTBEAT = Heartbeat()
"""What clients and servers use unless told otherwise: a PING each second, a peer
silent for five seconds is dead."""


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def monitor_event(frame: Any) -> tuple[int, int]:
    """A socket monitor event's number and value (its first frame: a 16-bit
    event number and a 32-bit value)."""
    view = memoryview(frame)
    return int.from_bytes(view[:2], "little"), int.from_bytes(view[2:6], "little")


def handshake_refusal(event: int, value: int) -> Refusal:
    """What a failed handshake (a ``HANDSHAKE_FAILED_*`` monitor event) means to
    the caller."""
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


def connection_to(reported: bytes, endpoint: bytes) -> bool:
    """Whether a socket monitor event's endpoint ``reported`` is that of a
    connection made by connecting to ``endpoint``.

    libzmq names a connection's events after the endpoint as given only until it
    first reconnects; from then on, after the address it resolved:
    ``tcp://broker:5556`` becomes ``tcp://10.0.0.5:5556`` (or
    ``tcp://[::ffff:10.0.0.5]:5556`` on an IPv6 socket). A ``tcp://`` host name
    is therefore resolved here, as libzmq does, when the names differ; an event
    of a connection a client made to this socket names this socket's own
    address, never one a host name it connects to resolves to.
    """
    if reported == endpoint:
        return True
    if not (reported.startswith(b"tcp://") and endpoint.startswith(b"tcp://")):
        return False
    try:
        address, port = _host_port(reported.decode())
        host, given_port = _host_port(endpoint.decode().rpartition(";")[2])
    except (UnicodeDecodeError, ValueError):
        return False
    if port != given_port:
        return False
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:  # a name that no longer resolves names no connection
        return False
    return _plain(address) in {_plain(str(info[4][0])) for info in found}


def tcp_port(endpoint: bytes) -> int | None:
    """The port of a ``tcp://`` endpoint (after its source address, if it has
    one); ``None`` for any other endpoint, or one whose port is no number."""
    if not endpoint.startswith(b"tcp://"):
        return None
    port = endpoint.rpartition(b":")[2]
    return int(port) if port.isdigit() else None


def _host_port(endpoint: str) -> tuple[str, int]:
    """The host and port of ``tcp://host:port`` (brackets of an IPv6 host off)."""
    host, _, port = endpoint.removeprefix("tcp://").rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)


def _plain(address: str) -> str:
    """An IP address in one spelling: an IPv4-mapped IPv6 one as IPv4."""
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return address
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(mapped or ip)


_MONITORS = itertools.count()


def monitor_address() -> str:
    """A fresh ``inproc://`` address for a socket's monitor.

    pyzmq's default names it after the socket's file descriptor, which a new
    socket may reuse while a closed one still lingers with its monitor bound.
    """
    return f"inproc://uvrpc-monitor-{os.getpid()}-{next(_MONITORS)}"
