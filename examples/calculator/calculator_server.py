"""Serve the calculator of ``idl/calculator.idl``.

Run it with ``python examples/calculator/calculator_server.py`` (add ``--bind`` to
choose the endpoint) and call it with ``calculator_client.py``. The generated module
``calculator.py`` sits beside this file; regenerate it with::

    uvrpc-gen idl/calculator.idl -o examples/calculator/
"""

from __future__ import annotations

import argparse
import operator
import sys
from collections.abc import Callable

# The generated module: messages, the Op enum, and the server base class.
from calculator import CalculatorServer, Op, Outcome, Program

import uvrpc

OPERATIONS: dict[Op, Callable[[float, float], float]] = {
    Op.ADD: operator.add,
    Op.SUB: operator.sub,
    Op.MUL: operator.mul,
    Op.DIV: operator.truediv,
}


class Calculator(CalculatorServer):
    """Implements every method the IDL declares; mypy checks each signature."""

    def __init__(self) -> None:
        self.calls = 0

    async def add(self, *, a: int, b: int) -> int:
        self.calls += 1
        return a + b

    async def apply(self, *, op: Op, a: float, b: float) -> float:
        self.calls += 1
        return OPERATIONS[op](a, b)

    async def run(self, *, program: Program) -> Outcome:
        self.calls += 1
        value = program.start
        for step in program.steps:
            value = OPERATIONS[step.op](value, step.operand)
        return Outcome(
            value=value,
            steps_run=len(program.steps),
            ops_used={step.op for step in program.steps},
        )

    async def divide(self, *, a: int, b: int) -> int:
        self.calls += 1
        # A zero ``b`` raises ZeroDivisionError: the caller gets uvrpc.RemoteError
        # naming it, and the server keeps serving.
        return a // b

    async def call_count(self) -> int:
        self.calls += 1
        return self.calls

    async def reset(self) -> None:
        self.calls = 0


async def serve(bind: str) -> None:
    """Serve until interrupted, printing the bound endpoint first."""
    async with uvrpc.Server(Calculator()) as server:
        endpoint = server.bind(bind)
        # The first line of output is the endpoint, so scripts can read it.
        print(endpoint, flush=True)
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default="tcp://127.0.0.1:5555")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    args = parser.parse_args(argv)
    try:
        uvrpc.run(serve(args.bind), use_uvloop=args.uvloop)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
