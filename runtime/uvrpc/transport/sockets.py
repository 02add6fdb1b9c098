"""The one way uvrpc makes a socket: options every peer's socket gets.

No linger (a closed socket drops what it could not send, and nothing waits for a
peer that is gone), both high-water marks, the ``MAXMSGSIZE`` backstop at twice
the message size limit (``docs/limits.md``), heartbeats, and CURVE when asked.
"""

from __future__ import annotations

from typing import Any, Protocol

import zmq

from ..wire.limits import BACKSTOP_FACTOR
from .liveness import Heartbeat

__all__ = ["SocketSecurity", "configure_socket", "open_socket"]


class SocketSecurity(Protocol):
    """What makes a socket a CURVE server or client (see :mod:`uvrpc.security`)."""

    def apply(self, sock: zmq.Socket[Any]) -> None:
        """Set the socket's CURVE options."""


def configure_socket(sock: zmq.Socket[bytes], max_message_size: int, hwm: int) -> None:
    """Set a socket's high-water marks and its ``MAXMSGSIZE`` backstop."""
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.RCVHWM, hwm)
    sock.setsockopt(zmq.MAXMSGSIZE, BACKSTOP_FACTOR * max_message_size)


def open_socket(
    context: zmq.Context[Any] | None,
    kind: int,
    *,
    max_message_size: int,
    hwm: int,
    heartbeat: Heartbeat | None = None,
    security: SocketSecurity | None = None,
    immediate: bool = False,
) -> zmq.Socket[bytes]:
    """A new socket of ``kind`` (``zmq.DEALER``, ``zmq.ROUTER``) on ``context``
    (the process-wide one by default), with uvrpc's options set.

    ``immediate`` (a client's socket) sets ``ZMQ_IMMEDIATE``: a message is queued
    only for a peer whose connection is up. Without it, a request sent while the
    server is down waits in the socket and is delivered when a server comes back
    (a restarted one, seconds later), after its caller failed at its deadline:
    with it the send finds no room, and the caller waits for room within its
    deadline instead.
    """
    ctx = context if context is not None else zmq.Context.instance()
    sock: zmq.Socket[bytes] = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    if immediate:
        sock.setsockopt(zmq.IMMEDIATE, 1)
    configure_socket(sock, max_message_size, hwm)
    if heartbeat is not None:
        heartbeat.apply(sock)
    if security is not None:
        security.apply(sock)
    return sock
