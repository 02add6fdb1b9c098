"""Per-call metadata: request headers to the handler, reply trailers back, on
success and on error, over ZeroMQ and in memory; limits; the wire form."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import msgpack
import pytest
import zmq
import zmq.asyncio
from calculator import CalculatorClient, CalculatorSyncClient
from calculator_server import Calculator
from conftest import PLACES, server_thread, serving
from feed import FeedClient, FeedSyncClient
from feed_server import Feed

import uvrpc
from uvrpc.protocol import (
    RequestHeaders,
    encode_reply_header,
    parse_client_header,
    parse_request_header,
)

V = uvrpc.PROTOCOL_VERSION


class Tagging(Calculator):
    """Records the request's metadata and answers with trailers."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: Mapping[str, str | bytes] = {}

    async def add(self, *, a: int, b: int) -> int:
        call = uvrpc.current_call()
        self.seen = dict(call.metadata)
        call.set_trailer("x-sum", str(a + b))
        call.set_trailer("x-raw", b"\x00\xff")
        await asyncio.sleep(0)  # trailers survive a suspension too
        if a < 0:  # a call that never replies: its caller gives it up
            await asyncio.sleep(60)
        return a + b

    async def divide(self, *, a: int, b: int) -> int:
        uvrpc.current_call().set_trailer("x-why", "division")
        if b == 0:
            raise uvrpc.InvalidArgument("b is zero")
        return a // b


@pytest.mark.parametrize("place", PLACES)
def test_metadata_travels_both_ways(place: str, tmp_path: Path) -> None:
    async def main() -> None:
        service = Tagging()
        async with serving(place, tmp_path, service) as (channel, _):
            calc = CalculatorClient(channel)
            with uvrpc.metadata({"x-request-id": "42", "x-bin": b"\x01"}) as md:
                assert md.trailers == {}
                assert await calc.add(a=2, b=3) == 5
            assert service.seen == {"x-request-id": "42", "x-bin": b"\x01"}
            assert md.trailers == {"x-sum": "5", "x-raw": b"\x00\xff"}
            # Outside the block nothing is sent.
            assert await calc.add(a=1, b=1) == 2
            assert service.seen == {}
            # A started call's handle has the trailers.
            call = calc.start_add(a=4, b=4)
            assert await call == 8
            assert call.trailers == {"x-sum": "8", "x-raw": b"\x00\xff"}
            # Trailers come with errors too.
            with uvrpc.metadata() as md, pytest.raises(uvrpc.InvalidArgument) as caught:
                await calc.divide(a=1, b=0)
            assert caught.value.trailers == {"x-why": "division"}
            assert md.trailers == {"x-why": "division"}
            assert await calc.divide(a=4, b=2) == 2

    asyncio.run(asyncio.wait_for(main(), 10))


@pytest.mark.parametrize("place", PLACES)
def test_a_call_given_up_leaves_its_block_no_earlier_call_s_trailers(
    place: str, tmp_path: Path
) -> None:
    """A call that ends without a reply (cancelled, or a stream left early)
    has no trailers: its block's ``trailers`` are empty after it, as after a
    call that failed at its deadline, not an earlier call's, which read as
    this one's."""

    async def main() -> None:
        async with serving(place, tmp_path, Tagging(), Feed()) as (channel, _):
            calc, feed = CalculatorClient(channel, timeout=10), FeedClient(channel)
            with uvrpc.metadata() as md:
                assert await calc.add(a=1, b=2) == 3
                assert md.trailers["x-sum"] == "3"
                pending = asyncio.ensure_future(calc.add(a=-1, b=0))
                await asyncio.sleep(0.1)
                pending.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await pending
                assert md.trailers == {}

                assert await calc.add(a=2, b=2) == 4
                async with feed.numbers(count=1000) as numbers:
                    assert await anext(numbers) == 0
                assert md.trailers == {}

    asyncio.run(asyncio.wait_for(main(), 10))


