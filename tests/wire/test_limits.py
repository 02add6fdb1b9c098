"""The limits of ``docs/limits.md``: message size, calls in flight, streams per
caller and high-water marks, each enforced where the document says, with what the
peer is told."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq
from calculator import CalculatorClient, CalculatorSyncClient
from calculator_server import Calculator
from conftest import RunningServer, server_thread
from echo import EchoClient, EchoSyncClient
from echo_server import Echo
from fake_peers import close_when_gone, watch_disconnects
from feed_server import Feed
from raw_frames import decode, exchange, next_reply, request

import uvrpc
from uvrpc.wire.batch import encode_batch, is_batch_header, split_batch
from uvrpc.wire.limits import BACKSTOP_MIN

ADD = "calculator.Calculator.add"
ECHO = "echo.Echo.echo"
V = uvrpc.PROTOCOL_VERSION


def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


@pytest.fixture
def small_server() -> Iterator[RunningServer]:
    with server_thread(Echo(), max_message_size=1024) as running:
        yield running


def test_an_oversized_request_is_refused_before_its_body_is_decoded(
    small_server: RunningServer,
) -> None:
    header = msgpack.packb([V, 1, 5, ECHO, None])
    body = b"\xc1" * 2000  # not msgpack at all: decoding it would say so
    reply = exchange(small_server.endpoint, [b"", header, body])
    assert reply is not None
    head, error = decode(reply)
    assert head == [V, 2, 5, uvrpc.Status.RESOURCE_EXHAUSTED]
    size = len(header) + len(body)
    assert error["message"] == (
        f"request of {ECHO} is {size:,} bytes, more than the 1,024 bytes this "
        "server takes (max_message_size)"
    )
    stats = small_server.stats
    wait_for(lambda: stats.replied == 1)  # counted once the send returned
    assert (stats.oversized, stats.rejected) == (1, 1)


def test_attachments_count_toward_the_size(small_server: RunningServer) -> None:
    header = msgpack.packb([V, 1, 6, ECHO, None])
    body = msgpack.packb({"1": msgpack.ExtType(1, b"\0\0\0\0")})
    reply = exchange(small_server.endpoint, [b"", bytes(1000), header, body])
    assert reply is not None
    head, error = decode(reply)
    assert head == [V, 2, 6, uvrpc.Status.RESOURCE_EXHAUSTED]


def test_an_oversized_oneway_request_is_dropped_and_counted(
    small_server: RunningServer,
) -> None:
    frames = request(0, ECHO, {"1": bytes(2000)})
    assert exchange(small_server.endpoint, frames, wait=0.3) is None
    wait_for(lambda: small_server.stats.dropped == 1)
    assert small_server.stats.oversized == 1


def test_a_frame_beyond_twice_the_limit_drops_the_connection(
    small_server: RunningServer,
) -> None:
    """ZeroMQ's MAXMSGSIZE backstop: the message never reaches the server. It
    is twice the limit, but never below what a batch of small messages may add
    up to."""
    frames = request(7, ECHO, {"1": bytes(BACKSTOP_MIN)})
    assert exchange(small_server.endpoint, frames, wait=0.3) is None
    assert small_server.stats.received == 0
    with EchoSyncClient(small_server.endpoint, timeout=10) as echo:
        assert bytes(echo.echo(data=b"still here")) == b"still here"


def test_a_batch_over_the_limit_is_taken_message_by_message(
    small_server: RunningServer,
) -> None:
    """A peer batches small messages without knowing the server's limit: a
    batch of them adding up to more than the limit is still taken, each of its
    messages measured against the limit as if it came alone."""

    def echo(call_id: int, size: int) -> tuple[bytes, bytes]:
        header = msgpack.packb([V, 1, call_id, ECHO, None])
        return header, msgpack.packb({"1": bytes(size)})

    # 30 small messages (some 14 times the limit in all), one over it.
    messages = [echo(n, 2000 if n == 9 else 500) for n in range(1, 31)]
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    statuses: dict[int, int] = {}
    try:
        sock.connect(small_server.endpoint)
        sock.send_multipart([b"", *encode_batch(messages)])
        while len(statuses) < len(messages):
            assert sock.poll(5000, zmq.POLLIN), f"replies: {statuses}"
            frames = sock.recv_multipart()
            replies = [(frames[-2], frames[-1])]
            if is_batch_header(frames[-2]):  # replies are batched too
                replies = split_batch(frames[-2], frames[-1])
            for header, body in replies:
                _, _, call_id, status, *_ = msgpack.unpackb(header)
                statuses[call_id] = status
                if status == 0:
                    assert msgpack.unpackb(body) == bytes(500)
    finally:
        sock.close()
    exhausted = uvrpc.Status.RESOURCE_EXHAUSTED
    assert statuses == {n: exhausted if n == 9 else 0 for n in range(1, 31)}
    assert small_server.stats.oversized == 1


def test_a_client_refuses_to_send_an_oversized_request(
    small_server: RunningServer,
) -> None:
    with (
        uvrpc.SyncChannel(small_server.endpoint, max_message_size=1024) as channel,
        EchoSyncClient(channel, timeout=10) as echo,
    ):
        with pytest.raises(uvrpc.ResourceExhausted, match="not sent"):
            echo.echo(data=bytes(2000))
        with pytest.raises(uvrpc.ResourceExhausted, match="not sent"):
            echo.echo(data=bytes(64 * 1024))  # as an attachment
        assert bytes(echo.echo(data=b"ok")) == b"ok"

    async def main() -> None:
        channel = uvrpc.Channel(small_server.endpoint, max_message_size=1024)
        async with channel, EchoClient(channel, timeout=10) as echo:
            with pytest.raises(uvrpc.ResourceExhausted, match="more than the 1,024"):
                await echo.echo(data=bytes(2000))
            assert bytes(await echo.echo(data=b"ok")) == b"ok"
            assert channel.pending == 0

    asyncio.run(main())
    assert small_server.stats.received == 2  # only the calls that fit


def oversized_reply_server(
    size: int,
) -> tuple[str, threading.Thread, threading.Event]:
    """A ROUTER answering each of two requests with a ``size``-byte reply, and
    closing once the returned event is set (a client drops a reply it had not
    read when the connection closes: ``docs/reliability.md``)."""
    done = threading.Event()
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    monitor = watch_disconnects(sock)
    sock.bind("tcp://127.0.0.1:*")
    endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)

    def answer() -> None:
        try:
            for _ in range(2):
                if not sock.poll(10_000, zmq.POLLIN):
                    return
                identity, _, header, _ = sock.recv_multipart()
                call_id = msgpack.unpackb(header)[2]
                body = msgpack.packb(bytes(size))
                sock.send_multipart(
                    [identity, b"", msgpack.packb([V, 2, call_id, 0]), body]
                )
            done.wait(10)
        finally:
            close_when_gone(sock, monitor, clients=2)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return endpoint, thread, done


def test_a_client_refuses_an_oversized_reply_without_decoding_it() -> None:
    endpoint, thread, done = oversized_reply_server(1500)
    with (
        uvrpc.SyncChannel(endpoint, max_message_size=1024) as channel,
        EchoSyncClient(channel, timeout=10) as echo,
    ):
        with pytest.raises(uvrpc.ResourceExhausted) as caught:
            echo.echo(data=b"x")
    assert "the reply of echo.Echo.echo is" in caught.value.message
    assert "more than the 1,024 bytes this channel takes" in caught.value.message

    async def main() -> None:
        channel = uvrpc.Channel(endpoint, max_message_size=1024)
        async with channel, EchoClient(channel, timeout=10) as echo:
            with pytest.raises(uvrpc.ResourceExhausted, match="the reply of"):
                await echo.echo(data=b"x")

    asyncio.run(main())
    done.set()
    thread.join(10)


def test_a_reply_far_over_a_clients_limit_fails_its_call_alone() -> None:
    """A reply many times the channel's ``max_message_size`` fails its call with
    RESOURCE_EXHAUSTED, and the next call on the channel is served: libzmq's own
    per-frame limit would have dropped the connection for good (no reconnection),
    failing every later call with UNAVAILABLE."""

    class Swelling(Echo):
        async def echo(self, *, data: memoryview) -> memoryview:
            return memoryview(bytes(data) * 10_000)  # a byte asked for: 10 KB back

    with server_thread(Swelling()) as running:
        with (
            uvrpc.SyncChannel(running.endpoint, max_message_size=1024) as channel,
            EchoSyncClient(channel, timeout=10) as echo,
        ):
            with pytest.raises(uvrpc.ResourceExhausted, match="the reply of"):
                echo.echo(data=b"x")
            assert bytes(echo.echo(data=b"")) == b""

        async def main() -> None:
            channel = uvrpc.Channel(running.endpoint, max_message_size=1024)
            async with channel, EchoClient(channel, timeout=10) as echo:
                with pytest.raises(uvrpc.ResourceExhausted, match="the reply of"):
                    await echo.echo(data=b"x")
                assert bytes(await echo.echo(data=b"")) == b""

        asyncio.run(main())


def test_a_channel_fails_calls_beyond_max_in_flight_at_once(tmp_path: Path) -> None:
    async def main() -> None:
        # Nobody serves this endpoint: every call stays pending.
        channel = uvrpc.Channel(f"ipc://{tmp_path / 'nobody'}", max_in_flight=2)
        async with channel, CalculatorClient(channel, timeout=30) as calc:
            first = calc.start_add(a=1, b=1)
            second = calc.start_add(a=1, b=2)
            with pytest.raises(uvrpc.ResourceExhausted, match="max_in_flight"):
                calc.start_add(a=1, b=3)
            assert channel.pending == 2
            del first, second

    asyncio.run(main())


class SlowCalculator(Calculator):
    """``add`` waits until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.go = threading.Event()

    async def add(self, *, a: int, b: int) -> int:
        while not self.go.is_set():
            await asyncio.sleep(0.01)
        return a + b


