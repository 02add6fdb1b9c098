"""What flow control costs and bounds: the CREDIT messages a stream of N items
takes, counted on both sides' protocol cores, and the items a receiver can be
made to hold, whatever the order of arrivals and takes.

The counts are exact: a receiver grants the items taken once a quarter of its
window was taken, so a stream of N items at the default window of 128 costs
N // 32 CREDIT messages (it took 62 at the former window of 32, granted at half).
"""

from __future__ import annotations

import msgpack
import pytest
from feed_server import Feed
from test_client_core import COUNT, core, item
from test_server_core import arrive, credit_of, stream_call, tick

from uvrpc.core.credit import ReceiveWindow, SendCredit, grant_step
from uvrpc.core.server import ServerProtocol
from uvrpc.core.server_streams import Arrival, StreamLimits
from uvrpc.wire.limits import STREAM_WINDOW
from uvrpc.wire.protocol import KIND_CREDIT, KIND_ITEM

ITEMS = 1000


def test_the_default_window_is_128_items_granted_32_at_a_time() -> None:
    assert STREAM_WINDOW == 128
    assert grant_step(STREAM_WINDOW) == 32
    assert StreamLimits().window == STREAM_WINDOW
    assert [grant_step(w) for w in (1, 3, 4, 8, 33)] == [1, 1, 1, 2, 8]


def test_a_receive_window_grants_a_quarter_at_a_time() -> None:
    window = ReceiveWindow(STREAM_WINDOW)
    grants = []
    for _ in range(ITEMS):
        assert window.arrived()
        granted = window.took()
        if granted:
            grants.append(granted)
    assert grants == [32] * (ITEMS // 32)


@pytest.mark.parametrize("window", [1, 2, 5, 8, 128])
def test_a_slow_reader_holds_at_most_its_window_and_its_sender_never_stalls(
    window: int,
) -> None:
    """A sender that sends all its credit lets it, to a reader that takes one
    item each time: the reader holds at most the window, always has an item to
    take, and refuses an item beyond what it granted."""
    receiving, sending = ReceiveWindow(window), SendCredit(window)
    queued = 0
    for _ in range(10 * window):
        while sending.spend():
            assert receiving.arrived()
            queued += 1
        assert 1 <= queued <= window
        assert receiving.allowed == 0
        queued -= 1  # the reader takes one
        sending.grant(receiving.took())
    while sending.spend():
        assert receiving.arrived()
    assert not receiving.arrived()  # one beyond the credit


def test_a_server_stream_of_n_items_costs_the_client_n_over_32_credits() -> None:
    client = core()
    state, _ = client.open_stream(COUNT, {"1": 0, "2": ITEMS}, None, None)
    credits = []
    for n in range(ITEMS):
        assert client.receive(item(state.call_id, n)) is state
        assert client.take(state) == n
        for frames in client.outbox:
            header = msgpack.unpackb(frames[-2])
            assert header[1] == KIND_CREDIT
            credits.append(header[3])
        client.outbox.clear()
    assert credits == [32] * (ITEMS // 32)
    assert state.buffered_max == 1


def test_a_client_stream_of_n_items_costs_the_server_n_over_32_credits() -> None:
    protocol = ServerProtocol([Feed()])
    upload = stream_call(protocol, "feed.Feed.upload", n=StreamLimits().window)
    assert credit_of(upload.open()) == 128
    credits = []
    for seq in range(ITEMS):
        assert arrive(upload, KIND_ITEM, tick(seq))[0] is Arrival.ITEM
        frames = upload.took()
        if frames is not None:
            credits.append(credit_of(frames))
    assert credits == [32] * (ITEMS // 32)
