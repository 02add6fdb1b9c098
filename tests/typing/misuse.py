"""Misuse of the generated calculator module: every marked line must fail mypy.

Each line ending with an ``E`` comment must produce a mypy error with the code it
names, and no unmarked line may produce one;
``tests/generator/test_typing.py`` checks both.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import AsyncIterator

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
from echo import EchoClient, EchoServer
from golden import shared
from golden.conformance import (
    Bounded,
    Circle,
    ConformanceClient,
    ConformanceServer,
    ConformanceSyncClient,
    Drawing,
    Rejected,
    Shape,
    ShapeCircle,
    ShapeLabel,
    WellKnown,
)

import uvrpc


async def misuse_async_client(calc: CalculatorClient) -> None:
    await calc.add(a="1", b=2)  # E: arg-type
    await calc.add(a=1)  # E: call-arg
    await calc.add(1, 2)  # E: call-arg
    await calc.subtract(a=1, b=2)  # E: attr-defined
    total: str = await calc.add(a=1, b=2)  # E: assignment
    outcome = await calc.run(program=Program())
    print(outcome.no_such_field)  # E: attr-defined
    print(outcome.value + "x")  # E: operator
    await calc.run(program=Step(op=Op.ADD, operand=1.0))  # E: arg-type
    print(total)


def misuse_sync_client(calc: CalculatorSyncClient) -> None:
    calc.apply(op=Op.ADD, a="x", b=1.0)  # E: arg-type
    calc.apply(op=1, a=1.0, b=1.0)  # E: arg-type
    calc.add(a=1, b=2, timeout="soon")  # E: arg-type
    count: bytes = calc.call_count()  # E: assignment
    print(count)


async def misuse_bytes(echo: EchoClient) -> None:
    await echo.echo(data="text")  # E: arg-type
    await echo.echo(data=[1, 2])  # E: arg-type
    kept: bytes = await echo.echo(data=b"x")  # E: assignment
    call = echo.start_echo(data=b"x")
    wrong: str = await call  # E: assignment
    call.release(1)  # E: call-arg
    print(kept, wrong)


class ExpectsBytes(EchoServer):
    async def echo(self, *, data: bytes) -> bytes:  # E: override
        return data


def misuse_messages() -> None:
    Step(op=Op.ADD)  # E: call-arg
    Step(op=Op.ADD, operand="1.0")  # E: arg-type
    Outcome(value=1.0, steps_run=1, ops_used=[Op.ADD])  # E: arg-type


class WrongReturn(CalculatorServer):
    async def add(self, *, a: int, b: int) -> str:  # E: override
        return str(a + b)

    async def apply(self, *, op: Op, a: float, b: float) -> float:
        return a

    async def run(self, *, program: Program) -> Outcome:
        return program  # E: return-value

    async def divide(self, *, a: int, b: int) -> int:
        return a

    async def call_count(self) -> int:
        return 0

    async def reset(self) -> None:
        return None


class Incomplete(CalculatorServer):
    async def add(self, *, a: int, b: int) -> int:
        return a + b


class IncompleteStreams(ConformanceServer):
    async def sum(self, *, values: AsyncIterator[int]) -> int:
        return 0


class WrongPartial(UnimplementedCalculatorServer):
    async def add(self, *, a: int, b: int) -> str:  # E: override
        return "x"


def instantiate() -> None:
    Incomplete()  # E: abstract
    IncompleteStreams()  # E: abstract
    uvrpc.unimplemented("calculator.Calculator.add")  # E: arg-type


async def misuse_streams(
    client: ConformanceClient, blocking: ConformanceSyncClient
) -> None:
    await client.sum(values=None)  # E: arg-type
    await client.sum(values=1)  # E: arg-type
    async for number in client.count(start=0, n=1):
        print(number + "x")  # E: operator
    client.transform(values=None, add=1)  # E: arg-type
    blocking.transform(values=client.count(start=0, n=1), add=1)  # E: arg-type
    await client.record(event=1)  # E: arg-type
    client.start_record(event="x")  # E: attr-defined
    client.start_count(start=0, n=1)  # E: attr-defined


async def misuse_constraints(client: ConformanceClient) -> None:
    Bounded(name=5)  # E: arg-type
    Bounded(name="a", tags=[1])  # E: list-item
    await client.repeat(text="a", times="3")  # E: arg-type
    await client.echo_bounded(value=Bounded(name="a"), keep=1.5)  # E: arg-type
    short: int = await client.repeat(text="a", times=1)  # E: assignment
    print(short)


def misuse_errors() -> None:
    Rejected(argument=1)  # E: arg-type
    Rejected(code=1)  # E: call-arg
    wrong: str = Rejected(argument="a").code  # E: assignment
    shared.Overloaded(retry_after="soon")  # E: arg-type
    print(wrong)


class WrongStream(ConformanceServer):
    async def count(self, *, start: int, n: int) -> AsyncIterator[str]:  # E: override
        yield "x"


async def misuse_unions(client: ConformanceClient, shape: Shape) -> None:
    ShapeCircle(value="round")  # E: arg-type
    ShapeCircle(value=Circle(radius=1.0), label="x")  # E: call-arg
    ShapeLabel()  # E: call-arg
    Drawing(main=Circle(radius=1.0))  # E: arg-type
    await client.echo_shape(shape="circle")  # E: arg-type
    print(shape.value.radius)  # E: union-attr
    if isinstance(shape, ShapeLabel):
        print(shape.value + 1)  # E: operator


async def misuse_well_known_types(client: ConformanceClient) -> None:
    await client.echo_uuid(value="0f8e3c1a-9b2d-4e5f-8a7b-6c5d4e3f2a1b")  # E: arg-type
    await client.echo_decimal(value=0.1)  # E: arg-type
    await client.echo_duration(value=5)  # E: arg-type
    now, zero = datetime.datetime.now(datetime.UTC), datetime.timedelta()
    await client.later(at="2024-01-01T00:00:00Z", by=zero)  # E: arg-type
    WellKnown(id="x", at=now, took=zero, amount=decimal.Decimal(1))  # E: arg-type
    stamp: str = await client.later(at=now, by=zero)  # E: assignment
    print(stamp)
