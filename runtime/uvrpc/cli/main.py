"""The ``uvrpc`` command: serve an implementation, benchmark, report versions.

``uvrpc serve MODULE:CLASS --bind ENDPOINT`` imports ``CLASS`` (a subclass of a
generated ``<Service>Server``) from ``MODULE``, instantiates it without arguments and
serves it (several ``MODULE:CLASS``, one per service, are served together on the
same endpoints); the first line it prints is each bound endpoint, so scripts can
read where to connect. SIGINT and SIGTERM stop it cleanly. Its log (handlers'
exceptions with their tracebacks, malformed requests) goes to stderr. With
``--curve-secret NAME.key_secret --allow DIR_OR_FILE`` it serves over CURVE,
admitting the clients whose public keys are in the ``*.key`` files given
(``docs/security.md``). With
``--metrics HOST:PORT`` it records every call (:mod:`uvrpc.metrics`) and serves the
metrics over HTTP there (port 0: a free one), printing the URL to scrape,
``http://HOST:PORT/metrics``, on the line after the endpoints.

``--workers N`` serves from N worker processes behind a broker bound to the
``--bind`` endpoints, restarting any that exits (:mod:`uvrpc.workers`); ``--connect
ENDPOINT`` takes calls from a broker's backend instead of binding (logged on
stderr: "taking calls from the broker at ENDPOINT"). ``uvrpc broker
--frontend ENDPOINT --backend ENDPOINT`` runs a broker alone (:mod:`uvrpc.broker`,
``docs/scaling.md``); with ``--curve-secret`` it serves both over CURVE, admitting the
clients of ``--allow-clients`` on the frontend and the servers of ``--allow-servers``
on the backend.

``uvrpc call ENDPOINT ROUTE 'JSON'``, ``uvrpc list ENDPOINT`` and ``uvrpc describe
ENDPOINT [NAME]`` call and inspect any running server through its built-in reflection
service, without generated code (:mod:`uvrpc.cli.call`); ``describe`` prints IDL
that ``uvrpc-gen`` reads (:mod:`uvrpc.cli.idl`).

``uvrpc health ENDPOINT [SERVICE]`` checks a server's health for an orchestrator's
probe, with ``grpc_health_probe``'s exit statuses (:mod:`uvrpc.cli.health`).

Ctrl-C ends a command that is waiting (a call in flight, a server that does not
answer) with the exit status 130, as a shell reports it, and no traceback;
``serve`` and ``broker`` stop cleanly on it instead, with 0.

``uvrpc keygen NAME --dir DIR`` writes a new CURVE key pair as ``DIR/NAME.key``
(public) and ``DIR/NAME.key_secret`` (secret, mode 0600), creating ``DIR`` (mode
0700, with its parents) when it is missing, and prints the public key. It replaces
an existing pair of that name only with ``--force``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import importlib.util
import inspect
import logging
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Literal

import zmq

from ..bench.arguments import positive
from ..core.server import check_handlers
from ..ops.broker import MAX_CALLS_PER_CLIENT, run_broker
from ..ops.metrics import MetricsRegistry, serve_metrics
from ..ops.workers import report_metrics, supervise, watch_supervisor
from ..server.server import Server
from ..transport.loop import run
from ..transport.security import (
    ClientSecurity,
    ServerSecurity,
    generate_keypair,
    load_keypair,
    load_public_keys,
)
from ..wire.service import ServiceBase, service_spec
from ..wire.version import GENERATED_CODE_API, PROTOCOL_VERSION, __version__
from . import curve, health
from .call import add_commands, run_command, seconds_or_zero
from .endpoints import refuse_inproc

__all__ = ["main"]

_log = logging.getLogger("uvrpc.server")

_COUNT = positive(int)
"""The argparse type of a count option (``--workers N``): refused there, naming
the option, rather than once the command runs in the words of the code it
configures ("max_calls_per_client must be ...")."""


class UsageError(Exception):
    """A mistake on the command line, reported in one line without a traceback."""


class UserCodeError(Exception):
    """An exception raised by the user's own code while ``uvrpc serve`` imported
    its module or created its service: reported with the traceback of that code."""

    def __init__(self, doing: str, error: Exception) -> None:
        super().__init__(f"{doing} raised {type(error).__name__}")
        self.doing = doing
        self.error = error

    def report(self) -> str:
        """The traceback of the user's code (uvrpc's and importlib's frames left
        out), then one line saying what raised what, and where."""
        tb = self.error.__traceback__
        while tb is not None and _not_users(tb.tb_frame.f_code.co_filename):
            tb = tb.tb_next
        stack = traceback.extract_tb(tb)
        where = f" ({stack[-1].filename}:{stack[-1].lineno})" if stack else ""
        error = self.error
        text = "".join(traceback.format_exception(type(error), error, tb))
        return (
            f"{text}uvrpc: error: {self.doing} raised "
            f"{type(error).__name__}: {error}{where}"
        )


def _not_users(filename: str) -> bool:
    """Whether a frame of this file is uvrpc's or the import machinery's."""
    return (
        filename == __file__
        or filename.startswith("<frozen ")
        or filename == importlib.__file__
    )


def load_service(spec: str) -> type[ServiceBase]:
    """Import ``MODULE:CLASS`` and check it is a concrete service implementation.

    Raises:
        UsageError: the spec is malformed, the module cannot be found, it has no
            such class, or the class is not a concrete subclass of a generated
            server class.
        UserCodeError: importing the module raised an exception.
    """
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise UsageError(f"expected MODULE:CLASS, got {spec!r}")
    if module_name.endswith(".py") or "/" in module_name:  # a file's path
        path = PurePosixPath(module_name.removesuffix(".py"))
        dotted = ".".join(part for part in path.parts if part not in ("/", ".", ".."))
        raise UsageError(
            f"cannot import {module_name!r}: MODULE:CLASS names a module as "
            f"'python -m' does, not a file: {dotted}:{class_name}"
        )
    if "" not in sys.path:
        sys.path.insert(0, "")  # like `python -m`: modules in the working directory
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if not _names_the_module(exc, module_name):
            raise UserCodeError(f"importing {module_name}", exc) from None
        raise UsageError(f"cannot import {module_name!r}: {exc}") from None
    except Exception as exc:  # an ImportError inside the module too: its own
        raise UserCodeError(f"importing {module_name}", exc) from None
    if not hasattr(module, class_name):
        raise UsageError(
            f"module {module_name!r} ({module.__file__}) has no attribute "
            f"{class_name!r}"
        )
    cls = getattr(module, class_name)
    if not (isinstance(cls, type) and issubclass(cls, ServiceBase)):
        raise UsageError(
            f"{spec} is not a subclass of a generated <Service>Server class"
        )
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise UsageError(f"{spec} does not implement: {missing}")
    try:
        inspect.signature(cls).bind()
    except TypeError as exc:
        raise UsageError(
            f"{spec} cannot be created without arguments ({exc}); uvrpc serve "
            "creates it with none: give its parameters defaults"
        ) from None
    except ValueError:  # no signature to read: creating it will tell
        pass
    return cls


def _names_the_module(exc: ModuleNotFoundError, module_name: str) -> bool:
    """Whether the module missing is the one asked for (or a package above it),
    the command line's mistake, rather than one its code imports."""
    missing = exc.name or ""
    return missing == module_name or module_name.startswith(missing + ".")


