"""A gRPC server of the stream cases of ``uvrpc bench`` that gets every stream wrong,
in a process of its own.

``python tests/faulty_grpc_streams.py FAULT`` prints its endpoint, then serves the
methods of :mod:`uvrpc.bench.systems.grpc_streams`, in their message format, until
terminated. With FAULT ``short``, streams miss items: a server stream ends after
one item, an echo stream drops the first; with ``changed``, their first item is
wrong. A client stream's answer always counts one item too few as equal to the
first.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import grpc

from uvrpc.bench.systems.grpc_streams import COUNT, SERVICE, TALLY


def handlers(fault: str) -> grpc.GenericRpcHandler:
    """The three methods, wrong in the way ``fault`` says."""

    async def repeat(request: bytes, context: Any) -> AsyncIterator[bytes]:
        (n,) = COUNT.unpack_from(request)
        data = request[COUNT.size :]
        if fault == "short":
            yield data
            return
        yield bytes(len(data))
        for _ in range(n - 1):
            yield data

    async def tally(items: AsyncIterator[bytes], context: Any) -> bytes:
        count, first = 0, b""
        async for item in items:
            first = first or item
            count += 1
        return TALLY.pack(count, count - 1) + first

    async def echo(items: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
        first = True
        async for item in items:
            if first and fault == "changed":
                yield bytes(len(item))
            elif not first:
                yield item
            first = False

    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Repeat": grpc.unary_stream_rpc_method_handler(repeat),
            "Tally": grpc.stream_unary_rpc_method_handler(tally),
            "Echo": grpc.stream_stream_rpc_method_handler(echo),
        },
    )


async def main(fault: str) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handlers(fault),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"tcp://127.0.0.1:{port}", flush=True)
    done = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, done.set)
    await done.wait()
    await server.stop(None)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
