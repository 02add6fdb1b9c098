"""The caller's items of a blocking client stream or bidirectional call, read on
a thread of their own.

A blocking bidirectional call must go on taking the server's items while the
caller's iterable of items waits (for a reply, say: a chat), a client stream must
hear its server's reply and its deadline whatever its caller's iterable does, and
a ZeroMQ socket must stay on the thread that uses it. So a :class:`Feeder` thread
reads the caller's iterable a few items ahead (one for a bidirectional call, a
credit's worth for a client stream) and hands them to the thread stepping the
call, which holds the socket meanwhile, encodes and sends the items as the server
grants credit, and waits on the socket and the feeder's pipe together
(``zmq.Poller`` takes a file descriptor), never polling in a loop.
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

__all__ = ["NOTHING", "Feeder", "feeding"]

NOTHING: Any = object()
"""What :meth:`Feeder.take` returns when no item is ready."""


class Feeder:
    """Reads ``items`` on a daemon thread, ``ahead`` items ahead of the caller's
    thread at most.

    The thread runs in a copy of the caller's context. :meth:`stop` lets it go: it
    ends (closing the iterable's iterator) once the item it waits for arrives,
    since nothing can interrupt an iterator blocked in another thread.
    """

    def __init__(
        self, items: Iterable[Any], name: str, owner: object = None, ahead: int = 1
    ) -> None:
        """Start reading ``items`` on a thread named ``name``; ``owner`` (the
        connection of the call fed) is what :func:`feeding` says on it.

        With ``ahead`` above 1 the thread reads on while the caller's thread
        sends, and wakes it only when the first of a run of items is ready: one
        hand-off between the threads for many items, not one per item (each
        costs both threads a wake-up).
        """
        self._ahead = ahead
        self._low = ahead // 2
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        self._turn = threading.Condition(threading.Lock())
        self._ready: deque[Any] = deque()
        self._stopped = False
        self.finished = False
        """The iterable ended or raised (and every item read was taken)."""
        self.error: BaseException | None = None
        """What iterating the caller's items raised."""
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._run, items, owner), name=name, daemon=True
        )
        self._thread.start()

    @property
    def fd(self) -> int:
        """Readable when an item is ready or the items ended."""
        return self._read_fd

    def take(self) -> Any:
        """The next item if one is ready; :data:`NOTHING` otherwise."""
        with self._turn:
            ready = self._ready
            if not ready:
                return NOTHING
            item = ready.popleft()
            if len(ready) == self._low:
                # The reader, waiting for room, reads again once half is taken:
                # in runs, not an item each time one is taken (each wake-up
                # costs both threads a switch).
                self._turn.notify()
            return item

    @property
    def done(self) -> bool:
        """Whether the items ended (:attr:`error` says how) and all were taken."""
        with self._turn:
            return self.finished and not self._ready

    def drain(self) -> bool:
        """Read the pipe's wake-ups, so that it is readable again only on the
        next; return False once the pipe is at its end: the items ended, no
        wake-up follows, and a pipe at its end reads as ready for ever (a
        poller still watching it would spin)."""
        try:
            while os.read(self._read_fd, 4096):
                pass
        except BlockingIOError:
            return True
        return False

    def stop(self) -> None:
        """Stop reading the caller's items; release the pipe's read end."""
        with self._turn:
            if self._stopped:
                return
            self._stopped = True
            self._turn.notify()
        os.close(self._read_fd)

    def _going(self) -> bool:
        return not self._stopped

    def _signal(self) -> None:
        try:
            os.write(self._write_fd, b"\x01")
        except OSError:
            pass  # the caller stopped reading: nobody to wake

    def _run(self, items: Iterable[Any], owner: object) -> None:
        _THREAD.feeding = owner
        iterator = None
        try:
            iterator = iter(items)
            ready = self._ready
            while True:
                with self._turn:
                    # Room first: no item is read from the caller's iterable
                    # before there is room for it.
                    while len(ready) >= self._ahead and self._going():
                        self._turn.wait()
                    if not self._going():
                        break
                item = next(iterator, NOTHING)
                if item is NOTHING:
                    break
                with self._turn:
                    if not self._going():
                        break
                    ready.append(item)
                    if len(ready) == 1:
                        # The caller's thread takes every ready item before it
                        # waits again: only the first of a run must wake it.
                        self._signal()
        except BaseException as exc:
            self.error = exc
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # the caller's iterator failed while closing
                    pass
            with self._turn:
                self.finished = True
                self._signal()
            os.close(self._write_fd)


_THREAD = threading.local()


def feeding() -> object:
    """The ``owner`` of the feeder whose thread this is (what its bidirectional
    call runs on), or ``None`` on any other thread."""
    return getattr(_THREAD, "feeding", None)
