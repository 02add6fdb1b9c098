"""Drive a non-blocking ZeroMQ socket from an asyncio event loop.

ZeroMQ signals readiness through one file descriptor per socket, edge-triggered: it
becomes readable when the socket's events *may* have changed, and any operation on the
socket (a send, reading ``EVENTS``) can consume that edge. So the reactor

* registers the descriptor with the loop and, when woken, receives every message that
  is ready (up to a batch limit, so one busy socket cannot starve other tasks) before
  returning to the loop — no future and no task per received message;
* after every send, checks ``EVENTS`` for input that arrived meanwhile and schedules a
  drain itself, because that input's edge may have been consumed by the send;
* sends without blocking, and only when a send would block (high-water mark reached)
  parks the sender on a future woken when the socket becomes writable.

Client channels and servers share this one piece.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, cast

import zmq

__all__ = ["DRAIN_BATCH", "SocketReactor"]

DRAIN_BATCH = 512
"""Most messages handled per wake-up before yielding to other tasks."""


def _events(sock: zmq.Socket[bytes]) -> int:
    """The socket's ``EVENTS`` bit mask (reading it processes pending commands)."""
    return cast(int, sock.getsockopt(zmq.EVENTS))


class SocketReactor:
    """Receive and send on one ZeroMQ socket from one asyncio loop.

    Args:
        sock: a socket of any type, owned by the caller (the reactor never closes it).
        loop: the loop to run on.
        on_message: called with the frames of each received message, in order.
    """

    def __init__(
        self,
        sock: zmq.Socket[bytes],
        loop: asyncio.AbstractEventLoop,
        on_message: Callable[[list[zmq.Frame]], None],
    ) -> None:
        self._sock = sock
        self._loop = loop
        self._on_message = on_message
        self._fd = cast(int, sock.getsockopt(zmq.FD))
        self._drain_scheduled = False
        self._writers: deque[asyncio.Future[None]] = deque()
        self._closed = False
        loop.add_reader(self._fd, self._on_ready)
        # Input may already be queued, its edge spent before we registered.
        self._schedule_drain()

    def _schedule_drain(self) -> None:
        if not self._drain_scheduled:
            self._drain_scheduled = True
            self._loop.call_soon(self._on_ready)

    def _on_ready(self) -> None:
        self._drain_scheduled = False
        if self._closed:
            return
        recv = self._sock.recv_multipart
        on_message = self._on_message
        for _ in range(DRAIN_BATCH):
            try:
                frames = recv(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                break
            on_message(frames)
        else:
            # More may be waiting; come back after other ready callbacks have run.
            self._schedule_drain()
        if self._writers:
            self._wake_writers()

    def _wake_writers(self) -> None:
        if _events(self._sock) & zmq.POLLOUT:
            while self._writers:
                waiter = self._writers.popleft()
                if not waiter.done():
                    waiter.set_result(None)

    def try_send(self, frames: Sequence[Any]) -> bool:
        """Send one message if the socket can take it now; return whether it did."""
        try:
            self._sock.send_multipart(frames, zmq.NOBLOCK, copy=False)
        except zmq.Again:
            return False
        if _events(self._sock) & zmq.POLLIN:
            self._schedule_drain()
        return True

    async def send(self, frames: Sequence[Any]) -> None:
        """Send one message, waiting while the socket is at its high-water mark."""
        while not self.try_send(frames):
            waiter = self._loop.create_future()
            self._writers.append(waiter)
            # The socket may have become writable between the failed send and now.
            self._schedule_drain()
            await waiter

    def close(self) -> None:
        """Stop watching the socket and release parked senders."""
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._fd)
        while self._writers:
            waiter = self._writers.popleft()
            if not waiter.done():
                waiter.cancel()
