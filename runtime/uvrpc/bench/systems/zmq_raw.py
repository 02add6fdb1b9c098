"""The ceiling: the same ROUTER/DEALER echo written directly on pyzmq.

The envelope is as small as an RPC can have: ``[b"", header, payload]`` with a
msgpack header ``[call_id, "echo"]`` (reply: ``[call_id, 0]``) and the payload in a
frame of its own, sent ``copy=False``. No validation, no framework. Three clients:

* ``run_task_client``: the shape of uvrpc's async client (N tasks, each awaiting a
  future from a table filled by a receiver that drains every ready reply);
* ``run_pipeline_client``: one coroutine keeping N requests in flight, draining
  replies with NOBLOCK and answering each with a new request: no task, no future
  per call — the uncapped figure;
* ``run_blocking_client``: send, receive, repeat.

Servers: ``serve_draining`` (asyncio, every ready request answered in one wake-up)
and ``serve_blocking``.

Sockets are driven frame by frame with integer flags: pyzmq's ``send_multipart`` and
``recv_multipart`` spend more time in argument checks, ``RCVMORE`` reads and flag
enums than in the socket calls, and the ceiling should not carry that weight.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any, cast

import msgpack
import zmq

from ..measure import Meter, Result, same_payload
from ..spec import ClientSpec
from ._serving import make_payload, run_client, serve_until_terminated

__all__ = [
    "run_blocking_client",
    "run_pipeline_client",
    "run_task_client",
    "serve_blocking",
    "serve_draining",
]


NOBLOCK = int(zmq.NOBLOCK)
SNDMORE = int(zmq.SNDMORE)
POLLIN = int(zmq.POLLIN)
EVENTS = int(zmq.EVENTS)


def _send(sock: zmq.Socket[bytes], frames: tuple[Any, ...], flags: int) -> None:
    for frame in frames[:-1]:
        sock.send(frame, flags | SNDMORE, copy=len(frame) < zmq.COPY_THRESHOLD)
    sock.send(frames[-1], flags, copy=len(frames[-1]) < zmq.COPY_THRESHOLD)


def _recv(sock: zmq.Socket[bytes], flags: int) -> list[zmq.Frame]:
    frame = sock.recv(flags, copy=False)
    frames = [frame]
    while frame.more:
        frame = sock.recv(flags, copy=False)
        frames.append(frame)
    return frames


def _router(bind: str) -> tuple[zmq.Socket[bytes], str]:
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(bind)
    return sock, cast(bytes, sock.getsockopt(zmq.LAST_ENDPOINT)).decode()


def _answer(sock: zmq.Socket[bytes], frames: list[Any]) -> None:
    identity, delimiter, header, payload = frames
    call_id = msgpack.unpackb(header)[0]
    reply_header = msgpack.packb((call_id, 0))
    _send(sock, (identity, delimiter, reply_header, payload), 0)


def serve_draining(bind: str, loop: str) -> None:
    """An asyncio server that answers every ready request in one wake-up."""
    sock, endpoint = _router(bind)

    def drain() -> None:
        while True:
            try:
                frames = _recv(sock, NOBLOCK)
            except zmq.Again:
                return
            _answer(sock, frames)

    fd = cast(int, sock.getsockopt(zmq.FD))

    async def start() -> str:
        asyncio.get_running_loop().add_reader(fd, drain)
        drain()
        return endpoint

    async def stop() -> None:
        asyncio.get_running_loop().remove_reader(fd)
        sock.close()

    serve_until_terminated(start, stop, loop)


def serve_blocking(bind: str, loop: str) -> None:
    """A blocking server loop, answering until the process is terminated."""
    sock, endpoint = _router(bind)
    print(endpoint, flush=True)
    while True:
        _answer(sock, _recv(sock, 0))


def _dealer(endpoint: str) -> zmq.Socket[bytes]:
    """A client's socket, in a context of its own for :func:`_close` to end."""
    sock: zmq.Socket[bytes] = zmq.Context().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    return sock


def _close(sock: zmq.Socket[bytes]) -> None:
    """Close a client's socket and end its context, which returns only once
    libzmq has let go of every message.

    A payload sent without a copy stays libzmq's to read, and to free through
    pyzmq's collector thread, until its message is dropped; closing a socket
    drops its queued messages later, in libzmq's own threads. Left to then, a
    client that returns with requests in flight can have them freed after the
    interpreter stopped that collector at exit, or read from a payload Python
    freed already: a crash as the process ends.
    """
    context = sock.context
    sock.close()
    context.term()


