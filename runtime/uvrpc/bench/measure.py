"""Timing one client's calls: warm-up excluded, a fixed window, latency percentiles.

A client loop calls :meth:`Meter.record` after each reply. The meter ignores calls
until the warm-up has passed, counts calls (and, when asked, each call's latency)
during the window, and says when the window is over.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from typing_extensions import Buffer

from .spec import ClientSpec

__all__ = ["Meter", "Result", "percentile", "same_payload"]


@dataclass
class Result:
    """What one client process measured in one window."""

    calls: int = 0
    """Calls completed inside the window."""
    seconds: float = 0.0
    """Length of the window."""
    mismatches: int = 0
    """Replies that were not the payload sent (must stay 0)."""
    latencies_us: list[float] = field(default_factory=list)
    """Per-call latency in µs, if recorded (one call in flight only)."""

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        return asdict(self)


def same_payload(reply: Buffer, payload: bytes) -> bool:
    """Whether a reply holds exactly the payload sent, checked the same way for
    every system.

    ``memoryview == bytes`` compares element by element (3 ms for 1 MiB on the
    reference machine) where ``bytes == bytes`` is one ``memcmp``; a prefix test
    of equal lengths is a ``memcmp`` for any buffer (16 µs for 1 MiB).
    """
    view = memoryview(reply)
    return view.nbytes == len(payload) and payload.startswith(view)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``sorted_values`` lie (nearest rank)."""
    if not sorted_values:
        return float("nan")
    index = min(
        len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1)
    )
    return sorted_values[index]


class Meter:
    """Counts calls inside a window that starts after a warm-up.

    A window holds at least one call: when none ended inside it, the first to end
    after it is counted and closes it there.

    Args:
        start_at: ``time.time()`` at which warm-up begins (so that several client
            processes start together); ``None`` starts now.
        warmup: seconds of calls that are not counted.
        duration: seconds of the measured window.
        latencies: whether to record each call's latency.
        calls: calls after which the window closes early; ``None``: no limit.
    """

    def __init__(
        self,
        *,
        start_at: float | None,
        warmup: float,
        duration: float,
        latencies: bool,
        calls: int | None = None,
    ) -> None:
        now_wall, now = time.time(), time.perf_counter()
        begin = now if start_at is None else now + max(0.0, start_at - now_wall)
        self.begin = begin
        self.window_start = begin + warmup
        self.window_end = self.window_start + duration
        self.record_latencies = latencies
        self.calls = calls
        self.result = Result()
        self._started: float | None = None

    @classmethod
    def for_spec(cls, spec: ClientSpec) -> Meter:
        """The meter of one measurement."""
        return cls(
            start_at=spec.start_at,
            warmup=spec.warmup,
            duration=spec.duration,
            latencies=spec.latencies,
            calls=spec.calls,
        )

    def wait_for_start(self) -> None:
        """Sleep until the agreed start time (blocking clients)."""
        delay = self.begin - time.perf_counter()
        if delay > 0:
            time.sleep(delay)

    def record(self, sent_at: float, reply_ok: bool) -> bool:
        """Count one completed call; return whether the window is over."""
        now = time.perf_counter()
        if not reply_ok:
            self.result.mismatches += 1
        if now < self.window_start:
            return False
        over = now >= self.window_end
        if over and self.result.calls:
            return True
        if self._started is None:
            self._started = now
        self.result.calls += 1
        if self.record_latencies:
            self.result.latencies_us.append((now - sent_at) * 1e6)
        if self.calls is not None and self.result.calls >= self.calls:
            over = True
            self.window_end = now
        elif over:
            # The window's first call ended after the window: it closes the window,
            # which a measurement of no call at all would make meaningless (a slow
            # call on a loaded machine, or a window shorter than one call).
            self.window_end = now
        return over

    def finish(self) -> Result:
        """Close the window and return the result."""
        self.result.seconds = self.window_end - self.window_start
        return self.result
