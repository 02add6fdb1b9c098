"""A soak run's server or one of its clients, in a process of its own.

``python tests/soak_process.py serve --bind ENDPOINT`` prints the bound endpoint and
serves the ``feed`` service until SIGTERM, then prints its counters as JSON.
``python tests/soak_process.py client --connect ENDPOINT --calls N --base B`` makes N
calls, up to 64 in flight, each with its own argument (``B`` + its number), checks
that each reply carries its own call's argument back, and prints what it saw as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from feed import FeedClient  # noqa: E402
from feed_server import Feed  # noqa: E402

import uvrpc  # noqa: E402

IN_FLIGHT = 64


async def serve(endpoint: str) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with uvrpc.Server(Feed()) as server:
        print(server.bind(endpoint), flush=True)
        await stop.wait()
        print(json.dumps(dataclasses.asdict(server.stats)), flush=True)


async def client(endpoint: str, calls: int, base: int) -> None:
    answered = mismatched = failed = 0
    next_call = 0

    async with FeedClient(endpoint, timeout=60) as feed:

        async def worker() -> None:
            nonlocal answered, mismatched, failed, next_call
            while next_call < calls:
                argument = base + next_call
                next_call += 1
                try:
                    reply = await feed.ping(n=argument)
                except uvrpc.RpcError:
                    failed += 1
                    continue
                answered += 1
                if reply != argument:
                    mismatched += 1

        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        report = {
            "calls": calls,
            "answered": answered,
            "mismatched": mismatched,
            "failed": failed,
            "dropped_replies": feed.channel.dropped_replies,
        }
    print(json.dumps(report), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=("serve", "client"))
    parser.add_argument("--bind")
    parser.add_argument("--connect")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--base", type=int, default=0)
    args = parser.parse_args()
    if args.role == "serve":
        asyncio.run(serve(args.bind))
    else:
        asyncio.run(client(args.connect, args.calls, args.base))


if __name__ == "__main__":
    main()
