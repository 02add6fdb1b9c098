"""Correct use of the generated calculator module: must type-check under --strict.

Each ``reveal_type`` line ends with an ``R`` comment naming the type mypy must
reveal; ``tests/test_typing.py`` checks every one.
"""

from __future__ import annotations

from typing import reveal_type

from calculator import (
    CalculatorClient,
    CalculatorServer,
    CalculatorSyncClient,
    Op,
    Outcome,
    Program,
    Step,
)


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
