"""The zero-copy data path: payloads as frames, views of received frames, the pool."""

from __future__ import annotations

import array
import asyncio
import gc
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
import zmq
from conftest import endpoint_for, server_thread
from echo import EchoClient, EchoServer, EchoSyncClient

import uvrpc
import uvrpc.testing
from uvrpc.buffers import ATTACHMENT_MIN, BodyEncoder
from uvrpc.wire.codec import unpack

MIB = 1 << 20
C_PACKER = msgpack.Packer.__module__ != "msgpack.fallback"
"""msgpack's C extension is in use: its packer exports its buffer itself and
cannot be reset while a view of it lives. The pure-Python fallback's packer
exports a ``BytesIO``'s buffer and starts a new one on reset."""


class RecordingEcho(EchoServer):
    """Echoes, and keeps the view each call received."""

    def __init__(self) -> None:
        self.received: list[memoryview] = []

    async def echo(self, *, data: memoryview) -> memoryview:
        self.received.append(data)
        return data


class FrameRecordingServer(uvrpc.Server):
    """A server that keeps every frame it receives."""

    def __init__(self, *services: uvrpc.ServiceBase, **options: Any) -> None:
        super().__init__(*services, **options)
        self.frames: list[zmq.Frame] = []

    def _on_message(self, frames: list[zmq.Frame]) -> None:
        self.frames.extend(frames)
        super()._on_message(frames)


