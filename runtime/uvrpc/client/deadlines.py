"""Call deadlines on a wheel of 10 ms slots: one timer per slot, not per call.

A loop timer per call costs a heap entry to schedule and another step to cancel
(about 1.6 µs together, measured in ``docs/performance.md``), and with long timeouts
the cancelled entries pile up in the loop's heap. Calls here instead join the set of
their deadline's slot (0.1 µs), leave it when their reply arrives, and the slot's one
timer expires whatever is left. A deadline fires at the end of its slot: never
early, at most one slot late.

The slots every call has left are dropped, with their timers, when the table has
doubled: otherwise one would stay per 10 ms of traffic until its deadline (an hour
on for an hour's timeout), each holding a set and a loop timer, hundreds of MB for
steady traffic.
"""

from __future__ import annotations

import asyncio
import gc
import math
from collections.abc import Callable

__all__ = ["RESOLUTION", "SWEEP_MIN", "DeadlineWheel", "settle_heap"]

RESOLUTION = 0.01
"""Seconds per slot: how late, at most, a deadline fires."""

SWEEP_MIN = 64
"""Slots a wheel holds before it first sweeps away the empty ones (then it sweeps
whenever their number doubles)."""


class DeadlineWheel:
    """Expire calls at their deadlines.

    Args:
        loop: the loop whose clock and timers are used.
        on_expired: called with the id of each call whose deadline passed while it
            was still registered.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, on_expired: Callable[[int], None]
    ) -> None:
        self._loop = loop
        self._on_expired = on_expired
        self._slots: dict[int, set[int]] = {}
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._sweep_at = SWEEP_MIN

    @property
    def slots(self) -> int:
        """Slots held, each with a loop timer (empty ones not yet swept too)."""
        return len(self._slots)

    def add(self, call_id: int, timeout: float) -> int:
        """Register a call due in ``timeout`` seconds; return its slot."""
        slot = math.ceil((self._loop.time() + timeout) / RESOLUTION)
        calls = self._slots.get(slot)
        if calls is None:
            if len(self._slots) >= self._sweep_at:
                self._sweep()
            calls = self._slots[slot] = set()
            self._timers[slot] = self._loop.call_at(
                slot * RESOLUTION, self._expire, slot
            )
        calls.add(call_id)
        return slot

    def remove(self, call_id: int, slot: int) -> None:
        """Forget a call that completed before its deadline."""
        calls = self._slots.get(slot)
        if calls is not None:
            calls.discard(call_id)

    def _sweep(self) -> None:
        """Drop the slots every call has left, and cancel their timers.

        Cancelling at each slot's last removal would cost a loop timer per call
        again (a call after call, each alone in its slot); a sweep as the table
        doubles costs less than one look per slot added, and keeps at most twice
        the slots that hold calls (the loop drops cancelled timers from its heap
        once they are half of it)."""
        for slot in [slot for slot, calls in self._slots.items() if not calls]:
            del self._slots[slot]
            self._timers.pop(slot).cancel()
        self._sweep_at = max(SWEEP_MIN, 2 * len(self._slots))

    def _expire(self, slot: int) -> None:
        del self._timers[slot]
        for call_id in self._slots.pop(slot):
            self._on_expired(call_id)

    def close(self) -> None:
        """Cancel every timer; registered calls never expire."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._slots.clear()


def settle_heap() -> None:
    """Run the process's first full garbage collection now, if none has run yet.

    The first full collection of a fresh process walks every object its imports
    made (pydantic's, zmq's, the generated modules'), tens of thousands of them:
    10 to 20 ms on an idle host, over 100 ms on a loaded one. Left to itself it comes
    when the first calls allocate enough to trigger it, in the middle of the first
    burst, and holds those calls' deadlines up by as long. The first channel runs
    it when it is made, before any deadline runs; later full collections come only
    after the heap has grown by a quarter, so they are rare. Called again, it
    costs a look at the collector's statistics.
    """
    if gc.isenabled() and gc.get_stats()[2]["collections"] == 0:
        gc.collect()
