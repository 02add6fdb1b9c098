"""What a peer can make a server hold, and that the server gives it back.

libzmq buffers the frames of a message until its last one arrives, and counts only
whole messages against the high-water mark; ``MAXMSGSIZE`` bounds each frame, not
their number. So a peer that sends frames with MORE set and never a last one grows
the server for as long as it keeps sending (``docs/limits.md``, "An unfinished
message"). No libzmq client can do it (libzmq sends nothing of a message before its
last frame), so these tests speak ZMTP 3.0 over a plain TCP socket.

The server runs in a process of its own (``tests/memory_process.py``), whose
resident size is read from ``/proc``.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import zmq
from calculator import CalculatorSyncClient
from raw_frames import request

from uvrpc.security import ClientSecurity, Keypair

MIB = 1 << 20
ECHO = "echo.Echo.echo"
SERVER_PROCESS = Path(__file__).resolve().parents[1] / "memory_process.py"
FRAME = 256
"""Small frames: glibc keeps their memory in its arenas once freed."""
UNFINISHED = 24 * MIB
"""What the peer sends of its one unfinished message (libzmq holds about twice
that in frames this small)."""
SLACK = 16 * MIB
"""How far above its start a server's resident size may stay once the peer left."""

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="reads resident sizes in /proc"
)


@contextmanager
def server_process(*options: str) -> Iterator[tuple[int, list[str]]]:
    """Run the server process; yield its pid and the lines it printed."""
    with subprocess.Popen(
        [sys.executable, str(SERVER_PROCESS), *options],
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline().strip()]
            if "--curve" in options:
                lines.append(process.stdout.readline().strip())
            assert lines[0].startswith("tcp://"), lines
            yield process.pid, lines
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def rss(pid: int) -> int:
    """Resident set size of a process, in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    (line,) = [line for line in status.splitlines() if line.startswith("VmRSS:")]
    return int(line.split()[1]) * 1024


def settle(pid: int, below: int, timeout: float = 10.0) -> int:
    """Wait until the resident size is below ``below``; return it then."""
    deadline = time.monotonic() + timeout
    size = rss(pid)
    while size >= below and time.monotonic() < deadline:
        time.sleep(0.05)
        size = rss(pid)
    return size


def zmtp_frame(data: bytes, more: bool) -> bytes:
    """One ZMTP 3.0 message frame (a long one: an 8-byte size)."""
    return bytes([0x03 if more else 0x02]) + struct.pack(">Q", len(data)) + data


def zmtp_peer(endpoint: str) -> socket.socket:
    """A TCP connection that has said hello as a NULL-mechanism DEALER.

    Raises:
        ConnectionError: the server closed the connection during the greeting.
    """
    host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    try:
        greeting = b"\xff" + bytes(8) + b"\x7f\x03\x00" + b"NULL".ljust(20, b"\0")
        sock.sendall(greeting + bytes(32))
        peer = b""
        while len(peer) < 64:
            chunk = sock.recv(64 - len(peer))
            if not chunk:
                raise ConnectionError("the server closed the connection")
            peer += chunk
        ready = b"\x05READY" + b"\x0bSocket-Type" + struct.pack(">I", 6) + b"DEALER"
        sock.sendall(bytes([0x04, len(ready)]) + ready)
    except BaseException:
        sock.close()
        raise
    return sock


def send_unfinished(sock: socket.socket, total: int) -> None:
    """Send ``total`` bytes of one message in frames that all say MORE."""
    sock.sendall(zmtp_frame(b"", more=True))  # the delimiter
    frames = zmtp_frame(b"u" * FRAME, more=True) * (MIB // FRAME)
    for _ in range(total // MIB):
        sock.sendall(frames)


def test_an_unfinished_message_is_held_while_its_peer_stays_and_returned_after() -> (
    None
):
    """What remains: the server holds every frame of the unfinished message while
    its peer stays connected (and serves other callers meanwhile). Once the peer
    leaves, libzmq frees the frames and the server gives the memory back, within
    a bounded distance of where it started."""
    with server_process() as (pid, (endpoint,)):
        with CalculatorSyncClient(endpoint, timeout=10) as calc:
            assert calc.add(a=1, b=1) == 2
            start = rss(pid)
            for _ in range(2):  # again: the first freeing can raise glibc's bar
                bomb = zmtp_peer(endpoint)
                try:
                    send_unfinished(bomb, UNFINISHED)
                    deadline = time.monotonic() + 10
                    while rss(pid) < start + UNFINISHED // 2:
                        assert time.monotonic() < deadline, "the frames never arrived"
                        time.sleep(0.05)
                    assert calc.add(a=2, b=3) == 5  # others are served meanwhile
                finally:
                    bomb.close()
                after = settle(pid, start + SLACK)
                assert after < start + SLACK, f"{(after - start) / MIB:.1f} MiB kept"
                assert calc.add(a=3, b=4) == 7


def test_a_flood_of_requests_leaves_the_server_near_its_start() -> None:
    """A caller that sends far more than its share and never reads, then leaves:
    the server is back within a bounded distance of where it started."""
    with server_process() as (pid, (endpoint,)):
        with CalculatorSyncClient(endpoint, timeout=10) as calc:
            assert calc.add(a=1, b=1) == 2
            start = rss(pid)
            flood: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
            flood.setsockopt(zmq.LINGER, 0)
            flood.setsockopt(zmq.RCVHWM, 1)
            flood.setsockopt(zmq.SNDHWM, 0)
            flood.connect(endpoint)
            try:
                for call_id in range(1, 3001):
                    flood.send_multipart(request(call_id, ECHO, {"1": bytes(16384)}))
                assert calc.add(a=2, b=3) == 5
            finally:
                flood.close()
            after = settle(pid, start + SLACK)
            assert after < start + SLACK, f"{(after - start) / MIB:.1f} MiB kept"
            assert calc.add(a=3, b=4) == 7


def test_a_peer_that_is_not_admitted_cannot_start_a_message() -> None:
    """Over CURVE, a peer without an admitted key never gets as far as a message:
    the connection ends at the handshake, and the server does not grow."""
    with server_process("--curve") as (pid, (endpoint, keys)):
        server_public, client_public, client_secret = keys.split()
        admitted = ClientSecurity(server_public, Keypair(client_public, client_secret))
        with CalculatorSyncClient(endpoint, timeout=10, security=admitted) as calc:
            assert calc.add(a=1, b=1) == 2
            start = rss(pid)
            with pytest.raises(OSError):  # closed at the greeting, or while sending
                bomb = zmtp_peer(endpoint)
                try:
                    send_unfinished(bomb, UNFINISHED)
                finally:
                    bomb.close()
            assert rss(pid) < start + SLACK
            assert calc.add(a=2, b=3) == 5
