"""uvrpc's streams: the generated stubs of ``idl/stream_echo.idl`` on the real runtime.

Client and server keep uvrpc's default stream window of
:data:`~uvrpc.wire.limits.STREAM_WINDOW` items, the case's ``inflight``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from ...server import Server
from ..measure import Meter, Result, same_payload
from ..spec import ClientSpec
from ..stream_echo import StreamEchoClient, StreamEchoServer, Tally
from ._serving import make_payload, serve_until_terminated
from ._serving import run_client as run_on_loop
from ._streaming import ITEMS, tally_ok

__all__ = ["Streams", "run_client", "serve"]


class Streams(StreamEchoServer):
    """The stream service: repeats, tallies and echoes items."""

    async def repeat(self, *, data: memoryview, n: int) -> AsyncIterator[memoryview]:
        for _ in range(n):
            yield data

    async def tally(self, *, items: AsyncIterator[memoryview]) -> Tally:
        first = b""
        count = same = 0
        async for item in items:
            if not count:
                first = bytes(item)
            count += 1
            same += same_payload(item, first)
        return Tally(items=count, same=same, first=first)

    async def echo(
        self, *, items: AsyncIterator[memoryview]
    ) -> AsyncIterator[memoryview]:
        async for item in items:
            yield item


def serve(bind: str, loop: str) -> None:
    """Serve :class:`Streams` on ``bind`` until terminated."""
    server = Server(Streams())

    async def start() -> str:
        await server.start()
        return server.bind(bind)

    serve_until_terminated(start, server.close, loop)


def run_client(spec: ClientSpec, loop: str) -> Result:
    """Stream calls of the case ``spec.stream`` on one generated async client."""

    async def main() -> Result:
        payload = make_payload(spec.payload)
        meter = Meter.for_spec(spec)
        async with StreamEchoClient(spec.endpoint, timeout=60) as client:
            await asyncio.sleep(max(0.0, meter.begin - time.perf_counter()))
            measure = {"server": _server, "client": _client, "bidi": _bidi}
            while not await measure[spec.stream](client, payload, meter):
                pass
        return meter.finish()

    return run_on_loop(main(), loop)


async def _server(client: StreamEchoClient, payload: bytes, meter: Meter) -> bool:
    """One server stream; whether the window is over."""
    received = 0
    async with client.repeat(data=payload, n=ITEMS) as items:
        async for item in items:
            received += 1
            if meter.record(time.perf_counter(), same_payload(item, payload)):
                return True  # leaving the block cancels the stream
    meter.result.mismatches += abs(ITEMS - received)
    return False


async def _client(client: StreamEchoClient, payload: bytes, meter: Meter) -> bool:
    """One client stream; whether the window is over."""
    sent = 0
    over = False

    async def items() -> AsyncIterator[bytes]:
        nonlocal sent, over
        while sent < ITEMS and not over:
            sent += 1
            over = meter.record(time.perf_counter(), True)
            yield payload

    tally = await client.tally(items=items())
    if not tally_ok(tally.items, tally.same, tally.first, payload, sent):
        meter.result.mismatches += max(1, sent - tally.same)
    return over


async def _bidi(client: StreamEchoClient, payload: bytes, meter: Meter) -> bool:
    """One bidirectional stream; whether the window is over."""
    sent = received = 0
    over = False

    async def items() -> AsyncIterator[bytes]:
        nonlocal sent
        while sent < ITEMS and not over:
            sent += 1
            yield payload

    async with client.echo(items=items()) as echoes:
        async for item in echoes:
            received += 1
            # After the window, echoes still arriving are checked, not counted.
            over = meter.record(time.perf_counter(), same_payload(item, payload))
    meter.result.mismatches += abs(sent - received)
    return over