def create_service(spec: str) -> ServiceBase:
    """Import ``MODULE:CLASS`` (:func:`load_service`) and create an instance.

    Raises:
        UsageError: as :func:`load_service` does.
        UserCodeError: importing the module or creating the instance raised.
    """
    cls = load_service(spec)
    try:
        service = cls()
    except Exception as exc:
        raise UserCodeError(f"{spec}()", exc) from None
    try:
        check_handlers(service)
    except TypeError as exc:  # a handler's signature is not its method's
        raise UsageError(str(exc)) from None
    return service


def _check_distinct(targets: Sequence[str], services: Sequence[ServiceBase]) -> None:
    """Refuse two classes of one service: a server answers each service once."""
    seen: dict[str, str] = {}
    for target, service in zip(targets, services, strict=True):
        name = service_spec(service).name
        if name in seen:
            raise UsageError(
                f"{seen[name]} and {target} both implement the service {name}: "
                "serve one class per service"
            )
        seen[name] = target


async def serve(
    services: Sequence[ServiceBase],
    endpoints: Sequence[str],
    security: ServerSecurity | None = None,
    brokers: Sequence[str] = (),
    broker_security: ClientSecurity | None = None,
    metrics: tuple[str, int] | None = None,
    grace: float = 0.0,
) -> None:
    """Serve ``services`` on ``endpoints``, and to the brokers whose backends are
    ``brokers`` (over CURVE with ``broker_security``), until SIGINT, SIGTERM or
    SIGHUP (unless ignored), then close with ``grace`` seconds for the calls running
    (:meth:`Server.close`); with ``metrics`` (a host and a port), serve its
    metrics over HTTP there and print their URL after the endpoints."""
    registry = MetricsRegistry()
    interceptors = [registry.interceptor] if metrics is not None else []
    url = stop_metrics = None
    if metrics is not None:
        # Listening first: an address taken fails the command before it serves.
        url, stop_metrics = serve_metrics(registry, *metrics)
    try:
        server = Server(*services, security=security, interceptors=interceptors)
        async with server:
            # Every endpoint bound (and broker connected) before any is printed:
            # a script that read the first line went on as if it were served
            # when a later one failed.
            bound = [server.bind(endpoint) for endpoint in endpoints]
            for endpoint in brokers:
                server.connect(endpoint, security=broker_security)
            for endpoint in bound:
                print(endpoint, flush=True)
            for endpoint in brokers:
                # Not on stdout, which names what this server bound: without a
                # line, a server serving through a broker alone said nothing.
                _log.info("taking calls from the broker at %s", endpoint)
            if url is not None:
                registry.watch_server(server)
                print(url, flush=True)
                report_metrics(url)
            loop = asyncio.get_running_loop()
            stop = asyncio.Event()
            for signum in _stop_signals():
                loop.add_signal_handler(signum, stop.set)
            watch = asyncio.ensure_future(watch_supervisor(stop))
            try:
                await stop.wait()
                if grace:
                    await _close_unless_signalled(server, grace)
            finally:
                watch.cancel()
    finally:
        if stop_metrics is not None:
            stop_metrics()


