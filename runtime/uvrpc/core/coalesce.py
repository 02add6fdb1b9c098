"""When several messages for one peer travel as one batch: the rule, once.

A sender (either client, the server) offers each message it is about to send to a
:class:`Coalescer`, keyed by the peer it goes to, and calls
:meth:`Coalescer.end_turn` once the turn of its loop that offered them is over:

* the first message for a peer in a turn goes at once, alone: nothing ever waits
  for a batch to fill, so a lone call costs what it did; unless the shell said
  that several are on their way and must arrive together
  (:meth:`Coalescer.expect`: the broker failing a lost server's calls). Clients
  and servers do not use it: a train of calls that travels whole from hop to hop
  keeps one train in flight, and client and server take turns; the lone first
  message splits a train in two at every hop, so one side works on one part
  while the other makes the next (``docs/performance.md``, "Batches");
* the later ones of the same turn are held, copied into one batch
  (:class:`~uvrpc.wire.batch.BatchBuilder`), which goes at the end of the turn,
  or as soon as it is full (:data:`BATCH_MESSAGES` messages, or
  :data:`BATCH_BYTES` bytes), so that the peer starts on it while the turn goes
  on;
* a message that cannot join a batch (it has attachments, or is as large as one)
  goes alone, after what was held for its peer, so a peer receives every
  message in the order it was sent.

A batch holding one message goes as that message. Sending, and finding out which
peers read batches (:data:`~uvrpc.wire.batch.BATCH_PROPERTY`), are the shell's.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from ..wire.batch import MAX_BATCH, BatchBuilder
from ..wire.buffers import ATTACHMENT_MIN

__all__ = ["BATCH_BYTES", "BATCH_MESSAGES", "Coalescer"]

BATCH_BYTES = 256 * 1024
"""A batch this large goes at once, without waiting for the end of its turn."""

BATCH_MESSAGES = 32
"""A batch of this many messages goes at once, without waiting for the end of its
turn. Far below :data:`~uvrpc.wire.batch.MAX_BATCH`, so that a window of many calls
leaves as several batches: the peer starts on the first while this side makes the
next, where one batch of the whole window would have each side wait while the
other works through it (``docs/performance.md``, "Batches")."""

_NOTHING: list[list[Any]] = []


class _Held:
    """The messages held for one peer in this turn."""

    __slots__ = ("builder", "envelope", "first")

    def __init__(self, envelope: list[Any]) -> None:
        self.envelope = envelope
        self.builder = BatchBuilder()
        self.first: tuple[Any, Any] | None = None

    def message(self) -> list[Any]:
        """What goes on the wire: the one message held, or their batch."""
        builder = self.builder
        if builder.count == 1:
            assert self.first is not None
            return [*self.envelope, *self.first]
        return [*self.envelope, *builder.frames()]


class Coalescer:
    """The messages a sender holds for its peers during one turn of its loop.

    Args:
        max_bytes: a batch whose messages add up to this many bytes goes at once.
        max_count: a batch of this many messages goes at once.
        part_max: a message whose header and body add up to more than this goes
            alone (as large a message gains nothing from sharing one).
    """

    def __init__(
        self,
        *,
        max_bytes: int = BATCH_BYTES,
        max_count: int = BATCH_MESSAGES,
        part_max: int = ATTACHMENT_MIN,
    ) -> None:
        if not 1 <= max_count <= MAX_BATCH:
            raise ValueError(f"max_count must be 1 to {MAX_BATCH}, not {max_count}")
        self.max_bytes = max_bytes
        self.max_count = max_count
        self.part_max = part_max
        self._turn: set[Hashable] = set()
        self._held: dict[Hashable, _Held] = {}
        self._expected: dict[Hashable, int] = {}

    @property
    def turn_open(self) -> bool:
        """Whether a message was offered since the last :meth:`end_turn`."""
        return bool(self._turn)

    def offer(
        self, peer: Hashable, frames: Sequence[Any], end: int
    ) -> tuple[list[list[Any]], bool]:
        """Offer the message ``frames`` for ``peer`` (its envelope ends at index
        ``end``, the delimiter).

        Returns the messages to send first, in order (a batch that filled up, or
        what was held before a message that cannot join one), and whether the
        message was held: if not, the caller sends it itself, after those. A held
        message was copied; its buffers are free again.
        """
        turn = self._turn
        if peer not in turn:
            turn.add(peer)
            expected = self._expected.pop(peer, 0)
            if expected <= 1:
                return _NOTHING, False  # a lone message goes at once
            # One of several on their way: held, with the others, for the turn.
            self._expected[peer] = expected - 1
        elif self._expected:
            expected = self._expected.pop(peer, 0)
            if expected > 1:
                self._expected[peer] = expected - 1
        held = self._held.get(peer)
        size = len(frames[-1]) + len(frames[-2])
        if len(frames) != end + 3 or size > self.part_max:
            if held is None:
                return _NOTHING, False
            del self._held[peer]
            return [held.message()], False
        if held is None:
            envelope = [
                frame if type(frame) is bytes else bytes(frame)
                for frame in frames[: end + 1]
            ]
            held = self._held[peer] = _Held(envelope)
        header, body = frames[-2], frames[-1]
        if held.builder.count == 0:
            header = bytes(header)
            body = bytes(body)
            held.first = (header, body)
        held.builder.add(header, body)
        builder = held.builder
        if builder.count >= self.max_count or builder.size >= self.max_bytes:
            del self._held[peer]
            return [held.message()], True
        return _NOTHING, True

    def expect(self, peer: Hashable, count: int) -> None:
        """Say that ``count`` messages for ``peer`` are on their way this turn
        and should arrive together (errors for calls that failed at once). The
        first of them is then held too, so that they go as one batch, not as one
        message and a batch of the rest; a lone message, expected or not, goes at
        once. What is still expected at the end of a turn is forgotten."""
        self._expected[peer] = self._expected.get(peer, 0) + count

    def release(self, peer: Hashable) -> list[Any] | None:
        """Take what is held for ``peer`` (``None`` if nothing is), to be sent
        before a message its sender sends alone without offering it: the held
        messages came first, and must reach the peer first."""
        held = self._held.pop(peer, None)
        return None if held is None else held.message()

    def end_turn(self) -> list[tuple[Hashable, list[Any]]]:
        """The turn is over: each peer's held messages to send now, as one
        message per peer, and a new turn begins."""
        self._turn.clear()
        self._expected.clear()
        if not self._held:
            return []
        out = [(peer, held.message()) for peer, held in self._held.items()]
        self._held.clear()
        return out

    def forget(self) -> None:
        """Drop what is held (the sender closed)."""
        self._turn.clear()
        self._held.clear()
        self._expected.clear()