def test_a_server_refuses_requests_beyond_max_in_flight() -> None:
    service = SlowCalculator()
    # One caller may hold every slot here: the server's whole limit is tested.
    with server_thread(service, max_in_flight=2, max_in_flight_per_caller=2) as running:
        assert running.server is not None
        sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(running.endpoint)
        try:
            for call_id in (1, 2):
                sock.send_multipart(request(call_id, ADD, {"1": call_id, "2": 1}))
            wait_for(
                lambda: running.server is not None and running.server.in_flight == 2
            )
            sock.send_multipart(request(3, ADD, {"1": 3, "2": 1}))
            assert sock.poll(5000, zmq.POLLIN)
            head, error = decode(sock.recv_multipart())
            assert head == [V, 2, 3, uvrpc.Status.RESOURCE_EXHAUSTED]
            assert "max_in_flight" in error["message"]
            assert running.stats.overloaded == 1
            service.go.set()
            answers = {}
            for _ in range(2):
                assert sock.poll(5000, zmq.POLLIN)
                head, body = decode(sock.recv_multipart())
                answers[head[2]] = body
            assert answers == {1: 2, 2: 3}
        finally:
            sock.close()
        wait_for(lambda: running.server is not None and running.server.in_flight == 0)
        with CalculatorSyncClient(running.endpoint, timeout=10) as calc:
            assert calc.add(a=2, b=2) == 4


