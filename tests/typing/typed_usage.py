"""Correct use of the generated calculator module: must type-check under --strict.

Each ``reveal_type`` line ends with an ``R`` comment naming the type mypy must
reveal; ``tests/generator/test_typing.py`` checks every one.
"""

from __future__ import annotations

import array
import contextlib
import datetime
import decimal
import uuid
from collections.abc import AsyncIterator
from typing import reveal_type

from calculator import (
    CalculatorClient,
    CalculatorServer,
    CalculatorSyncClient,
    Op,
    Outcome,
    Program,
    Step,
    UnimplementedCalculatorServer,
)
from echo import EchoClient, EchoServer, EchoSyncClient
from golden import shared
from golden.conformance import (
    I64_MAX,
    Bounded,
    Circle,
    ConformanceClient,
    ConformanceSyncClient,
    Drawing,
    Rejected,
    Scalars,
    Shape,
    ShapeBlob,
    ShapeCircle,
    ShapeGroup,
    ShapeLabel,
    ShapeSquare,
    UnimplementedConformanceServer,
    WellKnown,
)

import uvrpc


async def use_async_client(calc: CalculatorClient) -> None:
    total = await calc.add(a=1, b=2)
    reveal_type(total)  # R: int
    ratio = await calc.apply(op=Op.DIV, a=1.0, b=2, timeout=0.5)
    reveal_type(ratio)  # R: float
    outcome = await calc.run(program=Program(steps=[Step(op=Op.ADD, operand=1.0)]))
    reveal_type(outcome)  # R: calculator.Outcome
    reveal_type(outcome.ops_used)  # R: set[calculator.Op]
    reveal_type(outcome.steps_run)  # R: int
    await calc.reset()


def use_sync_client(calc: CalculatorSyncClient) -> None:
    reveal_type(calc.call_count())  # R: int
    reveal_type(calc.run(program=Program()).value)  # R: float
    step = Step(op=Op.SUB, operand=2.0)
    reveal_type(step.note)  # R: str | None
    reveal_type(Program().labels)  # R: dict[str, int]


async def use_bytes(echo: EchoClient, sync: EchoSyncClient) -> None:
    # Any buffer goes out; what comes back is a read-only view.
    reveal_type(await echo.echo(data=bytearray(b"x")))  # R: memoryview[int]
    reveal_type(sync.echo(data=array.array("d", [1.0])))  # R: memoryview[int]
    call = echo.start_echo(data=memoryview(b"y"))
    reveal_type(call)  # R: uvrpc.client.handle.Call[memoryview[int]]
    shared = call.retain()
    reveal_type(shared.refcount)  # R: int
    async with call as reply:
        reveal_type(reply)  # R: memoryview[int]
    reveal_type(await shared)  # R: memoryview[int]
    shared.release()
    counted = calc_start(CalculatorClient("inproc://x"))
    reveal_type(counted.result())  # R: int


def calc_start(calc: CalculatorClient) -> uvrpc.Call[int]:
    return calc.start_call_count(timeout=1.0)


class Echo(EchoServer):
    async def echo(self, *, data: memoryview) -> memoryview:
        return data


class EchoCopy(EchoServer):
    async def echo(self, *, data: memoryview) -> bytes:
        return data.tobytes()  # any buffer may be returned


class Calculator(CalculatorServer):
    async def add(self, *, a: int, b: int) -> int:
        return a + b

    async def apply(self, *, op: Op, a: float, b: float) -> float:
        return a + b if op is Op.ADD else a - b

    async def run(self, *, program: Program) -> Outcome:
        return Outcome(value=program.start, steps_run=0)

    async def divide(self, *, a: int, b: int) -> int:
        return a // b

    async def call_count(self) -> int:
        return 0

    async def reset(self) -> None:
        return None


def make_server() -> Calculator:
    return Calculator()


class Adder(UnimplementedCalculatorServer):
    """A partial server: the other methods answer UNIMPLEMENTED."""

    async def add(self, *, a: int, b: int) -> int:
        return a + b


