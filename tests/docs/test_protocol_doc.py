"""``docs/protocol.md``'s stream examples ("A stream") are what uvrpc sends.

The grant a client makes is read from the core with the example's window; the
client-stream exchange is played against a live server and a live client, each
over loopback TCP with a raw socket on the other end.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import feed
import msgpack
import zmq
import zmq.asyncio
from conftest import ROOT
from feed import FeedClient, Tick
from feed_server import Feed

import uvrpc
from uvrpc.core.client import ClientCore
from uvrpc.wire.buffers import BodyEncoder
from uvrpc.wire.methods import StreamingMethod
from uvrpc.wire.protocol import KIND_ITEM, encode_stream_header

PROTOCOL = (ROOT / "docs" / "protocol.md").read_text()
STREAM = PROTOCOL[PROTOCOL.index("### A stream") :]


def test_the_grant_shown_is_the_one_a_client_makes() -> None:
    shown = re.search(
        r"Had the caller taken (\d+) items .*?granted (\d+) more:\s*`([0-9a-f ]+)`",
        STREAM,
        re.S,
    )
    assert shown is not None
    taken, granted, header = int(shown[1]), int(shown[2]), bytes.fromhex(shown[3])
    window = re.search(r"window of (\d+) items", STREAM)
    assert window is not None
    (numbers,) = [
        value
        for value in vars(feed).values()
        if isinstance(value, StreamingMethod) and value.route == "feed.Feed.numbers"
    ]
    encoder = BodyEncoder()
    client = ClientCore(encoder, stream_window=int(window[1]))
    for _ in range(7):  # the example is call 7
        state, frames = client.open_stream(numbers, {"1": 99}, None, None)
        encoder.settle(frames[-1], True)
    assert state.call_id == 7
    for n in range(int(window[1])):
        item = encode_stream_header(KIND_ITEM, state.call_id)
        client.receive([b"", item, msgpack.packb(n)])
    for _ in range(taken):
        client.take(state)
    assert granted == taken
    assert [bytes(frames[1]) for frames in client.outbox] == [header]


def exchange() -> list[tuple[str, list[Any], Any]]:
    """The example's rows: (who, header, body), read as Python literals."""
    block = STREAM[STREAM.index("feed.Feed.upload(ticks=…)") :]
    block = block[block.index("```\n") + 4 :]
    rows = []
    for line in block[: block.index("```")].splitlines():
        who, rest = line.split(None, 1)
        header, body, _ = re.split(r"\s{2,}", rest.replace("nil", "None").strip())
        rows.append((who, ast.literal_eval(header), ast.literal_eval(body)))
    return rows


def test_the_client_stream_shown_is_what_a_server_and_a_client_send() -> None:
    rows = exchange()
    request, credit = rows[0], rows[1]

    async def main() -> None:
        context = zmq.asyncio.Context()
        # The server's side: a raw client sends the example's request.
        async with uvrpc.Server(Feed()) as server:
            dealer = context.socket(zmq.DEALER)
            dealer.connect(server.bind("tcp://127.0.0.1:*"))
            for who, header, body in rows:
                if who == "client":
                    await dealer.send_multipart(
                        [b"", msgpack.packb(header), msgpack.packb(body)]
                    )
                    continue
                frames = await asyncio.wait_for(dealer.recv_multipart(), 5)
                assert [msgpack.unpackb(f) for f in frames[-2:]] == [header, body]
            dealer.close(0)
        # The client's side: a raw server grants the example's credit.
        router = context.socket(zmq.ROUTER)
        router.bind("tcp://127.0.0.1:*")
        endpoint = router.getsockopt_string(zmq.LAST_ENDPOINT)

        async def ticks() -> AsyncIterator[Tick]:
            for seq in range(2):
                yield Tick(seq=seq)

        async with uvrpc.Channel(endpoint) as channel:
            upload = asyncio.create_task(FeedClient(channel).upload(ticks=ticks()))
            frames = await asyncio.wait_for(router.recv_multipart(), 5)
            header = msgpack.unpackb(frames[-2])
            assert header[:1] + header[3:] == request[1][:1] + request[1][3:]
            assert msgpack.unpackb(frames[-1]) == request[2]
            grant = [*credit[1][:2], header[2], credit[1][3]]
            await router.send_multipart(
                [frames[0], b"", msgpack.packb(grant), msgpack.packb(None)]
            )
            for _, shown, body in rows[2:5]:
                frames = await asyncio.wait_for(router.recv_multipart(), 5)
                sent = msgpack.unpackb(frames[-2])
                assert (sent[:2] + sent[3:], msgpack.unpackb(frames[-1])) == (
                    shown[:2] + shown[3:],
                    body,
                )
            upload.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await upload
        router.close(0)
        context.term()

    asyncio.run(main())
