"""``uvrpc health ENDPOINT [SERVICE]``: a health probe for orchestrators.

It asks the server's built-in ``uvrpc.Health`` service whether ``SERVICE`` (by
default the server as a whole) takes calls, prints the answer in one line
(``status: SERVING``) and exits with the status ``grpc_health_probe`` uses, so an
exec probe (Kubernetes' ``livenessProbe`` and ``readinessProbe``, ``docs/health.md``)
reads it the same way:

====  ==============================================================
0     SERVING
1     invalid arguments (a malformed endpoint, an unreadable key file)
2     no connection to the server within ``--timeout``
3     the health call failed (its deadline passed, or an error status)
4     an answer other than SERVING: NOT_SERVING, SERVICE_UNKNOWN, ...
====  ==============================================================

``--timeout`` bounds the connection and the call together. ``--curve-server-key``
(and ``--curve-secret``, for a server with an allow-list) connect over CURVE, as
``uvrpc call`` does. ``--watch`` prints each answer as it changes
(``uvrpc.Health.watch``; ``--timeout`` then bounds only the connection) until the
server ends the stream, and exits with the status of the last answer (3 if the
stream failed, 130 if interrupted).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from ..client.channel import Channel
from ..services.clients import HealthClient
from ..services.health import HealthStatus
from ..transport.security import ClientSecurity
from ..wire.errors import DeadlineExceeded, RpcError
from . import curve
from .endpoints import refuse_inproc

__all__ = [
    "CONNECT_FAILED",
    "INTERRUPTED",
    "INVALID_ARGUMENTS",
    "NOT_SERVING",
    "RPC_FAILED",
    "SERVING",
    "add_arguments",
    "main",
]

SERVING = 0
"""Exit status: the answer was SERVING."""
INVALID_ARGUMENTS = 1
"""Exit status: the command line is wrong."""
CONNECT_FAILED = 2
"""Exit status: no server connected within the timeout."""
RPC_FAILED = 3
"""Exit status: the health call failed or timed out."""
NOT_SERVING = 4
"""Exit status: the answer was not SERVING."""

INTERRUPTED = 130
"""Exit status: interrupted (SIGINT), as a shell reports it."""

TIMEOUT = 5.0
"""The default of ``--timeout``, in seconds."""


class _UsageError(Exception):
    """A mistake on the command line: one line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    """argparse, exiting with 1 on a mistake, as ``grpc_health_probe`` does
    (argparse's own status, 2, means a failed connection here)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(INVALID_ARGUMENTS, f"{self.prog}: error: {message}\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``uvrpc health``'s arguments to ``parser``."""
    parser.add_argument("endpoint", metavar="ENDPOINT")
    parser.add_argument(
        "service",
        metavar="SERVICE",
        nargs="?",
        default="",
        help="the service to check, such as calc.Calculator (default: the server)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=TIMEOUT,
        metavar="SECONDS",
        help=f"for connecting and the call together (default {TIMEOUT:g})",
    )
    curve.add_arguments(parser)
    parser.add_argument(
        "--watch",
        action="store_true",
        help="print each answer as it changes until the server closes; exit with "
        "the status of the last one",
    )


def _security(args: argparse.Namespace) -> ClientSecurity | None:
    """The CURVE options (:mod:`uvrpc.cli.curve`), read.

    Raises:
        _UsageError: a key is malformed or its file cannot be read.
    """
    try:
        return curve.client_security(args)
    except curve.CurveOptionError as exc:
        raise _UsageError(str(exc)) from None


async def _connected(channel: Channel, deadline: float) -> bool:
    """Wait until a server is connected, by ``deadline`` (the loop's clock) at
    the latest; return whether one is. A server that refused the handshake (a
    CURVE key it does not admit, CURVE on one side only) ends the wait at once:
    it will refuse the same key again, and a probe should say so now, not when
    its timeout (or the kubelet's, often shorter) runs out."""
    loop = asyncio.get_running_loop()
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return channel.connected
        if await channel.ready(min(remaining, _HANDSHAKE_POLL)):
            return True
        if channel.handshake_failure is not None:
            return False


_HANDSHAKE_POLL = 0.05
"""Seconds between looks at whether a server refused the handshake."""


def _answer(status: HealthStatus, out: TextIO) -> int:
    print(f"status: {status.name}", file=out, flush=True)
    return SERVING if status is HealthStatus.SERVING else NOT_SERVING


async def probe(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Check the server's health as ``args`` say; return the exit status."""
    if not args.timeout > 0:
        raise _UsageError(f"--timeout must be more than 0, got {args.timeout:g}")
    security = _security(args)
    try:
        refuse_inproc([args.endpoint])
        channel = Channel(
            args.endpoint, security=security, connect_timeout=args.timeout
        )
    except (ValueError, OSError) as exc:  # a malformed endpoint
        raise _UsageError(str(exc)) from None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout
    async with channel:
        if not await _connected(channel, deadline):
            why = channel.handshake_failure  # a server answered, and refused
            print(
                f"uvrpc health: failed to connect to {args.endpoint} within "
                f"{args.timeout:g} s" + (f": {why}" if why else ""),
                file=err,
            )
            return CONNECT_FAILED
        client = HealthClient(channel)
        try:
            if not args.watch:
                # What connecting left of the time; the call fails at once if none.
                remaining = max(deadline - loop.time(), 0.0)
                try:
                    status = await client.check(service=args.service, timeout=remaining)
                except DeadlineExceeded:
                    # In the words of --timeout, not of what connecting left of
                    # it ("no reply within 2.99882 s").
                    print(
                        "uvrpc health: health rpc failed: DEADLINE_EXCEEDED: no "
                        f"reply within {args.timeout:g} s (--timeout, connecting "
                        "included)",
                        file=err,
                    )
                    return RPC_FAILED
                return _answer(status, out)
            exit_status = RPC_FAILED
            async with client.watch(service=args.service, timeout=None) as stream:
                async for status in stream:
                    exit_status = _answer(status, out)
            return exit_status
        except RpcError as exc:
            print(
                f"uvrpc health: health rpc failed: {exc.status.name}: {exc.message}",
                file=err,
            )
            return RPC_FAILED


def main(
    argv: Sequence[str], out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run ``uvrpc health`` with ``argv`` (what follows ``health``); return its
    exit status."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    parser = _Parser(
        prog="uvrpc health",
        description="Check a server's health (uvrpc.Health); exit 0 if SERVING.",
    )
    add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, or a mistake already reported
        return done.code if isinstance(done.code, int) else INVALID_ARGUMENTS
    try:
        return asyncio.run(probe(args, out, err))
    except _UsageError as exc:
        print(f"uvrpc health: error: {exc}", file=err)
        return INVALID_ARGUMENTS
    except KeyboardInterrupt:  # how --watch is usually ended: the shell's status
        return INTERRUPTED
