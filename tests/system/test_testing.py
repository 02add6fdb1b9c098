"""``uvrpc.testing``: handlers tested without sockets, through the real codec."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
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


_CALLER_VALUE: contextvars.ContextVar[str] = contextvars.ContextVar(
    "caller_value", default="unset"
)


class Recording(Calculator):
    """``add`` records its request metadata and what it sees of its caller's
    context."""

    def __init__(self) -> None:
        super().__init__()
        self.metadata: dict[str, Any] = {}
        self.caller_value = ""

    async def add(self, *, a: int, b: int) -> int:
        self.metadata = dict(uvrpc.current_call().metadata)
        self.caller_value = _CALLER_VALUE.get()
        return a + b


class Forwarding(Calculator):
    """``add`` asks ``downstream``, making no metadata of its own."""

    def __init__(self, downstream: CalculatorClient) -> None:
        super().__init__()
        self.downstream = downstream

    async def add(self, *, a: int, b: int) -> int:
        return await self.downstream.add(a=a, b=b)


@pytest.mark.parametrize("place", ["memory", "tcp"])
def test_nothing_of_the_callers_context_reaches_a_handler(place: str) -> None:
    """Over a socket a handler sees its request's metadata and nothing else of its
    caller's context; in memory too. The caller's uvrpc.metadata() scope reached
    the handler's task, and went on with every call the handler made: a test in
    memory saw metadata propagated down a chain that a real server never sends."""

    async def main() -> None:
        down = Recording()
        async with contextlib.AsyncExitStack() as stack:
            if place == "memory":
                to_down = await stack.enter_async_context(memory_channel(down))
                to_front = await stack.enter_async_context(
                    memory_channel(Forwarding(CalculatorClient(to_down)))
                )
            else:
                down_server = await stack.enter_async_context(uvrpc.Server(down))
                to_down = await stack.enter_async_context(
                    uvrpc.Channel(down_server.bind("tcp://127.0.0.1:*"))
                )
                front = Forwarding(CalculatorClient(to_down))
                front_server = await stack.enter_async_context(uvrpc.Server(front))
                to_front = await stack.enter_async_context(
                    uvrpc.Channel(front_server.bind("tcp://127.0.0.1:*"))
                )
            token = _CALLER_VALUE.set("the caller's")
            try:
                with uvrpc.metadata({"x-user": "alice"}):
                    assert await CalculatorClient(to_front).add(a=1, b=2) == 3
            finally:
                _CALLER_VALUE.reset(token)
        # The call reached down through front, which sent no metadata.
        assert down.metadata == {}
        assert down.caller_value == "unset"

    asyncio.run(asyncio.wait_for(main(), 10))
