"""End to end: generated clients calling example servers over inproc, ipc and tcp."""

from __future__ import annotations

import asyncio
import math

import pytest
from calculator import (
    CalculatorClient,
    CalculatorSyncClient,
    Op,
    Outcome,
    Program,
    Step,
)
from conftest import RunningServer
from echo import EchoClient, EchoSyncClient

import uvrpc


def test_async_calculator(calculator_server: RunningServer) -> None:
    async def main() -> None:
        async with CalculatorClient(calculator_server.endpoint, timeout=10) as calc:
            assert await calc.add(a=40, b=2) == 42
            assert await calc.add(a=-(2**63), b=2**63 - 1) == -1
            assert await calc.apply(op=Op.DIV, a=1.0, b=4.0) == 0.25
            outcome = await calc.run(
                program=Program(
                    start=2.0,
                    steps=[Step(op=Op.MUL, operand=10), Step(op=Op.SUB, operand=0.5)],
                    labels={"x": 1},
                )
            )
            assert outcome == Outcome(
                value=19.5, steps_run=2, ops_used={Op.MUL, Op.SUB}
            )
            assert isinstance(outcome.ops_used, set)
            assert all(type(op) is Op for op in outcome.ops_used)
            await calc.reset()
            assert await calc.call_count() == 1

    asyncio.run(main())


def test_sync_calculator(calculator_server: RunningServer) -> None:
    with CalculatorSyncClient(calculator_server.endpoint, timeout=10) as calc:
        assert calc.add(a=1, b=2) == 3
        assert calc.apply(op=Op.ADD, a=math.inf, b=1.0) == math.inf
        assert math.isnan(calc.apply(op=Op.MUL, a=math.nan, b=2.0))
        with pytest.raises(uvrpc.RemoteError, match="ZeroDivisionError"):
            calc.apply(op=Op.DIV, a=1.0, b=0.0)
        empty = calc.run(program=Program())
        assert empty == Outcome(value=0.0, steps_run=0)
        calc.reset()
        assert calc.call_count() == 1


@pytest.mark.parametrize("size", [0, 1, 64, 65536, 1 << 20])
def test_echo_payload_sizes(echo_server: RunningServer, size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)

    async def main() -> memoryview:
        async with EchoClient(echo_server.endpoint, timeout=10) as client:
            return await client.echo(data=payload)

    assert asyncio.run(main()) == payload
    with EchoSyncClient(echo_server.endpoint, timeout=10) as sync_client:
        assert sync_client.echo(data=payload) == payload


def test_many_concurrent_calls_on_one_client(echo_server: RunningServer) -> None:
    async def main() -> None:
        async with EchoClient(echo_server.endpoint, timeout=20) as client:
            payloads = [i.to_bytes(4, "big") for i in range(2000)]
            replies = await asyncio.gather(*(client.echo(data=p) for p in payloads))
            assert replies == payloads
            assert client.channel.pending == 0

    asyncio.run(main())


def test_clients_share_a_channel(calculator_server: RunningServer) -> None:
    async def main() -> None:
        async with uvrpc.Channel(calculator_server.endpoint) as channel:
            first, second = CalculatorClient(channel), CalculatorClient(channel)
            assert await first.add(a=1, b=1) == 2
            await first.close()  # does not close a channel it was given
            assert await second.add(a=2, b=2) == 4

    asyncio.run(main())


def test_uvloop(calculator_server: RunningServer) -> None:
    """uvloop (in the dev extra) drives the same client when asked for."""

    async def main() -> int:
        assert type(asyncio.get_running_loop()).__module__.startswith("uvloop")
        async with CalculatorClient(calculator_server.endpoint, timeout=10) as calc:
            return await calc.add(a=2, b=3)

    assert uvrpc.run(main(), use_uvloop=True) == 5
