"""Streaming calls in all three directions, over a real server and in memory.

Each kind delivers every item in order and ends with the handler; empty streams
work; large binary values travel as attachments; credit bounds what a receiver
buffers in both directions and a server enforces what it granted; cancelling,
deadlines and typed errors end a stream on both sides; and a peer that vanishes
ends the other side's call with a typed error, never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Coroutine, Sequence
from pathlib import Path
from typing import Any, cast

import feed
import msgpack
import pytest
import zmq
import zmq.asyncio
from conftest import server_thread
from feed import FeedClient, FeedSyncClient, Tick, Total
from feed_server import Feed, payload

import uvrpc
import uvrpc.testing
from uvrpc.core.credit import MAX_WINDOW

V = uvrpc.PROTOCOL_VERSION
HERE = Path(__file__).resolve().parents[1]
KINDS = ("ipc", "memory")


def run(main: Coroutine[Any, Any, None], limit: float = 15) -> None:
    asyncio.run(asyncio.wait_for(main, limit))


@contextlib.asynccontextmanager
async def connect(
    service: Feed,
    kind: str,
    tmp_path: Path,
    *,
    window: int = uvrpc.sessions.STREAM_WINDOW,
    server_window: int = uvrpc.sessions.STREAM_WINDOW,
    probe_interval: float = uvrpc.sessions.PROBE_INTERVAL,
) -> AsyncIterator[tuple[FeedClient, uvrpc.Server | None]]:
    """A client of ``service``: over ipc to a server in this loop, or in memory."""
    if kind == "memory":
        transport = uvrpc.testing.MemoryTransport(service, stream_window=server_window)
        async with uvrpc.Channel(transport, stream_window=window) as channel:
            yield FeedClient(channel, timeout=10), None
            assert channel.streaming == 0
        return
    async with uvrpc.Server(
        service, stream_window=server_window, probe_interval=probe_interval
    ) as server:
        endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")
        async with uvrpc.Channel(endpoint, stream_window=window) as channel:
            yield FeedClient(channel, timeout=10), server
            assert channel.streaming == 0
            assert channel.dropped_replies == 0


async def ticks(count: int, size: int = 0, delay: float = 0.0) -> AsyncIterator[Tick]:
    for seq in range(count):
        if delay:
            await asyncio.sleep(delay)
        yield Tick(seq=seq, data=payload(seq, size))


def same(view: memoryview, expected: bytes) -> bool:
    return len(view) == len(expected) and expected.startswith(view)


async def eventually(condition: Any, within: float = 2.0) -> None:
    """Wait until ``condition()`` holds, failing after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.01)


# --- each kind ----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_server_stream_delivers_every_item_in_order(kind: str, tmp_path: Path) -> None:
    async def main() -> None:
        service = Feed()
        async with connect(service, kind, tmp_path) as (client, server):
            got = [tick async for tick in client.ticks(count=100, size=10)]
            assert [tick.seq for tick in got] == list(range(100))
            assert all(same(t.data, payload(t.seq, 10)) for t in got)
            assert [n async for n in client.numbers(count=5)] == [0, 1, 2, 3, 4]
            assert service.finished.is_set() and not service.cancelled.is_set()
            if server is not None:
                await eventually(lambda: server.in_flight == 0)
                assert server.stats.streams == 2
                assert server.stats.replied == 2

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_client_stream_returns_the_handlers_result(kind: str, tmp_path: Path) -> None:
    async def main() -> None:
        service = Feed()
        async with connect(service, kind, tmp_path) as (client, _):
            total = await client.upload(ticks=ticks(100, size=3), label="a")
            assert total == Total(count=100, bytes=300)
            assert [t.seq for t in service.received] == list(range(100))

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_bidi_stream_echoes_every_item(kind: str, tmp_path: Path) -> None:
    async def main() -> None:
        service = Feed()
        async with connect(service, kind, tmp_path) as (client, _):
            async with client.echo(ticks=ticks(100, size=5)) as echoed:
                got = [tick async for tick in echoed]
            assert [t.seq for t in got] == list(range(100))
            assert all(same(t.data, payload(t.seq, 5)) for t in got)
            assert not service.cancelled.is_set()

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_empty_streams(kind: str, tmp_path: Path) -> None:
    async def main() -> None:
        async with connect(Feed(), kind, tmp_path) as (client, _):
            assert [t async for t in client.ticks(count=0)] == []
            assert await client.upload(ticks=ticks(0)) == Total(count=0, bytes=0)
            assert [t async for t in client.echo(ticks=ticks(0))] == []

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_large_items_travel_as_attachments(kind: str, tmp_path: Path) -> None:
    size = 40 * 1024  # above the 32 KiB from which bytes travel as frames

    async def main() -> None:
        service = Feed()
        async with connect(service, kind, tmp_path) as (client, _):
            got = [t async for t in client.ticks(count=20, size=size)]
            assert all(same(t.data, payload(t.seq, size)) for t in got)
            if kind == "ipc":
                # A view of the received frame itself, not a copy.
                assert all(isinstance(t.data.obj, zmq.Frame) for t in got)
            total = await client.upload(ticks=ticks(20, size=size))
            assert total == Total(count=20, bytes=20 * size)
            assert all(same(t.data, payload(t.seq, size)) for t in service.received)
            echoed = [t async for t in client.echo(ticks=ticks(10, size=size))]
            assert all(same(t.data, payload(t.seq, size)) for t in echoed)

    run(main())


