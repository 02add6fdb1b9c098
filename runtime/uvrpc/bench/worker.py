"""The processes of a benchmark run: one server, and client processes.

``python -m uvrpc.bench.worker server SYSTEM --bind ENDPOINT`` serves and prints its
endpoint on the first line of output (with ``--streams``, the system's stream
server). ``python -m uvrpc.bench.worker client SYSTEM --results PATH`` reads a
JSON list of :class:`~uvrpc.bench.spec.ClientSpec` on the first line of standard
input, runs them in order (a spec of a stream case with the system's stream client)
and writes the JSON list of their results to PATH. Results go to a file, not to
standard output, so that nothing a library might print there can corrupt them.

With ``--ready-fd N`` the client starts with others: once its system's modules
(and the peer's library, and uvloop if it runs on it) are imported it writes a byte
to file descriptor N and closes it, then reads the agreed start time
(``time.time()``) on the next line of standard input: the first spec's warm-up
starts then, each later one's when the one before it ends
(:func:`uvrpc.bench.runner.run_clients`).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .spec import ClientSpec
from .systems import SYSTEMS

__all__ = ["main", "resolve"]


def resolve(target: str) -> Callable[..., Any]:
    """The function a system names as ``"module:function"``."""
    module, _, function = target.partition(":")
    resolved: Callable[..., Any] = getattr(importlib.import_module(module), function)
    return resolved


def main(argv: Sequence[str] | None = None) -> int:
    """Run a server or a client of one system."""
    parser = argparse.ArgumentParser(prog="python -m uvrpc.bench.worker")
    parser.add_argument("role", choices=("server", "client"))
    parser.add_argument("system", choices=sorted(SYSTEMS))
    parser.add_argument("--bind", default="tcp://127.0.0.1:*")
    parser.add_argument("--results", type=Path, help="where a client writes results")
    parser.add_argument("--streams", action="store_true", help="serve the streams")
    parser.add_argument(
        "--ready-fd",
        type=int,
        help="say on this descriptor when ready, then read the start time on stdin",
    )
    args = parser.parse_args(argv)
    system = SYSTEMS[args.system]
    if args.streams and system.streams is None:
        parser.error(f"{system.name} has no stream cases")
    if args.role == "server":
        server = f"{system.streams}:serve" if args.streams else system.server
        resolve(server)(args.bind, system.loop)
        return 0
    if args.results is None:
        parser.error("a client needs --results PATH")
    specs = [ClientSpec(**raw) for raw in json.loads(sys.stdin.readline())]
    clients = [
        resolve(f"{system.streams}:run_client" if spec.stream else system.client)
        for spec in specs
    ]
    if args.ready_fd is not None:
        # What the client functions import when they run (the peer's library,
        # uvloop) is imported now, so that no client spends its window on it.
        for module in (system.requires, "uvloop" if system.loop == "uvloop" else None):
            if module is not None:
                importlib.import_module(module)
        os.write(args.ready_fd, b"r")
        os.close(args.ready_fd)
        line = sys.stdin.readline()
        if not line.strip():
            print("uvrpc.bench.worker: no start time came", file=sys.stderr)
            return 1
        start_at = float(line)
        specs = [dataclasses.replace(spec, start_at=start_at) for spec in specs]
    results = [
        client(spec, system.loop).to_json()
        for client, spec in zip(clients, specs, strict=True)
    ]
    args.results.write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
