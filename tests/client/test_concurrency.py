"""10,000 calls in flight at once from 4 client processes: none lost or duplicated."""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
from typing import Any

from conftest import server_thread
from echo import EchoServer
from loadgen import run_client

CLIENTS = 4
CALLS_PER_CLIENT = 2_500
TOTAL = CLIENTS * CALLS_PER_CLIENT


class GatedEcho(EchoServer):
    """Holds every reply until all calls have arrived: proves they were in flight."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.arrived = 0
        self.all_arrived = asyncio.Event()

    async def echo(self, *, data: memoryview) -> memoryview:
        self.arrived += 1
        if self.arrived == self.expected:
            self.all_arrived.set()
        await self.all_arrived.wait()
        return data


def test_ten_thousand_calls_in_flight_from_four_processes() -> None:
    service = GatedEcho(TOTAL)
    spawn = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[dict[str, Any]] = spawn.Queue()
    with server_thread(service) as server:
        # Spawned children inherit sys.path, so they import the generated module
        # and loadgen the way the tests do.
        processes = [
            spawn.Process(
                target=run_client,
                args=(server.endpoint, index, CALLS_PER_CLIENT, results),
            )
            for index in range(CLIENTS)
        ]
        for process in processes:
            process.start()
        try:
            summaries = [results.get(timeout=90) for _ in processes]
        except queue.Empty:
            raise AssertionError(
                f"clients did not finish; server saw {server.stats}"
            ) from None
        finally:
            for process in processes:
                process.join(10)
                if process.is_alive():
                    process.kill()
                    process.join()
        stats = server.stats
    assert service.arrived == TOTAL
    assert sorted(s["client"] for s in summaries) == list(range(CLIENTS))
    for summary in summaries:
        assert summary["sent"] == CALLS_PER_CLIENT
        assert summary["matched"] == CALLS_PER_CLIENT, summary
        assert summary["unmatched_replies"] == 0, summary
    assert stats.received == TOTAL
    assert stats.replied == TOTAL
    assert stats.rejected == stats.dropped == stats.undeliverable == 0
    assert all(process.exitcode == 0 for process in processes)
