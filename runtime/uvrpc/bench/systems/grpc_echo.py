"""gRPC: grpcio with a generic bytes-in, bytes-out unary handler (``bench`` extra).

No protobuf: the method has no serializers, so gRPC carries the payload bytes as
they are and the comparison measures the framework, not a codec. Message size
limits are raised to 64 MiB so the sweep's 4 MiB payloads fit.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ..measure import Meter, Result, same_payload
from ..spec import ClientSpec
from ._serving import make_payload, run_client, serve_until_terminated, tcp_host_port

__all__ = ["run_async_client", "run_sync_client", "serve"]

METHOD = "/bench.Echo/Echo"
OPTIONS = [
    ("grpc.max_send_message_length", 64 << 20),
    ("grpc.max_receive_message_length", 64 << 20),
]


def _target(endpoint: str) -> str:
    return endpoint.removeprefix("tcp://")


async def _echo(request: bytes, context: Any) -> bytes:
    return request


def serve(bind: str, loop: str) -> None:
    """Serve the echo with ``grpc.aio`` until terminated."""
    import grpc

    host, port = tcp_host_port(bind)
    servers: list[grpc.aio.Server] = []  # made inside the loop, as grpc.aio needs

    async def start() -> str:
        server = grpc.aio.server(options=OPTIONS)
        servers.append(server)
        handler = grpc.method_handlers_generic_handler(
            "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(_echo)}
        )
        server.add_generic_rpc_handlers((handler,))
        bound = server.add_insecure_port(f"{host}:{port}")
        await server.start()
        return f"tcp://{host}:{bound}"

    async def stop() -> None:
        await servers[0].stop(None)

    serve_until_terminated(start, stop, loop)


def run_async_client(spec: ClientSpec, loop: str) -> Result:
    """N concurrent calls on one ``grpc.aio`` channel."""
    import grpc

    async def main() -> Result:
        payload = make_payload(spec.payload)
        meter = Meter.for_spec(spec)
        async with grpc.aio.insecure_channel(
            _target(spec.endpoint), options=OPTIONS
        ) as channel:
            echo: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]
            echo = channel.unary_unary(METHOD)
            await asyncio.sleep(max(0.0, meter.begin - time.perf_counter()))

            async def caller() -> None:
                while True:
                    sent = time.perf_counter()
                    reply = await echo(payload)
                    if meter.record(sent, same_payload(reply, payload)):
                        return

            await asyncio.gather(*(caller() for _ in range(spec.inflight)))
        return meter.finish()

    return run_client(main(), loop)


def run_sync_client(spec: ClientSpec, loop: str) -> Result:
    """Blocking calls on a ``grpc`` channel."""
    import grpc

    payload = make_payload(spec.payload)
    meter = Meter.for_spec(spec)
    with grpc.insecure_channel(_target(spec.endpoint), options=OPTIONS) as channel:
        echo: grpc.UnaryUnaryMultiCallable[bytes, bytes]
        echo = channel.unary_unary(METHOD)
        meter.wait_for_start()
        while True:
            sent = time.perf_counter()
            reply = echo(payload)
            if meter.record(sent, same_payload(reply, payload)):
                break
    return meter.finish()
