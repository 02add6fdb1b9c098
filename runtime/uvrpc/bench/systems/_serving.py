"""Helpers shared by the systems: payloads, start and stop of servers."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ...loop import run

__all__ = ["make_payload", "run_client", "serve_until_terminated", "tcp_host_port"]

T = TypeVar("T")


def make_payload(size: int) -> bytes:
    """Random bytes of ``size``: nothing along the path can compress or cache them."""
    return os.urandom(size)


def tcp_host_port(bind: str) -> tuple[str, int]:
    """``tcp://HOST:PORT`` (``*`` meaning any free port) as ``(HOST, PORT)``."""
    if not bind.startswith("tcp://"):
        raise ValueError(f"this system only serves tcp:// endpoints, not {bind!r}")
    host, _, port = bind.removeprefix("tcp://").rpartition(":")
    return host, 0 if port == "*" else int(port)


def serve_until_terminated(
    start: Callable[[], Awaitable[str]], stop: Callable[[], Awaitable[None]], loop: str
) -> None:
    """Start a server, print its endpoint, serve until SIGTERM or SIGINT, stop it."""

    async def main() -> None:
        endpoint = await start()
        print(endpoint, flush=True)
        done = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(signum, done.set)
        await done.wait()
        await stop()

    run(main(), use_uvloop=loop == "uvloop")


def run_client(main: Awaitable[T], loop: str) -> T:
    """Run an asyncio client on the loop the row asks for."""

    async def wrapper() -> T:
        return await main

    return run(wrapper(), use_uvloop=loop == "uvloop")
