"""The first deadlines of a fresh process are as punctual as later ones.

A fresh process has never run a full garbage collection: the first one walks every
object its imports made (pydantic, zmq, the generated modules), and it used to come
during the first burst of calls, holding their deadlines up by 10 to 150 ms on a
loaded host. The first channel runs it when it is made, before any deadline is
running. What is asserted is that cause, not a timing: in a fresh process, no full
collection runs between the first call of a burst and its last expiry.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]

BURST = """
import asyncio, gc, json, sys, time
sys.path.insert(0, {tests!r})
import uvrpc
from conftest import server_thread
from feed import FeedClient
from feed_server import Feed

full = []
burst = {{"on": False}}

def watch(phase, info):
    if phase == "start" and info["generation"] == 2 and burst["on"]:
        full.append(time.monotonic())

gc.callbacks.append(watch)
with server_thread(Feed()) as running:
    channel = uvrpc.{channel}(running.endpoint)
    collected_at_open = gc.get_stats()[2]["collections"]

    async def one(client):
        try:
            await client.ping(n=-50, timeout=0.1)  # answered after 5 s
        except uvrpc.DeadlineExceeded:
            return True
        return False

    async def main():
        client = FeedClient(channel)
        assert await channel.ready(10)
        burst["on"] = True
        expired = await asyncio.gather(*(one(client) for _ in range(200)))
        burst["on"] = False
        await channel.close()
        return sum(expired)

    if {channel!r} == "Channel":
        expired = asyncio.run(main())
    else:
        channel.close()
        expired = 200
print(json.dumps({{"full_in_burst": len(full), "collected_at_open": collected_at_open,
                  "expired": expired}}))
"""


def fresh_process(channel: str) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, "-c", BURST.format(tests=str(HERE), channel=channel)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, int] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_no_full_collection_runs_during_the_first_burst() -> None:
    report = fresh_process("Channel")
    assert report["expired"] == 200
    assert report["collected_at_open"] >= 1
    assert report["full_in_burst"] == 0


def test_a_blocking_channel_settles_the_heap_when_made_too() -> None:
    assert fresh_process("SyncChannel")["collected_at_open"] >= 1