class Counter(UnimplementedConformanceServer):
    async def count(self, *, start: int, n: int) -> AsyncIterator[int]:
        for number in range(start, start + n):
            yield number


async def use_partial_servers() -> None:
    adder = Adder()  # no method is abstract
    reveal_type(await adder.add(a=1, b=2))  # R: int
    reveal_type(await adder.divide(a=1, b=2))  # R: int
    reveal_type(Counter().count(start=0, n=1))  # R: typing.AsyncIterator[int]
    items = Counter().transform(values=numbers_of_nothing(), add=1)
    reveal_type(items)  # R: typing.AsyncIterator[golden.conformance.Scalars]
    error = uvrpc.unimplemented(Adder.uvrpc_service.methods[0])
    reveal_type(error)  # R: uvrpc.wire.errors.Unimplemented


async def numbers_of_nothing() -> AsyncIterator[Scalars]:
    return
    yield


async def numbers() -> AsyncIterator[int]:
    yield 1


async def use_streams_errors_and_constants(
    client: ConformanceClient, blocking: ConformanceSyncClient, value: Scalars
) -> None:
    counted = client.count(start=0, n=3)
    reveal_type(counted)  # R: uvrpc.client.streams.ItemStream[int]
    async with counted as items:
        async for number in items:
            reveal_type(number)  # R: int
    reveal_type(await client.sum(values=numbers()))  # R: int
    reveal_type(await client.sum(values=[1, 2]))  # R: int
    async for listed in client.transform(values=[value], add=1):
        reveal_type(listed)  # R: golden.conformance.Scalars
    async for scalars in client.transform(values=numbers_of(value), add=1):
        reveal_type(scalars)  # R: golden.conformance.Scalars
    reveal_type(blocking.count(start=0, n=1))  # R: typing.Generator[int, None, None]
    # A blocking stream may be closed early, as its docs say to, either way.
    with contextlib.closing(blocking.count(start=0, n=5)) as first_only:
        reveal_type(next(first_only))  # R: int
    started = blocking.count(start=0, n=5)
    next(started)
    started.close()
    reveal_type(blocking.sum(values=[1, 2]))  # R: int
    for echoed in blocking.transform(values=[value], add=1):
        reveal_type(echoed)  # R: golden.conformance.Scalars
    reveal_type(await client.record(event="e"))  # R: None
    reveal_type(I64_MAX)  # R: int
    try:
        await client.fail(which="rejected")
    except Rejected as error:
        reveal_type(error.code)  # R: int
        reveal_type(error.evidence)  # R: memoryview[int] | None
    except shared.Overloaded as busy:
        reveal_type(busy.retry_after)  # R: float
    raise Rejected(argument="a", evidence=bytearray(b"raw"))


async def use_constraints(
    client: ConformanceClient, blocking: ConformanceSyncClient
) -> None:
    # Constraints are checked at run time; the types people write stay plain.
    bounded = Bounded(name="a", tags=["x"], counts={"k": 1}, key=b"k")
    reveal_type(bounded.name)  # R: str
    reveal_type(bounded.tags)  # R: list[str]
    reveal_type(bounded.counts)  # R: dict[str, int]
    reveal_type(bounded.weight)  # R: float
    reveal_type(bounded.key)  # R: memoryview[int]
    reveal_type(await client.repeat(text="a", times=3))  # R: str
    echoed = blocking.echo_bounded(value=bounded, keep=1)
    reveal_type(echoed)  # R: golden.conformance.Bounded


async def numbers_of(value: Scalars) -> AsyncIterator[Scalars]:
    yield value