def test_routing_frames_of_a_direct_peers_own_name_no_other_caller() -> None:
    """A DEALER that puts routing frames of its own before the delimiter is one
    caller still: keyed by them, one connection could take every handler slot
    (a share for each frame it made up) and lock out every other caller."""
    service = SlowCalculator()
    with server_thread(service, max_in_flight=8, max_in_flight_per_caller=2) as running:
        faker: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
        faker.setsockopt(zmq.LINGER, 0)
        faker.connect(running.endpoint)
        try:
            for call_id in (1, 2, 3):
                made_up = b"caller-%d" % call_id
                frames = request(call_id, ADD, {"1": call_id, "2": 1})
                faker.send_multipart([made_up, *frames])
            assert faker.poll(5000, zmq.POLLIN)
            reply = faker.recv_multipart()
            assert reply[0] == b"caller-3"  # answered by the envelope it came with
            head, error = decode(reply[1:])
            assert head == [V, 2, 3, uvrpc.Status.RESOURCE_EXHAUSTED]
            assert "max_in_flight_per_caller" in error["message"]
            service.go.set()
            answered = set()
            for _ in range(2):
                assert faker.poll(5000, zmq.POLLIN)
                answered.add(faker.recv_multipart()[0])
            assert answered == {b"caller-1", b"caller-2"}
        finally:
            faker.close()


