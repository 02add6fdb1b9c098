"""Send payloads to the echo server and check that each comes back unchanged.

Start ``echo_server.py`` first, then run
``python examples/echo/echo_client.py --connect tcp://127.0.0.1:5556``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

# The generated module: the typed clients of the Echo service.
from echo import EchoClient, EchoSyncClient

import uvrpc


async def echo_sizes(endpoint: str, sizes: list[int]) -> None:
    """Echo one payload of each size, all in flight at once."""
    async with EchoClient(endpoint, timeout=10.0) as client:
        payloads = [bytes([n % 251]) * n for n in sizes]
        replies = await asyncio.gather(*(client.echo(data=p) for p in payloads))
        for payload, reply in zip(payloads, replies, strict=True):
            status = "ok" if reply == payload else "MISMATCH"
            print(f"echo {len(payload):>8} bytes: {status}")


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and echo a few payloads with both clients."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connect", default="tcp://127.0.0.1:5556")
    args = parser.parse_args(argv)
    try:
        asyncio.run(echo_sizes(args.connect, [0, 64, 4096, 1 << 20]))
        with EchoSyncClient(args.connect, timeout=10.0) as client:
            print(f"sync echo: {bytes(client.echo(data=b'hello'))!r}")
    except uvrpc.RpcError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