def test_streams_and_unary_calls_share_a_channel(tmp_path: Path) -> None:
    async def main() -> None:
        async with connect(Feed(), "ipc", tmp_path) as (client, _):

            async def count_ticks() -> int:
                return len([t async for t in client.ticks(count=200)])

            results = await asyncio.gather(
                count_ticks(),
                count_ticks(),
                client.upload(ticks=ticks(200)),
                *(client.ping(n=n) for n in range(50)),
            )
            assert results[:3] == [200, 200, Total(count=200, bytes=0)]
            assert results[3:] == list(range(50))

    run(main())


# --- flow control -------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_slow_caller_buffers_at_most_its_window(kind: str, tmp_path: Path) -> None:
    async def main() -> None:
        async with connect(Feed(), kind, tmp_path, window=8) as (client, _):
            stream = client.ticks(count=100)
            seqs = []
            async for tick in stream:
                seqs.append(tick.seq)
                await asyncio.sleep(0.002)  # 100x slower than the server
            assert seqs == list(range(100))
            assert 1 <= stream.buffered_max <= 8
            # Bidirectional too: the echoes wait for the caller.
            echo = client.echo(ticks=ticks(60))
            async for _ in echo:
                await asyncio.sleep(0.002)
            assert 1 <= echo.buffered_max <= 8

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_a_slow_handler_buffers_at_most_its_window(kind: str, tmp_path: Path) -> None:
    async def main() -> None:
        service = Feed(delay=0.002)  # 100x slower than the caller
        async with connect(service, kind, tmp_path, server_window=8) as (client, srv):
            assert await client.upload(ticks=ticks(100)) == Total(count=100, bytes=0)
            host = (
                srv.stream_host
                if srv is not None
                else cast(
                    uvrpc.testing.MemoryTransport, client.channel._transport
                ).stream_host
            )
            assert host is not None
            assert 1 <= host.buffered_max <= 8
            assert host.active == 0

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_the_largest_window_is_granted_and_a_larger_one_refused(
    kind: str, tmp_path: Path
) -> None:
    # A server grants its whole window in the CREDIT that opens a client's
    # stream, whose count is 32 bits: a larger window used to crash the call's
    # session on the server, leaving the caller without a reply.
    largest = MAX_WINDOW

    async def main() -> None:
        async with connect(
            Feed(), kind, tmp_path, window=largest, server_window=largest
        ) as (client, _):
            assert await client.upload(ticks=ticks(3)) == Total(count=3, bytes=0)
            assert [t.seq async for t in client.echo(ticks=ticks(3))] == [0, 1, 2]
        endpoint = f"ipc://{tmp_path / 'none.sock'}"
        for too_large in (largest + 1, 2**64):
            with pytest.raises(ValueError, match="at most 4,294,967,295 items"):
                uvrpc.Server(Feed(), stream_window=too_large)
            with pytest.raises(ValueError, match="at most 4,294,967,295 items"):
                uvrpc.Channel(endpoint, stream_window=too_large)
            with pytest.raises(ValueError, match="at most 4,294,967,295 items"):
                uvrpc.SyncChannel(endpoint, stream_window=too_large)

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_a_handler_that_stops_reading_holds_at_most_the_default_window(
    kind: str, tmp_path: Path
) -> None:
    """At the default window of 128 items a reader that stops still pushes back:
    the server queues at most the window, and the caller's items wait for credit
    (the one the sender holds, and none more, is read from the caller)."""
    window = uvrpc.sessions.STREAM_WINDOW
    produced = 0

    async def items() -> AsyncIterator[Tick]:
        nonlocal produced
        for seq in range(3 * window):
            produced += 1
            yield Tick(seq=seq, data=payload(seq, 1024))

    async def main() -> None:
        service = Feed(delay=60)  # takes the first item, then stops reading
        async with connect(service, kind, tmp_path) as (client, srv):
            upload = asyncio.ensure_future(client.upload(ticks=items()))
            await asyncio.wait_for(service.started.wait(), 5)
            host = (
                srv.stream_host
                if srv is not None
                else cast(
                    uvrpc.testing.MemoryTransport, client.channel._transport
                ).stream_host
            )
            assert host is not None
            await eventually(lambda: host.buffered_max >= window - 1, within=10)
            assert host.buffered_max <= window
            assert window - 1 <= produced <= window + 1
            upload.cancel()
            await asyncio.wait_for(service.cancelled.wait(), 5)
            assert host.buffered_max <= window and produced <= window + 1

    run(main())