def test_one_caller_cannot_hold_every_handler_slot() -> None:
    """A caller at its share of ``max_in_flight`` is refused, naming the option;
    another caller is still served, and the first is again once its calls end."""
    service = SlowCalculator()
    with server_thread(service, max_in_flight=8, max_in_flight_per_caller=2) as running:
        greedy: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
        greedy.setsockopt(zmq.LINGER, 0)
        greedy.connect(running.endpoint)
        try:
            for call_id in (1, 2):
                greedy.send_multipart(request(call_id, ADD, {"1": call_id, "2": 1}))
            wait_for(
                lambda: running.server is not None and running.server.in_flight == 2
            )
            greedy.send_multipart(request(3, ADD, {"1": 3, "2": 1}))
            head, error = decode(next_reply(greedy))
            assert head == [V, 2, 3, uvrpc.Status.RESOURCE_EXHAUSTED]
            assert "max_in_flight_per_caller" in error["message"]
            assert "2 handlers of one caller" in error["message"]
            # Another caller gets its own share while the first holds all of its.

            async def others() -> list[int]:
                async with CalculatorClient(running.endpoint, timeout=10) as calc:
                    calls = [asyncio.ensure_future(calc.add(a=n, b=1)) for n in (0, 1)]
                    deadline = time.monotonic() + 10
                    while running.server is not None and running.server.in_flight < 4:
                        assert time.monotonic() < deadline, "the calls never ran"
                        await asyncio.sleep(0.01)
                    service.go.set()
                    return list(await asyncio.gather(*calls))

            assert asyncio.run(others()) == [1, 2]
            answers = {}
            for _ in range(2):
                head, body = decode(next_reply(greedy))
                answers[head[2]] = body
            assert answers == {1: 2, 2: 3}
            assert running.stats.overloaded == 1
        finally:
            greedy.close()


def stream_request(call_id: int, count: int) -> list[bytes]:
    header = msgpack.packb([V, 1, call_id, "feed.Feed.numbers", None, 1])
    return [b"", header, msgpack.packb({"1": count})]


def test_one_caller_cannot_hold_every_stream_slot() -> None:
    with server_thread(Feed(), max_streams_per_caller=1) as running:
        ctx: zmq.Context[Any] = zmq.Context.instance()
        greedy: zmq.Socket[bytes] = ctx.socket(zmq.DEALER)
        other: zmq.Socket[bytes] = ctx.socket(zmq.DEALER)
        try:
            for sock in (greedy, other):
                sock.setsockopt(zmq.LINGER, 0)
                sock.connect(running.endpoint)
            # A window of one item and many to send: the stream stays open.
            greedy.send_multipart(stream_request(1, 1000))
            assert greedy.poll(5000, zmq.POLLIN)
            head, item = decode(greedy.recv_multipart())
            assert head[:3] == [V, 3, 1]
            greedy.send_multipart(stream_request(2, 1000))
            assert greedy.poll(5000, zmq.POLLIN)
            head, error = decode(greedy.recv_multipart())
            assert head == [V, 2, 2, uvrpc.Status.RESOURCE_EXHAUSTED]
            assert "max_streams_per_caller" in error["message"]
            other.send_multipart(stream_request(1, 1))
            assert other.poll(5000, zmq.POLLIN)
            head, item = decode(other.recv_multipart())
            assert (head[:3], item) == ([V, 3, 1], 0)
        finally:
            greedy.close()
            other.close()


