"""Warnings that a peer's messages cause, logged at a bounded rate.

A malformed message from a peer is counted and dropped, and why is worth a
warning: it is most often a bug in the peer. But a broken or hostile peer can
send such messages as fast as the network carries them, and a line for each
(100,000 lines, 12 MB, in four seconds from one peer) would fill the log and its
disk. A :class:`RateLimitedWarning` logs the first at once, then at most one line
per :data:`WARNING_INTERVAL` seconds, which says how many went unlogged since the
last; the counters the drops go to keep the full count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["WARNING_INTERVAL", "RateLimitedWarning"]

WARNING_INTERVAL = 10.0
"""The least time, in seconds, between two lines of one :class:`RateLimitedWarning`."""


class RateLimitedWarning:
    """One kind of warning, logged to ``logger`` at most once per ``interval``
    seconds.

    Args:
        logger: where the warning goes.
        what: what happened, the start of every line ("dropped a malformed batch").
        interval: the least time between two lines.
        clock: the time in seconds (:func:`time.monotonic`).
    """

    __slots__ = ("_clock", "_interval", "_logger", "_next", "_unlogged", "_what")

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        interval: float = WARNING_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._what = what
        self._interval = interval
        self._clock = clock
        self._next = -float("inf")
        self._unlogged = 0

    def __call__(self, why: object) -> None:
        """Warn that it happened again, for this reason, unless a line was
        logged less than ``interval`` seconds ago (then it is only counted)."""
        now = self._clock()
        if now < self._next:
            self._unlogged += 1
            return
        self._next = now + self._interval
        unlogged, self._unlogged = self._unlogged, 0
        if unlogged:
            self._logger.warning(
                "%s: %s (and %d more since the last warning)",
                self._what,
                why,
                unlogged,
            )
        else:
            self._logger.warning("%s: %s", self._what, why)