# fmt: off
# A reveal_type mark holds the whole revealed type on its line.
def area(shape: Shape) -> float:
    """Every member handled: mypy checks the match is exhaustive."""
    reveal_type(shape.uvrpc_id)  # R: int
    reveal_type(shape.uvrpc_name)  # R: str
    match shape:
        case ShapeCircle(circle):
            reveal_type(circle)  # R: golden.conformance.Circle
            return 3.14 * circle.radius**2
        case ShapeSquare(side):
            reveal_type(side)  # R: float
            return side * side
        case ShapeLabel() | ShapeBlob():
            return 0.0
        case ShapeGroup(shapes):
            reveal_type(shapes)  # R: list[golden.conformance.ShapeCircle | golden.conformance.ShapeSquare | golden.conformance.ShapeLabel | golden.conformance.ShapeBlob | golden.conformance.ShapeGroup | uvrpc.wire.union.UnknownMember]
            return sum(area(s) for s in shapes)
        case uvrpc.UnknownMember(id=number, value=raw):
            reveal_type(number)  # R: int
            reveal_type(raw)  # R: Any
            return 0.0


async def use_unions(client: ConformanceClient, drawing: Drawing) -> None:
    reveal_type(drawing.main)  # R: golden.conformance.ShapeCircle | golden.conformance.ShapeSquare | golden.conformance.ShapeLabel | golden.conformance.ShapeBlob | golden.conformance.ShapeGroup | uvrpc.wire.union.UnknownMember
    reveal_type(drawing.overlay)  # R: golden.conformance.ShapeCircle | golden.conformance.ShapeSquare | golden.conformance.ShapeLabel | golden.conformance.ShapeBlob | golden.conformance.ShapeGroup | uvrpc.wire.union.UnknownMember | None
    if isinstance(drawing.main, ShapeCircle):
        reveal_type(drawing.main.value)  # R: golden.conformance.Circle
    blob = ShapeBlob(value=bytearray(b"any buffer"))
    reveal_type(blob.value)  # R: memoryview[int]
    echoed = await client.echo_shape(shape=blob, extra=None)
    reveal_type(echoed)  # R: golden.conformance.ShapeCircle | golden.conformance.ShapeSquare | golden.conformance.ShapeLabel | golden.conformance.ShapeBlob | golden.conformance.ShapeGroup | uvrpc.wire.union.UnknownMember
    area(echoed)
    async for item in client.shapes(shapes=[ShapeCircle(value=Circle(radius=1.0))]):
        area(item)
    Drawing(main=ShapeLabel(value="x"), named={"a": ShapeSquare(value=2.0)})
    # Containers a caller built of one member: a list or dict of a narrower type is
    # taken where one of the union is sent, as a tuple is for a list.
    squares = [ShapeSquare(value=float(side)) for side in range(3)]
    circles = {"c": ShapeCircle(value=Circle(radius=1.0))}
    Drawing(main=squares[0], layers=squares, named=circles)
    Drawing(main=squares[0], layers=tuple(squares))
    async for item in client.shapes(shapes=squares):
        area(item)
# fmt: on


async def use_well_known_types(
    client: ConformanceClient, blocking: ConformanceSyncClient
) -> None:
    at = datetime.datetime.now(datetime.UTC)
    known = WellKnown(
        id=uuid.uuid4(),
        at=at,
        took=datetime.timedelta(seconds=1),
        amount=decimal.Decimal("0.10"),
    )
    reveal_type(known.id)  # R: uuid.UUID
    reveal_type(known.at)  # R: datetime.datetime
    reveal_type(known.took)  # R: datetime.timedelta
    reveal_type(known.amount)  # R: decimal.Decimal
    reveal_type(known.expires)  # R: datetime.datetime | None
    reveal_type(known.timings)  # R: dict[uuid.UUID, datetime.timedelta]
    reveal_type(await client.echo_uuid(value=known.id))  # R: uuid.UUID
    reveal_type(await client.echo_decimal(value=known.amount))  # R: decimal.Decimal
    reveal_type(await client.later(at=at, by=known.took))  # R: datetime.datetime
    async for tick in client.ticks(start=at, step=known.took, n=2):
        reveal_type(tick)  # R: datetime.datetime
    reveal_type(blocking.echo_duration(value=known.took))  # R: datetime.timedelta
