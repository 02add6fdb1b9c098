"""The ``feed`` service's server, or a client uploading to one, in a process of its own.

``python tests/feed_process.py serve --bind ENDPOINT`` prints the bound endpoint and
serves until killed; its streams produce an item every 20 ms. ``python
tests/feed_process.py upload --connect ENDPOINT`` uploads ticks, one every 10 ms,
until killed, and prints ``sending`` once the first was sent.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from feed import FeedClient, Tick  # noqa: E402
from feed_server import Feed  # noqa: E402

import uvrpc  # noqa: E402


async def serve(endpoint: str) -> None:
    async with uvrpc.Server(Feed(delay=0.02)) as server:
        print(server.bind(endpoint), flush=True)
        await server.serve_forever()


async def upload(endpoint: str) -> None:
    async def ticks() -> AsyncIterator[Tick]:
        seq = 0
        while True:
            yield Tick(seq=seq)
            if seq == 0:
                print("sending", flush=True)
            seq += 1
            await asyncio.sleep(0.01)

    async with FeedClient(endpoint) as client:
        await client.upload(ticks=ticks())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=("serve", "upload"))
    parser.add_argument("--bind")
    parser.add_argument("--connect")
    args = parser.parse_args()
    if args.role == "serve":
        asyncio.run(serve(args.bind))
    else:
        asyncio.run(upload(args.connect))


if __name__ == "__main__":
    main()
