"""A server in a process of its own, whose resident size the memory tests read.

``python tests/memory_process.py [--curve] [--no-trim]`` serves the example
calculator and echo services on ``tcp://127.0.0.1:*``, prints the endpoint, then
serves until terminated. ``--curve`` serves over CURVE admitting one client key
pair, generated here and printed after the endpoint as
``SERVER_PUBLIC CLIENT_PUBLIC CLIENT_SECRET``; ``--no-trim`` turns off
``Server(trim_memory=…)``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for example in ("calculator", "echo"):
    sys.path.insert(0, str(ROOT / "examples" / example))

from calculator_server import Calculator  # noqa: E402
from echo_server import Echo  # noqa: E402

import uvrpc  # noqa: E402
from uvrpc.security import ServerSecurity, generate_keypair  # noqa: E402


async def serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    security = keys = None
    if args.curve:
        server_keys, client_keys = generate_keypair(), generate_keypair()
        security = ServerSecurity(server_keys, allow=[client_keys.public])
        keys = f"{server_keys.public} {client_keys.public} {client_keys.secret}"
    async with uvrpc.Server(
        Calculator(), Echo(), security=security, trim_memory=not args.no_trim
    ) as server:
        print(server.bind("tcp://127.0.0.1:*"), flush=True)
        if keys is not None:
            print(keys, flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--curve", action="store_true")
    parser.add_argument("--no-trim", action="store_true")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
