"""A broker, two servers and a client on hosts of their own, and links cut under
load (``docs/reliability.md``, "Across hosts").

Each host is a Linux network namespace with one address, its veth cable plugged
into a bridge in a namespace of its own (the switch). Pulling a host's cable is
setting the switch's end of it down: the host's own interface stays up with its
address and routes, and what it sends is lost, as in a partition; nothing closes a
connection, so only heartbeats notice. Making namespaces needs root and the ``ip``
command; without them the test is skipped, saying which is missing.

Every process runs ``tests/netns_process.py`` with this interpreter and
``PYTHONPATH``; the namespaces are named after this process's pid, so parallel
runs cannot collide, and are deleted (their links with them) even when the test
fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
SUBNET = "10.77.0"
"""The hosts' addresses are ``SUBNET.1`` to ``SUBNET.4``; they exist only inside
the namespaces the test makes."""

WAIT = 20.0
"""Seconds any one condition may take before the test fails (a bound, not a
measure: each is met within about a heartbeat's timeout)."""


@dataclass
class Host:
    """A process on one host, and the lines it printed so far (read by a thread)."""

    name: str
    process: subprocess.Popen[str]
    lines: list[list[str]] = field(default_factory=list)

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.split())

    def first_lines(self, count: int) -> list[str]:
        wait_for(lambda: len(self.lines) >= count, f"{self.name} to start")
        return [" ".join(line) for line in self.lines[:count]]

    def starts(self, after: float = 0.0) -> dict[int, float]:
        """The calls whose handler started here (after ``after``): number, time."""
        return {
            int(line[1]): float(line[2])
            for line in list(self.lines)
            if line[0] == "start" and float(line[2]) > after
        }


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.02)


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


