"""A handler that raises a ``BaseException`` that is not ``Exception`` fails its
own call, and only its own.

``GeneratorExit``, an ``asyncio.CancelledError`` the handler raised itself (a
future it awaited was cancelled by someone else, its task never was) and a
``BaseException`` of the service's own are answered ``UNKNOWN`` naming them, as
any other exception. Before, such an exception escaped the handler's task into
the server's socket reader: the caller got no reply (it waited for its deadline,
or for ever without one) and so did every other request read in the same batch.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from feed import FeedClient, Tick
from feed_server import Feed

import uvrpc


class Own(BaseException):
    """A service's own exception derived from BaseException."""


def cancelled_future() -> asyncio.Future[None]:
    """A future already cancelled by someone other than the awaiting task."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.cancel()
    return future


async def raise_for(n: int) -> None:
    if n == -1:
        raise GeneratorExit("closing")
    if n == -2:
        await cancelled_future()
    if n == -3:
        raise Own("own")


class Raising(Feed):
    """``ping`` and ``ticks`` raise by ``n`` / ``count``: -1 GeneratorExit,
    -2 a CancelledError from a future, -3 :class:`Own`."""

    async def ping(self, *, n: int) -> int:
        await raise_for(n)
        return n

    async def ticks(self, *, count: int, size: int) -> AsyncIterator[Tick]:
        yield Tick(seq=0)
        await raise_for(count)


NAMES = {-1: "GeneratorExit", -2: "CancelledError", -3: "Own"}


@pytest.mark.parametrize("n", sorted(NAMES))
def test_a_base_exception_fails_its_call_alone(tmp_path: Path, n: int) -> None:
    async def main() -> None:
        async with uvrpc.Server(Raising()) as server:
            endpoint = server.bind(f"ipc://{tmp_path / 'feed.sock'}")
            async with FeedClient(endpoint, timeout=5) as client:
                assert await client.ping(n=1) == 1

                async def one(value: int) -> object:
                    try:
                        return await client.ping(n=value)
                    except uvrpc.RpcError as exc:
                        return exc

                # One bad call among others read in the same batch.
                values = [n if i == 5 else 1000 + i for i in range(40)]
                results = await asyncio.gather(*(one(v) for v in values))
                kinds = collections.Counter(type(r).__name__ for r in results)
                assert kinds == {"int": 39, "RemoteError": 1}
                error = results[5]
                assert isinstance(error, uvrpc.RemoteError)
                assert error.message.startswith(NAMES[n] + ":")

                with pytest.raises(uvrpc.RemoteError, match=NAMES[n]):
                    async for _ in client.ticks(count=n):
                        pass
                assert await client.ping(n=2) == 2

    asyncio.run(asyncio.wait_for(main(), 20))
