"""What a broker sends through one of its ROUTER sockets, batched per peer.

A broker forwards each message of a batch it received as it would a lone one (its
routing is per call), and sends through an :class:`Outbox` per socket, which applies
:class:`~uvrpc.core.coalesce.Coalescer`'s rule for the peers that read batches: a
peer's first message in a turn of the broker's loop goes at once, the later ones
are held and go as one batch at :meth:`Outbox.end_turn`. A batch is per envelope
(a server is sent one client's messages in a batch, the envelope being shared). A
message that cannot join a batch (one with attachments) goes alone, after what is
held for its peer: a peer gets its messages in the order they were sent.

A held message is reported sent. If its batch later cannot go (the peer's pipe is
full, or the peer is gone), the outbox hands the *tags* its sender gave each
message of it to ``on_failed``, so that the broker does for each what it does for
a lone message that could not go (fail or cancel its call, count it dropped).

A batch received whose messages all go on to one peer can go on as it came
(:meth:`Outbox.forward`): its frames are sent again, without splitting it and
copying each message into a new batch, when the peer reads batches (what was held
for it goes first).
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import zmq

from ..core.coalesce import Coalescer
from ..transport.coalesce import PeerBatches
from ..transport.reactor import frame_sender
from ..wire.batch import batch_count

__all__ = ["Outbox", "send_routed"]

_NOBLOCK = int(zmq.NOBLOCK)
_MORE = int(zmq.SNDMORE)
_MORE_NOBLOCK = _MORE | _NOBLOCK


def send_routed(sock: zmq.Socket[bytes], to: Any, frames: Sequence[Any]) -> None:
    """Send ``[to, *frames]`` from a ROUTER without copying the frames. A ROUTER
    sends a message whole or not at all: only sending ``to`` can fail.

    Raises:
        zmq.Again: the peer's pipe is full.
        zmq.ZMQError: (EHOSTUNREACH) the peer is gone.
    """
    send = frame_sender(sock)
    send(sock, to, _MORE_NOBLOCK, copy=False)
    last = len(frames) - 1
    for n, frame in enumerate(frames):
        send(sock, frame, _MORE if n < last else 0, copy=False)


class Outbox:
    """Sends through a ROUTER socket, coalescing each turn's messages per peer.

    Args:
        sock: the ROUTER socket (with ``ROUTER_MANDATORY`` set).
        end: the index of the delimiter in ``[peer, *frames]`` (1 for a client,
            2 for a server: the client's routing id comes first).
        on_failed: called with the peer, the tags of a held batch's messages and
            the error, when a batch could not be sent.
    """

    __slots__ = (
        "_end",
        "_on_failed",
        "_peers",
        "_rule",
        "_sock",
        "_tags",
        "batches",
        "hold",
    )

    def __init__(
        self,
        sock: zmq.Socket[bytes],
        end: int,
        on_failed: Callable[[bytes, list[Any], zmq.ZMQError], None],
    ) -> None:
        self._sock = sock
        self._end = end
        self._on_failed = on_failed
        self._rule = Coalescer()
        self._peers = PeerBatches()
        self._tags: dict[Hashable, list[Any]] = {}
        self.batches = 0
        """Batches sent (each counts once, however many messages it held)."""
        self.hold = False
        """While set, a peer's first message of the turn is held too (the
        messages come from a batch: more are on their way)."""

    def learn(self, routing_frame: zmq.Frame) -> None:
        """Note whether the peer a message came from reads batches (its routing
        frame, as received on this outbox's socket, tells)."""
        self._peers.peer(routing_frame)

    @property
    def pending(self) -> bool:
        """Whether a message was offered since the last :meth:`end_turn`."""
        return self._rule.turn_open

    def send(self, to: Any, frames: Sequence[Any], tag: Any = None) -> None:
        """Send ``[to, *frames]`` now, or hold it for its peer's batch.

        Raises:
            zmq.Again: (sent now) the peer's pipe is full.
            zmq.ZMQError: (sent now; EHOSTUNREACH) the peer is gone.
        """
        key = to if type(to) is bytes else to.bytes
        end = self._end
        if self._peers.peer(key) is None:
            send_routed(self._sock, to, frames)  # it reads no batches
            return
        peer: Hashable = key if end == 1 else (key, *map(bytes, frames[: end - 1]))
        rule = self._rule
        if len(frames) != end + 2 or len(frames[end - 1]):
            # Not a batch's shape (a stream item with attachments, say): it goes
            # alone, but after what is held for its peer, the earlier items of
            # the same stream among them, which it would otherwise overtake.
            earlier = rule.release(peer)
            if earlier is not None:
                self._flush(earlier, self._tags.pop(peer))
            send_routed(self._sock, to, frames)
            return
        if self.hold:
            rule.expect(peer, 2)
        before, held = rule.offer(peer, [key, *frames], end)
        if held:
            self._tags.setdefault(peer, []).append(tag)
        if before:
            self._flush(before[0], self._tags.pop(peer))
        if not held:
            send_routed(self._sock, to, frames)

    def can_forward(self, to: Any, envelope: Sequence[Any]) -> bool:
        """Whether a batch received may go on to ``to`` as it came, after the
        ``envelope`` (``[*routing, delimiter]``, as for :meth:`send`): whether
        the peer reads batches. What is held for the peer must go first: if
        anything is, the turn's held batches go now (:meth:`end_turn`), which
        may hand some to ``on_failed`` before this returns."""
        peer = self._peers.peer(to)
        if peer is None or len(envelope) != self._end:
            return False
        key: Hashable = peer
        if self._end != 1:
            key = (peer, *map(bytes, envelope[: self._end - 1]))
        if key in self._tags:
            self.end_turn()
        return key not in self._tags

    def forward(self, to: Any, frames: Sequence[Any], tags: list[Any]) -> None:
        """Send ``[to, *frames]``, a batch received whole (after
        :meth:`can_forward` said yes, nothing sent to the peer in between): its
        frames go again, uncopied. If it cannot go, ``on_failed`` is handed
        ``tags``, one per message of the batch, as for a batch held here."""
        self.batches += 1
        try:
            send_routed(self._sock, to, frames)
        except zmq.ZMQError as exc:
            if exc.errno not in (errno.EAGAIN, zmq.EHOSTUNREACH):
                raise
            self._on_failed(to if type(to) is bytes else to.bytes, tags, exc)

    def end_turn(self) -> None:
        """The turn is over: send each peer's held messages, as one message."""
        # Each batch's tags are taken before any goes: one that fails has its
        # calls failed, which may hold new messages for a peer still to be sent
        # this turn's batch, and their tags are the next turn's.
        tags = self._tags
        batches = [(message, tags.pop(peer)) for peer, message in self._rule.end_turn()]
        for message, its_tags in batches:
            self._flush(message, its_tags)

    def _flush(self, message: list[Any], tags: list[Any]) -> None:
        if batch_count(message[-2]):
            self.batches += 1
        try:
            send_routed(self._sock, message[0], message[1:])
        except zmq.ZMQError as exc:
            if exc.errno not in (errno.EAGAIN, zmq.EHOSTUNREACH):
                raise
            self._on_failed(message[0], tags, exc)
