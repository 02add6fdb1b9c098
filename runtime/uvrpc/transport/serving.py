"""Which endpoints the servers running on each asyncio loop serve.

A blocking call made on the thread of a running loop blocks that loop until it
returns; when it calls a server that the same loop runs, the server can never
answer it, and the call waits for its deadline (for ever without one) while
ZeroMQ keeps the connection alive. The blocking client asks this table before
such a call and refuses it at once instead (:func:`check_not_served_here`).
"""

from __future__ import annotations

import asyncio
import weakref
from asyncio.events import _get_running_loop
from collections.abc import Callable, Iterable

__all__ = ["check_not_served_here", "serving", "stopped_serving"]

Endpoints = Callable[[], Iterable[str]]
"""What a server answers for the endpoints it is bound to now."""

_SERVED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, Endpoints]] = (
    weakref.WeakKeyDictionary()
)


def serving(loop: asyncio.AbstractEventLoop, key: int, endpoints: Endpoints) -> None:
    """A server (``key``: its ``id``) started serving on ``loop``; ``endpoints``
    names what it is bound to whenever asked."""
    _SERVED.setdefault(loop, {})[key] = endpoints


def stopped_serving(loop: asyncio.AbstractEventLoop, key: int) -> None:
    """The server ``key`` stopped serving on ``loop``."""
    servers = _SERVED.get(loop)
    if servers is not None:
        servers.pop(key, None)
        if not servers:
            del _SERVED[loop]


def check_not_served_here(endpoint: str, route: str) -> None:
    """Refuse a blocking call of ``route`` to ``endpoint`` made on the thread of
    a running loop that serves that endpoint itself.

    Raises:
        RuntimeError: it is such a call; it could never be answered.
    """
    loop = _get_running_loop()
    if loop is None:
        return
    servers = _SERVED.get(loop)
    if not servers:
        return
    for endpoints in list(servers.values()):
        if any(_reaches(endpoint, served) for served in endpoints()):
            raise RuntimeError(
                f"a blocking call of {route} to {endpoint}, which a server on this "
                "thread's running asyncio loop serves: the loop cannot answer while "
                "the call blocks it, so the call would never return. On the loop, "
                "use the asyncio client (await client.method(...)); or make the "
                "blocking call from another thread (await asyncio.to_thread(...))"
            )


_LOOPBACK = frozenset({"localhost", "::1"})
_ANY = frozenset({"0.0.0.0", "::", "*"})


def _reaches(endpoint: str, served: str) -> bool:
    """Whether a client connected to ``endpoint`` reaches a server bound to
    ``served`` (as the server reports it): the same text, or a tcp port of this
    host that a server bound to all addresses or to the loopback one listens on
    (``tcp://localhost:5555`` or ``tcp://127.0.0.1:5555`` reaches a server bound
    to ``tcp://0.0.0.0:5555``). Named by another of this host's addresses, it is
    not recognised."""
    if endpoint == served:
        return True
    client, server = _tcp(endpoint), _tcp(served)
    if client is None or server is None or client[1] != server[1]:
        return False
    if client[0] == server[0]:
        return True
    if not _loopback(client[0]):
        return False
    # 127.0.0.1 and 127.0.0.2 are two addresses; localhost is either loopback one.
    return server[0] in _ANY or (
        _loopback(server[0]) and "localhost" in (client[0], server[0])
    )


def _tcp(endpoint: str) -> tuple[str, str] | None:
    """The host and port of a ``tcp://`` endpoint (its destination, after a
    source address's ``;``)."""
    if not endpoint.startswith("tcp://"):
        return None
    host, _, port = endpoint[6:].rpartition(";")[2].rpartition(":")
    return host.strip("[]").lower(), port


def _loopback(host: str) -> bool:
    return host in _LOOPBACK or host.startswith("127.")
