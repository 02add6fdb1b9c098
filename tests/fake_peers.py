"""Helpers for the tests' hand-made servers: raw ZeroMQ sockets on a thread.

A client's socket sends only to connected servers (``ZMQ_IMMEDIATE``), and with
that option libzmq drops what a connection delivered but the client had not read
yet when that connection drops. A fake server that replies and closes at once
could thus take its reply with it: it closes only once its clients have gone.
"""

from __future__ import annotations

from typing import Any

import zmq

__all__ = ["close_when_gone", "watch_disconnects"]


def watch_disconnects(sock: zmq.Socket[bytes]) -> zmq.Socket[bytes]:
    """A monitor of ``sock``'s disconnections; make it before ``sock`` binds."""
    monitor: zmq.Socket[bytes] = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    monitor.setsockopt(zmq.LINGER, 0)
    return monitor


def close_when_gone(
    sock: zmq.Socket[Any], monitor: zmq.Socket[bytes], clients: int = 1
) -> None:
    """Close ``sock`` once ``clients`` connections dropped (10 s at most each)."""
    try:
        for _ in range(clients):
            if not monitor.poll(10_000):
                break
            monitor.recv_multipart()
    finally:
        sock.disable_monitor()
        monitor.close(linger=0)
        sock.close()
