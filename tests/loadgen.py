"""A client process for the concurrency test: many calls in flight, every reply checked.

Run by ``multiprocessing`` (spawn) from ``test_concurrency.py``; not a test module.
"""

from __future__ import annotations

import asyncio
from multiprocessing.queues import Queue
from typing import Any

from echo import EchoClient


async def _calls(endpoint: str, client_index: int, count: int) -> dict[str, Any]:
    async with EchoClient(endpoint, timeout=60) as client:
        payloads = [f"{client_index}:{i}".encode() for i in range(count)]
        replies = await asyncio.gather(*(client.echo(data=p) for p in payloads))
        await asyncio.sleep(0.2)  # let any duplicate reply arrive before counting
        return {
            "client": client_index,
            "sent": len(payloads),
            "matched": sum(r == p for r, p in zip(replies, payloads, strict=True)),
            "unmatched_replies": client.channel.dropped_replies,
        }


def run_client(
    endpoint: str, client_index: int, count: int, results: Queue[dict[str, Any]]
) -> None:
    """Make ``count`` concurrent echo calls and put a summary on ``results``."""
    results.put(asyncio.run(_calls(endpoint, client_index, count)))
