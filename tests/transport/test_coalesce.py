"""CoalescingSender: the turn's later messages go as one batch at its end, a
batch that finds no room keeps its peer's later messages behind it, and a
dropped connection's batch is never sent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, cast

import msgpack

from uvrpc.transport.coalesce import CoalescingSender
from uvrpc.transport.reactor import SocketReactor
from uvrpc.wire.batch import batch_count, split_batch
from uvrpc.wire.protocol import encode_reply_header


class FakeReactor:
    """Records what is sent; has room or not, as the test says."""

    def __init__(self) -> None:
        self.sent: list[list[Any]] = []
        self.room = True
        self._waiting: list[asyncio.Future[None]] = []

    def try_send(self, frames: Sequence[Any]) -> bool:
        if not self.room:
            return False
        self.sent.append([bytes(frame) for frame in frames])
        return True

    async def send(
        self, frames: Sequence[Any], prepare: Callable[[], bool] | None = None
    ) -> bool:
        while not self.try_send(frames):
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            await waiter
        return True

    def at_turn_end(self, hook: Callable[[], None]) -> None:
        self.turn_end = hook

    @property
    def turn_end_pending(self) -> bool:
        return False  # the sender's own callback ends each turn

    def make_room(self) -> None:
        self.room = True
        for waiter in self._waiting:
            if not waiter.done():
                waiter.set_result(None)
        self._waiting.clear()


def message(call_id: int) -> list[Any]:
    return [b"", encode_reply_header(call_id, 0), msgpack.packb(call_id)]


def ids(sent: list[Any]) -> list[int]:
    """The call ids one sent ZeroMQ message carries."""
    if batch_count(sent[1]):
        return [msgpack.unpackb(h)[2] for h, _ in split_batch(sent[1], sent[2])]
    return [msgpack.unpackb(sent[1])[2]]


def sender_over(reactor: FakeReactor) -> CoalescingSender:
    loop = asyncio.get_running_loop()
    return CoalescingSender(
        cast(SocketReactor, reactor), loop, lambda frames: b"", end=0
    )


def run(main: Callable[[], Any]) -> None:
    asyncio.run(asyncio.wait_for(main(), 10))


def test_the_turns_later_messages_go_as_one_batch_at_its_end() -> None:
    async def main() -> None:
        reactor = FakeReactor()
        sender = sender_over(reactor)
        assert all(sender.try_send(message(n)) for n in range(1, 5))
        assert [ids(sent) for sent in reactor.sent] == [[1]]  # the first, at once
        await asyncio.sleep(0)  # the turn ends
        assert [ids(sent) for sent in reactor.sent] == [[1], [2, 3, 4]]
        assert sender.batches == 1

    run(main)


def test_a_batch_without_room_keeps_its_peers_later_messages_behind_it() -> None:
    async def main() -> None:
        reactor = FakeReactor()
        sender = sender_over(reactor)
        assert sender.try_send(message(1))
        assert sender.try_send(message(2))
        assert sender.try_send(message(3))
        reactor.room = False
        await asyncio.sleep(0)  # the batch of 2 and 3 finds no room: it waits
        reactor.room = True  # room for a message that would overtake it
        assert not sender.try_send(message(4))  # it may not: the caller waits
        later = asyncio.ensure_future(sender.send(message(4)))
        await asyncio.sleep(0)
        assert not later.done()
        reactor.make_room()
        assert await later
        assert [ids(sent) for sent in reactor.sent] == [[1], [2, 3], [4]]

    run(main)


def test_a_dropped_connections_batch_is_never_sent() -> None:
    async def main() -> None:
        reactor = FakeReactor()
        sender = sender_over(reactor)
        sender.try_send(message(1))
        sender.try_send(message(2))
        reactor.room = False
        await asyncio.sleep(0)  # waiting for room
        sender.abandon()
        reactor.make_room()
        await asyncio.sleep(0)
        assert [ids(sent) for sent in reactor.sent] == [[1]]
        assert sender.try_send(message(3))  # nothing waits any more
        assert [ids(sent) for sent in reactor.sent] == [[1], [3]]

    run(main)


def test_closing_sends_what_is_held() -> None:
    async def main() -> None:
        reactor = FakeReactor()
        sender = sender_over(reactor)
        for n in (1, 2, 3):
            sender.try_send(message(n))
        sender.close()
        assert [ids(sent) for sent in reactor.sent] == [[1], [2, 3]]

    run(main)


def test_messages_of_no_batching_peer_pass_straight_through() -> None:
    async def main() -> None:
        reactor = FakeReactor()
        loop = asyncio.get_running_loop()
        sender = CoalescingSender(
            cast(SocketReactor, reactor), loop, lambda frames: None, end=0
        )
        for n in (1, 2, 3):
            assert sender.try_send(message(n))
        assert [ids(sent) for sent in reactor.sent] == [[1], [2], [3]]

    run(main)
