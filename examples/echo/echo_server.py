"""Serve the echo service of ``idl/echo.idl``: every payload comes back unchanged.

The benchmarks use this service. Run ``python examples/echo/echo_server.py`` and call
it with ``echo_client.py``. Regenerate ``echo.py`` with::

    uvrpc-gen idl/echo.idl -o examples/echo/
"""

from __future__ import annotations

import argparse
import sys

# The generated module: the server base class of the Echo service.
from echo import EchoServer

import uvrpc


class Echo(EchoServer):
    """Returns what it is sent."""

    async def echo(self, *, data: memoryview) -> memoryview:
        # ``data`` is a read-only view of the received frame; returning it sends
        # those same bytes back without a copy.
        return data


async def serve(bind: str) -> None:
    """Serve until interrupted, printing the bound endpoint first."""
    async with uvrpc.Server(Echo()) as server:
        print(server.bind(bind), flush=True)
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default="tcp://127.0.0.1:5556")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    args = parser.parse_args(argv)
    try:
        uvrpc.run(serve(args.bind), use_uvloop=args.uvloop)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
