"""The ``feed`` service's server, or a client of one, in a process of its own.

``python tests/feed_process.py serve --bind ENDPOINT [--delay S]`` prints the bound
endpoint and serves until killed; its streams produce an item every ``S`` seconds
(20 ms by default). ``python tests/feed_process.py upload --connect ENDPOINT``
uploads ticks, one every 10 ms, until killed, and prints ``sending`` once the first
was sent. ``python tests/feed_process.py throughput --connect ENDPOINT [--items N]``
times N small items each way (a server started with ``--delay 0``) and prints items
per second. ``python tests/feed_process.py call --connect ENDPOINT --tenths N`` makes
one call that the server answers after N tenths of a second, printing ``calling``
once it is sent.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from feed import FeedClient, Tick  # noqa: E402
from feed_server import Feed  # noqa: E402

import uvrpc  # noqa: E402


async def serve(endpoint: str, delay: float) -> None:
    async with uvrpc.Server(Feed(delay=delay)) as server:
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


async def throughput(endpoint: str, count: int) -> None:
    async def ticks() -> AsyncIterator[Tick]:
        for seq in range(count):
            yield Tick(seq=seq)

    async with FeedClient(endpoint) as client:
        await client.upload(ticks=ticks())  # warm-up
        started = time.perf_counter()
        received = 0
        async for _ in client.numbers(count=count):
            received += 1
        elapsed = time.perf_counter() - started
        print(f"server to client: {received / elapsed:,.0f} items/s")
        started = time.perf_counter()
        total = await client.upload(ticks=ticks())
        elapsed = time.perf_counter() - started
        print(f"client to server: {total.count / elapsed:,.0f} items/s")
        started = time.perf_counter()
        echoed = 0
        async for _ in client.echo(ticks=ticks()):
            echoed += 1
        elapsed = time.perf_counter() - started
        print(f"both ways (echo): {echoed / elapsed:,.0f} items/s")


async def call(endpoint: str, tenths: int) -> None:
    async with FeedClient(endpoint) as client:
        pending = client.start_ping(n=-tenths)
        print("calling", flush=True)
        await pending


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=("serve", "upload", "throughput", "call"))
    parser.add_argument("--bind")
    parser.add_argument("--connect")
    parser.add_argument("--delay", type=float, default=0.02)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--tenths", type=int, default=10)
    args = parser.parse_args()
    if args.role == "serve":
        asyncio.run(serve(args.bind, args.delay))
    elif args.role == "upload":
        asyncio.run(upload(args.connect))
    elif args.role == "call":
        asyncio.run(call(args.connect, args.tenths))
    else:
        asyncio.run(throughput(args.connect, args.items))


if __name__ == "__main__":
    main()
