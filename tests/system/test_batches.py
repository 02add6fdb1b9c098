"""Calls ready in one turn travel as one ZeroMQ message, both ways; peers that do
not announce batches never get one; a hostile batch harms no one else.

The ZeroMQ messages are counted on a raw socket at the other end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterator
from typing import Any

import msgpack
import pytest
import zmq
from calculator import CalculatorClient
from calculator_server import Calculator
from conftest import RunningServer, server_thread

import uvrpc
from uvrpc.core.coalesce import BATCH_MESSAGES
from uvrpc.security import ClientSecurity, ServerSecurity, generate_keypair
from uvrpc.transport.coalesce import announce_batches
from uvrpc.wire.batch import KIND_BATCH, MAX_BATCH, encode_batch, split_batch
from uvrpc.wire.protocol import encode_reply_header

V = uvrpc.PROTOCOL_VERSION
ADD = "calculator.Calculator.add"
WAIT_MS = 10_000  # only ever waited out when a test is failing
CALLS = 64
assert CALLS % BATCH_MESSAGES == 0 and CALLS > BATCH_MESSAGES + 1  # several batches


def add_request(call_id: int, a: int) -> tuple[bytes, bytes]:
    header = msgpack.packb([V, 1, call_id, ADD, None])
    return header, msgpack.packb({"1": a, "2": 1})


def raw_socket(kind: int, *, batches: bool) -> zmq.Socket[bytes]:
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    if batches:
        announce_batches(sock)
    return sock


def bound(router: zmq.Socket[bytes]) -> str:
    """Bind ``router`` to a free loopback port; its endpoint."""
    return f"tcp://127.0.0.1:{router.bind_to_random_port('tcp://127.0.0.1')}"


def receive(sock: zmq.Socket[bytes]) -> list[bytes]:
    assert sock.poll(WAIT_MS, zmq.POLLIN), "nothing arrived"
    return sock.recv_multipart()


def messages_of(frames: list[bytes]) -> list[tuple[bytes, bytes]]:
    """The protocol messages of one ZeroMQ message: its own, or its batch's."""
    header, body = frames[-2], frames[-1]
    if msgpack.unpackb(header)[1] == KIND_BATCH:
        return split_batch(header, body)
    return [(header, body)]


def replies_until(sock: zmq.Socket[bytes], count: int) -> tuple[int, dict[int, Any]]:
    """Receive until ``count`` replies came: how many ZeroMQ messages carried
    them, and the results by call id."""
    zmq_messages = 0
    results: dict[int, Any] = {}
    while len(results) < count:
        zmq_messages += 1
        for header, body in messages_of(receive(sock)):
            fields = msgpack.unpackb(header)
            assert fields[:2] == [V, 2] and fields[3] == 0, fields
            results[fields[2]] = msgpack.unpackb(body)
    return zmq_messages, results


def run(main: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(main, 60))


@pytest.fixture
def calculator() -> Iterator[RunningServer]:
    with server_thread(Calculator()) as running:
        yield running


# --- the client ------------------------------------------------------------------


def test_calls_started_in_one_turn_reach_the_server_as_batches() -> None:
    run(_calls_started_in_one_turn_reach_the_server_as_batches())