def raw_header(kind: int, call_id: int, n: int = 0) -> bytes:
    return msgpack.packb([V, kind, call_id, n])


def raw_request(
    call_id: int, route: str, body: Any, timeout_ms: int | None
) -> list[bytes]:
    header = msgpack.packb([V, 1, call_id, route, timeout_ms])
    return [b"", header, msgpack.packb(body)]


def raw_item(call_id: int, seq: int) -> list[bytes]:
    return [b"", raw_header(3, call_id), msgpack.packb({"1": seq})]


def test_the_server_enforces_the_credit_it_granted(tmp_path: Path) -> None:
    async def main() -> None:
        service = Feed(delay=1.0)  # takes the first item, then sleeps
        async with uvrpc.Server(service, stream_window=4) as server:
            endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")
            sock = zmq.asyncio.Context.instance().socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(endpoint)
            try:
                await sock.send_multipart(raw_request(5, "feed.Feed.upload", {}, None))
                credit = await asyncio.wait_for(sock.recv_multipart(), 2)
                assert msgpack.unpackb(credit[1]) == [V, 6, 5, 4]
                for seq in range(20):  # 16 more than granted
                    await sock.send_multipart(raw_item(5, seq))
                # The handler took the first item, and may grant it back (a
                # CREDIT of a quarter window) before the excess is read.
                while True:
                    reply = await asyncio.wait_for(sock.recv_multipart(), 2)
                    header = msgpack.unpackb(reply[1])
                    if header != [V, 6, 5, 1]:
                        break
                assert header == [V, 2, 5, uvrpc.Status.RESOURCE_EXHAUSTED]
                assert "beyond the 4 items" in msgpack.unpackb(reply[2])["message"]
            finally:
                sock.close()
            await asyncio.wait_for(service.cancelled.wait(), 2)
            assert server.stream_host is not None
            assert server.stream_host.buffered_max <= 4
            await eventually(lambda: server.in_flight == 0)

    run(main())