def live_frames() -> int:
    """How many ``zmq.Frame`` objects this process holds."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is zmq.Frame)


async def serve_recording(
    endpoint: str, **options: Any
) -> tuple[FrameRecordingServer, RecordingEcho]:
    echo = RecordingEcho()
    server = FrameRecordingServer(echo, **options)
    await server.start()
    return server, echo


def test_the_handler_gets_a_view_of_the_received_frame() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB

    async def main() -> None:
        echo = RecordingEcho()
        async with FrameRecordingServer(echo) as server:
            endpoint = server.bind(f"inproc://zero-copy-{id(server)}")
            async with EchoClient(endpoint, timeout=10) as client:
                reply = await client.echo(data=payload)
        (view,) = echo.received
        assert view.readonly and view.nbytes == len(payload)
        # The view's exporter is the very frame the server's socket received: the
        # payload was never copied into a Python object.
        assert isinstance(view.obj, zmq.Frame)
        # [identity, delimiter, attachment, header, body]
        assert len(server.frames) == 5 and view.obj is server.frames[2]
        # And the client's result is a view of the frame its socket received.
        assert isinstance(reply.obj, zmq.Frame)
        assert reply.readonly and reply == payload

    asyncio.run(main())


@pytest.mark.parametrize(
    ("size", "attached"),
    [(0, False), (64, False), (ATTACHMENT_MIN - 1, False), (ATTACHMENT_MIN, True)],
)
def test_payloads_travel_as_frames_from_the_threshold_on(
    size: int, attached: bool
) -> None:
    async def main() -> None:
        echo = RecordingEcho()
        async with FrameRecordingServer(echo) as server:
            endpoint = server.bind(f"inproc://threshold-{id(server)}")
            async with EchoClient(endpoint, timeout=10) as client:
                reply = await client.echo(data=b"x" * size)
        (view,) = echo.received
        # delimiter, header, body (+ the attachment) after the routing frame
        assert len(server.frames) == (5 if attached else 4)
        assert isinstance(view.obj, zmq.Frame) == attached
        assert isinstance(reply, memoryview) and reply.readonly
        assert reply == b"x" * size

    asyncio.run(main())


def test_the_threshold_is_configurable() -> None:
    async def main() -> None:
        echo = RecordingEcho()
        async with FrameRecordingServer(echo, attachment_min=1 << 30) as server:
            endpoint = server.bind(f"inproc://configured-{id(server)}")
            channel = uvrpc.Channel(endpoint, attachment_min=100)
            async with EchoClient(channel, timeout=10) as client:
                reply = await client.echo(data=b"y" * 100)
            await channel.close()
        assert isinstance(echo.received[0].obj, zmq.Frame)  # sent as a frame
        assert not isinstance(reply.obj, zmq.Frame)  # replied inline
        assert reply == b"y" * 100

    asyncio.run(main())


def test_any_buffer_can_be_sent() -> None:
    matrix = np.arange(12, dtype=np.float64).reshape(3, 4)
    doubles = array.array("d", [1.5, -2.0])
    payloads: list[Any] = [
        bytearray(b"mutable"),
        memoryview(b"view of bytes"),
        doubles,
        matrix,
        np.zeros(ATTACHMENT_MIN, dtype=np.uint8),  # large enough to be a frame
    ]
    with server_thread(RecordingEcho()) as running:
        with EchoSyncClient(running.endpoint, timeout=10) as client:
            for payload in payloads:
                reply = client.echo(data=payload)
                assert reply == memoryview(payload).cast("B").tobytes()
        # A numpy array's bytes come back, reshaped as the receiver likes.
        with EchoSyncClient(running.endpoint, timeout=10) as client:
            # (Type checkers see numpy arrays as buffers only from Python 3.12 on;
            # before, ``.data`` is the array's memoryview.)
            back = np.frombuffer(client.echo(data=matrix.data), np.float64)
        assert (back.reshape(3, 4) == matrix).all()


@pytest.mark.parametrize(
    "strided",
    [
        np.arange(ATTACHMENT_MIN * 2, dtype=np.uint8)[::2].data,  # a frame's size
        memoryview(b"0123456789")[::2],  # small: msgpack itself would pack it
        # One run of bytes, but in column order: what travels would not be what
        # bytes() of it gives, so it is refused, and the error says which order.
        np.asfortranarray(np.arange(ATTACHMENT_MIN, dtype=np.int32).reshape(-1, 4)),
        np.asfortranarray(np.arange(8, dtype=np.int32).reshape(2, 4)),
    ],
    ids=["large", "small", "large-fortran", "small-fortran"],
)
def test_a_non_contiguous_buffer_is_an_invalid_argument(strided: Any) -> None:
    refused = re.escape(
        "must be contiguous in row (C) order to be sent; bytes(buffer) is a copy"
    )

    async def main() -> None:
        async with uvrpc.testing.memory_channel(RecordingEcho()) as channel:
            with pytest.raises(uvrpc.InvalidArgument, match=refused):
                await EchoClient(channel).echo(data=strided)
            assert bytes(await EchoClient(channel).echo(data=b"next")) == b"next"

    asyncio.run(main())
    with uvrpc.testing.sync_memory_channel(RecordingEcho()) as channel:
        with pytest.raises(uvrpc.InvalidArgument, match=refused):
            EchoSyncClient(channel).echo(data=strided)


# --- the pool -----------------------------------------------------------------------


def test_the_pool_counts_and_is_bounded() -> None:
    pool = uvrpc.BufferPool(max_buffers=2, max_buffer_size=1024)
    first, second, third = pool.acquire(), pool.acquire(), pool.acquire()
    assert pool.stats.misses == 3 and pool.stats.in_use == 3
    first.pack(b"x" * 2000)  # grew past max_buffer_size: not kept
    pool.release(first, 2000)
    pool.release(second, 10)
    pool.release(third, 10)
    stats = pool.stats
    assert (stats.in_use, stats.idle, stats.dropped, stats.high_water) == (0, 2, 1, 3)
    reused = pool.acquire()
    assert reused in (second, third) and pool.stats.hits == 1
    pool.release(reused, 0)
    for _ in range(10):  # never more than max_buffers idle
        pool.release(pool.acquire(), 0)
    assert pool.stats.idle == 2


def test_a_lent_buffer_comes_back_when_its_view_is_gone() -> None:
    pool = uvrpc.BufferPool()
    encoder = BodyEncoder(pool)
    body, _ = encoder.encode({"1": b"x" * 10}, payloads=True)
    encoder.settle(body, sent=False)  # e.g. queued behind a full socket
    assert pool.stats.in_use == 1
    del body
    assert pool.stats.in_use == 0 and pool.stats.idle == 1


def test_one_large_binary_value_is_sent_with_a_body_never_packed() -> None:
    # A bytes stream item, an echoed payload: the body only refers to attachment
    # 0, the same bytes every time; no packer is taken for it.
    pool = uvrpc.BufferPool()
    encoder = BodyEncoder(pool)
    payload = b"x" * ATTACHMENT_MIN
    body, attachments = encoder.encode(payload, payloads=True)
    assert len(attachments) == 1 and attachments[0] is payload
    received = unpack(body, attachments)
    assert received.obj is payload
    shaped = array.array("i", bytes(ATTACHMENT_MIN))  # typed: viewed as bytes
    again, attachments = encoder.encode(memoryview(shaped), payloads=True)
    assert again is body
    assert attachments[0].obj is shaped and attachments[0].format == "B"
    encoder.settle(body, sent=True)
    encoder.settle(again, sent=False)
    assert bytes(body) == msgpack.packb(msgpack.ExtType(1, bytes(4)))  # intact
    assert (pool.stats.misses, pool.stats.hits) == (0, 0)
    # One byte less, and the value is packed into the body as before.
    small, attachments = encoder.encode(payload[1:], payloads=True)
    assert attachments == () and unpack(small) == payload[1:]
    encoder.settle(small, sent=True)
    assert pool.stats.misses == 1


def test_a_buffer_copied_by_zeromq_is_reused_at_once() -> None:
    pool = uvrpc.BufferPool()
    encoder = BodyEncoder(pool)
    body, _ = encoder.encode([1, 2, 3], payloads=False)
    owner = body.obj
    encoder.settle(body, sent=True)
    with pytest.raises(ValueError):
        body.tobytes()  # released: it can no longer reach the reused buffer
    again, _ = encoder.encode([4], payloads=False)
    assert again.tobytes() == b"\x91\x04"
    # The same packer, without a trip to the pool (the stats below); with the C
    # extension, the same buffer too.
    assert (again.obj is owner) is C_PACKER
    encoder.settle(again, sent=True)
    stats = pool.stats
    assert (stats.misses, stats.hits, stats.in_use) == (1, 0, 1)
    encoder.close()
    assert (pool.stats.in_use, pool.stats.idle) == (0, 1)


def test_a_view_collected_in_a_cycle_drops_its_buffer() -> None:
    """The garbage collector calls a weak reference's callback before it frees the
    cycle holding the view: the C packer's buffer is still viewed, so it is
    dropped; the fallback's packer can start a new buffer, so it goes back."""
    pool = uvrpc.BufferPool()
    encoder = BodyEncoder(pool)
    body, _ = encoder.encode([1], payloads=False)
    encoder.settle(body, sent=False)
    cycle: list[Any] = [body]
    cycle.append(cycle)
    del body, cycle
    gc.collect()
    stats = pool.stats
    if C_PACKER:
        assert (stats.in_use, stats.idle, stats.dropped) == (0, 0, 1)
    else:
        assert (stats.in_use, stats.idle, stats.dropped) == (0, 1, 0)


