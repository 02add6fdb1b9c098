"""The options every uvrpc socket gets: high-water marks and the size backstop."""

from __future__ import annotations

import zmq

from ..wire.limits import BACKSTOP_FACTOR

__all__ = ["configure_socket"]


def configure_socket(sock: zmq.Socket[bytes], max_message_size: int, hwm: int) -> None:
    """Set a socket's high-water marks and its ``MAXMSGSIZE`` backstop."""
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.RCVHWM, hwm)
    sock.setsockopt(zmq.MAXMSGSIZE, BACKSTOP_FACTOR * max_message_size)