# --- cancellation and deadlines -------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_cancel_cancels_the_servers_handler(kind: str, tmp_path: Path) -> None:
    async def main() -> None:
        service = Feed(delay=0.01)
        async with connect(service, kind, tmp_path) as (client, _):
            stream = client.ticks(count=10**6)
            assert (await anext(stream)).seq == 0
            stream.cancel()
            await asyncio.wait_for(service.cancelled.wait(), 2)
            with pytest.raises(uvrpc.Cancelled):
                await anext(stream)

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_leaving_async_with_early_cancels(kind: str, tmp_path: Path) -> None:
    async def main() -> None:
        service = Feed(delay=0.01)
        async with connect(service, kind, tmp_path) as (client, _):
            async with client.echo(ticks=ticks(10**6, delay=0.01)) as echoed:
                async for tick in echoed:
                    if tick.seq == 2:
                        break
            await asyncio.wait_for(service.cancelled.wait(), 2)
            with pytest.raises(StopAsyncIteration):
                await anext(echoed)
            # aclose() does the same, and the channel goes on working.
            service.cancelled.clear()
            stream = client.ticks(count=10**6)
            await anext(stream)
            await stream.aclose()
            await asyncio.wait_for(service.cancelled.wait(), 2)
            assert await client.ping(n=1) == 1

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_cancelling_the_awaiting_task_cancels_a_client_stream(
    kind: str, tmp_path: Path
) -> None:
    async def main() -> None:
        service = Feed()
        async with connect(service, kind, tmp_path) as (client, _):
            upload = asyncio.ensure_future(
                client.upload(ticks=ticks(10**6, delay=0.01))
            )
            await service.started.wait()
            upload.cancel()
            await asyncio.wait_for(service.cancelled.wait(), 2)
            with pytest.raises(asyncio.CancelledError):
                await upload

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_the_deadline_covers_the_whole_stream(kind: str, tmp_path: Path) -> None:
    async def main() -> None:
        service = Feed(delay=0.02)
        async with connect(service, kind, tmp_path) as (client, _):
            seqs: list[int] = []
            started = time.monotonic()
            with pytest.raises(uvrpc.DeadlineExceeded):
                async for tick in client.ticks(count=10**6, timeout=0.3):
                    seqs.append(tick.seq)
            assert 0.3 <= time.monotonic() - started < 1.5
            assert seqs == list(range(len(seqs))) and len(seqs) >= 2
            await asyncio.wait_for(service.cancelled.wait(), 2)
            service.cancelled.clear()
            with pytest.raises(uvrpc.DeadlineExceeded):
                await client.upload(ticks=ticks(10**6, delay=0.02), timeout=0.2)
            await asyncio.wait_for(service.cancelled.wait(), 2)

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_a_handler_cancelled_at_a_yield_is_closed_there(
    kind: str, tmp_path: Path
) -> None:
    """docs/protocol.md: a streaming handler cancelled while its generator waits
    at a ``yield`` sees ``GeneratorExit`` there, not ``CancelledError``; its
    ``finally`` runs."""

    async def main() -> None:
        service = Feed()  # no delay: the generator only ever waits at a yield
        async with connect(service, kind, tmp_path, window=4) as (client, _):
            stream = client.ticks(count=10**6)
            assert (await anext(stream)).seq == 0
            stream.cancel()
            await asyncio.wait_for(service.finished.wait(), 2)
            assert not service.cancelled.is_set()

    run(main())


def test_the_server_cancels_at_the_deadline_it_received(tmp_path: Path) -> None:
    async def main() -> None:
        service = Feed()
        async with uvrpc.Server(service) as server:
            endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")
            sock = zmq.asyncio.Context.instance().socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(endpoint)
            try:
                # An upload that never sends an item, never cancels and never ends.
                await sock.send_multipart(raw_request(9, "feed.Feed.upload", {}, 200))
                started = time.monotonic()
                await asyncio.wait_for(service.cancelled.wait(), 2)
                assert 0.15 <= time.monotonic() - started < 1.5
            finally:
                sock.close()

    run(main())


# --- errors ---------------------------------------------------------------------


class Failing(Feed):
    """Handlers that fail part-way with typed errors, or break their types."""

    async def ticks(self, *, count: int, size: int) -> AsyncIterator[Tick]:
        for seq in range(count):
            yield Tick(seq=seq)
        raise uvrpc.NotFound(f"no tick {count}", {"seq": count})

    async def upload(self, *, ticks: AsyncIterator[Tick], label: str) -> Total:
        async for tick in ticks:
            if tick.seq == 3:
                raise uvrpc.PermissionDenied(f"tick 3 is not for {label}")
        return Total(count=0, bytes=0)

    async def echo(self, *, ticks: AsyncIterator[Tick]) -> AsyncIterator[Tick]:
        async for tick in ticks:
            yield tick
            if tick.seq == 1:
                raise KeyError("boom")

    async def numbers(self, *, count: int) -> AsyncIterator[int]:
        yield 1
        yield cast(int, "two")


