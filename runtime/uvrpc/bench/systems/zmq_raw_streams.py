"""The ceiling of the stream cases: the same three streams written directly on pyzmq.

A DEALER client and a ROUTER server exchange ``[b"", header, payload?]`` with a
msgpack header ``(kind, call_id, ...)`` and an item's payload in a frame of its own.
Flow control is uvrpc's rule, its own :class:`~uvrpc.core.credit.ReceiveWindow` at
uvrpc's default window each way: a receiver grants
:data:`~uvrpc.wire.limits.STREAM_WINDOW` items when the stream opens and grants what
it took once a quarter of the window was taken, the window grown for small items; a
sender sends only while it holds credit. One shortcut a ceiling may take: a client
stream's sender starts with the window's credit instead of waiting for the server
to grant it (uvrpc's server grants it in a message as the call starts).

* ``server``: ``(OPEN_REPEAT, id, n, window)`` and the payload; the server sends
  ``(ITEM, id)`` items while it holds credit, then ``(END, id)``; the client grants
  ``(CREDIT, id, k)`` and, at the end of the window, sends ``(CANCEL, id)``.
* ``client``: ``(OPEN_TALLY, id)``, then ``(ITEM, id)`` items and ``(END, id)``;
  the server grants ``(CREDIT, id, k)`` and answers ``(TALLY, id, items, same)``
  with the first item.
* ``bidi``: ``(OPEN_ECHO, id, window)``, then items and an end as above; the server
  sends each item back as its credit allows, and ``(END, id)`` after the last.

Each side is one callback or one coroutine with no task or future per item; the
client waits for its socket like ``zmq_raw.run_pipeline_client``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any, cast

import msgpack
import zmq

from ...core.credit import ReceiveWindow
from ...wire.limits import STREAM_WINDOW, STREAM_WINDOW_MAX
from ..measure import Meter, Result, same_payload
from ..spec import ClientSpec
from ._serving import make_payload, serve_until_terminated
from ._serving import run_client as run_on_loop
from ._streaming import ITEMS, tally_ok

__all__ = ["StreamServer", "run_client", "serve", "stream_socket"]

OPEN_REPEAT, OPEN_TALLY, OPEN_ECHO, ITEM, END, CREDIT, CANCEL, TALLY = range(8)

HWM = 4 * STREAM_WINDOW_MAX
"""Messages each socket queues per peer: several windows of items, each one a
message here (uvrpc's own batches hold 32 of them)."""

NOBLOCK = int(zmq.NOBLOCK)
SNDMORE = int(zmq.SNDMORE)
POLLIN = int(zmq.POLLIN)
EVENTS = int(zmq.EVENTS)

Frames = list[zmq.Frame]


def _send(sock: zmq.Socket[bytes], frames: tuple[Any, ...]) -> None:
    """Send frame by frame, never blocking: a window of messages (one an item) is
    below the sockets' high-water mark (:data:`HWM`)."""
    for frame in frames[:-1]:
        sock.send(frame, NOBLOCK | SNDMORE, copy=len(frame) < zmq.COPY_THRESHOLD)
    sock.send(frames[-1], NOBLOCK, copy=len(frames[-1]) < zmq.COPY_THRESHOLD)


def _recv(sock: zmq.Socket[bytes]) -> Frames:
    frame = sock.recv(NOBLOCK, copy=False)
    frames = [frame]
    while frame.more:
        frame = sock.recv(NOBLOCK, copy=False)
        frames.append(frame)
    return frames


class _Stream:
    """The server's state of one stream."""

    __slots__ = (
        "credit",
        "ended",
        "first",
        "item",
        "items",
        "kind",
        "payload",
        "queue",
        "remaining",
        "same",
        "to",
        "window",
    )

    def __init__(self, kind: int, to: tuple[bytes, int], credit: int) -> None:
        self.kind = kind
        self.to = to
        self.item = msgpack.packb((ITEM, to[1]))
        """The header of this stream's items, packed once."""
        self.credit = credit
        self.remaining = 0
        self.payload: Any = b""
        self.items = 0
        self.same = 0
        self.first = b""
        self.queue: deque[zmq.Frame] = deque()
        self.ended = False
        self.window = ReceiveWindow(None)
        """What the server grants the client's items (client and bidi streams)."""


class StreamServer:
    """The three streams served on a bound ROUTER ``sock``, by :meth:`drain` (what
    :func:`serve` calls when the socket is readable). Only the socket's ``send``
    and ``recv`` are used."""

    def __init__(self, sock: zmq.Socket[bytes]) -> None:
        self.sock = sock
        self.streams: dict[tuple[bytes, int], _Stream] = {}

    def _out(self, stream: _Stream, header: Any, *rest: Any) -> None:
        _send(self.sock, (stream.to[0], b"", header, *rest))

    def _control(self, stream: _Stream, kind: int, *args: Any) -> None:
        self._out(stream, msgpack.packb((kind, stream.to[1], *args)))

    def drain(self) -> None:
        """Handle every message that is ready."""
        while True:
            try:
                frames = _recv(self.sock)
            except zmq.Again:
                return
            self._handle(frames)

    def _handle(self, frames: Frames) -> None:
        identity = frames[0].bytes
        kind, call_id, *args = msgpack.unpackb(frames[2].buffer)
        key = (identity, call_id)
        if kind == OPEN_REPEAT:
            repeat = self.streams[key] = _Stream(kind, key, credit=args[1])
            repeat.remaining, repeat.payload = args[0], frames[3]
            self._repeat(repeat)
            return
        if kind in (OPEN_TALLY, OPEN_ECHO):
            credit = args[0] if kind == OPEN_ECHO else 0
            self.streams[key] = _Stream(kind, key, credit)
            return
        stream = self.streams.get(key)
        if stream is None:
            return  # a cancelled stream's last messages
        if kind == ITEM and not stream.window.arrived(len(frames[3])):
            raise RuntimeError("the client sent an item beyond its credit")
        if kind == ITEM and stream.kind == OPEN_TALLY:
            if not stream.items:
                stream.first = frames[3].bytes
            stream.items += 1
            stream.same += same_payload(frames[3].buffer, stream.first)
            self._took(stream)
        elif kind == ITEM:
            stream.queue.append(frames[3])
            self._echo(stream)
        elif kind == CREDIT:
            stream.credit += args[0]
            self._repeat(stream) if stream.kind == OPEN_REPEAT else self._echo(stream)
        elif kind == END and stream.kind == OPEN_TALLY:
            del self.streams[key]
            header = msgpack.packb((TALLY, call_id, stream.items, stream.same))
            self._out(stream, header, stream.first)
        elif kind == END:
            stream.ended = True
            self._echo(stream)
        elif kind == CANCEL:
            del self.streams[key]

    def _repeat(self, stream: _Stream) -> None:
        while stream.credit and stream.remaining:
            stream.credit -= 1
            stream.remaining -= 1
            self._out(stream, stream.item, stream.payload)
        if not stream.remaining:
            del self.streams[stream.to]
            self._control(stream, END)

    def _took(self, stream: _Stream) -> None:
        granted = stream.window.took()
        if granted:
            self._control(stream, CREDIT, granted)

    def _echo(self, stream: _Stream) -> None:
        while stream.credit and stream.queue:
            stream.credit -= 1
            self._out(stream, stream.item, stream.queue.popleft())
            self._took(stream)
        if stream.ended and not stream.queue:
            del self.streams[stream.to]
            self._control(stream, END)


def stream_socket(kind: int) -> zmq.Socket[bytes]:
    """A socket of ``kind`` for either side of the raw streams: no linger, and a
    high-water mark of :data:`HWM` each way, so that a window of messages never
    finds it full."""
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, HWM)
    sock.setsockopt(zmq.RCVHWM, HWM)
    return sock


