"""CPU per call of the processes of any unary system of ``uvrpc bench``.

``python -m uvrpc.bench.processcpu SYSTEM [SYSTEM ...] --inflight N`` starts each
system's echo server as ``uvrpc bench`` does (``python -m uvrpc.bench.worker
server SYSTEM``), runs that system's client in this process with ``N`` calls of
64 bytes in flight, and prints one JSON line per system and round: calls/s, and
µs of CPU per call of the client process and of the server process, every thread
of each (ZeroMQ's I/O threads included), read from ``/proc`` as
:func:`~uvrpc.bench.cpuprobe.cpu_seconds` reads them.

Where :mod:`uvrpc.bench.cpuprobe` follows uvrpc alone, from tree to tree, this
sets systems side by side: uvrpc's processes against raw pyzmq's at the same
calls in flight, which throughput alone cannot tell apart from how the two
processes take turns on the host's cores. The systems run one after the other
in each round, so that a drift of the host's speed touches them alike. Each
measurement comes after a short run of the same client, so connections and
caches have settled; its CPU time spans the client's whole run (a few
milliseconds of connecting besides the window), divided by the calls inside the
window.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from .cpuprobe import cpu_seconds
from .runner import WORKER
from .spec import ClientSpec
from .systems import SYSTEMS, System
from .worker import resolve

__all__ = ["main", "measure"]

PAYLOAD = 64
"""Bytes echoed per call, as in the bench's unary cases."""
WARMUP = 0.3
"""Seconds of the settling run before each measurement."""


def measure(system: System, inflight: int, duration: float) -> dict[str, Any]:
    """One measurement of ``system``: its server started, settled and stopped."""
    with subprocess.Popen(
        [*WORKER, "server", system.name, "--bind", "tcp://127.0.0.1:*"],
        stdout=subprocess.PIPE,
        text=True,
    ) as server:
        try:
            assert server.stdout is not None
            found = re.search(r"\S+://\S+", server.stdout.readline())
            if found is None:
                raise RuntimeError(f"the {system.name} server did not start")
            endpoint = found.group(0)
            client = resolve(system.client)
            client(ClientSpec(endpoint, PAYLOAD, inflight, 0.0, WARMUP), system.loop)
            client_before = cpu_seconds(os.getpid())
            server_before = cpu_seconds(server.pid)
            result = client(
                ClientSpec(endpoint, PAYLOAD, inflight, 0.0, duration), system.loop
            )
            client_cpu = cpu_seconds(os.getpid()) - client_before
            server_cpu = cpu_seconds(server.pid) - server_before
        finally:
            server.terminate()
            server.wait(10)
    calls = max(1, result.calls)
    return {
        "system": system.name,
        "inflight": inflight,
        "calls_per_s": round(result.calls / result.seconds),
        "client_us": round(client_cpu / calls * 1e6, 2),
        "server_us": round(server_cpu / calls * 1e6, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Measure each system given, round after round; print a JSON line each."""
    parser = argparse.ArgumentParser(prog="python -m uvrpc.bench.processcpu")
    parser.add_argument("systems", nargs="+", choices=sorted(SYSTEMS), metavar="SYSTEM")
    parser.add_argument("--inflight", type=int, default=8)
    parser.add_argument("--duration", type=float, default=1.5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if args.inflight < 1 or args.duration <= 0 or args.rounds < 1:
        parser.error("--inflight and --rounds must be at least 1, --duration above 0")
    for name in args.systems:
        system = SYSTEMS[name]
        if not system.available:
            parser.error(
                f"{name} needs {system.requires}, which is not installed "
                "(pip install 'uvrpc[bench]')"
            )
        if args.inflight > system.max_inflight:
            parser.error(
                f"{name} keeps at most {system.max_inflight} call(s) in flight"
            )
    for _ in range(args.rounds):
        for name in args.systems:
            print(json.dumps(measure(SYSTEMS[name], args.inflight, args.duration)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
