"""Call handles: a shared, reference-counted result whose views die with it."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import numpy as np
import pytest
import zmq
from echo import EchoClient, EchoServer
from golden.all_types import Item, ShowcaseClient
from showcase_server import Showcase

import uvrpc

SIZE = 64 * 1024  # payloads travel as frames of their own


class Gate(EchoServer):
    """Echoes once the gate opens; fails for the payload b"fail"."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.open.set()

    async def echo(self, *, data: memoryview) -> memoryview:
        await self.open.wait()
        if data.tobytes() == b"fail":
            raise uvrpc.NotFound("no such thing", {"key": "fail"})
        return data


@asynccontextmanager
async def served(*services: uvrpc.ServiceBase) -> AsyncIterator[str]:
    """Serve on inproc in this loop; yield the endpoint."""
    async with uvrpc.Server(*services) as server:
        yield server.bind(f"inproc://handles-{id(server)}")


def run(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(main())  # type: ignore[arg-type]


def test_every_awaiter_gets_the_same_result() -> None:
    async def main() -> None:
        async with served(Showcase()) as endpoint:
            async with ShowcaseClient(endpoint, timeout=10) as client:
                call = client.start_fetch(names=["a", "b"], size=SIZE)
                results = await asyncio.gather(call, call, asyncio.shield(call))
                assert results[0] is results[1] is results[2]  # shared, not copied
                assert [bytes(i.payload or b"") for i in results[0]] == [
                    b"a" * SIZE,
                    b"b" * SIZE,
                ]
                assert call.done() and call.refcount == 1
                call.release()

    run(main)


def test_the_last_release_frees_the_frames_and_revokes_the_views() -> None:
    async def main() -> None:
        async with served(Showcase()) as endpoint:
            async with ShowcaseClient(endpoint, timeout=10) as client:
                call = client.start_fetch(names=["a"], size=SIZE)
                other = call.retain()
                (item,) = await call
                payload = item.payload
                assert payload is not None and isinstance(payload.obj, zmq.Frame)
                frame = weakref.ref(payload.obj)
                call.release()  # one reference left: nothing is freed yet
                assert payload == b"a" * SIZE
                gc.collect()
                assert frame() is not None
                other.release()  # the last one
                with pytest.raises(ValueError, match="released"):
                    bytes(payload)
                with pytest.raises(ValueError, match="released"):
                    payload[0]
                del payload
                gc.collect()
                assert frame() is None

    run(main)


def test_a_released_handle_refuses_everything() -> None:
    async def main() -> None:
        async with served(Gate()) as endpoint:
            async with EchoClient(endpoint, timeout=10) as client:
                call = client.start_echo(data=b"x")
                assert bytes(await call) == b"x"
                call.release()
                assert call.refcount == 0
                with pytest.raises(uvrpc.ReleasedError, match="released twice"):
                    call.release()
                with pytest.raises(uvrpc.ReleasedError):
                    call.retain()
                with pytest.raises(uvrpc.ReleasedError):
                    await call
                with pytest.raises(uvrpc.ReleasedError):
                    call.result()

    run(main)


def test_async_with_releases_on_leaving() -> None:
    async def main() -> None:
        async with served(Showcase()) as endpoint:
            async with ShowcaseClient(endpoint, timeout=10) as client:
                call = client.start_fetch(names=["z"], size=SIZE)
                async with call as items:
                    payload = items[0].payload
                    assert bytes(payload or b"") == b"z" * SIZE
                assert call.refcount == 0
                with pytest.raises(ValueError):
                    bytes(payload or b"")

    run(main)


def test_another_task_shares_a_retained_handle() -> None:
    async def main() -> None:
        async with served(Showcase()) as endpoint:
            async with ShowcaseClient(endpoint, timeout=10) as client:

                async def worker(shared: uvrpc.Call[list[Item]]) -> bytes:
                    async with shared as items:
                        assert items[0].payload is not None
                        return bytes(items[0].payload[:3])

                call = client.start_fetch(names=["w"], size=SIZE)
                task = asyncio.create_task(worker(call.retain()))
                async with call as items:
                    assert bytes(items[0].payload or b"") == b"w" * SIZE
                assert await task == b"www"
                assert call.refcount == 0

    run(main)


def test_releasing_before_the_reply_cancels_the_call() -> None:
    gate = Gate()

    async def main() -> None:
        gate.open.clear()
        async with served(gate) as endpoint:
            async with EchoClient(endpoint, timeout=10) as client:
                call = client.start_echo(data=b"late")
                await asyncio.sleep(0.01)
                assert client.channel.pending == 1
                call.release()
                await asyncio.sleep(0)
                assert client.channel.pending == 0
                gate.open.set()  # the reply comes, and nobody wants it
                for _ in range(100):
                    if client.channel.dropped_replies:
                        break
                    await asyncio.sleep(0.01)
                assert client.channel.dropped_replies == 1
                assert bytes(await client.echo(data=b"next")) == b"next"

    run(main)


def test_cancelling_one_awaiter_leaves_the_others() -> None:
    gate = Gate()

    async def main() -> None:
        gate.open.clear()
        async with served(gate) as endpoint:
            async with EchoClient(endpoint, timeout=10) as client:
                call = client.start_echo(data=b"kept")
                first = asyncio.create_task(_await(call))
                second = asyncio.create_task(_await(call))
                await asyncio.sleep(0.01)
                first.cancel()
                gate.open.set()
                assert await second == b"kept"
                with pytest.raises(asyncio.CancelledError):
                    await first
                call.release()

    run(main)


async def _await(call: uvrpc.Call[memoryview]) -> bytes:
    return bytes(await call)


def test_cancel_fails_every_awaiter() -> None:
    gate = Gate()

    async def main() -> None:
        gate.open.clear()
        async with served(gate) as endpoint:
            async with EchoClient(endpoint, timeout=10) as client:
                call = client.start_echo(data=b"never")
                waiter = asyncio.create_task(_await(call))
                await asyncio.sleep(0.01)
                assert call.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await waiter
                with pytest.raises(asyncio.CancelledError):
                    await call
                gate.open.set()
                call.release()

    run(main)


def test_an_error_is_shared_too() -> None:
    async def main() -> None:
        async with served(Gate()) as endpoint:
            async with EchoClient(endpoint, timeout=10) as client:
                call = client.start_echo(data=b"fail")
                results = await asyncio.gather(call, call, return_exceptions=True)
                for result in results:
                    assert isinstance(result, uvrpc.NotFound)
                    assert result.details == {"key": "fail"}
                with pytest.raises(uvrpc.NotFound):
                    call.result()
                call.release()

    run(main)


def test_a_deadline_reaches_every_awaiter() -> None:
    gate = Gate()

    async def main() -> None:
        gate.open.clear()
        async with served(gate) as endpoint:
            async with EchoClient(endpoint) as client:
                call = client.start_echo(data=b"slow", timeout=0.05)
                results = await asyncio.gather(call, call, return_exceptions=True)
                assert all(isinstance(r, uvrpc.DeadlineExceeded) for r in results)
                gate.open.set()
                call.release()

    run(main)


def test_a_view_exported_elsewhere_keeps_its_frame() -> None:
    """Releasing cannot revoke a buffer already taken from a view: the taker keeps
    the frame alive instead, so nothing ever reads freed memory."""

    async def main() -> None:
        async with served(Showcase()) as endpoint:
            async with ShowcaseClient(endpoint, timeout=10) as client:
                call = client.start_fetch(names=["n"], size=SIZE)
                (item,) = await call
                assert item.payload is not None
                array = np.frombuffer(item.payload, dtype=np.uint8)
                call.release()
                assert array.sum() == ord("n") * SIZE

    run(main)


class BrokenTransport:
    """A client transport whose socket fails every send."""

    def attach(self, loop: asyncio.AbstractEventLoop, on_message: object) -> None:
        pass

    def try_send(self, frames: object) -> bool:
        raise OSError("the socket is gone")

    async def send(self, frames: object) -> None:
        raise OSError("the socket is gone")

    def close(self) -> None:
        pass


def test_a_send_that_fails_leaves_nothing_pending() -> None:
    async def main() -> None:
        channel = uvrpc.Channel(BrokenTransport())
        client = EchoClient(channel, timeout=1)
        with pytest.raises(OSError):
            client.start_echo(data=b"x")
        with pytest.raises(OSError):
            await client.echo(data=b"x")
        assert channel.pending == 0
        await channel.close()

    run(main)
