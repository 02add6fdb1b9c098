"""Spare connections of a blocking channel, lent to threads that find it busy.

A ZeroMQ socket is one thread's at a time, and a blocking call owns its socket
until its reply comes. So that a pool of threads can share one
:class:`~uvrpc.SyncChannel` (as they share one gRPC channel), a thread calling
while another is inside a call borrows a spare: a second connection to the same
endpoint, made on first need and kept for the next borrower. As many are made as
threads ever called at once; none while calls take turns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from ..wire.errors import ChannelClosed

__all__ = ["Spares"]


Spare = TypeVar("Spare")


class Spares(Generic[Spare]):
    """The spare connections of one channel: each lent to one borrower at a time.

    Thread-safe. ``make`` opens a new one (outside the pool's lock: it may take a
    while); ``claim`` takes one for the calling thread, without blocking, and
    says whether it could; ``discard`` closes one made as the pool closed. A
    borrower gets a spare claimed, and gives it back once its call or stream is
    over.
    """

    def __init__(
        self,
        make: Callable[[], Spare],
        claim: Callable[[Spare], bool],
        discard: Callable[[Spare], None],
    ) -> None:
        self._make = make
        self._claim = claim
        self._discard = discard
        # Re-entrant: a stream dropped while the lock is held (a collection
        # run by an allocation under it) gives its spare back on this thread.
        self._lock = threading.RLock()
        self._idle: list[Spare] = []
        self._made: list[Spare] = []
        self._closed = False

    def borrow(self) -> Spare:
        """An idle spare, or a new one if none is idle; claimed for this thread.

        Raises:
            ChannelClosed: the channel is closed (or closed as the spare was
                made, which is then closed too).
        """
        with self._lock:
            if self._closed:
                raise ChannelClosed("the channel is closed")
            while self._idle:
                spare = self._idle.pop()
                if self._claim(spare):  # under the lock: no close between
                    return spare
                # Not expected (a spare is given back once free): left for
                # later, and a new one made.
                self._idle.insert(0, spare)
                break
        spare = self._make()
        if not self._keep(spare):  # the channel closed as it was made
            self._discard(spare)
            raise ChannelClosed("the channel is closed")
        return spare

    def _keep(self, spare: Spare) -> bool:
        """Count a new spare as made, claimed; or not, if the pool closed."""
        with self._lock:
            if self._closed:
                return False
            self._made.append(spare)
            claimed = self._claim(spare)  # new: nobody else knows it yet
        assert claimed
        return True

    def give_back(self, spare: Spare) -> None:
        """Return a borrowed spare for the next borrower (released by the
        borrower's call or stream as it ended)."""
        with self._lock:
            self._idle.append(spare)

    @property
    def made(self) -> list[Spare]:
        """Every spare made, lent or idle, closed with the channel too (a copy)."""
        with self._lock:
            return list(self._made)

    def close(self) -> list[Spare]:
        """Lend no more, and return every spare made (idle or lent) for the
        caller to close."""
        with self._lock:
            self._closed = True
            self._idle = []
            return list(self._made)