async def _calls_started_in_one_turn_reach_the_server_as_batches() -> None:
    router = raw_socket(zmq.ROUTER, batches=True)
    endpoint = bound(router)
    try:
        async with CalculatorClient(endpoint, timeout=60) as client:
            # The first call goes alone, and its reply tells the client that
            # this server reads batches.
            first = asyncio.ensure_future(client.add(a=0, b=1))
            peer, _, header, _ = await asyncio.to_thread(receive, router)
            call_id = msgpack.unpackb(header)[2]
            router.send_multipart(
                [peer, b"", encode_reply_header(call_id, 0), msgpack.packb(1)]
            )
            assert await first == 1

            # Tasks created together take their first step in the same turn.
            # Each makes a second call as soon as its first is answered.
            async def twice(n: int) -> tuple[int, int]:
                return await client.add(a=n, b=1), await client.add(a=n, b=2)

            calls = [asyncio.ensure_future(twice(n)) for n in range(CALLS)]
            lone = await asyncio.to_thread(receive, router)
            # A batch goes as soon as it holds BATCH_MESSAGES, the rest when the
            # turn ends.
            full = await asyncio.to_thread(receive, router)
            rest = await asyncio.to_thread(receive, router)
            assert len(lone) == 4  # routing id, delimiter, header, body
            assert msgpack.unpackb(lone[2])[:4] == [V, 1, call_id + 1, ADD]
            assert msgpack.unpackb(full[2]) == [V, KIND_BATCH, 0, BATCH_MESSAGES]
            rest_count = CALLS - 1 - BATCH_MESSAGES
            assert msgpack.unpackb(rest[2]) == [V, KIND_BATCH, 0, rest_count]
            requests = [
                lone[2:],
                *split_batch(full[2], full[3]),
                *split_batch(rest[2], rest[3]),
            ]
            ids = [msgpack.unpackb(header)[2] for header, _ in requests]
            assert ids == list(range(call_id + 1, call_id + 1 + CALLS))  # in order
            assert [msgpack.unpackb(body)["1"] for _, body in requests] == list(
                range(CALLS)
            )
            assert not router.poll(0, zmq.POLLIN)  # three ZeroMQ messages, no more
            # The replies come back as one batch: the client splits it, and the
            # second calls its callers make, all in one turn, leave as the first
            # ones did: one alone, so that the server starts on it, then batches.
            replies = [
                (encode_reply_header(n, 0), msgpack.packb(n * 10))
                for n in reversed(ids)
            ]
            router.send_multipart([peer, b"", *encode_batch(replies)])
            lone = await asyncio.to_thread(receive, router)
            full = await asyncio.to_thread(receive, router)
            rest = await asyncio.to_thread(receive, router)
            assert msgpack.unpackb(lone[2])[:2] == [V, 1]
            assert msgpack.unpackb(full[2]) == [V, KIND_BATCH, 0, BATCH_MESSAGES]
            assert msgpack.unpackb(rest[2]) == [V, KIND_BATCH, 0, rest_count]
            again = [
                lone[2:],
                *split_batch(full[2], full[3]),
                *split_batch(rest[2], rest[3]),
            ]
            assert not router.poll(0, zmq.POLLIN)
            assert [msgpack.unpackb(body)["2"] for _, body in again] == [2] * CALLS
            second_ids = [msgpack.unpackb(header)[2] for header, _ in again]
            replies = [
                (encode_reply_header(n, 0), msgpack.packb(n)) for n in second_ids
            ]
            router.send_multipart([peer, b"", *encode_batch(replies)])
            results = await asyncio.gather(*calls)
            assert [first for first, _ in results] == [
                (call_id + 1 + n) * 10 for n in range(CALLS)
            ]
            id_of = {
                msgpack.unpackb(body)["1"]: msgpack.unpackb(header)[2]
                for header, body in again
            }
            assert [second for _, second in results] == [id_of[n] for n in range(CALLS)]
            assert client.channel.dropped_replies == 0
            assert client.channel.batches_sent == 4
    finally:
        router.close()


def test_a_lone_call_goes_at_once() -> None:
    run(_a_lone_call_goes_at_once())


async def _a_lone_call_goes_at_once() -> None:
    router = raw_socket(zmq.ROUTER, batches=True)
    endpoint = bound(router)
    try:
        async with uvrpc.Channel(endpoint) as channel:
            assert await channel.ready(WAIT_MS / 1000)
            client = CalculatorClient(channel)
            call = asyncio.ensure_future(client.add(a=1, b=2, timeout=60))
            peer, _, header, _ = await asyncio.to_thread(receive, router)
            reply = [peer, b"", encode_reply_header(msgpack.unpackb(header)[2], 0)]
            router.send_multipart([*reply, msgpack.packb(3)])
            assert await call == 3
            # The loop does not turn between the call and the poll below: the
            # request is in the socket before the call returns to it.
            method = _add_method()
            handle = channel.start(method, method.wire_args((5, 6)), 60)
            assert router.poll(WAIT_MS, zmq.POLLIN)
            frames = router.recv_multipart()
            assert msgpack.unpackb(frames[2])[1] == 1  # a request, not a batch
            reply = [peer, b"", encode_reply_header(msgpack.unpackb(frames[2])[2], 0)]
            router.send_multipart([*reply, msgpack.packb(11)])
            assert await handle == 11
    finally:
        router.close()