@pytest.mark.parametrize("kind", KINDS)
def test_a_handlers_error_ends_the_stream_with_its_typed_error(
    kind: str, tmp_path: Path
) -> None:
    async def main() -> None:
        async with connect(Failing(), kind, tmp_path) as (client, _):
            seqs = []
            with pytest.raises(uvrpc.NotFound) as caught:
                async for tick in client.ticks(count=3):
                    seqs.append(tick.seq)
            assert seqs == [0, 1, 2]
            assert caught.value.message == "no tick 3"
            assert caught.value.details == {"seq": 3}
            with pytest.raises(uvrpc.PermissionDenied, match="not for x"):
                await client.upload(ticks=ticks(10), label="x")
            with pytest.raises(uvrpc.RemoteError, match="KeyError"):
                async for _ in client.echo(ticks=ticks(10)):
                    pass
            got = []
            with pytest.raises(uvrpc.InternalError, match="item 1 of the stream"):
                async for n in client.numbers(count=2):
                    got.append(n)
            assert got == [1]

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_an_invalid_item_from_the_client_names_it(kind: str, tmp_path: Path) -> None:
    async def main() -> None:
        service = Feed()
        async with connect(service, kind, tmp_path) as (client, _):

            async def items() -> AsyncIterator[Any]:
                yield Tick(seq=0)
                yield Tick(seq=1)
                yield {"1": "two"}  # not an i32
                yield Tick(seq=3)

            with pytest.raises(uvrpc.InvalidArgument) as caught:
                await client.channel.client_stream(
                    feed._FEED_UPLOAD, {}, items(), timeout=5
                )
            assert caught.value.field_path == "ticks.2.seq"
            assert "invalid argument 'ticks.2.seq' of feed.Feed.upload" in str(
                caught.value
            )

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_the_callers_items_raising_cancels_the_call(kind: str, tmp_path: Path) -> None:
    async def main() -> None:
        service = Feed()
        async with connect(service, kind, tmp_path) as (client, _):

            async def items() -> AsyncIterator[Tick]:
                yield Tick(seq=0)
                await asyncio.sleep(0.05)
                raise OSError("the source broke")

            with pytest.raises(OSError, match="the source broke"):
                await client.upload(ticks=items())
            await asyncio.wait_for(service.cancelled.wait(), 2)
            service.cancelled.clear()
            with pytest.raises(OSError, match="the source broke"):
                async for _ in client.echo(ticks=items()):
                    pass
            await asyncio.wait_for(service.cancelled.wait(), 2)

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_a_handler_that_stops_reading_ends_a_client_stream(
    kind: str, tmp_path: Path
) -> None:
    class Impatient(Feed):
        async def upload(self, *, ticks: AsyncIterator[Tick], label: str) -> Total:
            got = [await anext(ticks), await anext(ticks)]
            return Total(count=len(got), bytes=0)

    async def main() -> None:
        sent = 0

        async def endless() -> AsyncIterator[Tick]:
            nonlocal sent
            while True:
                yield Tick(seq=sent)
                sent += 1

        async with connect(Impatient(), kind, tmp_path, server_window=4) as (
            client,
            _,
        ):
            assert await client.upload(ticks=endless()) == Total(count=2, bytes=0)
            stopped_at = sent
            await asyncio.sleep(0.05)
            assert sent == stopped_at <= 8  # stopped sending: at most the credit
            assert await client.ping(n=2) == 2

    run(main())


# --- vanished peers ---------------------------------------------------------------


