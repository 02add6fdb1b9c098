"""uvrpc itself: the generated echo stubs of ``idl/echo.idl`` on the real runtime."""

from __future__ import annotations

import asyncio
import time

from ...server import Server
from ..echo import EchoClient, EchoServer, EchoSyncClient
from ..measure import Meter, Result, same_payload
from ..spec import ClientSpec
from ._serving import make_payload, run_client, serve_until_terminated

__all__ = ["Echo", "run_async_client", "run_sync_client", "serve"]


class Echo(EchoServer):
    """The echo service: returns its payload."""

    async def echo(self, *, data: memoryview) -> memoryview:
        return data


def serve(bind: str, loop: str) -> None:
    """Serve :class:`Echo` on ``bind`` until terminated."""
    server = Server(Echo())

    async def start() -> str:
        await server.start()
        return server.bind(bind)

    serve_until_terminated(start, server.close, loop)


def run_async_client(spec: ClientSpec, loop: str) -> Result:
    """``spec.inflight`` tasks calling ``echo`` on one generated async client."""

    async def main() -> Result:
        payload = make_payload(spec.payload)
        meter = Meter.for_spec(spec)
        async with EchoClient(spec.endpoint, timeout=60) as client:
            await asyncio.sleep(max(0.0, meter.begin - time.perf_counter()))

            async def caller() -> None:
                while True:
                    sent = time.perf_counter()
                    reply = await client.echo(data=payload)
                    if meter.record(sent, same_payload(reply, payload)):
                        return

            await asyncio.gather(*(caller() for _ in range(spec.inflight)))
        return meter.finish()

    return run_client(main(), loop)


def run_sync_client(spec: ClientSpec, loop: str) -> Result:
    """One blocking generated client calling ``echo`` in a loop."""
    payload = make_payload(spec.payload)
    meter = Meter.for_spec(spec)
    with EchoSyncClient(spec.endpoint, timeout=60) as client:
        meter.wait_for_start()
        while True:
            sent = time.perf_counter()
            reply = client.echo(data=payload)
            if meter.record(sent, same_payload(reply, payload)):
                break
    return meter.finish()