def _events(sock: zmq.Socket[bytes]) -> int:
    return cast(int, sock.getsockopt(EVENTS))


def run_task_client(spec: ClientSpec, loop: str) -> Result:
    """N tasks, each sending a request and awaiting its future."""

    async def main() -> Result:
        payload = make_payload(spec.payload)
        meter = Meter.for_spec(spec)
        sock = _dealer(spec.endpoint)
        aio = asyncio.get_running_loop()
        pending: dict[int, asyncio.Future[Any]] = {}
        ids = itertools.count()
        check_scheduled = False

        def drain() -> None:
            while True:
                try:
                    _, header, body = _recv(sock, NOBLOCK)
                except zmq.Again:
                    return
                future = pending.pop(msgpack.unpackb(header.buffer)[0])
                future.set_result(body)

        def after_sends() -> None:
            # Sends may consume the edge of replies that arrived meanwhile: look
            # once per loop iteration, not after every send (EVENTS costs a send).
            nonlocal check_scheduled
            check_scheduled = False
            if _events(sock) & POLLIN:
                drain()

        fd = cast(int, sock.getsockopt(zmq.FD))
        aio.add_reader(fd, drain)
        await asyncio.sleep(max(0.0, meter.begin - time.perf_counter()))

        async def caller() -> None:
            nonlocal check_scheduled
            while True:
                call_id = next(ids)
                future = aio.create_future()
                pending[call_id] = future
                sent = time.perf_counter()
                header = msgpack.packb((call_id, "echo"))
                _send(sock, (b"", header, payload), NOBLOCK)
                if not check_scheduled:
                    check_scheduled = True
                    aio.call_soon(after_sends)
                body = await future
                if meter.record(sent, same_payload(body.buffer, payload)):
                    return

        try:
            await asyncio.gather(*(caller() for _ in range(spec.inflight)))
        finally:
            aio.remove_reader(fd)
            _close(sock)
        return meter.finish()

    return run_client(main(), loop)


def run_pipeline_client(spec: ClientSpec, loop: str) -> Result:
    """One coroutine keeping N requests in flight, draining without futures."""

    async def main() -> Result:
        payload = make_payload(spec.payload)
        meter = Meter.for_spec(spec)
        sock = _dealer(spec.endpoint)
        aio = asyncio.get_running_loop()
        sent_at: dict[int, float] = {}
        ids = itertools.count()
        readable: asyncio.Future[None] = aio.create_future()

        def wake() -> None:
            if not readable.done():
                readable.set_result(None)

        def send() -> None:
            call_id = next(ids)
            sent_at[call_id] = time.perf_counter()
            header = msgpack.packb((call_id, "echo"))
            _send(sock, (b"", header, payload), NOBLOCK)

        fd = cast(int, sock.getsockopt(zmq.FD))
        aio.add_reader(fd, wake)
        await asyncio.sleep(max(0.0, meter.begin - time.perf_counter()))
        try:
            for _ in range(spec.inflight):
                send()
            done = False
            while not done:
                if not _events(sock) & POLLIN:
                    readable = aio.create_future()
                    await readable
                    continue
                while not done:
                    try:
                        _, header, body = _recv(sock, NOBLOCK)
                    except zmq.Again:
                        break
                    sent = sent_at.pop(msgpack.unpackb(header.buffer)[0])
                    done = meter.record(sent, same_payload(body.buffer, payload))
                    if not done:
                        send()
        finally:
            aio.remove_reader(fd)
            _close(sock)
        return meter.finish()

    return run_client(main(), loop)


def run_blocking_client(spec: ClientSpec, loop: str) -> Result:
    """Send one request, block for its reply, repeat."""
    payload = make_payload(spec.payload)
    meter = Meter.for_spec(spec)
    sock = _dealer(spec.endpoint)
    meter.wait_for_start()
    try:
        for call_id in itertools.count():
            sent = time.perf_counter()
            header = msgpack.packb((call_id, "echo"))
            _send(sock, (b"", header, payload), 0)
            _, reply_header, body = _recv(sock, 0)
            matches = msgpack.unpackb(reply_header.buffer)[0] == call_id
            ok = matches and same_payload(body.buffer, payload)
            if meter.record(sent, ok):
                break
    finally:
        _close(sock)
    return meter.finish()