def start_process(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HERE / "feed_process.py"), *args],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_a_server_killed_mid_stream_fails_the_stream_with_unavailable(
    tmp_path: Path,
) -> None:
    process = start_process("serve", "--bind", f"ipc://{tmp_path / 'feed.sock'}")
    try:
        assert process.stdout is not None
        endpoint = process.stdout.readline().strip()

        async def main() -> None:
            async with FeedClient(endpoint, timeout=30) as client:
                stream = client.ticks(count=10**6)
                assert (await anext(stream)).seq == 0
                slow = asyncio.ensure_future(client.ping(n=-100))  # 10 s
                await asyncio.sleep(0.1)
                process.kill()
                started = time.monotonic()
                with pytest.raises(uvrpc.Unavailable):
                    async for _ in stream:
                        pass
                with pytest.raises(uvrpc.Unavailable):
                    await slow
                assert time.monotonic() - started < 2
                assert client.channel.pending == client.channel.streaming == 0

        run(main())
    finally:
        process.kill()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def test_a_client_killed_mid_upload_cancels_the_handler(tmp_path: Path) -> None:
    async def main() -> None:
        service = Feed()
        async with uvrpc.Server(service, probe_interval=0.2) as server:
            endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")
            process = start_process("upload", "--connect", endpoint)
            try:
                await asyncio.wait_for(service.started.wait(), 10)
                await eventually(lambda: len(service.received) >= 2, 5)
                process.kill()
                started = time.monotonic()
                await asyncio.wait_for(service.cancelled.wait(), 3)
                assert time.monotonic() - started < 2
                await eventually(lambda: server.in_flight == 0)
                assert server.stream_host is not None
                assert server.stream_host.active == 0
            finally:
                process.kill()
                process.wait(10)
                if process.stdout is not None:
                    process.stdout.close()

    run(main())


# --- the blocking client ----------------------------------------------------------


def wait_for(condition: Any, within: float = 2.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)


def test_the_sync_client_streams_both_ways() -> None:
    service = Feed()
    with (
        server_thread(service) as running,
        FeedSyncClient(running.endpoint, timeout=10) as client,
    ):
        client.channel.stream_window = 4
        got = list(client.ticks(count=50, size=40 * 1024))
        assert [t.seq for t in got] == list(range(50))
        assert all(same(t.data, payload(t.seq, 40 * 1024)) for t in got)
        assert list(client.ticks(count=0)) == []
        items = (Tick(seq=n, data=payload(n, 3)) for n in range(100))
        assert client.upload(ticks=items) == Total(count=100, bytes=300)
        assert client.upload(ticks=[]) == Total(count=0, bytes=0)
        assert client.ping(n=3) == 3
        assert client.channel.dropped_replies == 0


def test_the_sync_client_cancels_and_meets_deadlines() -> None:
    service = Feed(delay=0.01)
    with (
        server_thread(service) as running,
        FeedSyncClient(running.endpoint, timeout=10) as client,
    ):
        for tick in client.ticks(count=10**6):
            assert tick.seq == 0
            break  # the dropped generator closes, and cancels the call
        wait_for(service.cancelled.is_set)
        service.cancelled.clear()
        started = time.monotonic()
        with pytest.raises(uvrpc.DeadlineExceeded):
            for _ in client.ticks(count=10**6, timeout=0.3):
                pass
        assert time.monotonic() - started < 1.5
        wait_for(service.cancelled.is_set)
        assert client.ping(n=4) == 4


def test_the_sync_client_raises_typed_errors() -> None:
    with (
        server_thread(Failing()) as running,
        FeedSyncClient(running.endpoint, timeout=10) as client,
    ):
        seqs = []
        with pytest.raises(uvrpc.NotFound, match="no tick 2"):
            for tick in client.ticks(count=2):
                seqs.append(tick.seq)
        assert seqs == [0, 1]
        with pytest.raises(uvrpc.PermissionDenied):
            client.upload(ticks=(Tick(seq=n) for n in range(10)), label="y")
        assert client.ping(n=5) == 5


# --- the edges a review found ---------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_stream_dropped_before_its_end_is_cancelled(
    kind: str, tmp_path: Path
) -> None:
    """``break`` out of ``async for`` without ``async with`` leaves the stream to
    the garbage collector, which cancels the call: nothing waits for ever."""

    async def main() -> None:
        service = Feed()
        async with connect(service, kind, tmp_path, window=2) as (client, _):
            async for tick in client.ticks(count=1000):
                assert tick.seq == 0
                break
            # The handler stopped at a ``yield``, waiting for credit: it is closed.
            await asyncio.wait_for(service.finished.wait(), 5)
            await eventually(lambda: client.channel.streaming == 0)

    run(main())


