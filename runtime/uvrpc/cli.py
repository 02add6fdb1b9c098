"""The ``uvrpc`` command: serve an implementation, benchmark, report versions.

``uvrpc serve MODULE:CLASS --bind ENDPOINT`` imports ``CLASS`` (a subclass of a
generated ``<Service>Server``) from ``MODULE``, instantiates it without arguments and
serves it; the first line it prints is each bound endpoint, so scripts can read where
to connect. SIGINT and SIGTERM stop it cleanly. Its log (handlers' exceptions with
their tracebacks, malformed requests) goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import signal
import sys
from collections.abc import Sequence

import zmq

from .loop import run
from .server import Server
from .service import ServiceBase
from .version import GENERATED_CODE_API, PROTOCOL_VERSION, __version__

__all__ = ["main"]


class UsageError(Exception):
    """A mistake on the command line, reported in one line without a traceback."""


def load_service(spec: str) -> type[ServiceBase]:
    """Import ``MODULE:CLASS`` and check it is a concrete service implementation.

    Raises:
        UsageError: the spec is malformed, the import fails, or the class is not a
            concrete subclass of a generated server class.
    """
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise UsageError(f"expected MODULE:CLASS, got {spec!r}")
    if "" not in sys.path:
        sys.path.insert(0, "")  # like `python -m`: modules in the working directory
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"cannot import {module_name!r}: {exc}") from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, ServiceBase)):
        raise UsageError(
            f"{spec} is not a subclass of a generated <Service>Server class"
        )
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise UsageError(f"{spec} does not implement: {missing}")
    return cls


async def serve(service: ServiceBase, endpoints: Sequence[str]) -> None:
    """Serve ``service`` on ``endpoints`` until SIGINT or SIGTERM."""
    async with Server(service) as server:
        for endpoint in endpoints:
            print(server.bind(endpoint), flush=True)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uvrpc", description="Typed RPC over ZeroMQ: serve and inspect services."
    )
    parser.add_argument("--version", action="version", version=f"uvrpc {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="serve an implementation class")
    serve_cmd.add_argument("target", metavar="MODULE:CLASS")
    serve_cmd.add_argument(
        "--bind",
        action="append",
        metavar="ENDPOINT",
        help="endpoint to listen on; repeatable (default tcp://127.0.0.1:5555)",
    )
    serve_cmd.add_argument("--uvloop", action="store_true", help="run on uvloop")
    commands.add_parser("version", help="print runtime and protocol versions")
    # Listed for --help; main() hands everything after "bench" to uvrpc.bench.
    commands.add_parser(
        "bench", help="benchmark uvrpc against raw pyzmq, gRPC and Thrift"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``uvrpc`` command line; return its exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["bench"]:
        from .bench.cli import main as bench_main

        return bench_main(arguments[1:])
    args = _parser().parse_args(arguments)
    try:
        if args.command == "version":
            print(f"uvrpc {__version__}")
            print(f"protocol {PROTOCOL_VERSION}")
            print(f"generated-code API {GENERATED_CODE_API}")
            return 0
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        service = load_service(args.target)()
        endpoints = args.bind or ["tcp://127.0.0.1:5555"]
        run(serve(service, endpoints), use_uvloop=args.uvloop)
    except (UsageError, RuntimeError) as exc:
        print(f"uvrpc: error: {exc}", file=sys.stderr)
        return 1
    except zmq.ZMQError as exc:  # e.g. "Address already in use" from bind
        print(f"uvrpc: error: ZMQError: {exc}", file=sys.stderr)
        return 1
    return 0
