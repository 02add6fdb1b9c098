"""A ``feed`` server, in a process of its own, that writes down each handler start.

``python tests/ledger_process.py ENDPOINT LEDGER`` binds ``ENDPOINT``, prints it
and serves until killed. Each ``ping(n)`` with ``n >= 0`` appends the line
``n time.time()`` to the file ``LEDGER`` as its handler starts (a write of its
own, so a killed process loses no line already written), then takes 20 ms: a
method that is not idempotent, whose every run can be counted.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from feed_server import Feed  # noqa: E402

import uvrpc  # noqa: E402


class LedgerFeed(Feed):
    """``ping`` records each start in the ledger."""

    def __init__(self, ledger: str) -> None:
        super().__init__()
        self._fd = os.open(ledger, os.O_WRONLY | os.O_CREAT | os.O_APPEND)

    async def ping(self, *, n: int) -> int:
        if n < 0:
            return await super().ping(n=n)
        os.write(self._fd, f"{n} {time.time()!r}\n".encode())
        await asyncio.sleep(0.02)
        return n


async def serve(endpoint: str, ledger: str) -> None:
    async with uvrpc.Server(LedgerFeed(ledger)) as server:
        print(server.bind(endpoint), flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2]))
