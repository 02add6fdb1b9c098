"""A broker: many clients, many servers, and libzmq moving every message.

Clients connect their channels to the broker's *frontend*, a ROUTER socket; servers
connect to its *backend*, a DEALER socket (:meth:`uvrpc.Server.connect`). libzmq's
proxy, in a thread of its own, forwards between the two without Python touching a
message: the frontend puts the client's identity in front of each request, the
backend hands requests to the connected servers in turn, and a server's reply
carries that identity back, through the backend and the frontend, to its client.
See ``docs/scaling.md`` for the topology and its limits; stream calls are not
served through a broker (:meth:`uvrpc.Server.connect`).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any, Self, cast

import zmq

from .limits import HIGH_WATER_MARK
from .liveness import DEFAULT_HEARTBEAT, Heartbeat

__all__ = ["Broker", "run_broker"]


class Broker:
    """Forward calls between clients and the servers connected to it.

    Args:
        frontends: endpoints clients connect to (``tcp://127.0.0.1:*`` picks a
            port; :attr:`frontends` names it).
        backends: endpoints servers connect to.
        context: the ZeroMQ context; the process-wide one by default.
        hwm: messages queued per peer and direction before ZeroMQ pushes back.
        heartbeat: ZeroMQ heartbeats on every connection, so a peer that vanished
            is noticed; ``None`` turns them off.

    The proxy runs from :meth:`start` until :meth:`close`. Usage::

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
    ) -> None:
        if not frontends or not backends:
            raise ValueError("a broker needs a frontend and a backend endpoint")
        ctx = context if context is not None else zmq.Context.instance()
        self._front: zmq.Socket[bytes] = ctx.socket(zmq.ROUTER)
        self._back: zmq.Socket[bytes] = ctx.socket(zmq.DEALER)
        self._control: zmq.Socket[bytes] = ctx.socket(zmq.PAIR)
        self._command: zmq.Socket[bytes] = ctx.socket(zmq.PAIR)
        self._thread: threading.Thread | None = None
        try:
            for sock in (self._front, self._back):
                sock.setsockopt(zmq.LINGER, 0)
                sock.setsockopt(zmq.SNDHWM, hwm)
                sock.setsockopt(zmq.RCVHWM, hwm)
                if heartbeat is not None:
                    heartbeat.apply(sock)
            for sock in (self._control, self._command):
                sock.setsockopt(zmq.LINGER, 0)
            self.frontends = tuple(_bind(self._front, e) for e in frontends)
            """The frontend endpoints, wildcard ports resolved."""
            self.backends = tuple(_bind(self._back, e) for e in backends)
            """The backend endpoints, wildcard ports resolved."""
            control = f"inproc://uvrpc-broker-control-{id(self):x}"
            self._control.bind(control)
            self._command.connect(control)
        except BaseException:
            self._close_sockets()
            raise

    def start(self) -> None:
        """Start forwarding, in a thread of its own (``with`` does this)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._proxy, name="uvrpc-broker", daemon=True
        )
        self._thread.start()

    def _proxy(self) -> None:
        try:
            zmq.proxy_steerable(self._front, self._back, None, self._control)
        except zmq.ContextTerminated:
            pass

    def close(self) -> None:
        """Stop forwarding and close the sockets. Messages still queued in the
        broker are dropped: their callers get their deadline."""
        if self._thread is not None:
            self._command.send(b"TERMINATE")
            self._thread.join()
            self._thread = None
        self._close_sockets()

    def _close_sockets(self) -> None:
        for sock in (self._front, self._back, self._control, self._command):
            sock.close(linger=0)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _bind(sock: zmq.Socket[bytes], endpoint: str) -> str:
    sock.bind(endpoint)
    return cast(bytes, sock.getsockopt(zmq.LAST_ENDPOINT)).decode()


def run_broker(frontends: Sequence[str], backends: Sequence[str]) -> None:
    """Run a broker until SIGINT or SIGTERM (``uvrpc broker``); print each bound
    endpoint first, frontends then backends, one a line."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {
        signum: signal.signal(signum, on_signal)
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        with Broker(frontends, backends) as broker:
            for endpoint in (*broker.frontends, *broker.backends):
                print(endpoint, flush=True)
            while not stop.wait(1.0):
                pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