def _stop_signals() -> list[signal.Signals]:
    """The signals that stop ``uvrpc serve`` with its grace: SIGINT, SIGTERM and
    SIGHUP, unless it is ignored (``nohup``).

    A hangup (the terminal closed) reaches every process of its group: the
    workers of ``--workers`` too, which it killed outright, their calls cut,
    while their parent stopped them with their grace."""
    signums = [signal.SIGINT, signal.SIGTERM]
    if signal.getsignal(signal.SIGHUP) is signal.SIG_DFL:
        signums.append(signal.SIGHUP)
    return signums


async def _close_unless_signalled(server: Server, grace: float) -> None:
    """Close ``server`` with ``grace``; a Ctrl-C (SIGINT) meanwhile cuts the grace
    short (the calls still running are then cancelled, as with no grace).

    Only SIGINT: a terminal's Ctrl-C reaches every process of its group, so the
    workers of ``--workers`` get it as well as their parent's SIGTERM, which
    must not cut their grace short.
    """
    loop = asyncio.get_running_loop()
    again = asyncio.Event()
    loop.add_signal_handler(signal.SIGINT, again.set)  # SIGTERM: stop, set already
    closing = asyncio.ensure_future(server.close(grace=grace))
    signalled = asyncio.ensure_future(again.wait())
    await asyncio.wait((closing, signalled), return_when=asyncio.FIRST_COMPLETED)
    signalled.cancel()
    if closing.done():
        closing.result()  # its exception, if any, is the command's
        return
    print("uvrpc: signalled again: cancelling the calls still running", file=sys.stderr)
    closing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await closing
    # Leaving the server's block closes it at once.


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uvrpc", description="Typed RPC over ZeroMQ: serve and inspect services."
    )
    parser.add_argument("--version", action="version", version=f"uvrpc {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser(
        "serve",
        help="serve implementation classes",
        description="Serve CLASS, a subclass of a generated <Service>Server, created "
        "without arguments (or several, one per service, on the same endpoints). "
        "Prints each endpoint it binds on a line of its own; Ctrl-C or SIGTERM "
        "stops it.",
    )
    serve_cmd.add_argument(
        "targets",
        nargs="+",
        metavar="MODULE:CLASS",
        help="MODULE is imported as 'python -m' names it, from the working directory "
        "or PYTHONPATH (server, app.server: not server.py); CLASS is in it. Several "
        "classes, one per service, are served together on the same endpoints",
    )
    serve_cmd.add_argument(
        "--bind",
        action="append",
        metavar="ENDPOINT",
        help="endpoint to listen on; repeatable (default tcp://127.0.0.1:5555)",
    )
    serve_cmd.add_argument("--uvloop", action="store_true", help="run on uvloop")
    serve_cmd.add_argument(
        "--workers",
        type=_COUNT,
        default=1,
        metavar="N",
        help="serve from N processes behind a broker bound to --bind (default 1)",
    )
    serve_cmd.add_argument(
        "--metrics",
        type=metrics_address,
        metavar="HOST:PORT",
        help="record every call and serve the metrics for Prometheus at "
        "http://HOST:PORT/metrics (port 0: a free one), printed on the line after "
        "the endpoints; with --workers, every worker's, labelled worker=N",
    )
    serve_cmd.add_argument(
        "--connect",
        action="append",
        metavar="ENDPOINT",
        help="take calls from the broker whose backend is ENDPOINT; repeatable",
    )
    serve_cmd.add_argument(
        "--grace",
        type=seconds_or_zero,
        default=0.0,
        metavar="SECONDS",
        help="on Ctrl-C, SIGTERM or SIGHUP, refuse new calls (UNAVAILABLE) and let "
        "the calls running finish for up to SECONDS before cancelling the rest "
        "(default 0: "
        "cancel them at once; a Ctrl-C meanwhile cancels them); with --workers, "
        "each worker's",
    )
    serve_cmd.add_argument(
        "--broker-key",
        metavar="PATH",
        help="with --connect: the broker's public key (.key file, or Z85 text: "
        "--broker-key=KEY if it begins with '-'); connect over "
        "CURVE with the key pair of --curve-secret (a new one if not given)",
    )
    serve_cmd.add_argument(
        "--curve-secret",
        metavar="PATH",
        help="serve over CURVE with the key pair in this .key_secret file",
    )
    serve_cmd.add_argument(
        "--allow",
        metavar="DIR_OR_FILE",
        help="with --curve-secret: the client public keys admitted (a .key file, or "
        'a directory of them); "any" admits every client',
    )
    keygen_cmd = commands.add_parser(
        "keygen",
        help="write a new CURVE key pair and print its public key",
        description="Write a new CURVE key pair, NAME.key (the public key, to give "
        "to peers and allow-lists) and NAME.key_secret (both keys, the owner's "
        "alone: mode 0600), and print the public key in Z85 text.",
    )
    keygen_cmd.add_argument(
        "name",
        metavar="NAME",
        help="the pair's name: NAME.key holds the public key, NAME.key_secret both",
    )
    keygen_cmd.add_argument(
        "--dir",
        default=".",
        metavar="DIR",
        help="where to write NAME.key and NAME.key_secret, created with its parents "
        "(mode 0700) if missing (default: here)",
    )
    keygen_cmd.add_argument(
        "--force",
        action="store_true",
        help="replace an existing key pair of that name (its secret key is lost)",
    )
    broker_cmd = commands.add_parser(
        "broker",
        help="forward calls from clients to the servers connected to it",
        description="Take calls from clients on the frontend and send each to the "
        "least busy of the servers connected to the backend (uvrpc serve "
        "--connect BACKEND). Prints each endpoint it binds; Ctrl-C or SIGTERM "
        "stops it.",
    )
    broker_cmd.add_argument(
        "--grace",
        type=seconds_or_zero,
        default=0.0,
        metavar="SECONDS",
        help="on Ctrl-C or SIGTERM, refuse new calls (UNAVAILABLE) and forward "
        "the calls in flight for up to SECONDS before closing (default 0: drop "
        "them at once; a Ctrl-C meanwhile drops them)",
    )
    broker_cmd.add_argument(
        "--frontend",
        action="append",
        metavar="ENDPOINT",
        help="where clients connect; repeatable (default tcp://127.0.0.1:5555)",
    )
    broker_cmd.add_argument(
        "--backend",
        action="append",
        metavar="ENDPOINT",
        help="where servers connect (uvrpc serve --connect); repeatable "
        "(default tcp://127.0.0.1:5556)",
    )
    broker_cmd.add_argument(
        "--curve-secret",
        metavar="PATH",
        help="serve both sockets over CURVE with the key pair in this .key_secret "
        "file; needs --allow-clients and --allow-servers",
    )
    broker_cmd.add_argument(
        "--allow-clients",
        metavar="DIR_OR_FILE",
        help="with --curve-secret: the public keys of the clients admitted on the "
        'frontend (a .key file, or a directory of them); "any" admits every client',
    )
    broker_cmd.add_argument(
        "--allow-servers",
        metavar="DIR_OR_FILE",
        help="with --curve-secret: the public keys of the servers admitted on the "
        "backend (a .key file, or a directory of them); none of them may be a "
        "client's key",
    )
    broker_cmd.add_argument(
        "--same-keys-for-clients-and-servers",
        action="store_true",
        help="accept keys on both lists: each such client may also serve calls",
    )
    # Kept only to explain what replaced it: one list for both sockets let a
    # client connect as a server.
    broker_cmd.add_argument("--allow", help=argparse.SUPPRESS)
    broker_cmd.add_argument(
        "--max-calls-per-client",
        type=_COUNT,
        default=MAX_CALLS_PER_CLIENT,
        metavar="N",
        help="calls one client may have in flight through the broker; more are "
        f"refused with RESOURCE_EXHAUSTED (default {MAX_CALLS_PER_CLIENT})",
    )
    broker_cmd.add_argument(
        "--max-waiting-per-client",
        type=_COUNT,
        metavar="N",
        help="requests of one client that may wait for a server; more are refused "
        "with RESOURCE_EXHAUSTED (default a quarter of the broker's queue, 250)",
    )
    commands.add_parser(
        "version",
        help="print runtime and protocol versions",
        description="Print uvrpc's version, the protocol version its peers speak "
        "and the generated-code API its runtime imports (a module generated for a "
        "later one asks for a newer uvrpc).",
    )
    add_commands(commands)
    # Listed for --help; main() hands everything after "health" to cli.health,
    # whose mistakes exit with 1 as grpc_health_probe's do.
    health.add_arguments(
        commands.add_parser("health", help="check a server's health (exit 0: SERVING)")
    )
    # Listed for --help; main() hands everything after "bench" to uvrpc.bench.
    commands.add_parser(
        "bench", help="benchmark uvrpc against raw pyzmq, gRPC and Thrift"
    )
    return parser