def _add_method() -> Any:
    import calculator

    return calculator._CALCULATOR_ADD


def test_a_client_sends_no_batch_to_a_server_that_reads_none() -> None:
    run(_a_client_sends_no_batch_to_a_server_that_reads_none())


async def _a_client_sends_no_batch_to_a_server_that_reads_none() -> None:
    router = raw_socket(zmq.ROUTER, batches=False)
    endpoint = bound(router)
    try:
        async with CalculatorClient(endpoint, timeout=60) as client:
            first = asyncio.ensure_future(client.add(a=0, b=1))
            peer, _, header, _ = await asyncio.to_thread(receive, router)
            reply = [peer, b"", encode_reply_header(msgpack.unpackb(header)[2], 0)]
            router.send_multipart([*reply, msgpack.packb(1)])
            assert await first == 1
            calls = [asyncio.ensure_future(client.add(a=n, b=1)) for n in range(8)]
            for _ in range(8):
                frames = await asyncio.to_thread(receive, router)
                assert msgpack.unpackb(frames[2])[1] == 1  # each a request alone
                reply = [
                    peer,
                    b"",
                    encode_reply_header(msgpack.unpackb(frames[2])[2], 0),
                ]
                router.send_multipart([*reply, msgpack.packb(0)])
            await asyncio.gather(*calls)
            assert client.channel.batches_sent == 0
    finally:
        router.close()


# --- the server ------------------------------------------------------------------


def test_a_server_answers_a_batch_of_requests_with_full_batches(
    calculator: RunningServer,
) -> None:
    dealer = raw_socket(zmq.DEALER, batches=True)
    try:
        dealer.connect(calculator.endpoint)
        requests = [add_request(call_id, call_id) for call_id in range(1, CALLS + 1)]
        dealer.send_multipart([b"", *encode_batch(requests)])
        zmq_messages, results = replies_until(dealer, CALLS)
        assert results == {n: n + 1 for n in range(1, CALLS + 1)}
        # Every handler answered in the same turn: the first reply went at
        # once, alone, the rest as a full batch and the turn's remainder.
        assert zmq_messages == 3

        # A full batch leaves before its last reply is counted: read the
        # counters on the server's loop, once that turn is over.
        async def counted() -> uvrpc.ServerStats:
            return calculator.stats

        assert calculator.loop is not None
        stats = asyncio.run_coroutine_threadsafe(counted(), calculator.loop).result(
            WAIT_MS / 1000
        )
        assert stats.received == CALLS
        assert stats.replied == CALLS
    finally:
        dealer.close()


def test_a_peer_that_does_not_announce_batches_never_gets_one(
    calculator: RunningServer,
) -> None:
    dealer = raw_socket(zmq.DEALER, batches=False)
    try:
        dealer.connect(calculator.endpoint)
        # Sent as a batch all the same, so that every reply is ready in one turn.
        requests = [add_request(call_id, call_id) for call_id in range(1, CALLS + 1)]
        dealer.send_multipart([b"", *encode_batch(requests)])
        zmq_messages, results = replies_until(dealer, CALLS)
        assert results == {n: n + 1 for n in range(1, CALLS + 1)}
        assert zmq_messages == CALLS
    finally:
        dealer.close()


def hostile_batches() -> dict[str, list[bytes]]:
    good = encode_batch([add_request(1, 1), add_request(2, 2)])
    inner = encode_batch([add_request(3, 3)])
    return {
        "empty": [msgpack.packb([V, KIND_BATCH, 0, 0]), msgpack.packb([])],
        "truncated": [good[0], bytes(good[1])[:-4]],
        "oversized count": [
            msgpack.packb([V, KIND_BATCH, 0, MAX_BATCH + 1]),
            bytes(good[1]),
        ],
        "short of its count": [msgpack.packb([V, KIND_BATCH, 0, 3]), bytes(good[1])],
        "nested": [
            bytes(frame)
            for frame in encode_batch([add_request(4, 4), (inner[0], bytes(inner[1]))])
        ],
    }


