"""Which ``inproc://`` endpoints a uvrpc server or broker serves, per ZeroMQ context.

A client socket connected over ``inproc://`` gets no handshake and no socket
monitor event, and libzmq ignores ``ZMQ_IMMEDIATE`` for an endpoint nobody has
bound yet: the connection's pipe is made at the connect and takes messages at
once, to hand them to whichever socket binds the endpoint next. A channel that
trusted it would queue a request for a server that is not there, wait for its
deadline instead of failing fast, and have the request run by a server that binds
later, after its caller gave up.

So the sockets uvrpc binds (:func:`uvrpc.transport.sockets.bind`: servers and
brokers) are recorded here, and a client counts an ``inproc://`` endpoint as
connected only while the socket it reaches is one of them, open: its
:class:`InprocTarget` says so. libzmq attaches an inproc connection to the socket
bound to its endpoint when it connects, or else to the next one to bind it, and
never to another after that one closes; each bind of an endpoint is numbered, and
a target knows which number it reaches. A socket bound by plain pyzmq is not
recorded: a channel to it waits for a uvrpc server, as it would for any server
that is not there.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import Any, Protocol

import zmq

__all__ = ["InprocListener", "InprocTarget", "inproc_bound", "inproc_released"]


class InprocListener(Protocol):
    """Told, on the thread that bound or released it, that an ``inproc://``
    endpoint it is connected to was bound or released."""

    def inproc_changed(self) -> None:
        """An endpoint of this listener was bound or released."""


@dataclass(eq=False)
class _Endpoint:
    binds: int = 0
    """How many times a uvrpc socket bound the endpoint."""
    sock: weakref.ref[zmq.Socket[Any]] | None = None
    """The socket that bound it last, until it is released."""
    listeners: weakref.WeakSet[Any] = field(default_factory=weakref.WeakSet)


_LOCK = threading.Lock()
_ENDPOINTS: dict[tuple[int, str], _Endpoint] = {}
_DROPPED: list[tuple[tuple[int, str], _Endpoint]] = []
"""The entries of listeners collected unclosed, to forget under ``_LOCK``."""


def _key(context: zmq.Context[Any], endpoint: str) -> tuple[int, str]:
    # The libzmq context itself: a zmq.asyncio.Context and its plain shadow share
    # their inproc endpoints.
    return context.underlying, endpoint


def _notify(listeners: list[Any]) -> None:
    for listener in listeners:
        listener.inproc_changed()


def inproc_bound(sock: zmq.Socket[Any], endpoint: str) -> None:
    """Record that ``sock`` (a server's or a broker's) bound ``endpoint``."""
    with _LOCK:
        _forget_dropped()
        entry = _ENDPOINTS.setdefault(_key(sock.context, endpoint), _Endpoint())
        entry.binds += 1
        entry.sock = weakref.ref(sock)
        listeners = list(entry.listeners)
    _notify(listeners)


def inproc_released(sock: zmq.Socket[Any]) -> None:
    """Record that ``sock`` was closed: the endpoints it bound are served no more."""
    listeners: list[Any] = []
    with _LOCK:
        for key, entry in list(_ENDPOINTS.items()):
            if entry.sock is not None and entry.sock() is sock:
                entry.sock = None
                listeners.extend(entry.listeners)
                if not entry.listeners:
                    del _ENDPOINTS[key]
    _notify(listeners)


class InprocTarget:
    """What a client socket connected to an ``inproc://`` endpoint reaches.

    Make it just before the socket connects: it reaches the uvrpc socket bound
    to the endpoint then, or else the next one to bind it.
    """

    __slots__ = ("_entry", "_finalizer", "_key", "_listener", "_reaches", "endpoint")

    def __init__(
        self, context: zmq.Context[Any], endpoint: str, listener: InprocListener
    ) -> None:
        self.endpoint = endpoint
        """The endpoint, as given."""
        self._key = _key(context, endpoint)
        self._listener = listener
        with _LOCK:
            _forget_dropped()
            entry = self._entry = _ENDPOINTS.setdefault(self._key, _Endpoint())
            entry.listeners.add(listener)
            self._reaches = entry.binds if _open(entry) else entry.binds + 1
        # A listener dropped unclosed (a channel never closed) forgets its
        # endpoint too, rather than leave its entry behind for ever.
        # (Its finalizer may run in a garbage collection while _LOCK is held: it
        # only queues the entry, for the next holder of the lock.)
        self._finalizer = weakref.finalize(
            listener, _DROPPED.append, (self._key, entry)
        )

    def up(self) -> bool:
        """Whether the uvrpc socket this reaches is bound and open."""
        entry = self._entry
        return entry.binds == self._reaches and _open(entry)

    def close(self) -> None:
        """Stop telling the listener."""
        self._finalizer.detach()
        with _LOCK:
            self._entry.listeners.discard(self._listener)
            _forget(self._key, self._entry)


def _forget(key: tuple[int, str], entry: _Endpoint) -> None:
    """Drop ``entry`` if nothing serves its endpoint and nobody listens (with
    ``_LOCK`` held)."""
    if (
        entry.sock is None
        and not any(True for _ in entry.listeners)
        and _ENDPOINTS.get(key) is entry
    ):
        del _ENDPOINTS[key]


def _forget_dropped() -> None:
    """Forget the entries of listeners dropped unclosed (with ``_LOCK`` held)."""
    while _DROPPED:
        _forget(*_DROPPED.pop())


def _open(entry: _Endpoint) -> bool:
    ref = entry.sock
    if ref is None:
        return False
    sock = ref()
    return sock is not None and not sock.closed