def test_a_blocking_call_given_up_leaves_its_block_no_earlier_call_s_trailers(
    tmp_path: Path,
) -> None:
    with server_thread(Tagging(), Feed(), bind=f"ipc://{tmp_path / 's.sock'}") as s:
        with (
            CalculatorSyncClient(s.endpoint, timeout=10) as calc,
            FeedSyncClient(s.endpoint, timeout=10) as feed,
        ):
            with uvrpc.metadata() as md:
                assert calc.add(a=1, b=2) == 3
                assert md.trailers["x-sum"] == "3"
                numbers = feed.numbers(count=1000)
                assert next(numbers) == 0
                numbers.close()
                assert md.trailers == {}


def test_blocks_nest_and_merge(tmp_path: Path) -> None:
    async def main() -> None:
        service = Tagging()
        async with serving("memory", tmp_path, service) as (channel, _):
            calc = CalculatorClient(channel)
            with uvrpc.metadata({"a": "1", "b": "1"}):
                with uvrpc.metadata({"b": "2"}) as inner:
                    await calc.add(a=1, b=1)
                    assert inner.headers == {"a": "1", "b": "2"}
                assert service.seen == {"a": "1", "b": "2"}
                await calc.add(a=1, b=1)
                assert service.seen == {"a": "1", "b": "1"}

    asyncio.run(asyncio.wait_for(main(), 10))


def test_the_blocking_client_sends_metadata_and_reads_trailers(
    tmp_path: Path,
) -> None:
    service = Tagging()
    with server_thread(service, bind=f"ipc://{tmp_path / 's.sock'}") as running:
        with CalculatorSyncClient(running.endpoint, timeout=5) as calc:
            with uvrpc.metadata({"x-request-id": "7"}) as md:
                assert calc.add(a=1, b=2) == 3
            assert md.trailers == {"x-sum": "3", "x-raw": b"\x00\xff"}
    assert service.seen == {"x-request-id": "7"}


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({"X-Upper": "1"}, uvrpc.InvalidArgument),
        ({"spaced key": "1"}, uvrpc.InvalidArgument),
        ({"caf\u00e9": "1"}, uvrpc.InvalidArgument),
        ({"x-int": 1}, uvrpc.InvalidArgument),
        # A str that UTF-8 cannot encode: a raw UnicodeEncodeError before.
        ({"x-surrogate": "\udcff"}, uvrpc.InvalidArgument),
        ({"x-big": "v" * uvrpc.MAX_METADATA}, uvrpc.ResourceExhausted),
    ],
)
def test_bad_metadata_is_refused_on_entry(
    headers: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error), uvrpc.metadata(headers):  # type: ignore[arg-type]
        pass


def test_a_bad_trailer_fails_the_handler() -> None:
    class BadTrailer(Calculator):
        async def add(self, *, a: int, b: int) -> int:
            uvrpc.current_call().set_trailer("x-big", "v" * uvrpc.MAX_METADATA)
            return a + b

    async def main() -> None:
        async with serving("memory", Path(), BadTrailer()) as (channel, _):
            with pytest.raises(uvrpc.ResourceExhausted, match="trailer"):
                await CalculatorClient(channel).add(a=1, b=1)

    asyncio.run(asyncio.wait_for(main(), 10))


@pytest.mark.parametrize(
    ("key", "value"), [("Bad Key!", "v"), ("x-int", 1), ("x-surrogate", "\udcff")]
)
def test_a_handlers_bad_trailer_fails_its_call_internal_not_invalid_argument(
    key: str, value: object
) -> None:
    """The handler's mistake, not its caller's: INVALID_ARGUMENT would tell the
    caller that its own request was bad."""

    class BadTrailer(Calculator):
        async def add(self, *, a: int, b: int) -> int:
            uvrpc.current_call().set_trailer(key, value)  # type: ignore[arg-type]
            return a + b

    async def main() -> None:
        async with serving("memory", Path(), BadTrailer()) as (channel, _):
            with pytest.raises(uvrpc.InternalError, match="trailer"):
                await CalculatorClient(channel).add(a=1, b=1)

    asyncio.run(asyncio.wait_for(main(), 10))


