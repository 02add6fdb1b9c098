"""gRPC's streams: grpcio's asyncio API with generic bytes handlers (``bench`` extra).

As in :mod:`uvrpc.bench.systems.grpc_echo`, no protobuf: messages are bytes. The
server stream's request is a 4-byte big-endian count followed by the payload; the
client stream's answer is two 8-byte big-endian counts (items, items equal to the
first) followed by the first item. Flow control is gRPC's own (HTTP/2 windows, in
bytes): it has no window in items to set.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

from ..measure import Meter, Result, same_payload
from ..spec import ClientSpec
from ._serving import (
    make_payload,
    serve_until_terminated,
    tcp_host_port,
)
from ._serving import (
    run_client as run_on_loop,
)
from ._streaming import ITEMS, tally_ok
from .grpc_echo import OPTIONS

__all__ = ["run_client", "serve"]

SERVICE = "bench.Streams"
COUNT = struct.Struct(">I")
TALLY = struct.Struct(">QQ")


async def _repeat(request: bytes, context: Any) -> AsyncIterator[bytes]:
    (n,) = COUNT.unpack_from(request)
    data = request[COUNT.size :]
    for _ in range(n):
        yield data


async def _tally(items: AsyncIterator[bytes], context: Any) -> bytes:
    first = b""
    count = same = 0
    async for item in items:
        if not count:
            first = item
        count += 1
        same += same_payload(item, first)
    return TALLY.pack(count, same) + first


async def _echo(items: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
    async for item in items:
        yield item


def serve(bind: str, loop: str) -> None:
    """Serve the three streams with ``grpc.aio`` until terminated."""
    import grpc

    host, port = tcp_host_port(bind)
    servers: list[grpc.aio.Server] = []  # made inside the loop, as grpc.aio needs

    async def start() -> str:
        server = grpc.aio.server(options=OPTIONS)
        servers.append(server)
        handler = grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Repeat": grpc.unary_stream_rpc_method_handler(_repeat),
                "Tally": grpc.stream_unary_rpc_method_handler(_tally),
                "Echo": grpc.stream_stream_rpc_method_handler(_echo),
            },
        )
        server.add_generic_rpc_handlers((handler,))
        bound = server.add_insecure_port(f"{host}:{port}")
        await server.start()
        return f"tcp://{host}:{bound}"

    async def stop() -> None:
        await servers[0].stop(None)

    serve_until_terminated(start, stop, loop)


def run_client(spec: ClientSpec, loop: str) -> Result:
    """Stream calls of the case ``spec.stream`` on one ``grpc.aio`` channel."""
    import grpc

    async def main() -> Result:
        payload = make_payload(spec.payload)
        meter = Meter.for_spec(spec)
        target = spec.endpoint.removeprefix("tcp://")
        async with grpc.aio.insecure_channel(target, options=OPTIONS) as channel:
            await asyncio.sleep(max(0.0, meter.begin - time.perf_counter()))
            measure = {"server": _server, "client": _client, "bidi": _bidi}
            while not await measure[spec.stream](channel, payload, meter):
                pass
        return meter.finish()

    return run_on_loop(main(), loop)


async def _server(channel: Any, payload: bytes, meter: Meter) -> bool:
    """One server stream; whether the window is over."""
    call = channel.unary_stream(f"/{SERVICE}/Repeat")(COUNT.pack(ITEMS) + payload)
    received = 0
    async for item in call:
        received += 1
        if meter.record(time.perf_counter(), same_payload(item, payload)):
            call.cancel()
            return True
    meter.result.mismatches += abs(ITEMS - received)
    return False


async def _client(channel: Any, payload: bytes, meter: Meter) -> bool:
    """One client stream; whether the window is over."""
    sent = 0
    over = False

    async def items() -> AsyncIterator[bytes]:
        nonlocal sent, over
        while sent < ITEMS and not over:
            sent += 1
            over = meter.record(time.perf_counter(), True)
            yield payload

    reply = await channel.stream_unary(f"/{SERVICE}/Tally")(items())
    count, same = TALLY.unpack_from(reply)
    first = memoryview(reply)[TALLY.size :]
    if not tally_ok(count, same, first, payload, sent):
        meter.result.mismatches += max(1, sent - same)
    return over


async def _bidi(channel: Any, payload: bytes, meter: Meter) -> bool:
    """One bidirectional stream; whether the window is over."""
    sent = received = 0
    over = False

    async def items() -> AsyncIterator[bytes]:
        nonlocal sent
        while sent < ITEMS and not over:
            sent += 1
            yield payload

    async for item in channel.stream_stream(f"/{SERVICE}/Echo")(items()):
        received += 1
        # After the window, echoes still arriving are checked, not counted.
        over = meter.record(time.perf_counter(), same_payload(item, payload))
    meter.result.mismatches += abs(sent - received)
    return over