def serve(bind: str, loop: str) -> None:
    """An asyncio ROUTER server of the three streams, until terminated."""
    sock = stream_socket(zmq.ROUTER)
    sock.bind(bind)
    endpoint = cast(bytes, sock.getsockopt(zmq.LAST_ENDPOINT)).decode()
    server = StreamServer(sock)
    fd = cast(int, sock.getsockopt(zmq.FD))

    async def start() -> str:
        asyncio.get_running_loop().add_reader(fd, server.drain)
        server.drain()
        return endpoint

    async def stop() -> None:
        asyncio.get_running_loop().remove_reader(fd)
        sock.close()

    serve_until_terminated(start, stop, loop)


class _Client:
    """A DEALER read by one coroutine: a future only when nothing is ready."""

    def __init__(self, endpoint: str) -> None:
        self.sock = stream_socket(zmq.DEALER)
        self.sock.connect(endpoint)
        self.loop = asyncio.get_running_loop()
        self.readable: asyncio.Future[None] = self.loop.create_future()
        self.fd = cast(int, self.sock.getsockopt(zmq.FD))
        self.loop.add_reader(self.fd, self._wake)

    def _wake(self) -> None:
        if not self.readable.done():
            self.readable.set_result(None)

    def send(self, header: Any, *rest: Any) -> None:
        """Send a message: a packed header, then the payload if any."""
        _send(self.sock, (b"", header, *rest))

    def control(self, *header: Any) -> None:
        """Send a message of a header alone."""
        self.send(msgpack.packb(header))

    async def recv(self, call_id: int) -> tuple[int, list[Any], Frames]:
        """The next message of call ``call_id``: kind, the header's rest, frames."""
        while True:
            try:
                frames = _recv(self.sock)
            except zmq.Again:
                # Sends may have taken the edge of messages that arrived meanwhile.
                if not cast(int, self.sock.getsockopt(EVENTS)) & POLLIN:
                    self.readable = self.loop.create_future()
                    await self.readable
                continue
            kind, of, *rest = msgpack.unpackb(frames[1].buffer)
            if of == call_id:
                return kind, rest, frames

    def close(self) -> None:
        """Stop watching the socket and close it."""
        self.loop.remove_reader(self.fd)
        self.sock.close()


