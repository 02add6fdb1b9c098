"""A server's work per call in one process, for an instruction counter.

A uvrpc echo server on ``inproc://`` and a raw pyzmq DEALER client in the same
loop, 64 calls in flight, for ``N`` calls; nothing is printed. Run it under
``valgrind --tool=callgrind`` with two values of ``N`` and divide the difference of
the instruction counts by the difference of the calls: start-up cancels out, and
so does the host's speed, which instructions do not depend on::

    PYTHONPATH=TREE/runtime valgrind --tool=callgrind \\
        --callgrind-out-file=/dev/null python -P serverloop.py 2300

The client is raw pyzmq so that its share is the same in every tree compared; it
imports only the public ``uvrpc`` API and the generated echo stubs.
"""

from __future__ import annotations

import asyncio
import sys

import msgpack
import zmq
import zmq.asyncio

import uvrpc
from uvrpc.bench.echo import EchoServer

IN_FLIGHT = 64
ROUTE = "echo.Echo.echo"
BODY = msgpack.packb({"1": bytes(64)})


class _Echo(EchoServer):
    async def echo(self, *, data: memoryview) -> memoryview:
        return data


def _request(call_id: int) -> list[bytes]:
    header = msgpack.packb([uvrpc.PROTOCOL_VERSION, 1, call_id, ROUTE, 5000])
    return [b"", header, BODY]


async def serve(calls: int) -> None:
    """Make ``calls`` echo calls through a server in this loop."""
    plain: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    context = zmq.asyncio.Context.shadow(plain)
    async with uvrpc.Server(_Echo(), context=plain) as server:
        sock = context.socket(zmq.DEALER)
        sock.connect(server.bind("inproc://serverloop"))
        sent = received = 0
        while sent < min(IN_FLIGHT, calls):
            sent += 1
            await sock.send_multipart(_request(sent))
        while received < calls:
            reply = await sock.recv_multipart()
            received += 1
            if msgpack.unpackb(reply[1])[3] != 0:
                raise RuntimeError(f"call failed: {msgpack.unpackb(reply[2])}")
            if sent < calls:
                sent += 1
                await sock.send_multipart(_request(sent))
        sock.close(0)


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]) if len(sys.argv) > 1 else 2300))
