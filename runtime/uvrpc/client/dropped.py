"""What becomes of an asyncio channel its caller dropped without closing it.

The loop a :class:`~uvrpc.Channel` runs on calls it back: its socket's reader, its
monitor's, its deadlines' timers. Held strongly there, a channel the caller
dropped (one made per request, say, and never closed) stayed alive, with its
sockets and their descriptors, for as long as the loop ran: a server that made
one per call ran out of descriptors. So a channel hands its loop callbacks that
hold it weakly (:func:`weakly`), and once it is collected unclosed,
:func:`close_transport_when_dropped` closes its transport on its loop's thread, as a
collected gRPC ``aio`` channel is closed. A call still pending holds its channel
(its future's callback does), so no call is cut short by this.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Callable
from types import MethodType
from typing import Any, Protocol

__all__ = ["Closable", "close_transport_when_dropped", "weakly"]


class Closable(Protocol):
    """A transport, closed at once (it stops watching its socket, then closes it)."""

    def close(self) -> None:
        """Stop watching and close, without lingering."""


_NO_ARGUMENT: Any = object()


def weakly(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` (a bound method of no argument or one), holding its object
    weakly: once the object is collected, a call does nothing and returns
    ``None``."""
    assert isinstance(method, MethodType)
    owner = weakref.ref(method.__self__)
    function = method.__func__

    # One optional argument, not *args: a reply's delivery goes through this,
    # and packing a tuple tripled the wrapper's cost.
    def call(argument: Any = _NO_ARGUMENT) -> Any:
        target = owner()
        if target is None:
            return None
        if argument is _NO_ARGUMENT:
            return function(target)
        return function(target, argument)

    return call


def close_transport_when_dropped(
    owner: object, loop: asyncio.AbstractEventLoop, transport: Closable
) -> weakref.finalize[Any, Any]:
    """Close ``transport`` on ``loop``'s thread once ``owner`` is collected;
    :meth:`weakref.finalize.detach` it once the owner closed it itself.

    The transport's readers are the loop's to remove, and the garbage collector
    may run on any thread: the close is handed to the loop, or done at once if
    the loop is closed (its readers are gone with it). Nothing runs at
    interpreter exit, nor in a forked child, whose sockets are its parent's.
    """
    finalizer = weakref.finalize(owner, _close_dropped, loop, transport, os.getpid())
    finalizer.atexit = False
    return finalizer


def _close_dropped(
    loop: asyncio.AbstractEventLoop, transport: Closable, pid: int
) -> None:
    if os.getpid() != pid:
        return
    if not loop.is_closed():
        try:
            loop.call_soon_threadsafe(transport.close)
            return
        except RuntimeError:  # closed since: close here
            pass
    transport.close()