def run_client(spec: ClientSpec, loop: str) -> Result:
    """Stream calls of the case ``spec.stream``, one after another, on one DEALER."""

    async def main() -> Result:
        payload = make_payload(spec.payload)
        meter = Meter.for_spec(spec)
        client = _Client(spec.endpoint)
        await asyncio.sleep(max(0.0, meter.begin - time.perf_counter()))
        measure = {"server": _server, "client": _client, "bidi": _bidi}[spec.stream]
        try:
            call_id = 0
            while not await measure(client, call_id, payload, meter):
                call_id += 1
        finally:
            client.close()
        return meter.finish()

    return run_on_loop(main(), loop)


async def _server(client: _Client, call_id: int, payload: bytes, meter: Meter) -> bool:
    """One server stream; whether the window is over."""
    window = ReceiveWindow(None)
    client.send(msgpack.packb((OPEN_REPEAT, call_id, ITEMS, window.window)), payload)
    received = 0
    while True:
        kind, _, frames = await client.recv(call_id)
        if kind == END:
            break
        received += 1
        window.arrived(len(frames[2]))
        if meter.record(time.perf_counter(), same_payload(frames[2].buffer, payload)):
            client.control(CANCEL, call_id)
            return True
        granted = window.took()
        if granted:
            client.control(CREDIT, call_id, granted)
    meter.result.mismatches += abs(ITEMS - received)
    return False


async def _client(client: _Client, call_id: int, payload: bytes, meter: Meter) -> bool:
    """One client stream; whether the window is over."""
    client.control(OPEN_TALLY, call_id)
    item = msgpack.packb((ITEM, call_id))
    credit, sent, over = STREAM_WINDOW, 0, False
    while sent < ITEMS and not over:
        if not credit:
            _, (granted,), _ = await client.recv(call_id)
            credit += granted
            continue
        credit -= 1
        sent += 1
        client.send(item, payload)
        over = meter.record(time.perf_counter(), True)
    client.control(END, call_id)
    while True:
        kind, rest, frames = await client.recv(call_id)
        if kind == TALLY:
            break
    items, same = rest
    if not tally_ok(items, same, frames[2].buffer, payload, sent):
        meter.result.mismatches += max(1, sent - same)
    return over


async def _bidi(client: _Client, call_id: int, payload: bytes, meter: Meter) -> bool:
    """One bidirectional stream; whether the window is over."""
    window = ReceiveWindow(None)
    client.control(OPEN_ECHO, call_id, window.window)
    item = msgpack.packb((ITEM, call_id))
    credit, sent, received = STREAM_WINDOW, 0, 0
    over = ended = False
    while True:
        while credit and sent < ITEMS and not over:
            credit -= 1
            sent += 1
            client.send(item, payload)
        if not ended and (sent == ITEMS or over):
            client.control(END, call_id)
            ended = True
        kind, rest, frames = await client.recv(call_id)
        if kind == CREDIT:
            credit += rest[0]
        elif kind == ITEM:
            received += 1
            # After the window, echoes still arriving are checked, not counted.
            ok = same_payload(frames[2].buffer, payload)
            over = meter.record(time.perf_counter(), ok)
            window.arrived(len(frames[2]))
            granted = window.took()
            if granted:
                client.control(CREDIT, call_id, granted)
        else:
            break
    meter.result.mismatches += abs(sent - received)
    return over