class _FullOnce(uvrpc.testing.MemoryTransport):
    """A transport whose socket is full for the first message offered."""

    full = True

    def try_send(self, frames: Sequence[Any]) -> bool:
        if self.full:
            self.full = False
            return False
        return super().try_send(frames)

    async def send(self, frames: Sequence[Any]) -> None:
        await asyncio.sleep(0.01)  # room comes a moment later
        super().try_send(frames)


def test_an_empty_stream_does_not_end_before_its_request() -> None:
    async def main() -> None:
        async with uvrpc.Channel(_FullOnce(Feed())) as channel:
            client = FeedClient(channel, timeout=5)
            assert await client.upload(ticks=ticks(0)) == Total(count=0, bytes=0)

    run(main())


def raw_stream_request(call_id: int, route: str, window: int) -> list[bytes]:
    header = msgpack.packb([V, 1, call_id, route, None, window])
    return [b"", header, msgpack.packb({"1": 1000})]


async def quiet(sock: zmq.asyncio.Socket, seconds: float) -> bool:
    """Whether nothing arrives on ``sock`` for ``seconds``."""
    return not await sock.poll(seconds * 1000)


def test_the_server_sends_no_more_items_than_its_credit(tmp_path: Path) -> None:
    async def main() -> None:
        service = Feed()
        async with uvrpc.Server(service) as server:
            endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")
            sock = zmq.asyncio.Context.instance().socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(endpoint)
            try:
                await sock.send_multipart(raw_stream_request(7, "feed.Feed.ticks", 3))
                for seq in range(3):
                    item = await asyncio.wait_for(sock.recv_multipart(), 2)
                    assert msgpack.unpackb(item[-2]) == [V, 3, 7, 0]
                    assert msgpack.unpackb(item[-1])["1"] == seq
                assert await quiet(sock, 0.3)  # the window is spent
                await sock.send_multipart([b"", raw_header(6, 7, 2), b"\xc0"])
                for seq in (3, 4):
                    item = await asyncio.wait_for(sock.recv_multipart(), 2)
                    assert msgpack.unpackb(item[-1])["1"] == seq
                assert await quiet(sock, 0.3)
                await sock.send_multipart([b"", raw_header(5, 7), b"\xc0"])
                await asyncio.wait_for(service.finished.wait(), 2)
            finally:
                sock.close()

    run(main())


def test_a_request_granting_no_window_is_refused(tmp_path: Path) -> None:
    async def main() -> None:
        async with uvrpc.Server(Feed()) as server:
            endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")
            sock = zmq.asyncio.Context.instance().socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(endpoint)
            try:
                await sock.send_multipart(raw_stream_request(8, "feed.Feed.ticks", 0))
                reply = await asyncio.wait_for(sock.recv_multipart(), 2)
                assert msgpack.unpackb(reply[-2]) == [
                    V,
                    2,
                    8,
                    uvrpc.Status.INVALID_ARGUMENT,
                ]
            finally:
                sock.close()
            assert server.stream_host is not None and server.stream_host.active == 0

    run(main())


def test_the_client_sends_no_more_items_than_its_credit(tmp_path: Path) -> None:
    """Against a hand-driven server: items go out as credit comes, never before."""

    async def main() -> None:
        router = zmq.asyncio.Context.instance().socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        endpoint = f"ipc://{tmp_path / 'router.sock'}"
        router.bind(endpoint)
        try:
            async with uvrpc.Channel(endpoint) as channel:
                client = FeedClient(channel, timeout=10)
                upload = asyncio.ensure_future(client.upload(ticks=ticks(6)))
                request = await asyncio.wait_for(router.recv_multipart(), 2)
                peer, call_id = request[0], msgpack.unpackb(request[-2])[2]
                assert await quiet(router, 0.3)  # no credit yet: no item

                async def grant(n: int) -> list[int]:
                    await router.send_multipart(
                        [peer, b"", raw_header(6, call_id, n), b"\xc0"]
                    )
                    seqs = []
                    for _ in range(n):
                        item = await asyncio.wait_for(router.recv_multipart(), 2)
                        seqs.append(msgpack.unpackb(item[-1])["1"])
                    assert await quiet(router, 0.3)
                    return seqs

                assert await grant(2) == [0, 1]
                assert await grant(3) == [2, 3, 4]
                await router.send_multipart(
                    [peer, b"", raw_header(6, call_id, 5), b"\xc0"]
                )
                item = await asyncio.wait_for(router.recv_multipart(), 2)
                assert msgpack.unpackb(item[-1])["1"] == 5
                end = await asyncio.wait_for(router.recv_multipart(), 2)
                assert msgpack.unpackb(end[-2]) == [V, 4, call_id, 0]
                reply = msgpack.packb([V, 2, call_id, 0])
                body = msgpack.packb({"1": 6, "2": 0})
                await router.send_multipart([peer, b"", reply, body])
                assert await asyncio.wait_for(upload, 2) == Total(count=6, bytes=0)
        finally:
            router.close()

    run(main())


