"""An echo server in a process of its own, which can measure its Python heap.

``python tests/echo_process.py --bind ENDPOINT [--trace-from N --trace-calls M
--report FILE]`` prints the bound endpoint, then serves until terminated. With
``--trace-from``, the handler of call N starts :mod:`tracemalloc`; each later
handler notes the peak of the traced heap since the previous one, above where it
was then — the most one call (its reply, the next request) had allocated at once —
and the handler of call N + M writes those M figures and how much the heap grew
over them, as JSON, to FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "echo"))

from echo import EchoServer  # noqa: E402

import uvrpc  # noqa: E402


class TracedEcho(EchoServer):
    """Echoes without a copy; traces the heap over a window of calls."""

    def __init__(self, trace_from: int, trace_calls: int, report: Path | None):
        self.calls = 0
        self.trace_from, self.trace_calls, self.report = trace_from, trace_calls, report
        self.start = self.last = 0
        self.peaks: list[int] = []

    async def echo(self, *, data: memoryview) -> memoryview:
        self.calls += 1
        if self.report is None or self.calls < self.trace_from:
            return data
        if self.calls == self.trace_from:
            tracemalloc.start()
            self.start = self.last = tracemalloc.get_traced_memory()[0]
        elif self.calls <= self.trace_from + self.trace_calls:
            current, peak = tracemalloc.get_traced_memory()
            self.peaks.append(peak - self.last)
            tracemalloc.reset_peak()
            self.last = current
            if len(self.peaks) == self.trace_calls:
                tracemalloc.stop()
                figures = {"peaks": self.peaks, "growth": current - self.start}
                self.report.write_text(json.dumps(figures))
        return data


async def serve(args: argparse.Namespace) -> None:
    echo = TracedEcho(args.trace_from, args.trace_calls, args.report)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with uvrpc.Server(echo) as server:
        print(server.bind(args.bind), flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bind", required=True)
    parser.add_argument("--trace-from", type=int, default=0)
    parser.add_argument("--trace-calls", type=int, default=0)
    parser.add_argument("--report", type=Path)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
