"""``idl/conformance.idl`` served end to end: every method a round trip with edge
values, over a real server and in memory."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pydantic
import pytest
from conformance_server import Conformance
from conftest import endpoint_for, server_thread
from golden import shared
from golden.conformance import (
    DEFAULT_COLOR,
    GREETING,
    I64_MAX,
    I64_MIN,
    MAGIC,
    Bounded,
    Circle,
    Color,
    ConformanceClient,
    ConformanceSyncClient,
    Containers,
    Drawing,
    Node,
    NotFound,
    Rejected,
    Scalars,
    ShapeBlob,
    ShapeCircle,
    ShapeGroup,
    ShapeLabel,
    ShapeSquare,
)

import uvrpc
from uvrpc.testing import memory_channel

BIG = 16 * 1024 * 1024
FLOAT_MAX = 3.4028234663852886e38


def scalars(**changes: Any) -> Scalars:
    """A Scalars of edge values, with ``changes``."""
    values: dict[str, Any] = {
        "flag": True,
        "tiny": -128,
        "small": 32767,
        "medium": -(2**31),
        "large": I64_MAX,
        "single": -math.inf,
        "precise": math.nan,
        "text": GREETING + " 🦀\u2028",
        "blob": b"",
    }
    values.update(changes)
    return Scalars(**values)


def same_scalars(a: Scalars, b: Scalars) -> bool:
    """Equal, NaN included."""
    left, right = a.model_dump(), b.model_dump()
    for key in left:
        x, y = left[key], right[key]
        if isinstance(x, float) and math.isnan(x):
            if not (isinstance(y, float) and math.isnan(y)):
                return False
        elif isinstance(x, memoryview) or isinstance(y, memoryview):
            if bytes(x) != bytes(y):
                return False
        elif x != y:
            return False
    return True


async def items(values: list[Any]) -> AsyncIterator[Any]:
    for value in values:
        yield value


@pytest.fixture(params=["memory", "ipc"])
def client_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Conformance, Any]]:
    """A new implementation and a way to open an async client of it."""
    service = Conformance()
    if request.param == "memory":
        yield service, lambda: ConformanceClient(memory_channel(service), timeout=30)
        return
    with server_thread(service, bind=endpoint_for("ipc", tmp_path)) as running:
        yield service, lambda: ConformanceClient(running.endpoint, timeout=30)


def run(factory: Any, body: Any) -> None:
    """Open a client with ``factory``, await ``body(client)``, close the client."""

    async def main() -> None:
        client: AbstractAsyncContextManager[ConformanceClient] = factory()
        async with client as opened:
            await body(opened)

    asyncio.run(main())


def test_void_and_scalars(client_factory: tuple[Conformance, Any]) -> None:
    _, factory = client_factory

    async def body(client: ConformanceClient) -> None:
        await client.ping()
        for value in (
            scalars(),
            scalars(
                flag=False,
                tiny=127,
                small=-32768,
                medium=2**31 - 1,
                large=I64_MIN,
                single=FLOAT_MAX,
                precise=-0.0,
                text="",
                blob=MAGIC,
                color=Color.BLUE,
                origin=shared.Origin.SERVER,
            ),
            scalars(single=math.inf, precise=math.inf, blob=b"x" * BIG),
        ):
            echoed = await client.echo_scalars(value=value)
            assert same_scalars(echoed, value)
        assert scalars().color is DEFAULT_COLOR
        assert scalars().origin is shared.Origin.CLIENT

    run(factory, body)


def test_mixed_parameters(client_factory: tuple[Conformance, Any]) -> None:
    _, factory = client_factory

    async def body(client: ConformanceClient) -> None:
        built = await client.mixed(
            flag=True,
            tiny=1,
            small=2,
            medium=3,
            large=I64_MIN,
            single=0.5,
            precise=math.nan,
            text="é",
            blob=bytearray(b"\xff"),
        )
        assert (built.large, built.text, bytes(built.blob)) == (I64_MIN, "é", b"\xff")
        assert built.color is Color.RED and math.isnan(built.precise)
        noted = await client.mixed(
            flag=False,
            tiny=0,
            small=0,
            medium=0,
            large=0,
            single=0.0,
            precise=0.0,
            text="",
            blob=b"",
            color=Color.GREEN,
            note="世界",
        )
        assert (noted.text, noted.color) == ("|世界", Color.GREEN)

    run(factory, body)


def test_containers(client_factory: tuple[Conformance, Any]) -> None:
    _, factory = client_factory

    async def body(client: ConformanceClient) -> None:
        empty = Containers()
        assert empty.words == ["a", "b"] and empty.weights == {I64_MIN: 0.5}
        assert await client.echo_containers(value=empty) == empty
        nested = {
            I64_MAX % 2**31: {"": [], "ü": [scalars(precise=1.0)] * 3},
            -1: {},
        }
        full = Containers(
            nested=nested,
            colors={Color.RED, Color.BLUE},
            matrix=[[], [I64_MIN, I64_MAX], [0]],
            blobs={"small": b"s", "large": b"L" * 100_000, "empty": b""},
            words=[],
            weights={},
        )
        echoed = await client.echo_containers(value=full)
        assert echoed.nested == full.nested and echoed.colors == full.colors
        assert echoed.matrix == full.matrix and echoed.words == []
        assert {k: bytes(v) for k, v in echoed.blobs.items()} == {
            "small": b"s",
            "large": b"L" * 100_000,
            "empty": b"",
        }
        assert await client.echo_nested(value=nested) == nested
        assert await client.echo_nested(value={}) == {}
        assert await client.echo_colors(colors=set()) == set()
        assert await client.echo_colors(colors=set(Color)) == set(Color)
        assert await client.echo_matrix(matrix=[[]]) == [[]]

    run(factory, body)


def test_recursive_messages(client_factory: tuple[Conformance, Any]) -> None:
    _, factory = client_factory

    async def body(client: ConformanceClient) -> None:
        chain = Node(label="0")
        for depth in range(1, 60):
            chain = Node(label=str(depth), next=chain, children=[Node(label="leaf")])
        echoed = await client.echo_tree(root=chain)
        assert echoed == chain
        depth = 0
        node: Node | None = echoed
        while node is not None:
            node, depth = node.next, depth + 1
        assert depth == 60

    run(factory, body)


def test_edge_scalars_alone(client_factory: tuple[Conformance, Any]) -> None:
    _, factory = client_factory

    async def body(client: ConformanceClient) -> None:
        for data in (b"", b"\x00", bytes(range(256)) * (BIG // 256)):
            assert bytes(await client.echo_bytes(data=data)) == data
        for text in ("", GREETING, "\x00\uffff\U0010ffff"):
            assert await client.echo_string(text=text) == text
        for value in (math.inf, -math.inf, 0.0, -0.0, 5e-324, 1.7976931348623157e308):
            echoed = await client.echo_double(value=value)
            assert echoed == value and math.copysign(1, echoed) == math.copysign(
                1, value
            )
        assert math.isnan(await client.echo_double(value=math.nan))
        assert await client.echo_float(value=-math.inf) == -math.inf
        assert await client.echo_float(value=FLOAT_MAX) == FLOAT_MAX
        assert await client.echo_i64() == I64_MAX
        assert await client.echo_i64(value=I64_MIN) == I64_MIN
        with pytest.raises(uvrpc.InvalidArgument) as caught:
            await client.echo_i64(value=I64_MAX + 1)
        assert caught.value.field_path == "value"

    run(factory, body)


def test_constraints(client_factory: tuple[Conformance, Any]) -> None:
    _, factory = client_factory
    edge = Bounded(
        name="héllo",
        tags=["a", "bc", "defghijk", "z"],
        counts={"x": 0, "y": 2**31 - 1, "z": 1},
        percent=100,
        weight=0.0,
        key=b"k" * 16,
        signs={-1, 0, 1},
    )

    async def body(client: ConformanceClient) -> None:
        echoed = await client.echo_bounded(value=edge, keep=2)
        assert echoed.tags == ["a", "bc"]
        assert echoed.model_copy(update={"tags": edge.tags}) == edge
        assert (await client.echo_bounded(value=Bounded(name=""))).percent == 50
        # The server refuses what breaks a constraint, naming where: a message
        # built without validation stands for a peer that does not check.
        refused: dict[str, dict[str, Any]] = {
            "value.name": {"name": "sixsix"},
            "value.tags.3": {"tags": ["a", "b", "c", "D"]},
            "value.tags": {"tags": ["a"] * 5},
            "value.counts.y": {"counts": {"y": -1}},
            "value.counts": {"counts": {"a": 1, "b": 1, "c": 1, "d": 1}},
            "value.percent": {"percent": 101},
            "value.weight": {"weight": -0.5},
            "value.key": {"key": b""},
        }
        for path, changes in refused.items():
            bad = Bounded.model_construct(**{**edge.model_dump(), **changes})
            with pytest.raises(uvrpc.InvalidArgument) as caught:
                await client.echo_bounded(value=bad)
            assert caught.value.field_path == path, changes
        with pytest.raises(uvrpc.InvalidArgument) as caught:
            await client.echo_bounded(value=edge, keep=5)
        assert caught.value.field_path == "keep"
        with pytest.raises(uvrpc.InvalidArgument) as caught:
            await client.repeat(text="a", times=-1)
        assert caught.value.field_path == "times"
        # A reply is checked too, by the client.
        assert await client.repeat(text="ab", times=5) == "ababababab"
        with pytest.raises(uvrpc.InternalError, match="at most 10 characters"):
            await client.repeat(text="ab", times=6)

    run(factory, body)
    # A client builds no message that breaks a constraint.
    with pytest.raises(pydantic.ValidationError, match="tags.0"):
        Bounded(name="a", tags=["Upper"])
    with pytest.raises(pydantic.ValidationError, match="signs.0"):
        Bounded(name="a", signs={2})


def test_declared_errors(client_factory: tuple[Conformance, Any]) -> None:
    _, factory = client_factory

    async def body(client: ConformanceClient) -> None:
        with pytest.raises(NotFound) as not_found:
            await client.fail(which="not_found")
        assert not_found.value.key == "k"
        with pytest.raises(Rejected) as rejected:
            await client.fail(which="rejected")
        error = rejected.value
        assert (error.argument, error.code) == ("which", 7)
        assert error.evidence is not None and bytes(error.evidence) == b"\x00" * 40_000
        with pytest.raises(shared.Overloaded) as overloaded:
            await client.fail(which="overloaded")
        assert overloaded.value.retry_after == 1.5
        assert overloaded.value.message == "try later"
        with pytest.raises(uvrpc.RemoteError, match="LookupError: other"):
            await client.fail(which="other")

    run(factory, body)


def test_oneway_and_idempotent(client_factory: tuple[Conformance, Any]) -> None:
    service, factory = client_factory

    async def body(client: ConformanceClient) -> None:
        for event in ("a", "b", "ü"):
            await client.record(event=event)
        # Calls on one channel arrive in order: the oneway calls came first.
        assert await client.recorded() == ["a", "b", "ü"]
        assert [await client.visits() for _ in range(3)] == [1, 2, 3]

    run(factory, body)
    assert service.events == ["a", "b", "ü"]


def test_streams(client_factory: tuple[Conformance, Any]) -> None:
    _, factory = client_factory

    async def body(client: ConformanceClient) -> None:
        assert [x async for x in client.count(start=I64_MAX - 2, n=3)] == [
            I64_MAX - 2,
            I64_MAX - 1,
            I64_MAX,
        ]
        assert [x async for x in client.count(start=0, n=0)] == []
        assert await client.sum(values=items([])) == 0
        assert await client.sum(values=items(list(range(1000)))) == 499_500
        sent = [scalars(large=i, blob=b"b" * (i * 20_000)) for i in range(4)]
        async with client.transform(values=items(sent), add=10) as stream:
            received = [x async for x in stream]
        assert [x.large for x in received] == [10, 11, 12, 13]
        assert [bytes(x.blob) for x in received] == [bytes(x.blob) for x in sent]
        assert [x async for x in client.transform(values=items([]), add=1)] == []
        with pytest.raises(Rejected) as caught:
            async for _ in client.transform(
                values=items([scalars(large=1), scalars(large=-5)]), add=0
            ):
                pass
        assert caught.value.code == -5

    run(factory, body)


def test_unions(client_factory: tuple[Conformance, Any]) -> None:
    _, factory = client_factory
    big = b"u" * BIG

    async def body(client: ConformanceClient) -> None:
        circle = ShapeCircle(value=Circle(radius=2.5))
        for shape in (
            circle,
            ShapeSquare(value=-0.0),
            ShapeLabel(value=GREETING),
            ShapeGroup(value=[circle, ShapeGroup(value=[]), ShapeLabel(value="x")]),
        ):
            assert await client.echo_shape(shape=shape) == shape
        label = ShapeLabel(value="instead")
        assert await client.echo_shape(shape=circle, extra=label) == label
        # A large binary value inside a member travels as an attachment and
        # comes back whole.
        echoed = await client.echo_shape(shape=ShapeBlob(value=big))
        assert isinstance(echoed, ShapeBlob) and bytes(echoed.value) == big
        drawing = Drawing(
            main=circle,
            overlay=ShapeSquare(value=1.0),
            layers=[ShapeLabel(value="a"), ShapeBlob(value=b"b" * 100_000)],
            named={"c": circle, "g": ShapeGroup(value=[circle])},
        )
        assert await client.echo_drawing(drawing=drawing) == drawing
        assert (await client.echo_drawing(drawing=Drawing(main=label))).overlay is None
        streamed = [s async for s in client.shapes(shapes=[circle, label])]
        assert streamed == [circle, label, ShapeLabel(value="2 shapes")]

    run(factory, body)


def test_the_blocking_client(tmp_path: Path) -> None:
    service = Conformance()
    with server_thread(service, bind=endpoint_for("ipc", tmp_path)) as running:
        with ConformanceSyncClient(running.endpoint, timeout=30) as client:
            client.ping()
            assert same_scalars(client.echo_scalars(value=scalars()), scalars())
            client.record(event="sync")
            assert client.recorded() == ["sync"]
            with pytest.raises(Rejected):
                client.fail(which="rejected")
            assert bytes(client.echo_bytes(data=b"z" * BIG)) == b"z" * BIG
            assert list(client.count(start=-1, n=3)) == [-1, 0, 1]
            assert list(client.count(start=0, n=0)) == []
            assert client.sum(values=iter(range(100))) == 4950
            assert client.sum(values=[]) == 0