def test_a_large_body_lent_to_zeromq_comes_back() -> None:
    """A body sent without a copy returns once libzmq and pyzmq let go of it."""
    pool = uvrpc.BufferPool()

    async def main() -> None:
        async with uvrpc.Server(RecordingEcho(), pool=pool) as server:
            endpoint = server.bind(f"inproc://lent-{id(server)}")
            # Inline, a 1 MiB payload makes a 1 MiB body: sent without a copy.
            channel = uvrpc.Channel(endpoint, pool=pool, attachment_min=1 << 30)
            async with EchoClient(channel, timeout=10) as client:
                assert await client.echo(data=b"z" * MIB) == b"z" * MIB
            await channel.close()

    asyncio.run(main())
    assert wait_for(lambda: pool.stats.in_use == 0), pool.stats
    assert pool.stats.high_water >= 1


def wait_for(condition: Any, timeout: float = 10.0) -> bool:
    """Poll ``condition`` (pyzmq drops zero-copy frames on a thread of its own)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        gc.collect()
        time.sleep(0.01)
    return True


class Echo(EchoServer):
    async def echo(self, *, data: memoryview) -> memoryview:
        return data


def test_ten_thousand_calls_with_random_retains_and_releases() -> None:
    """The pools drain to zero and every received frame is freed."""
    rng = random.Random(4)
    client_pool, server_pool = uvrpc.BufferPool(), uvrpc.BufferPool()
    # Inline and attached payloads; through the channel that keeps every payload
    # inline, the largest make bodies that ZeroMQ is handed without a copy.
    sizes = [0, 100, 300, 5000, 200_000]

    async def main() -> None:
        async with uvrpc.Server(Echo(), pool=server_pool, attachment_min=256) as server:
            endpoint = server.bind(f"inproc://pool-{id(server)}")
            framed = uvrpc.Channel(endpoint, pool=client_pool, attachment_min=256)
            inline = uvrpc.Channel(endpoint, pool=client_pool, attachment_min=1 << 30)
            clients = [EchoClient(framed, timeout=20), EchoClient(inline, timeout=20)]
            await clients[0].echo(data=b"warm-up")
            await asyncio.sleep(0)  # the loop lets go of the last reply's frames
            before = live_frames()
            started = 0
            for _ in range(100):
                payloads: dict[int, bytes] = {}
                references: list[uvrpc.Call[memoryview]] = []
                for _ in range(100):
                    payload = bytes([rng.randrange(256)]) * rng.choice(sizes)
                    call = rng.choice(clients).start_echo(data=payload)
                    started += 1
                    payloads[id(call)] = payload
                    references.append(call)
                    references += [call.retain() for _ in range(rng.randrange(3))]
                rng.shuffle(references)
                for call in references:
                    # Some references read the result first; the others may be
                    # the last one, released before the reply even arrives.
                    if rng.random() < 0.5:
                        assert await call == payloads[id(call)]
                    call.release()
                    if call.refcount == 0:
                        with pytest.raises(uvrpc.ReleasedError):
                            call.release()
            await framed.close()
            await inline.close()
            assert started == 10_000
            assert framed.pending == inline.pending == 0
            assert wait_for(lambda: live_frames() == before), (live_frames(), before)

    asyncio.run(main())
    assert wait_for(lambda: client_pool.stats.in_use == 0), client_pool.stats
    assert wait_for(lambda: server_pool.stats.in_use == 0), server_pool.stats
    # Bodies lent to ZeroMQ came back and were used again.
    assert client_pool.stats.hits > 100


def test_server_views_stay_valid_while_kept(tmp_path: Path) -> None:
    echo = RecordingEcho()
    with server_thread(echo, bind=endpoint_for("ipc", tmp_path)) as running:
        with EchoSyncClient(running.endpoint, timeout=10) as client:
            for n in range(3):
                client.echo(data=bytes([n]) * MIB)
    # The handler kept its views: each still reads its own frame's bytes.
    assert [bytes(v[:1]) for v in echo.received] == [b"\x00", b"\x01", b"\x02"]


def test_the_pool_is_safe_across_threads() -> None:
    """Sync channels in several threads share the default pool; lent buffers come
    back on pyzmq's garbage thread. Counts stay exact and no buffer is handed out
    twice."""
    import threading

    pool = uvrpc.BufferPool(max_buffers=4)
    held: set[int] = set()
    errors: list[str] = []
    guard = threading.Lock()
    together = threading.Barrier(4)

    def worker() -> None:
        encoder = BodyEncoder(pool)
        for n in range(2_000):
            body, _ = encoder.encode([n], payloads=False)
            packer = id(body.obj)
            with guard:
                if packer in held:
                    errors.append("a buffer was handed out twice")
                held.add(packer)
            if n == 1:
                together.wait(10)  # every thread holds a buffer at this point
            else:
                time.sleep(0)  # let the other threads take buffers meanwhile
            with guard:
                held.discard(packer)
            encoder.settle(body, sent=n % 3 != 0)  # every third one is lent
            del body
        encoder.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    stats = pool.stats
    assert stats.in_use == 0 and stats.high_water >= 4
    # Every packer ever made is idle or was dropped; the pool kept at most four.
    assert stats.misses == stats.idle + stats.dropped and stats.idle <= 4
    # One acquisition per encoder, and one more for each body lent (n % 3 == 0).
    assert stats.hits + stats.misses == 4 * (1 + len(range(0, 2_000, 3)))


PURE_PYTHON_LEND = """
import gc
import msgpack
import uvrpc
from uvrpc.buffers import BodyEncoder

