"""Send through a reactor, several messages for one peer as one batch.

:class:`CoalescingSender` applies :class:`uvrpc.core.coalesce.Coalescer`'s rule on
top of a :class:`~uvrpc.transport.reactor.SocketReactor`: a turn's first message
for a peer goes at once, the later ones go as batches: one as soon as it is full,
the rest when the loop's current turn is over (a callback scheduled with
``call_soon``). It coalesces only for
peers that read batches; everything else passes straight through.

The turn ends where the reactor ends it (:meth:`SocketReactor.at_turn_end`): as a
drain that sent ends, or in its next look at its socket after other sends, which
every such turn schedules anyway; a lone message costs no callback of its own.

A held message is reported sent: it was copied, and goes with its batch. A batch
that finds no room waits for it in a task; until it went, its peer's later messages
wait behind it (:meth:`try_send` says no, :meth:`send` waits), so that a peer
receives every message in the order it was sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import zmq

from ..core.coalesce import Coalescer
from ..wire.batch import BATCH_PROPERTY, BATCH_PROPERTY_SETTING, batch_count
from .reactor import SocketReactor

__all__ = ["CoalescingSender", "PeerBatches", "announce_batches", "reads_batches"]

_log = logging.getLogger("uvrpc.transport")

PEERS_KEPT = 65536
"""How many peers a server remembers the batch support of (then it forgets them
all, and learns again from their next message)."""


def announce_batches(sock: zmq.Socket[Any]) -> None:
    """Make ``sock`` tell each peer it connects with, in ZeroMQ's handshake, that
    it reads batches (before it binds or connects)."""
    sock.setsockopt(zmq.METADATA, BATCH_PROPERTY_SETTING)


def reads_batches(frame: Any) -> bool:
    """Whether the connection a received frame came by announced that it reads
    batches (:data:`~uvrpc.wire.batch.BATCH_PROPERTY`). A frame that is not a
    received ``zmq.Frame``, or an ``inproc://`` connection's, says no."""
    if not isinstance(frame, zmq.Frame):
        return False
    try:
        return frame.get(BATCH_PROPERTY) == "1"
    except zmq.ZMQError:
        return False


class PeerBatches:
    """Which of a ROUTER's peers read batches, learnt from the frames of their
    messages (one look per peer)."""

    __slots__ = ("_known",)

    def __init__(self) -> None:
        self._known: dict[bytes, bool] = {}

    def peer(self, routing_id: Any) -> bytes | None:
        """The routing id of a peer that reads batches, or ``None`` (a received
        ``zmq.Frame`` tells; a copy of one only once its peer is known)."""
        key = routing_id if type(routing_id) is bytes else routing_id.bytes
        known = self._known.get(key)
        if known is None:
            if type(routing_id) is bytes:
                return None
            if len(self._known) >= PEERS_KEPT:
                self._known.clear()
            known = self._known[key] = reads_batches(routing_id)
        return key if known else None


