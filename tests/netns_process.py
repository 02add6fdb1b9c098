"""One host of ``tests/system/test_across_hosts.py``: a broker, a server or a client,
each run in a network namespace of its own (``ip netns exec NS python
netns_process.py ROLE …``, from this directory).

Every role uses short heartbeats (``HEARTBEAT``) so that a cut link is noticed
within about a second, and reports on stdout, a line each, flushed:

- ``broker ADDRESS``: binds a frontend and a backend on ``tcp://ADDRESS:*`` and
  prints them, frontend first;
- ``server BACKEND``: serves :class:`Recording` to the broker at ``BACKEND``, and
  prints ``start N TIME`` when a ping handler starts;
- ``client FRONTEND CONCURRENCY``: calls ``ping`` without pause from
  ``CONCURRENCY`` tasks, each call with a number of its own, and prints ``ok N
  TIME`` or ``err N STATUS TIME`` when it ends.

``TIME`` is ``time.time()``: the processes share the host's clock. Each runs until
it is killed.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import threading
import time

from feed import FeedClient
from feed_server import Feed

import uvrpc
from uvrpc.broker import Broker

HEARTBEAT = uvrpc.Heartbeat(interval=0.2, timeout=1.0)
"""A PING each 200 ms; a connection silent for a second is dead."""

CALL_TIMEOUT = 10.0
"""Each call's deadline: far beyond the heartbeat's timeout, so a call that fails
at a cut fails because its connection was found dead, never at its deadline."""

HANDLER_SECONDS = 0.05
"""How long a ping runs: calls are in flight on every server at any time."""


class Recording(Feed):
    """A feed whose ping says when it starts, and takes a while."""

    async def ping(self, *, n: int) -> int:
        print(f"start {n} {time.time():.6f}", flush=True)
        await asyncio.sleep(HANDLER_SECONDS)
        return n


def broker(address: str) -> None:
    endpoint = f"tcp://{address}:*"
    with Broker([endpoint], [endpoint], heartbeat=HEARTBEAT) as running:
        print(running.frontends[0], flush=True)
        print(running.backends[0], flush=True)
        threading.Event().wait()


async def server(backend: str) -> None:
    async with uvrpc.Server(Recording(), heartbeat=HEARTBEAT) as running:
        running.connect(backend)
        await asyncio.Event().wait()


async def client(frontend: str, concurrency: int) -> None:
    numbers = itertools.count(1)
    async with uvrpc.Channel(frontend, heartbeat=HEARTBEAT) as channel:
        feed = FeedClient(channel)

        async def calls() -> None:
            while True:
                n = next(numbers)
                try:
                    await feed.ping(n=n, timeout=CALL_TIMEOUT)
                except uvrpc.RpcError as exc:
                    print(f"err {n} {exc.status.name} {time.time():.6f}", flush=True)
                    await asyncio.sleep(0.05)  # failing fast must not spin
                else:
                    print(f"ok {n} {time.time():.6f}", flush=True)

        await asyncio.gather(*(calls() for _ in range(concurrency)))


def main(role: str, *args: str) -> None:
    if role == "broker":
        broker(*args)
    elif role == "server":
        asyncio.run(server(*args))
    elif role == "client":
        asyncio.run(client(args[0], int(args[1])))
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main(*sys.argv[1:])
