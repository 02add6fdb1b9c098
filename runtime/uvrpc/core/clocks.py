"""How long a request waited on its way, from clocks that need not agree.

A timed request carries its client's send stamp
(:func:`uvrpc.wire.protocol.send_stamp`). The server cannot compare it with its
own clock directly: the two hosts' clocks may be seconds apart. What it can
compare is two requests of the same connection. For each request it takes the
*age* of the stamp, its own clock minus the stamp: the transit and queueing time
plus the (unknown) offset between the clocks. The smallest age seen on a
connection is its *baseline*: the offset plus the fastest transit. A request's
age above the baseline is the time it spent in queues (the kernel's, ZeroMQ's, a
broker's, a stopped server's) beyond the fastest request's, and that time counts
against its deadline. The offset cancels out, whatever it is.

The baseline is the minimum over the last one or two windows of
:data:`QUEUE_WINDOW` seconds of traffic, and rises by :data:`DRIFT_ALLOWANCE`
seconds per second between requests (at checkpoints :data:`CHECK_INTERVAL`
apart): so it follows the clocks drifting apart (their rates differ by parts per
million), and a minimum older than two windows is forgotten. A window turns over
only when a request arrives, so neither an idle connection nor a stopped server
loses the baseline that the requests queued meanwhile are measured against.

Both sides stamp from their monotonic clocks (each process's stamp origin is its
wall clock when it started), so a step of either host's wall clock changes
nothing. The first request of a connection has nothing to be compared with: its
queueing time counts as zero.
"""

from __future__ import annotations

from collections.abc import Hashable

__all__ = [
    "CHECK_INTERVAL",
    "DRIFT_ALLOWANCE",
    "MAX_PEERS",
    "QUEUE_WINDOW",
    "QueueClock",
]

QUEUE_WINDOW = 10.0
"""Seconds of traffic after which a connection's baseline starts afresh (it is the
minimum over the last one or two windows)."""

DRIFT_ALLOWANCE = 1e-4
"""Seconds per second that a baseline rises between requests, for the drift
between the client's and the server's clocks (100 ppm; quartz drifts by tens)."""

MAX_PEERS = 4096
"""Callers (connections, clients behind brokers) whose baselines a server keeps;
the oldest is forgotten first (its next request starts a new baseline)."""


CHECK_INTERVAL = 1.0
"""Seconds between the checkpoints of a connection's baseline, where it rises for
drift and its window may turn over; in between a request costs one comparison."""


class QueueClock:
    """The baselines of a server's callers (a connection, or a client behind a
    broker), and the queueing time of each request measured against its
    caller's.

    Args:
        window: seconds of traffic per window (see :data:`QUEUE_WINDOW`).
        drift: the rise of a baseline per second between requests.
        max_peers: callers kept at most.
    """

    __slots__ = ("_drift", "_max_peers", "_window", "peers")

    def __init__(
        self,
        window: float = QUEUE_WINDOW,
        drift: float = DRIFT_ALLOWANCE,
        max_peers: int = MAX_PEERS,
    ) -> None:
        self._window = window
        self._drift = drift
        self._max_peers = max_peers
        self.peers: dict[Hashable, list[float]] = {}
        """Per connection, a list updated in place: ``[the baseline, the next
        checkpoint, this window's minimum, its start, the last window's minimum,
        the last checkpoint]``. Read-only outside: a server reads it inline on
        every timed request (see :meth:`queued`)."""

    def __len__(self) -> int:
        return len(self.peers)

    def queued(self, peer: Hashable, age: float, now: float) -> float:
        """Seconds a request of ``peer`` spent in queues: the age of its stamp
        (``now`` on the server's clock minus the stamp) above the connection's
        baseline, which this request updates; 0 for a connection's first."""
        entry = self.peers.get(peer)
        if entry is not None and now < entry[1] and age >= entry[2]:
            # Every request's path: no new minimum, no checkpoint due.
            age -= entry[0]
            return age if age > 0.0 else 0.0
        return self.update(peer, entry, age, now)

    def update(
        self, peer: Hashable, entry: list[float] | None, age: float, now: float
    ) -> float:
        """:meth:`queued` where the baseline moves: ``entry`` is ``peer``'s (or
        ``None``), and ``age`` is below its window's minimum or a checkpoint is
        due."""
        if entry is None:
            peers = self.peers
            if len(peers) >= self._max_peers:
                del peers[next(iter(peers))]
            peers[peer] = [age, now + CHECK_INTERVAL, age, now, age, now]
            return 0.0
        _, due, current, start, last_window, checked = entry
        if now >= due:
            rise = self._drift * (now - checked)
            current += rise
            last_window += rise
            if now - start >= self._window:
                # A new window: the one that ends is kept as the last.
                last_window = current
                current = age
                start = now
            checked = now
            due = now + CHECK_INTERVAL
        if age < current:
            current = age
        baseline = current if current < last_window else last_window
        entry[:] = (baseline, due, current, start, last_window, checked)
        age -= baseline
        return age if age > 0.0 else 0.0

    def forget(self, peer: Hashable) -> None:
        """Drop a connection's baseline (it closed)."""
        self.peers.pop(peer, None)
