"""Sockets on any context: a ``zmq.asyncio.Context`` given to a server, a client or
a broker serves as the plain one it shadows (``transport/sockets.py``)."""

from __future__ import annotations

import asyncio
import time

import zmq
import zmq.asyncio
from echo import EchoClient, EchoSyncClient
from echo_server import Echo
from feed import FeedClient
from feed_server import Feed

import uvrpc
from uvrpc.broker import Broker
from uvrpc.transport.sockets import plain_context


class _Counted(zmq.Socket[bytes]):
    """A socket class of a program's own."""


class _CountingContext(zmq.Context[_Counted]):
    _socket_class = _Counted


def test_a_plain_context_is_used_as_it_is() -> None:
    plain: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    own = _CountingContext()
    try:
        assert plain_context(plain) is plain
        assert plain_context(own) is own  # its sockets stay of its class
        assert plain_context(None) is zmq.Context.instance()
    finally:
        plain.term()
        own.term()


def test_an_asyncio_context_is_used_through_a_plain_shadow() -> None:
    context = zmq.asyncio.Context()
    try:
        shadow = plain_context(context)
        assert type(shadow) is zmq.Context
        assert shadow.underlying == context.underlying
        sock = shadow.socket(zmq.PAIR)
        assert type(sock) is zmq.Socket
        sock.close(0)
    finally:
        context.term()


def test_a_server_and_its_clients_on_an_asyncio_context_answer() -> None:
    async def main() -> None:
        context = zmq.asyncio.Context()
        try:
            async with uvrpc.Server(Echo(), Feed(), context=context) as server:
                # inproc:// shows that the shadow is the very same ZeroMQ context
                endpoint = server.bind("inproc://asyncio-context")
                async with uvrpc.Channel(endpoint, context=context) as channel:
                    assert bytes(await EchoClient(channel).echo(data=b"abc")) == b"abc"
                    feed = FeedClient(channel)
                    assert [t.seq async for t in feed.ticks(count=3)] == [0, 1, 2]

                def blocking() -> bytes:
                    with uvrpc.SyncChannel(endpoint, context=context) as sync:
                        return bytes(EchoSyncClient(sync).echo(data=b"xyz"))

                assert await asyncio.to_thread(blocking) == b"xyz"
        finally:
            context.term()

    asyncio.run(main())


def test_a_broker_on_an_asyncio_context_passes_calls() -> None:
    async def main() -> None:
        context = zmq.asyncio.Context()
        try:
            with Broker(
                ["inproc://asyncio-front"], ["inproc://asyncio-back"], context=context
            ) as broker:
                async with uvrpc.Server(Echo(), context=context) as server:
                    server.connect("inproc://asyncio-back")
                    deadline = time.monotonic() + 10
                    while broker.servers < 1:
                        assert time.monotonic() < deadline, "the server's READY"
                        await asyncio.sleep(0.01)
                    async with uvrpc.Channel(
                        "inproc://asyncio-front", context=context
                    ) as channel:
                        reply = await EchoClient(channel).echo(data=b"hop", timeout=10)
                        assert bytes(reply) == b"hop"
        finally:
            context.term()

    asyncio.run(main())
