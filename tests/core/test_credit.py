"""What flow control costs and bounds: the CREDIT messages a stream of N items
takes, counted on both sides' protocol cores, and the items a receiver can be
made to hold, whatever the order of arrivals and takes and sizes of its items.

The counts are exact: a receiver grants the items taken once a quarter of its
window was taken, so a stream of N items at a window of 128 costs N // 32 CREDIT
messages (it took 62 at the former window of 32, granted at half). The default
window grows for small items: a stream of them costs a quarter of that.
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
from uvrpc.wire.limits import STREAM_BYTES, STREAM_WINDOW, STREAM_WINDOW_MAX
from uvrpc.wire.protocol import KIND_CREDIT, KIND_ITEM

ITEMS = 1000


def test_the_default_window_is_128_items_granted_32_at_a_time() -> None:
    assert (STREAM_WINDOW, STREAM_WINDOW_MAX, STREAM_BYTES) == (128, 1024, 256 * 1024)
    assert grant_step(STREAM_WINDOW) == 32
    assert StreamLimits().window is None  # the default: 128, grown for small items
    default = ReceiveWindow(None)
    assert (default.window, default.allowed, default.step) == (128, 128, 32)
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


def test_a_server_stream_of_n_small_items_costs_the_client_a_credit_per_256() -> None:
    """The default window: the first grant grows it to its largest (the items
    are 10 bytes), then a quarter of that is granted at a time."""
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
    grown = STREAM_WINDOW_MAX - (STREAM_WINDOW - 32)
    assert credits == [grown] + [STREAM_WINDOW_MAX // 4] * ((ITEMS - 32) // 256)
    assert state.buffered_max == 1


def test_an_explicit_window_is_granted_32_at_a_time_whatever_its_items() -> None:
    client = core(stream_window=STREAM_WINDOW)
    state, _ = client.open_stream(COUNT, {"1": 0, "2": ITEMS}, None, None)
    credits: list[int] = []
    for n in range(ITEMS):
        assert client.receive(item(state.call_id, n)) is state
        assert client.take(state) == n
        credits.extend(msgpack.unpackb(f[-2])[3] for f in client.outbox)
        client.outbox.clear()
    assert credits == [32] * (ITEMS // 32)


def test_a_client_stream_of_n_small_items_costs_the_server_a_credit_per_256() -> None:
    """At the server's default window: the items are small, so the window grows
    as the client's does (above)."""
    protocol = ServerProtocol([Feed()])
    upload = stream_call(protocol, "feed.Feed.upload", n=StreamLimits().window)
    assert credit_of(upload.open()) == 128
    credits = []
    for seq in range(ITEMS):
        assert arrive(upload, KIND_ITEM, tick(seq))[0] is Arrival.ITEM
        frames = upload.took()
        if frames is not None:
            credits.append(credit_of(frames))
    grown = STREAM_WINDOW_MAX - (STREAM_WINDOW - 32)
    assert credits == [grown] + [STREAM_WINDOW_MAX // 4] * ((ITEMS - 32) // 256)


def _stream(receiving: ReceiveWindow, sizes: list[int], queued: int = 0) -> list[int]:
    """A sender that sends all its credit (items of ``sizes``, in order) before
    the reader, ``queued`` items behind, takes one each time: the items held
    before each take. The reader always has one to take: the sender never
    stalls for want of credit."""
    sending = SendCredit(receiving.allowed)
    held = []
    sent = 0
    while sent < len(sizes):
        while sent < len(sizes) and sending.spend():
            assert receiving.arrived(sizes[sent])
            sent += 1
            queued += 1
        held.append(queued)
        assert queued >= 1
        queued -= 1
        sending.grant(receiving.took())
    return held


@pytest.mark.parametrize(
    ("size", "window"),
    [(10, STREAM_WINDOW_MAX), (1024, 256), (2048, 128), (64 * 1024, 128)],
)
def test_the_default_window_grants_small_items_up_to_its_bytes(
    size: int, window: int
) -> None:
    """A slow reader of the default window holds as many items as fit
    STREAM_BYTES, from 128 to 1,024 of them."""
    receiving = ReceiveWindow(None)
    held = _stream(receiving, [size] * 5000)
    assert receiving.window == window
    assert max(held) == window


def test_a_window_grown_for_small_items_shrinks_back_for_large_ones() -> None:
    """Items that grow from 10 bytes to 64 KiB: the reader grants nothing until
    it holds fewer than 128 items, then 128 at most; it never holds more than the
    largest window."""
    receiving = ReceiveWindow(None)
    held = _stream(receiving, [10] * 3000 + [64 * 1024] * 3000)
    assert receiving.window == STREAM_WINDOW
    assert max(held) == STREAM_WINDOW_MAX
    assert max(held[-2000:]) == STREAM_WINDOW


@pytest.mark.parametrize("window", [1, 4, 128, 500])
def test_an_explicit_window_is_kept_for_small_items(window: int) -> None:
    receiving = ReceiveWindow(window)
    held = _stream(receiving, [10] * 3000)
    assert (receiving.window, max(held)) == (window, window)
