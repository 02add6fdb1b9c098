"""CPU per call of the processes of any system of ``uvrpc bench``.

``python -m uvrpc.bench.processcpu SYSTEM [SYSTEM ...] --inflight N`` starts each
system's echo server as ``uvrpc bench`` does (``python -m uvrpc.bench.worker
server SYSTEM``), runs that system's client in this process with ``N`` calls of
64 bytes in flight, and prints one JSON line per system and round: calls/s, and
µs of CPU per call of the client process and of the server process, every thread
of each (ZeroMQ's I/O threads included), and the same split by thread name (the
interpreter's ``python`` threads, ZeroMQ's ``ZMQbg/IO/0``). The server's are read
from ``/proc`` as :func:`~uvrpc.bench.cpuprobe.cpu_seconds` reads them; the
client's total from ``getrusage``, which also counts the threads that ended before
the reading after the window (raw pyzmq's clients end their context, and its I/O
thread, as they return), shown in the split as :data:`ENDED`.

``--stream server|client|bidi`` measures that stream case of the bench instead
(the system's stream server, ``--streams``, and its stream client, with the
bench's window), per item; ``--payload`` sets the bytes of a call or an item.

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
import resource
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from ..wire.limits import STREAM_WINDOW
from .cpuprobe import cpu_seconds_by_thread
from .runner import WORKER
from .spec import ClientSpec
from .systems import SYSTEMS, System
from .worker import resolve

__all__ = ["ENDED", "STREAMS", "main", "measure"]

PAYLOAD = 64
"""Bytes echoed per call by default, as in the bench's unary cases."""
ENDED = "ended"
"""The client's threads that ended during the measurement (ZeroMQ's I/O thread of
a client that terminates its own context), in the split by thread."""
STREAMS = ("server", "client", "bidi")
"""The stream cases, as ``uvrpc bench`` names them (``server-stream``, …)."""
WARMUP = 0.3
"""Seconds of the settling run before each measurement."""


def measure(
    system: System,
    inflight: int,
    duration: float,
    *,
    stream: str = "",
    payload: int = PAYLOAD,
) -> dict[str, Any]:
    """One measurement of ``system``: its server started, settled and stopped.

    With ``stream`` (one of :data:`STREAMS`), the system's stream case of that
    name, its calls the items of the stream."""
    command = [*WORKER, "server", system.name, "--bind", "tcp://127.0.0.1:*"]
    if stream:
        command.append("--streams")
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            found = re.search(r"\S+://\S+", server.stdout.readline())
            if found is None:
                raise RuntimeError(f"the {system.name} server did not start")
            endpoint = found.group(0)
            client = resolve(
                f"{system.streams}:run_client" if stream else system.client
            )

            def spec(seconds: float) -> ClientSpec:
                return ClientSpec(
                    endpoint, payload, inflight, 0.0, seconds, stream=stream
                )

            client(spec(WARMUP), system.loop)
            client_before = cpu_seconds_by_thread(os.getpid())
            client_total = _own_cpu_seconds()
            server_before = cpu_seconds_by_thread(server.pid)
            result = client(spec(duration), system.loop)
            client_total = _own_cpu_seconds() - client_total
            client_threads = _used(client_before, cpu_seconds_by_thread(os.getpid()))
            server_threads = _used(server_before, cpu_seconds_by_thread(server.pid))
            # A client that closes a ZeroMQ context of its own (raw pyzmq's)
            # ends its I/O thread before the reading after it: /proc no longer
            # lists that thread, but the process's total still holds its time.
            client_threads[ENDED] = max(
                0.0, client_total - sum(client_threads.values())
            )
        finally:
            server.terminate()
            server.wait(10)
    calls: int = max(1, result.calls)

    def per_call(seconds: float) -> float:
        return round(seconds / calls * 1e6, 2)

    row: dict[str, Any] = {"system": system.name}
    if stream:
        row["stream"] = stream
    row |= {
        "payload": payload,
        "inflight": inflight,
        "calls_per_s": round(result.calls / result.seconds),
        "client_us": per_call(sum(client_threads.values())),
        "server_us": per_call(sum(server_threads.values())),
        "client_threads_us": {k: per_call(v) for k, v in client_threads.items()},
        "server_threads_us": {k: per_call(v) for k, v in server_threads.items()},
    }
    return row


def _own_cpu_seconds() -> float:
    """CPU seconds this process used so far, every thread it ever had counted."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each thread name used between two readings."""
    return {name: after[name] - before.get(name, 0.0) for name in sorted(after)}


def main(argv: Sequence[str] | None = None) -> int:
    """Measure each system given, round after round; print a JSON line each."""
    parser = argparse.ArgumentParser(prog="python -m uvrpc.bench.processcpu")
    parser.add_argument("systems", nargs="+", choices=sorted(SYSTEMS), metavar="SYSTEM")
    parser.add_argument(
        "--inflight",
        type=int,
        help="calls in flight (default 8); a stream keeps the bench's window",
    )
    parser.add_argument("--duration", type=float, default=1.5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--stream", choices=STREAMS, default="", help="measure this stream case"
    )
    parser.add_argument(
        "--payload", type=int, default=PAYLOAD, help="bytes of a call or an item"
    )
    args = parser.parse_args(argv)
    if args.stream and args.inflight is not None:
        parser.error("--inflight: a stream keeps the bench's window of items")
    if args.stream:
        inflight = STREAM_WINDOW
    else:
        inflight = 8 if args.inflight is None else args.inflight
    if (
        (args.inflight is not None and args.inflight < 1)
        or args.duration <= 0
        or args.rounds < 1
    ):
        parser.error("--inflight and --rounds must be at least 1, --duration above 0")
    if args.payload < 0:
        parser.error("--payload must not be negative")
    for name in args.systems:
        system = SYSTEMS[name]
        if not system.available:
            parser.error(
                f"{name} needs {system.requires}, which is not installed "
                "(pip install 'uvrpc[bench]')"
            )
        if args.stream and system.streams is None:
            parser.error(f"{name} has no stream cases")
        if not args.stream and inflight > system.max_inflight:
            parser.error(
                f"{name} keeps at most {system.max_inflight} call(s) in flight"
            )
    for _ in range(args.rounds):
        for name in args.systems:
            row = measure(
                SYSTEMS[name],
                inflight,
                args.duration,
                stream=args.stream,
                payload=args.payload,
            )
            print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