def metrics_address(value: str) -> tuple[str, int]:
    """The ``--metrics HOST:PORT`` option, read.

    Raises:
        argparse.ArgumentTypeError: ``value`` is not a host and a port.
    """
    host, colon, port = value.rpartition(":")
    if not (colon and host and port.isascii() and port.isdigit()) or (
        int(port) > 65535
    ):
        raise argparse.ArgumentTypeError(
            f"expected HOST:PORT, such as 127.0.0.1:9100 (port 0: a free one), "
            f"got {value!r}"
        )
    return host, int(port)


def _server_security(
    secret: str | None, allow: str | None, *, required: bool = True
) -> ServerSecurity | None:
    """The ``--curve-secret`` and ``--allow`` options, read; with ``required``
    false, ``--curve-secret`` alone is the key pair of ``--broker-key`` only."""
    if secret is None or (allow is None and not required):
        if allow is not None:
            raise UsageError("--allow needs --curve-secret")
        return None
    if allow is None:
        raise UsageError(
            '--curve-secret needs --allow (a key file, a directory or "any")'
        )
    keys = "any" if allow == "any" else load_public_keys(allow)
    return ServerSecurity(load_keypair(secret), allow=keys)


def _broker_lists(
    args: argparse.Namespace,
) -> tuple[ServerSecurity | None, ServerSecurity | None]:
    """``uvrpc broker``'s ``--curve-secret``, ``--allow-clients`` and
    ``--allow-servers``, read: the frontend's security and the backend's."""
    if args.allow is not None:
        raise UsageError(
            "uvrpc broker takes --allow-clients (the frontend's keys) and "
            "--allow-servers (the backend's) instead of --allow: with one list for "
            "both, a client could connect as a server"
        )
    if args.curve_secret is None:
        if args.allow_clients is not None or args.allow_servers is not None:
            raise UsageError("--allow-clients and --allow-servers need --curve-secret")
        return None, None
    if args.allow_clients is None or args.allow_servers is None:
        raise UsageError(
            "--curve-secret needs --allow-clients (a key file, a directory or "
            '"any") and --allow-servers (a key file or a directory)'
        )
    keypair = load_keypair(args.curve_secret)
    clients = (
        "any" if args.allow_clients == "any" else load_public_keys(args.allow_clients)
    )
    if args.allow_servers != "any":
        servers: frozenset[str] | Literal["any"] = load_public_keys(args.allow_servers)
    elif args.same_keys_for_clients_and_servers:
        servers = "any"
    else:  # it was read as a file: "no such key file: any"
        raise UsageError(
            "--allow-servers takes the servers' public keys (a .key file or a "
            'directory), not "any": with the frontend\'s key pair, which clients '
            "know, any client could connect as a server "
            "(--same-keys-for-clients-and-servers accepts it)"
        )
    return ServerSecurity(keypair, clients), ServerSecurity(keypair, servers)


