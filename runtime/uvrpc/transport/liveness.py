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

from dataclasses import dataclass
from typing import Any

import zmq

__all__ = ["Heartbeat"]


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
        if self.interval <= 0 or self.timeout <= 0:
            raise ValueError("a heartbeat's interval and timeout must be positive")
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
