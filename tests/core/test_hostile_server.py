"""A malicious server cannot crash a client's core or mix up its callers.

Whatever messages a server sends — replies, items and credits of calls made or
never made, in any version, with any header element of any type, in batches
that nest or lie about their count — :meth:`ClientCore.receive` never raises,
each call ends at most once with its own result or an :class:`~uvrpc.RpcError`,
and a call no hostile message named gets the right answer.
"""

from __future__ import annotations

from typing import Any

import msgpack
from golden import conformance
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import uvrpc
from uvrpc.core.client import END, WAIT, CallState, ClientCore, finish
from uvrpc.methods import StreamingMethod, Unary
from uvrpc.wire.batch import encode_batch
from uvrpc.wire.buffers import BodyEncoder

V = uvrpc.PROTOCOL_VERSION


def method(route: str) -> Any:
    for value in vars(conformance).values():
        if isinstance(value, Unary | StreamingMethod) and value.route == route:
            return value
    raise LookupError(route)


ECHO = method("conformance.Conformance.echoI64")
COUNT = method("conformance.Conformance.count")
SUM = method("conformance.Conformance.sum")

# Call ids 1 to 3 are the hostile server's to name (echoI64, count, sum); 4 is
# the call it leaves alone, which must get its own answer.
CALL_IDS = st.sampled_from([0, 1, 2, 3, 5, -1, 2**64 - 1, "1", None, 1.0, True])
VALUES: st.SearchStrategy[Any] = st.sampled_from(
    [
        0, 1, -1, 2**64 - 1, 7, "x", b"b", None, True, 1.5, [], {}, [1], {"k": "v"},
        {"message": "m", "details": {}}, {"message": 5, "details": []},
        {"x-key": "v"}, {1: "x"}, msgpack.ExtType(1, b"\0\0\0\7"),
        msgpack.ExtType(5, b""), msgpack.Timestamp(1, 0),
    ]
)  # fmt: skip
BODIES = st.one_of(
    VALUES.map(lambda v: msgpack.packb(v, use_bin_type=True, strict_types=False)),
    st.sampled_from([b"", b"\xc1", b"\x91" * 2000 + b"\x00", b"\xdd\xff\xff\xff\xff"]),
)


@st.composite
def header(draw: st.DrawFn) -> bytes:
    fields: list[Any] = [
        draw(st.sampled_from([V, V, V, V + 1, 2, "3", None])),
        draw(st.sampled_from([2, 2, 3, 6, 4, 5, 9, 7, 77, -1, "2", [2], None])),
        draw(CALL_IDS),
    ]
    fields += draw(st.lists(VALUES, max_size=3))
    if draw(st.booleans()):  # the layout uvrpc writes, a fixed 17 bytes
        fields = fields[:4]
    return msgpack.packb(fields, use_bin_type=True, strict_types=False)


@st.composite
def message(draw: st.DrawFn) -> list[bytes]:
    frames = [b""] if draw(st.integers(0, 9)) else []
    frames += draw(st.lists(st.sampled_from([b"", b"att"]), max_size=2))
    if draw(st.integers(0, 4)):
        return [*frames, draw(header()), draw(BODIES)]
    inner = draw(st.lists(st.tuples(header(), BODIES), min_size=1, max_size=3))
    batch_header, body = encode_batch(inner)
    if draw(st.booleans()):  # a count that lies
        batch_header = msgpack.packb([V, 9, 0, draw(st.integers(-1, 2**32))])
    return [*frames, bytes(batch_header), bytes(body)]


def start() -> tuple[ClientCore, list[CallState]]:
    core = ClientCore(BodyEncoder())
    states = []
    for begin, route, args in (
        (core.start_call, ECHO, {"1": 10}),
        (core.open_stream, COUNT, {"1": 0, "2": 3}),
        (core.open_stream, SUM, {}),
        (core.start_call, ECHO, {"1": 40}),
    ):
        state, frames = begin(route, args, None, None)
        core.encoder.settle(frames[-1], True)  # sent
        states.append(state)
    return core, states


def outcome(core: ClientCore, state: CallState) -> Any:
    """What the caller of ``state`` sees: its result (a stream's items), or its
    error; ``WAIT`` if it is still waiting."""
    if state.items is None:
        if not state.over:
            return WAIT
        try:
            return finish(state)
        except uvrpc.RpcError as exc:
            return exc
    items: list[Any] = []
    while True:
        try:
            item = core.take(state)
        except uvrpc.RpcError as exc:
            return exc
        if item is WAIT or item is END:
            return items if item is END else WAIT
        items.append(item)


@settings(max_examples=150, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@given(st.lists(message(), max_size=8))
def test_no_message_of_a_server_breaks_a_client(hostile: list[list[bytes]]) -> None:
    core, states = start()
    for frames in hostile:
        core.receive(frames)  # never raises
        core.woken.clear()
    for state in states[:3]:
        result = outcome(core, state)
        assert result is WAIT or isinstance(result, uvrpc.RpcError | int | list)
    good = [b"", msgpack.packb([V, 2, 4, 0]), msgpack.packb(40)]
    assert core.receive(good) is states[3]
    assert outcome(core, states[3]) == 40
    for state in states[:3]:
        core.fail(state, uvrpc.Cancelled("done"))
    assert not core.calls and core.streams == 0
