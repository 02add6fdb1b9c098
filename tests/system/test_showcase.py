"""End to end for ``idl/all_types.idl``'s Showcase service: every parameter and
return shape (void, defaults, optionals, nested containers, enums, recursion) over
inproc, ipc and tcp, with edge values."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from conftest import RunningServer, endpoint_for, server_thread
from golden.all_types import (
    Color,
    Item,
    Scalars,
    ShowcaseClient,
    ShowcaseSyncClient,
    Tree,
)
from showcase_server import Showcase


@pytest.fixture
def showcase(transport: str, tmp_path: Path) -> Iterator[RunningServer]:
    with server_thread(Showcase(), bind=endpoint_for(transport, tmp_path)) as server:
        yield server


def depth_of(tree: Tree) -> int:
    return 0 if tree.left is None else 1 + depth_of(tree.left)


def deepest(tree: Tree) -> Tree:
    return tree if tree.left is None else deepest(tree.left)


def test_every_shape_async(showcase: RunningServer) -> None:
    async def main() -> None:
        async with ShowcaseClient(showcase.endpoint, timeout=10) as client:
            await client.ping()
            tree = await client.build(label="日本語 ü", items=[Item(name="")])
            assert depth_of(tree) == 3  # the IDL's default depth
            assert tree.label == "日本語 ü:2" and tree.children[0].label == "2"
            assert deepest(tree).label == "日本語 ü|None|1.0|1"
            colored = await client.build(
                label="", depth=0, color=Color.GREEN, items=[], weight=-0.0
            )
            assert colored.label == "|<Color.GREEN: -2>|-0.0|0"
            palette = await client.palette(wanted={Color.RED, Color.BLUE, Color.GREEN})
            assert palette == {"RED": [Color.RED], "BLUE": [Color.BLUE] * 16}
            assert all(type(c) is Color for c in palette["BLUE"])
            assert await client.palette(wanted=set()) == {}
            assert await client.get_matrix(rows=0, columns=5) == []
            assert await client.get_matrix(rows=2, columns=3) == [[0, 1, 2], [3, 4, 5]]

    asyncio.run(main())


def test_every_shape_sync(showcase: RunningServer) -> None:
    with ShowcaseSyncClient(showcase.endpoint, timeout=10) as client:
        client.ping()
        tree = client.build(label="x", depth=40, items=[])
        assert depth_of(tree) == 40  # recursion survives the codec and validation
        assert client.get_matrix(rows=1, columns=1) == [[0]]


def test_bytes_inside_messages(showcase: RunningServer) -> None:
    scalars = Scalars(
        flag=False,
        tiny=-1,
        small=2,
        medium=3,
        large=-(2**63),
        single=1.5,
        precise=float("inf"),
        text="",
        blob=bytearray(b"\x00\xff"),  # any buffer; kept as a read-only view
    )
    assert isinstance(scalars.blob, memoryview) and scalars.blob.readonly
    assert isinstance(scalars.blob_default, memoryview)
    big = 64 * 1024  # each payload a frame of its own

    async def main() -> None:
        async with ShowcaseClient(showcase.endpoint, timeout=10) as client:
            mirrored = await client.mirror(value=scalars)
            assert mirrored == scalars
            assert bytes(mirrored.blob) == b"\x00\xff"
            assert bytes(mirrored.blob_default) == b"raw"
            items = await client.fetch(names=["a", "b", "c"], size=big)
            assert [(i.name, i.payload) for i in items] == [
                (n, memoryview(n.encode() * big)) for n in "abc"
            ]
            frames = {id(i.payload.obj) for i in items if i.payload is not None}
            assert len(frames) == 3  # three payloads, three frames
            assert all(isinstance(i.payload, memoryview) for i in items)
            # A large value inside a message argument travels as a frame too.
            heavy = scalars.model_copy(update={"blob": memoryview(b"h" * big)})
            back = await client.mirror(value=heavy)
            assert isinstance(back.blob.obj, zmq.Frame) and back.blob == heavy.blob
            assert await client.fetch(names=["e"], size=0) == [
                Item(name="e", payload=b"")
            ]

    asyncio.run(main())
    with ShowcaseSyncClient(showcase.endpoint, timeout=10) as sync_client:
        assert sync_client.mirror(value=scalars) == scalars