@pytest.mark.parametrize("name", list(hostile_batches()))
def test_a_hostile_batch_is_dropped_and_the_server_serves_on(
    calculator: RunningServer, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    hostile = raw_socket(zmq.DEALER, batches=True)
    other = raw_socket(zmq.DEALER, batches=True)
    try:
        hostile.connect(calculator.endpoint)
        other.connect(calculator.endpoint)
        with caplog.at_level(logging.WARNING, logger="uvrpc.server"):
            # Another caller's batch on either side of it is served whole.
            other.send_multipart(
                [b"", *encode_batch([add_request(1, 10), add_request(2, 20)])]
            )
            hostile.send_multipart([b"", *hostile_batches()[name]])
            other.send_multipart(
                [b"", *encode_batch([add_request(3, 30), add_request(4, 40)])]
            )
            _, results = replies_until(other, 4)
            assert results == {1: 11, 2: 21, 3: 31, 4: 41}
            # The hostile caller is still served, and got nothing for its batch.
            hostile.send_multipart([b"", *add_request(9, 90)])
            _, results = replies_until(hostile, 1)
            assert results == {9: 91}
        assert calculator.stats.dropped == 1
        assert "dropped a malformed batch" in caplog.text
    finally:
        hostile.close()
        other.close()


def test_a_flood_of_hostile_batches_is_logged_once(
    calculator: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A line per batch would let one peer fill the log (100,000 lines in four
    seconds); every batch is still counted."""
    hostile = raw_socket(zmq.DEALER, batches=True)
    try:
        hostile.connect(calculator.endpoint)
        with caplog.at_level(logging.WARNING, logger="uvrpc.server"):
            for _ in range(20):
                for frames in hostile_batches().values():
                    hostile.send_multipart([b"", *frames])
            hostile.send_multipart([b"", *add_request(9, 90)])
            _, results = replies_until(hostile, 1)
            assert results == {9: 91}
        assert calculator.stats.dropped == 20 * len(hostile_batches())
        dropped = [r for r in caplog.records if "malformed batch" in r.getMessage()]
        assert len(dropped) == 1
    finally:
        hostile.close()


# --- the blocking client -----------------------------------------------------------


def test_the_blocking_client_takes_batched_replies() -> None:
    # A fake server answers with a batch: its stray reply is counted and
    # dropped, the call's own ends the call.
    router = raw_socket(zmq.ROUTER, batches=True)
    endpoint = bound(router)
    try:
        from calculator import CalculatorSyncClient

        with CalculatorSyncClient(endpoint, timeout=60) as client:

            def serve() -> None:
                peer, _, header, _ = receive(router)
                call_id = msgpack.unpackb(header)[2]
                stray = (encode_reply_header(call_id + 100, 0), msgpack.packb(0))
                mine = (encode_reply_header(call_id, 0), msgpack.packb(42))
                router.send_multipart([peer, b"", *encode_batch([stray, mine])])

            import threading

            thread = threading.Thread(target=serve)
            thread.start()
            try:
                assert client.add(a=40, b=2) == 42
            finally:
                thread.join(WAIT_MS / 1000)
            assert client.channel.dropped_replies == 1  # the stray reply
    finally:
        router.close()


# --- CURVE -------------------------------------------------------------------------


class KeyedCalculator(Calculator):
    """Keeps the caller's CURVE key of each ``add`` it answers."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str | None] = []

    async def add(self, *, a: int, b: int) -> int:
        self.keys.append(uvrpc.current_call().peer_key)
        return a + b


def test_each_call_of_a_batch_sees_its_callers_curve_key() -> None:
    server_keys, client_keys = generate_keypair(), generate_keypair()
    service = KeyedCalculator()
    security = ServerSecurity(server_keys, allow=[client_keys.public])
    with server_thread(service, security=security) as running:

        async def main() -> None:
            client_security = ClientSecurity(server_keys.public, client_keys)
            async with CalculatorClient(
                running.endpoint, timeout=60, security=client_security
            ) as client:
                assert await client.add(a=0, b=0) == 0  # it learns of batches
                calls = [client.add(a=n, b=1) for n in range(CALLS)]
                assert await asyncio.gather(*calls) == [n + 1 for n in range(CALLS)]
                assert client.channel.batches_sent >= 1

        run(main())
    assert service.keys == [client_keys.public] * (CALLS + 1)