def _broker_security(args: argparse.Namespace) -> ClientSecurity | None:
    """The ``--broker-key`` option (with ``--curve-secret``'s key pair), read."""
    if args.broker_key is None:
        return None
    if not args.connect:
        raise UsageError("--broker-key needs --connect")
    # As --curve-server-key reads it: a directory of several keys failed with
    # "too many values to unpack", and the key's own text was taken for a path.
    try:
        broker_public = curve.public_key(args.broker_key, "--broker-key", "broker")
    except curve.CurveOptionError as exc:
        raise UsageError(str(exc)) from None
    keypair = None if args.curve_secret is None else load_keypair(args.curve_secret)
    return ClientSecurity(broker_public, keypair)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``uvrpc`` command line; return its exit status (130, quietly, when
    Ctrl-C interrupts it, as ``uvrpc health --watch`` does)."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:  # a call in flight, a slow import: the shell's status
        return health.INTERRUPTED


def _main(arguments: list[str]) -> int:
    if arguments[:1] == ["bench"]:
        from ..bench.cli import main as bench_main

        return bench_main(arguments[1:])
    if arguments[:1] == ["health"]:
        return health.main(arguments[1:])
    args = _parser().parse_args(arguments)
    try:
        if args.command == "version":
            print(f"uvrpc {__version__}")
            print(f"protocol {PROTOCOL_VERSION}")
            print(f"generated-code API {GENERATED_CODE_API}")
            return 0
        if args.command in ("call", "list", "describe"):
            return run_command(args)
        if args.command == "keygen":
            # An empty name wrote the hidden ".key" and ".key_secret", and "a/b"
            # failed with a bare "No such file or directory": --dir says where.
            if not args.name.strip() or args.name in (".", ".."):
                raise UsageError(f"keygen: {args.name!r} is no name for a key pair")
            if "/" in args.name or os.sep in args.name:
                raise UsageError(
                    f"keygen: NAME is a file name, not a path ({args.name!r}): "
                    "give the directory with --dir"
                )
            keypair = generate_keypair()
            directory = Path(args.dir)
            # A directory made here is the owner's alone: it holds a secret key.
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not args.force:
                for path in (
                    directory / f"{args.name}.key",
                    directory / f"{args.name}.key_secret",
                ):
                    if path.exists():
                        raise UsageError(
                            f"{path} exists: replacing a key pair loses its secret "
                            "key, so keygen does it only with --force"
                        )
            keypair.save(directory, args.name)
            print(keypair.public)
            return 0
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        if args.command == "broker":
            refuse_inproc([*(args.frontend or ()), *(args.backend or ())])
            front, back = _broker_lists(args)
            run_broker(
                args.frontend or ["tcp://127.0.0.1:5555"],
                args.backend or ["tcp://127.0.0.1:5556"],
                front,
                back,
                allow_shared_keys=args.same_keys_for_clients_and_servers,
                max_calls_per_client=args.max_calls_per_client,
                max_waiting_per_client=args.max_waiting_per_client,
                grace=args.grace,
            )
            return 0
        if (
            args.metrics is not None
            and importlib.util.find_spec("prometheus_client") is None
        ):
            raise UsageError(
                "--metrics needs prometheus_client: pip install 'uvrpc[metrics]'"
            )
        refuse_inproc([*(args.bind or ()), *(args.connect or ())])
        broker_security = _broker_security(args)
        security = _server_security(
            args.curve_secret, args.allow, required=not broker_security
        )
        if broker_security is not None and security is None and args.bind:
            # --curve-secret reads as "serve over CURVE", but without --allow it
            # is only the key pair of --broker-key: say that --bind is plain.
            print(
                f"uvrpc: warning: serving {', '.join(args.bind)} without CURVE: "
                "--curve-secret without --allow is the key pair of --broker-key "
                'only; add --allow (a key file, a directory or "any") to serve '
                "it over CURVE",
                file=sys.stderr,
            )
        services = [create_service(target) for target in args.targets]
        _check_distinct(args.targets, services)
        endpoints = args.bind or ([] if args.connect else ["tcp://127.0.0.1:5555"])
        if args.workers != 1:
            if args.connect:
                raise UsageError("--workers does not take --connect")
            supervise(
                args.targets,
                args.workers,
                endpoints,
                uvloop=args.uvloop,
                security=security,
                metrics=args.metrics,
                grace=args.grace,
            )
            return 0
        coroutine = serve(
            services,
            endpoints,
            security,
            args.connect or (),
            broker_security=broker_security,
            metrics=args.metrics,
            grace=args.grace,
        )
        run(coroutine, use_uvloop=args.uvloop)
    except UserCodeError as exc:
        print(exc.report(), file=sys.stderr)
        return 1
    except (UsageError, RuntimeError, OSError, ValueError) as exc:
        print(f"uvrpc: error: {exc}", file=sys.stderr)
        return 1
    except zmq.ZMQError as exc:  # what ZeroMQ refuses that uvrpc does not word
        print(f"uvrpc: error: ZMQError: {exc}", file=sys.stderr)
        return 1
    return 0
