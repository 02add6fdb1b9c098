"""Call the calculator server, with the async client and with the blocking one.

Start ``calculator_server.py`` first, then run
``python examples/calculator/calculator_client.py --connect tcp://127.0.0.1:5555``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

# The generated module: typed clients and the messages they take and return.
from calculator import CalculatorClient, CalculatorSyncClient, Op, Program, Step

import uvrpc


async def use_async_client(endpoint: str) -> None:
    """Make typed calls with the asyncio client, several of them at once."""
    async with CalculatorClient(endpoint, timeout=5.0) as calc:
        # Keyword arguments, typed results: mypy knows ``total`` is an int.
        total = await calc.add(a=40, b=2)
        print(f"add(a=40, b=2) = {total}")

        # Many calls may be in flight on one client; replies are matched by id.
        squares = await asyncio.gather(
            *(calc.apply(op=Op.MUL, a=float(n), b=float(n)) for n in range(1, 6))
        )
        print(f"apply(MUL) of 1..5 = {squares}")

        # Messages are pydantic models generated from the IDL.
        program = Program(
            start=10.0,
            steps=[Step(op=Op.ADD, operand=5.0), Step(op=Op.DIV, operand=3.0)],
        )
        outcome = await calc.run(program=program)
        print(f"run(program) = {outcome.value:g} after {outcome.steps_run} steps")

        # A handler's exception arrives as a typed error; the server keeps serving.
        # Dividing by zero here is on purpose, to show what the caller gets.
        try:
            await calc.divide(a=1, b=0)
        except uvrpc.RemoteError as exc:
            print(f"expected error: divide(a=1, b=0) raised {exc}")


def use_sync_client(endpoint: str) -> None:
    """Make the same kind of calls with the blocking client."""
    with CalculatorSyncClient(endpoint, timeout=5.0) as calc:
        print(f"sync add(a=1, b=2) = {calc.add(a=1, b=2)}")
        print(f"sync call_count() = {calc.call_count()}")


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run both clients."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connect", default="tcp://127.0.0.1:5555")
    args = parser.parse_args(argv)
    try:
        asyncio.run(use_async_client(args.connect))
        use_sync_client(args.connect)
    except uvrpc.RpcError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
