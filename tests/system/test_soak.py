"""Soak: many calls from 8 client processes against one server process. Every call
is answered exactly once with its own reply, and the server's memory stays flat.

The default suite runs a short version;
``pytest -m slow tests/system/test_soak.py`` runs the 1,000,000 calls whose
figures ``docs/reliability.md`` records.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parents[1]
CLIENTS = 8


def rss_kib(pid: int) -> int:
    """A process's resident set size, from ``/proc``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def soak(tmp_path: Path, calls_per_client: int) -> dict[str, Any]:
    """Run the soak; return the clients' reports, the server's counters and the
    server's RSS over time (sampled every 0.2 s)."""
    endpoint = f"ipc://{tmp_path / 'soak.sock'}"
    script = str(HERE / "soak_process.py")
    server = subprocess.Popen(
        [sys.executable, script, "serve", "--bind", endpoint],
        stdout=subprocess.PIPE,
        text=True,
    )
    clients: list[subprocess.Popen[str]] = []
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            samples.append(rss_kib(server.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == endpoint
        sampler.start()
        started = time.monotonic()
        for index in range(CLIENTS):
            base = index * calls_per_client
            clients.append(
                subprocess.Popen(
                    [sys.executable, script, "client", "--connect", endpoint]
                    + ["--calls", str(calls_per_client), "--base", str(base)],
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        reports = []
        for process in clients:
            out, _ = process.communicate(timeout=1800)
            assert process.returncode == 0
            reports.append(json.loads(out))
        elapsed = time.monotonic() - started
        done.set()
        sampler.join(5)
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=30)
        stats = json.loads(out.strip().splitlines()[-1])
    finally:
        done.set()
        for process in [*clients, server]:
            if process.poll() is None:
                process.kill()
                process.wait(10)
    return {"clients": reports, "server": stats, "rss": samples, "elapsed": elapsed}


def check_exactly_once(result: dict[str, Any], calls_per_client: int) -> None:
    total = CLIENTS * calls_per_client
    for report in result["clients"]:
        assert report == {
            "calls": calls_per_client,
            "answered": calls_per_client,
            "mismatched": 0,
            "failed": 0,
            "dropped_replies": 0,
        }
    server = result["server"]
    assert server["received"] == server["replied"] == total
    assert server["rejected"] == server["dropped"] == server["undeliverable"] == 0


def test_soak_short(tmp_path: Path) -> None:
    calls = 2_500
    result = soak(tmp_path, calls)
    check_exactly_once(result, calls)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_soak_a_million_calls(tmp_path: Path) -> None:
    calls = 125_000
    result = soak(tmp_path, calls)
    check_exactly_once(result, calls)
    rss = result["rss"]
    warm = rss[len(rss) // 10]  # after a tenth of the run
    peak_after = max(rss[len(rss) // 10 :])
    total = CLIENTS * calls
    print(
        f"\n{total:,} calls in {result['elapsed']:.1f} s "
        f"({total / result['elapsed']:,.0f} calls/s); server RSS after warm-up "
        f"{warm:,} KiB, highest after {peak_after:,} KiB, last {rss[-1]:,} KiB"
    )
    assert peak_after <= warm * 1.10