class CoalescingSender:
    """Sends through ``reactor``, coalescing the messages of each turn per peer.

    Args:
        reactor: the socket's reactor.
        loop: its loop.
        peer_of: the peer of a message that may join a batch (a key), or ``None``
            to send it as it is.
        end: the index of a coalesced message's delimiter (0 on a DEALER, 1 on a
            ROUTER: one routing frame).
        on_lost: called with the number of messages of a batch that could not be
            delivered (its peer is gone).
        end_of: the index of the delimiter of a peer's messages, for a sender
            whose peers' envelopes differ in length (a server's callers behind a
            broker have two routing frames); ``end`` for every peer if ``None``.
    """

    def __init__(
        self,
        reactor: SocketReactor,
        loop: asyncio.AbstractEventLoop,
        peer_of: Callable[[Sequence[Any]], Hashable | None],
        *,
        end: int,
        on_lost: Callable[[int], None] | None = None,
        end_of: Callable[[Hashable], int] | None = None,
    ) -> None:
        self._reactor = reactor
        self._loop = loop
        self._peer_of = peer_of
        self._end = end
        self._on_lost = on_lost
        self._end_of = end_of
        self._rule = Coalescer()
        self._flush_scheduled = False
        reactor.at_turn_end(self._turn_over)
        self._blocked: dict[Hashable, asyncio.Future[Any]] = {}
        self.batches = 0
        """Batches sent (each counts once, however many messages it held)."""

    def try_send(self, frames: Sequence[Any]) -> bool:
        """Send now, or hold for the turn's batch; return whether the message
        went or was held (see :meth:`SocketReactor.try_send`)."""
        peer = self._peer_of(frames)
        if peer is None:
            return self._reactor.try_send(frames)
        if self._blocked and peer in self._blocked:
            return False
        end = self._end if self._end_of is None else self._end_of(peer)
        before, held = self._rule.offer(peer, frames, end)
        for message in before:
            self._push(peer, message)
        if held:
            sent = True
        elif self._blocked and peer in self._blocked:
            sent = False
        else:
            sent = self._reactor.try_send(frames)
        if not (self._flush_scheduled or self._reactor.turn_end_pending):
            # The reactor ends the turn of any send made through it; a message
            # held before any went needs a callback of its own.
            self._flush_scheduled = True
            self._loop.call_soon(self._end_turn)
        return sent

    async def send(
        self, frames: Sequence[Any], prepare: Callable[[], bool] | None = None
    ) -> bool:
        """Send, waiting for room, behind its peer's batch that waits for room
        (see :meth:`SocketReactor.send`)."""
        if self._blocked:
            peer = self._peer_of(frames)
            while peer is not None and (waiting := self._blocked.get(peer)):
                await asyncio.wait((waiting,))
        return await self._reactor.send(frames, prepare)

    def _end_turn(self) -> None:
        self._flush_scheduled = False
        self._turn_over()

    def _turn_over(self) -> None:
        """The turn is over (the reactor's hook, or the callback of a turn that
        held messages): send what was held."""
        if not self._rule.turn_open:
            return
        for peer, message in self._rule.end_turn():
            self._push(peer, message)

    def _push(self, peer: Hashable, message: list[Any]) -> None:
        """Send a message of held ones: now, or in a task behind which its peer's
        later messages wait."""
        if batch_count(message[-2]):
            self.batches += 1
        if peer not in self._blocked:
            try:
                if self._reactor.try_send(message):
                    return
            except zmq.ZMQError as exc:
                self._lost(message, exc)
                return
        previous = self._blocked.get(peer)
        task = asyncio.ensure_future(self._send_after(previous, message))
        self._blocked[peer] = task
        task.add_done_callback(lambda done: self._unblock(peer, done))

    async def _send_after(
        self, previous: asyncio.Future[Any] | None, message: list[Any]
    ) -> None:
        if previous is not None:
            await asyncio.wait((previous,))
        try:
            await self._reactor.send(message)
        except zmq.ZMQError as exc:
            self._lost(message, exc)

    def _unblock(self, peer: Hashable, done: asyncio.Future[Any]) -> None:
        if self._blocked.get(peer) is done:
            del self._blocked[peer]
        if not done.cancelled() and done.exception() is not None:
            _log.error("a batch could not be sent", exc_info=done.exception())

    def _lost(self, message: list[Any], exc: zmq.ZMQError) -> None:
        if exc.errno != zmq.EHOSTUNREACH:
            raise exc
        if self._on_lost is not None:
            self._on_lost(batch_count(message[-2]) or 1)

    def abandon(self) -> None:
        """Drop what is held and the batches waiting for room, unsent (a client's
        connection dropped: its calls failed, and a request of theirs must not
        reach the server that comes next)."""
        self._rule.forget()
        for task in list(self._blocked.values()):
            task.cancel()
        self._blocked.clear()

    def close(self) -> None:
        """Send what is held if there is room (drop it otherwise), and stop the
        batches waiting for room; call before the reactor closes. With the
        loop closed, what is held is dropped: a send would schedule on it."""
        alive = not self._loop.is_closed()
        for peer, message in self._rule.end_turn():
            if alive and peer not in self._blocked:
                try:
                    self._reactor.try_send(message)
                except zmq.ZMQError as exc:
                    self._lost(message, exc)
        self._rule.forget()
        for task in list(self._blocked.values()):
            if alive:  # else nothing will run it again
                task.cancel()
        self._blocked.clear()
