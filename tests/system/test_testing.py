"""``uvrpc.testing``: handlers tested without sockets, through the real codec."""

from __future__ import annotations

import asyncio
from typing import Any

import calculator
import pytest
from calculator import CalculatorClient, Op, Program, Step
from calculator_server import Calculator

import uvrpc
from uvrpc.testing import memory_channel


def test_calls_reach_the_handlers() -> None:
    async def main() -> None:
        service = Calculator()
        async with memory_channel(service) as channel:
            calc = CalculatorClient(channel)
            assert await calc.add(a=2, b=3) == 5
            program = Program(steps=[Step(op=Op.ADD, operand=4.0)])
            assert (await calc.run(program=program)).value == 4.0
        assert service.calls == 2

    asyncio.run(main())


def test_errors_are_the_ones_a_real_client_sees() -> None:
    async def main() -> None:
        async with memory_channel(Calculator()) as channel:
            calc = CalculatorClient(channel)
            with pytest.raises(uvrpc.RemoteError, match="ZeroDivisionError"):
                await calc.divide(a=1, b=0)
            add: uvrpc.Unary[Any, int] = calculator._CALCULATOR_ADD
            with pytest.raises(uvrpc.InvalidArgument) as caught:
                await channel.call(add, {"1": "one", "2": 2}, None)
            assert caught.value.field_path == "a"

    asyncio.run(main())


def test_closing_cancels_running_handlers() -> None:
    started = asyncio.Event()

    class Stuck(Calculator):
        async def add(self, *, a: int, b: int) -> int:
            started.set()
            await asyncio.Event().wait()
            return 0

    async def main() -> None:
        channel = memory_channel(Stuck())
        call = asyncio.ensure_future(CalculatorClient(channel).add(a=1, b=1))
        await started.wait()
        await channel.close()
        with pytest.raises(uvrpc.Unavailable):
            await call
        await asyncio.sleep(0)
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(main())
