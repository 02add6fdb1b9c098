"""A request costs the server's loop as few iterations as it can: a handler that
never waits runs in the iteration that received its request (its task starts
eagerly, on Python 3.11 too), its reply goes in it, and the turn of that send ends
as the drain that read the request ends, in the same iteration.

The iterations are counted as the calls of the loop's selector (one per
iteration), and they do not depend on timing.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any

from feed import FeedSyncClient
from feed_server import Feed

import uvrpc

WARM_UP = 10
CALLS = 200


class CountingSelector(selectors.DefaultSelector):
    """The platform's selector, counting its polls: one per loop iteration."""

    def __init__(self) -> None:
        super().__init__()
        self.polls = 0

    def select(self, timeout: float | None = None) -> list[Any]:
        self.polls += 1
        return super().select(timeout)


def run(main: Any, selector: CountingSelector) -> Any:
    """Run ``main()`` to the end in a new loop over ``selector``."""
    loop = asyncio.SelectorEventLoop(selector)
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


def test_a_ping_pong_request_takes_one_loop_iteration() -> None:
    selector = CountingSelector()

    def calls(endpoint: str) -> int:
        # On a thread of its own: the server's loop waits for each request in
        # its selector, so the count is still while this thread reads it.
        with FeedSyncClient(endpoint, timeout=30) as client:
            for n in range(WARM_UP):
                assert client.ping(n=n) == n
            before = selector.polls
            for n in range(CALLS):
                assert client.ping(n=n) == n
            return selector.polls - before

    async def main() -> int:
        async with uvrpc.Server(Feed()) as server:
            endpoint = server.bind("tcp://127.0.0.1:*")
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, calls, endpoint)

    polls = run(main, selector)
    # One iteration receives a request, runs its handler, sends the reply and
    # reads the socket until it is empty. A handler's task started in an
    # iteration of its own, or a look at the socket (or the end of the
    # sender's turn) in one of its own after the reply, would make it two or
    # three. The margin is for wake-ups of ZeroMQ's own.
    assert polls <= CALLS + CALLS // 10
