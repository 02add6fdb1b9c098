"""The queueing time of a request, from the send stamps of its connection.

Clock offsets between hosts cancel out, a request that waited is charged for it
(and its deadline passes before it runs), the baseline follows drift, forgets an
old minimum after two windows of traffic, and the table of connections is
bounded.
"""

from __future__ import annotations

import time

import msgpack
import pytest
import zmq
from feed_server import Feed

from uvrpc.core.clocks import DRIFT_ALLOWANCE, QUEUE_WINDOW, QueueClock
from uvrpc.core.server import Request, ServerProtocol
from uvrpc.wire.protocol import RequestHeaders, send_stamp, stamp_age

# (server time, the client's send time on the server's clock): a warm connection
# whose transit is 1 ms, then a request that waited 0.8 s, then a normal one.
TRAFFIC = [(10.0, 9.999), (10.1, 10.099), (10.2, 10.199), (11.0, 10.2), (11.1, 11.099)]


def charged(offset: float) -> list[float]:
    """The queueing charged for TRAFFIC when the client's clock is ``offset`` s
    ahead of the server's."""
    clock = QueueClock()
    return [clock.queued("peer", now - (sent + offset), now) for now, sent in TRAFFIC]


def test_an_offset_between_the_clocks_changes_nothing() -> None:
    same = charged(0.0)
    assert same[3] == pytest.approx(0.8 - 0.001, abs=1e-3)  # less the transit
    assert same[:3] == [0.0, 0.0, 0.0] and same[4] == pytest.approx(0.0, abs=1e-4)
    for offset in (5.0, -5.0, 3600.0):
        assert charged(offset) == pytest.approx(same, abs=1e-6)


def test_connections_are_measured_apart() -> None:
    clock = QueueClock()
    assert clock.queued("a", 5.0, 1.0) == 0.0  # a client 5 s behind
    assert clock.queued("b", -5.0, 1.0) == 0.0  # another 5 s ahead
    assert clock.queued("a", 5.5, 1.6) == pytest.approx(0.5, abs=1e-3)
    assert clock.queued("b", -5.0, 1.6) == pytest.approx(0.0, abs=1e-3)


def test_the_baseline_follows_drift_but_not_a_stall() -> None:
    clock = QueueClock()
    clock.queued("peer", 0.001, 0.0)
    # 50 s later the clocks drifted 2 ms apart (40 ppm): not queueing.
    assert clock.queued("peer", 0.003, 50.0) == pytest.approx(
        max(0.0, 0.002 - 50 * DRIFT_ALLOWANCE), abs=1e-9
    )
    assert clock.queued("peer", 0.003, 50.1) == 0.0
    # A stop of 2 s right after: the requests that waited through it are charged.
    assert clock.queued("peer", 2.003, 52.1) == pytest.approx(2.0, abs=1e-3)


def test_an_old_minimum_is_forgotten_after_two_windows_of_traffic() -> None:
    clock = QueueClock()
    clock.queued("peer", 0.0, 0.0)
    now = 1.0
    # The client's clock fell back by a second (it stamps from its monotonic
    # clock, so only a new client process could do that on one connection):
    # charged at first, then learnt within two windows.
    assert clock.queued("peer", 1.0, now) == pytest.approx(1.0, abs=1e-3)
    while now < 2 * QUEUE_WINDOW + 1:
        now += 1.0
        last = clock.queued("peer", 1.0, now)
    assert last == 0.0


def test_a_stall_longer_than_the_windows_is_still_charged() -> None:
    clock = QueueClock()
    clock.queued("peer", 0.0, 0.0)
    clock.queued("peer", 0.0, 1.0)
    # Windows turn over as requests arrive, not as time passes.
    assert clock.queued("peer", 60.0, 61.0) == pytest.approx(60.0, abs=0.01)
    assert clock.queued("peer", 59.5, 61.0) == pytest.approx(59.5, abs=0.01)


def test_the_table_of_connections_is_bounded() -> None:
    clock = QueueClock(max_peers=3)
    for peer in range(10):
        clock.queued(peer, 0.0, 0.0)
    assert len(clock) == 3
    clock.forget(9)
    assert len(clock) == 2


def request_of(protocol: ServerProtocol, peer: bytes, sent_us: int) -> Request:
    header = RequestHeaders("feed.Feed.ping").encode(1, 300, None, sent_us)
    _, message = protocol.receive([peer, b"", header, msgpack.packb({"1": 1})])
    assert type(message) is Request
    return message


def test_a_request_that_waited_past_its_timeout_arrives_expired() -> None:
    protocol = ServerProtocol([Feed()])
    try:
        for skew in (5.0, -5.0):
            peer = b"client-%d" % skew
            skew_us = int(skew * 1_000_000)
            warm = request_of(protocol, peer, send_stamp() + skew_us)
            assert warm.call is not None and warm.call.deadline is not None
            assert warm.call.deadline - time.monotonic() == pytest.approx(0.3, abs=0.05)
            # Sent 0.5 s ago on the client's clock: its 300 ms were up on arrival.
            sent = send_stamp(time.monotonic() - 0.5) + skew_us
            late = request_of(protocol, peer, sent)
            assert late.call is not None and late.call.deadline is not None
            assert late.call.deadline < time.monotonic()
            assert late.call.deadline - time.monotonic() == pytest.approx(
                -0.2, abs=0.05
            )
    finally:
        protocol.close()


def test_the_stamp_age_is_what_the_stamp_says() -> None:
    now = time.monotonic()
    assert stamp_age(send_stamp(now - 1.5), now) == pytest.approx(1.5, abs=1e-5)


@pytest.mark.parametrize("frame", [bytes, zmq.Frame], ids=["bytes", "zmq.Frame"])
def test_each_caller_behind_a_broker_has_its_own_baseline(frame: type) -> None:
    """A broker's one connection carries many callers, each stamping from its
    own clock: one caller's stamp (a clock an hour ahead, or a hostile peer's)
    never charges another caller's requests. The envelope's frames are bytes or,
    as a socket receives them, ``zmq.Frame``s."""
    protocol = ServerProtocol([Feed()])
    try:
        header = RequestHeaders("feed.Feed.ping").encode
        body = msgpack.packb({"1": 1})
        rogue = [frame(b"broker"), frame(b"rogue"), frame(b"")]
        honest = [frame(b"broker"), frame(b"honest"), frame(b"")]
        ahead = send_stamp() + 3600 * 1_000_000
        protocol.receive([*rogue, header(1, 300, None, ahead), body])
        for call_id in (1, 2):
            stamped = header(call_id, 300, None, send_stamp())
            _, message = protocol.receive([*honest, stamped, body])
            assert type(message) is Request
            assert message.call is not None and message.call.deadline is not None
            assert message.call.deadline - time.monotonic() == pytest.approx(
                0.3, abs=0.05
            )
    finally:
        protocol.close()