class Network:
    """The namespaces of one test: a switch, and hosts plugged into it."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.switch = f"{tag}sw"
        self.namespaces: list[str] = []
        self.hosts: list[Host] = []

    def make(self, names: list[str]) -> dict[str, str]:
        """A namespace per name, each with its address; the addresses by name."""
        self.add_namespace(self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")
        addresses = {}
        for n, name in enumerate(names, 1):
            namespace = self.namespace(name)
            self.add_namespace(namespace)
            inside, outside = f"{self.tag}{name}", f"{self.tag}{name}x"
            # Made inside the namespaces: the host's own has no new link.
            ip(
                "-n",
                namespace,
                "link",
                "add",
                inside,
                "type",
                "veth",
                "peer",
                "name",
                outside,
                "netns",
                self.switch,
            )
            ip("-n", self.switch, "link", "set", outside, "master", "br0", "up")
            address = addresses[name] = f"{SUBNET}.{n}"
            ip("-n", namespace, "addr", "add", f"{address}/24", "dev", inside)
            ip("-n", namespace, "link", "set", inside, "up")
            ip("-n", namespace, "link", "set", "lo", "up")
        return addresses

    def namespace(self, name: str) -> str:
        return f"{self.tag}{name}"

    def add_namespace(self, namespace: str) -> None:
        ip("netns", "add", namespace)
        self.namespaces.append(namespace)

    def cable(self, name: str, up: bool) -> None:
        """Plug the host's cable into the switch, or pull it."""
        port = f"{self.tag}{name}x"
        ip("-n", self.switch, "link", "set", port, "up" if up else "down")

    def run(self, name: str, *args: str) -> Host:
        command = ["ip", "netns", "exec", self.namespace(name), sys.executable]
        process = subprocess.Popen(
            [*command, "netns_process.py", *args],
            cwd=TESTS,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        host = Host(name, process)
        self.hosts.append(host)
        threading.Thread(target=host.read, daemon=True).start()
        return host

    def tear_down(self) -> None:
        for host in self.hosts:
            if host.process.poll() is None:
                host.process.kill()
            host.process.wait(timeout=30)
            assert host.process.stdout is not None
            host.process.stdout.close()
        for namespace in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", namespace], timeout=30, check=False)


@pytest.fixture
def network() -> Iterator[Network]:
    if shutil.which("ip") is None:
        pytest.skip("needs the ip command (iproute2) to make network namespaces")
    if os.geteuid() != 0:
        pytest.skip("needs root to make network namespaces")
    net = Network(f"uv{os.getpid()}")
    probe = subprocess.run(
        ["ip", "netns", "add", net.switch], capture_output=True, text=True
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot make a network namespace: {probe.stderr.strip()}")
    subprocess.run(["ip", "netns", "del", net.switch], check=True, timeout=30)
    try:
        yield net
    finally:
        net.tear_down()


def outcomes(
    client: Host, after: float, until: float = float("inf")
) -> list[list[str]]:
    """The client's ``ok``/``err`` lines that ended in ``(after, until]``."""
    return [
        line
        for line in list(client.lines)
        if line[0] in ("ok", "err") and after < float(line[-1]) <= until
    ]


def errors(client: Host) -> dict[int, tuple[str, float]]:
    return {
        int(line[1]): (line[2], float(line[3]))
        for line in list(client.lines)
        if line[0] == "err"
    }


def test_calls_survive_a_cut_link_to_a_server_and_to_the_broker(
    network: Network,
) -> None:
    addresses = network.make(["b", "s1", "s2", "c"])
    broker = network.run("b", "broker", addresses["b"])
    frontend, backend = broker.first_lines(2)
    assert frontend.startswith(f"tcp://{addresses['b']}:")
    s1 = network.run("s1", "server", backend)
    s2 = network.run("s2", "server", backend)
    client = network.run("c", "client", frontend, "8")
    wait_for(lambda: len(s1.starts()) >= 20 and len(s2.starts()) >= 20, "load")

    # A server's cable pulled: the calls it had fail with UNAVAILABLE once the
    # broker's heartbeat finds it gone, and the other server takes every call.
    cut = time.time()
    network.cable("s1", up=False)
    wait_for(
        lambda: any(line[0] == "err" for line in outcomes(client, cut)),
        "the cut server's calls to fail",
    )
    noticed = min(float(line[3]) for line in outcomes(client, cut) if line[0] == "err")
    wait_for(
        lambda: (
            len(s2.starts(after=noticed)) >= 40
            and sum(line[0] == "ok" for line in outcomes(client, noticed)) >= 40
        ),
        "the other server to take the calls",
    )
    failed = [line for line in outcomes(client, cut) if line[0] == "err"]
    assert {line[2] for line in failed} == {"UNAVAILABLE"}
    print(
        f"server cut: {len(failed)} calls failed, {noticed - cut:.2f} s after the "
        f"cut (heartbeat timeout 1 s); s1 started {len(s1.starts(after=cut))} since"
    )
    # Plugged back in, it reconnects, says READY and takes calls again.
    back = time.time()
    network.cable("s1", up=True)
    wait_for(lambda: len(s1.starts(after=back)) >= 20, "the server to rejoin")

    # The broker's own cable pulled: the client's heartbeat finds the broker gone
    # and fails its pending calls; plugged back in, calls succeed again.
    cut = time.time()
    network.cable("b", up=False)
    wait_for(
        lambda: any(line[0] == "err" for line in outcomes(client, cut)),
        "the client to notice the broker is gone",
    )
    back = time.time()
    network.cable("b", up=True)
    wait_for(
        lambda: sum(line[0] == "ok" for line in outcomes(client, back + 1)) >= 40,
        "calls to succeed through the broker again",
    )
    during = outcomes(client, cut, back)
    assert {line[2] for line in during if line[0] == "err"} == {"UNAVAILABLE"}
    print(f"broker cut: {sum(line[0] == 'err' for line in during)} calls failed")

    # Nothing ran after its caller saw an error (the same host, the same clock),
    # and no call failed at its deadline.
    failures = errors(client)
    assert {status for status, _ in failures.values()} == {"UNAVAILABLE"}
    late = {
        n: (started, failures[n][1])
        for server in (s1, s2)
        for n, started in server.starts().items()
        if n in failures and started > failures[n][1]
    }
    assert late == {}, f"handlers started after their caller failed: {late}"