assert msgpack.Packer.__module__ == "msgpack.fallback", msgpack.Packer
pool = uvrpc.BufferPool()
encoder = BodyEncoder(pool)
body, _ = encoder.encode(b"z" * 1000, payloads=False)
encoder.settle(body, sent=False)  # not sent yet: lent, as to a queue
assert pool.stats.in_use == 1, pool.stats
del body
gc.collect()
assert (pool.stats.in_use, pool.stats.idle) == (0, 1), pool.stats
print("ok")
"""


def test_bodies_are_lent_and_returned_with_msgpacks_pure_python_fallback() -> None:
    env = {**os.environ, "MSGPACK_PUREPYTHON": "1"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    result = subprocess.run(
        [sys.executable, "-c", PURE_PYTHON_LEND],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (0, "ok\n"), result.stderr


PURE_PYTHON_DEPTH = """
from uvrpc.wire.codec import DecodeError, unpack

deep = b"\\x91" * 5000 + b"\\x00"  # [[[...[0]...]]], 5000 arrays deep
try:
    unpack(deep)
except DecodeError as error:
    print(error)
"""


def test_the_pure_python_fallback_says_where_its_depth_limit_comes_from() -> None:
    env = {**os.environ, "MSGPACK_PUREPYTHON": "1"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    result = subprocess.run(
        [sys.executable, "-c", PURE_PYTHON_DEPTH],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (
        0,
        "malformed msgpack: nested deeper than the pure-Python msgpack decoder goes\n",
    ), result.stderr


COLLECTED_WHILE_ACQUIRING = """
import gc
import uvrpc
from uvrpc.buffers import BodyEncoder

pool = uvrpc.BufferPool()
gc.set_threshold(1)  # collect at almost every step, inside the pool's methods too
for _ in range(2000):
    encoder = BodyEncoder(pool)
    body, _ = encoder.encode([1, 2, 3], payloads=False)
    encoder.settle(body, sent=False)  # lent
    cycle = [body, None]
    cycle[1] = cycle  # freed only by the garbage collector, wherever it runs
    del body, cycle
    encoder.close()
gc.collect()
assert pool.stats.in_use == 0, pool.stats
print("ok")
"""


def test_a_view_collected_while_the_pool_is_busy_in_the_same_thread_returns() -> None:
    """From Python 3.13 the collector runs at almost any point, so a lent view's
    callback can run inside ``acquire`` in the thread that holds the pool's lock
    (a deadlock with a plain lock). In a process of its own: a hang fails."""
    result = subprocess.run(
        [sys.executable, "-c", COLLECTED_WHILE_ACQUIRING],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (0, "ok\n"), result.stderr