def test_one_stream_has_one_reader_at_a_time() -> None:
    async def main() -> None:
        service = Feed(delay=0.05)
        async with uvrpc.testing.memory_channel(service) as channel:
            stream = FeedClient(channel, timeout=5).ticks(count=3)
            first = asyncio.ensure_future(anext(stream))
            await asyncio.sleep(0)
            with pytest.raises(RuntimeError, match="already reading"):
                await anext(stream)
            assert (await first).seq == 0
            await stream.aclose()

    run(main())


def test_a_stream_cancelled_before_it_starts_raises_cancelled() -> None:
    async def main() -> None:
        service = Feed()
        async with uvrpc.testing.memory_channel(service) as channel:
            stream = FeedClient(channel, timeout=5).ticks(count=3)
            stream.cancel()
            with pytest.raises(uvrpc.Cancelled):
                await anext(stream)
            assert not service.started.is_set()

    run(main())


class _PassOn:
    """A client interceptor that changes nothing."""

    async def intercept_client(self, call: uvrpc.ClientCallInfo, proceed: Any) -> Any:
        return await proceed()


@pytest.mark.parametrize("end", ["cancel", "aclose"])
@pytest.mark.parametrize("intercepted", [False, True], ids=["plain", "intercepted"])
def test_a_stream_ended_before_it_starts_is_not_sent_by_async_with(
    end: str, intercepted: bool
) -> None:
    """``cancel()`` or ``aclose()`` before the first step means the call is never
    sent, entered with ``async with`` too: its handler never runs."""

    async def main() -> None:
        service = Feed()
        interceptors = [_PassOn()] if intercepted else []
        channel = uvrpc.testing.memory_channel(service, interceptors=interceptors)
        async with channel:
            stream = FeedClient(channel, timeout=5).ticks(count=3)
            if end == "cancel":
                stream.cancel()
            else:
                await stream.aclose()
            got: list[int] = []
            with contextlib.suppress(uvrpc.Cancelled):
                async with stream as items:
                    await asyncio.sleep(0.05)  # time for a handler to start
                    got.extend([tick.seq async for tick in items])
            assert got == []
            await asyncio.sleep(0.05)
            assert not service.started.is_set()
            assert channel.streaming == 0

    run(main())


@pytest.mark.parametrize("reading", ["task", "timeout"])
@pytest.mark.parametrize("intercepted", [False, True], ids=["plain", "intercepted"])
def test_cancelling_the_task_that_reads_a_stream_cancels_the_call(
    reading: str, intercepted: bool, tmp_path: Path
) -> None:
    """As in grpc.aio: the task waiting for an item cancelled (or a timeout around
    the wait) cancels the call, while the stream object lives on; the server's
    handler is cancelled, and the stream is over for its holder."""

    async def main() -> None:
        service = Feed(delay=0.5)  # each item comes long after the first
        interceptors = [_PassOn()] if intercepted else []
        async with contextlib.AsyncExitStack() as stack:
            server = await stack.enter_async_context(uvrpc.Server(service))
            endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")
            channel = await stack.enter_async_context(
                uvrpc.Channel(endpoint, interceptors=interceptors)
            )
            stream = FeedClient(channel, timeout=30).ticks(count=10**6)
            if reading == "task":
                reader = asyncio.ensure_future(anext(stream))
                await asyncio.wait_for(service.started.wait(), 5)
                reader.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await reader
            else:
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(anext(stream), 0.1)
            await asyncio.wait_for(service.cancelled.wait(), 5)
            with pytest.raises(uvrpc.Cancelled):
                await anext(stream)
            assert channel.streaming == 0

    run(main())