def test_high_water_marks_are_set_as_asked() -> None:
    async def main() -> None:
        async with uvrpc.Server(Calculator(), hwm=10) as server:
            sock = server._sock
            assert sock.getsockopt(zmq.SNDHWM) == sock.getsockopt(zmq.RCVHWM) == 10
            assert sock.getsockopt(zmq.MAXMSGSIZE) == 2 * uvrpc.MAX_MESSAGE_SIZE
        channel = uvrpc.SyncChannel("inproc://nobody-hwm", hwm=20)
        assert channel._main._sock.getsockopt(zmq.RCVHWM) == 20
        channel.close()

    asyncio.run(main())


@pytest.mark.parametrize(
    "options",
    [{"max_message_size": 0}, {"max_in_flight": 0}, {"hwm": -1}, {"max_streams": 0}],
)
def test_a_limit_must_be_a_positive_integer(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be an integer of at least"):
        uvrpc.Server(Calculator(), **options)


@pytest.mark.parametrize(
    "options",
    [
        {"max_metadata": -1},
        {"max_metadata": 1.5},
        {"attachment_min": 0},
        {"attachment_min": "5"},
        {"probe_interval": 0},
        {"probe_interval": float("nan")},
        {"probe_interval": float("inf")},
        {"probe_interval": True},
    ],
)
def test_a_servers_other_settings_are_checked_where_given(
    options: dict[str, Any],
) -> None:
    """A NaN probe interval, a negative metadata limit or a string for the
    attachment size was taken, and failed (or checked nothing) far from where it
    was given: at the first call, the first timer."""
    name = next(iter(options))
    with pytest.raises(ValueError, match=f"^{name} must be"):
        uvrpc.Server(Calculator(), **options)


@pytest.mark.parametrize("value", [0, -1, 1.5, "5", None])
def test_a_channels_attachment_size_is_checked_where_given(value: Any) -> None:
    endpoint = "inproc://nobody-attachment-min"
    with pytest.raises(ValueError, match="^attachment_min must be an integer"):
        uvrpc.Channel(endpoint, attachment_min=value)
    with pytest.raises(ValueError, match="^attachment_min must be an integer"):
        uvrpc.SyncChannel(endpoint, attachment_min=value)


def test_settings_in_seconds_take_any_real_number_but_a_bool() -> None:
    """What is refused above is the value, not a spelling of a number: an int, a
    float or a float subclass passes, and zero where zero means something."""
    from uvrpc.wire.limits import check_seconds

    class Seconds(float):
        pass

    assert check_seconds("t", 2) == 2.0
    assert check_seconds("t", Seconds(0.5)) == 0.5
    assert check_seconds("t", 0, zero=True) == 0.0
    for bad in (0, -0.1, True, float("nan"), float("inf"), "1"):
        with pytest.raises(ValueError, match="^t must be a finite number of seconds"):
            check_seconds("t", bad)


@pytest.mark.parametrize("window", [1.5, 2.0, True, float("nan"), "8"])
def test_a_stream_window_must_be_an_integer(window: Any) -> None:
    """``docs/memory.md``: a window is a whole number of items, else ``ValueError``
    where it is given, not an INVALID_ARGUMENT from the server at every stream."""
    endpoint = "inproc://nobody-window"
    with pytest.raises(ValueError, match="a stream window must be an integer"):
        uvrpc.Channel(endpoint, stream_window=window)
    with pytest.raises(ValueError, match="a stream window must be an integer"):
        uvrpc.SyncChannel(endpoint, stream_window=window)
    with pytest.raises(ValueError, match="a stream window must be an integer"):
        uvrpc.Server(Feed(), stream_window=window)