def test_a_server_refuses_metadata_over_its_limit(tmp_path: Path) -> None:
    async def main() -> None:
        service = Tagging()
        async with serving("ipc", tmp_path, service, max_metadata=16) as (ch, _):
            calc = CalculatorClient(ch)
            with uvrpc.metadata({"x-long": "v" * 20}):
                with pytest.raises(uvrpc.ResourceExhausted, match="at most 16"):
                    await calc.add(a=1, b=1)
            with uvrpc.metadata({"x-ok": "v"}):
                assert await calc.add(a=1, b=1) == 2

    asyncio.run(asyncio.wait_for(main(), 10))


def test_a_server_refuses_malformed_metadata(tmp_path: Path) -> None:
    async def main() -> None:
        async with uvrpc.Server(Tagging()) as server:
            endpoint = server.bind(f"ipc://{tmp_path / 'raw.sock'}")
            sock = zmq.asyncio.Context.instance().socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(endpoint)
            try:
                bad_maps = ([1, 2, 3], {"X-Upper": "1"}, {"x-int": 1})
                for call_id, bad in enumerate(bad_maps, 1):
                    header = msgpack.packb(
                        [V, 1, call_id, "calculator.Calculator.add", None, None, bad]
                    )
                    body = msgpack.packb({"1": 1, "2": 1})
                    await sock.send_multipart([b"", header, body])
                    frames = await sock.recv_multipart()
                    assert msgpack.unpackb(frames[-2]) == [V, 2, call_id, 3]
                assert server.stats.rejected == len(bad_maps)
            finally:
                sock.close(linger=0)

    asyncio.run(asyncio.wait_for(main(), 10))


def test_headers_on_the_wire() -> None:
    headers = RequestHeaders("calculator.Calculator.add")
    plain = headers.encode(7, 5000)
    # No metadata: the header is the five elements it always was.
    assert msgpack.unpackb(plain) == [V, 1, 7, "calculator.Calculator.add", 5000]
    md = msgpack.packb({"x-request-id": "42"})
    tagged = headers.encode(7, None, md)
    assert msgpack.unpackb(tagged) == [
        V,
        1,
        7,
        "calculator.Calculator.add",
        None,
        None,
        {"x-request-id": "42"},
    ]
    head = parse_request_header(tagged)
    assert head.window is None and head.metadata == {"x-request-id": "42"}
    stream = headers.encode_stream(8, 100, 32, md)
    assert msgpack.unpackb(stream)[4:] == [100, 32, {"x-request-id": "42"}]
    assert msgpack.unpackb(headers.encode_stream(8, None, None, md))[4:] == [
        None,
        None,
        {"x-request-id": "42"},
    ]
    reply = encode_reply_header(7, 0, msgpack.packb({"x-sum": "5"}))
    assert msgpack.unpackb(reply) == [V, 2, 7, 0, {"x-sum": "5"}]
    parsed = parse_client_header(reply)
    assert isinstance(parsed, uvrpc.protocol.ReplyHeader)
    assert parsed.trailers == {"x-sum": "5"}
    plain_reply = parse_client_header(encode_reply_header(7, 0))
    assert isinstance(plain_reply, uvrpc.protocol.ReplyHeader)
    assert plain_reply.trailers is None


def test_a_handler_outside_metadata_sees_an_empty_map() -> None:
    async def main() -> None:
        service = Tagging()
        async with serving("memory", Path(), service) as (channel, _):
            await CalculatorClient(channel).add(a=1, b=1)
        assert service.seen == {}

    asyncio.run(asyncio.wait_for(main(), 10))
