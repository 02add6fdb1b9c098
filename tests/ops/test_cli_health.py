"""``uvrpc health``: one line and grpc_health_probe's exit status for each case."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zmq
from conformance_server import Conformance
from conftest import RunningServer, server_thread

import uvrpc
from uvrpc.cli import health, main

SERVICE = "conformance.Conformance"


@pytest.fixture
def running() -> Iterator[RunningServer]:
    with server_thread(Conformance()) as server:
        yield server


def on_server(running: RunningServer, change: Callable[[uvrpc.Server], None]) -> None:
    """Run ``change`` on the server's loop, and wait until it has run."""
    server, loop = running.server, running.loop
    assert server is not None and loop is not None

    async def apply() -> None:
        change(server)

    asyncio.run_coroutine_threadsafe(apply(), loop).result(10)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``uvrpc health`` in this process: its status, stdout and stderr."""
    status = main(["health", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_serving_exits_0(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, running.endpoint) == (0, "status: SERVING\n", "")
    assert run(capsys, running.endpoint, SERVICE) == (0, "status: SERVING\n", "")


def test_not_serving_exits_4(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    on_server(running, lambda server: server.set_serving(SERVICE, False))
    assert run(capsys, running.endpoint, SERVICE) == (4, "status: NOT_SERVING\n", "")
    # The server as a whole still serves.
    assert run(capsys, running.endpoint) == (0, "status: SERVING\n", "")
    on_server(running, lambda server: server.set_serving("", False))
    assert run(capsys, running.endpoint) == (4, "status: NOT_SERVING\n", "")


def test_an_unknown_service_exits_4(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, running.endpoint, "nope.Nope") == (
        4,
        "status: SERVICE_UNKNOWN\n",
        "",
    )


def test_nothing_listening_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = f"ipc://{tmp_path / 'nobody.sock'}"
    status, out, err = run(capsys, endpoint, "--timeout", "0.2")
    assert (status, out) == (2, "")
    assert err == f"uvrpc health: failed to connect to {endpoint} within 0.2 s\n"


def test_a_server_that_never_answers_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A bare ROUTER: the connection is made, the health call is never answered.
    with zmq.Context() as context, context.socket(zmq.ROUTER) as silent:
        silent.linger = 0
        endpoint = f"ipc://{tmp_path / 'silent.sock'}"
        silent.bind(endpoint)
        status, out, err = run(capsys, endpoint, "--timeout", "0.5")
    assert (status, out) == (3, "")
    # The --timeout given, not what connecting left of it ("within 0.49882 s").
    assert err == (
        "uvrpc health: health rpc failed: DEADLINE_EXCEEDED: no reply within "
        "0.5 s (--timeout, connecting included)\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: ENDPOINT"),
        (["nonsense"], "nonsense"),
        (["tcp://127.0.0.1:1", "--timeout", "0"], "--timeout must be more than 0"),
        (["tcp://127.0.0.1:1", "--timeout", "soon"], "invalid float value: 'soon'"),
        (["tcp://127.0.0.1:1", "--curve-server-key", "short"], "40 characters"),
        (["tcp://127.0.0.1:1", "--curve-server-key", "missing.key"], "missing.key"),
        (["tcp://127.0.0.1:1", "--curve-secret", "x"], "needs --curve-server-key"),
    ],
)
def test_bad_arguments_exit_1(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, *argv)
    assert (status, out) == (1, "")
    assert message in err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("uvrpc health: error: ")


def test_over_curve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server_keys = uvrpc.security.generate_keypair()
    server_keys.save(tmp_path, "server")
    client_keys = uvrpc.security.generate_keypair()
    client_keys.save(tmp_path, "client")
    security = uvrpc.security.ServerSecurity(server_keys, allow=[client_keys.public])
    with server_thread(Conformance(), security=security) as running:
        assert run(
            capsys, running.endpoint,
            "--curve-server-key", str(tmp_path / "server.key"),
            "--curve-secret", str(tmp_path / "client.key_secret"),
        ) == (0, "status: SERVING\n", "")  # fmt: skip
        # A key the server does not admit: the handshake never completes.
        # Z85 text may begin with '-': written with '=', as a user must.
        status, out, err = run(
            capsys, running.endpoint, "--timeout", "0.5",
            f"--curve-server-key={server_keys.public}",
        )  # fmt: skip
        assert (status, out) == (2, "")
        assert "within 0.5 s: the server refused this client's CURVE key" in err
        # No CURVE on this side: the server closes each handshake.
        status, out, err = run(capsys, running.endpoint, "--timeout", "0.5")
        assert (status, out) == (2, "")
        assert "within 0.5 s: the handshake failed: " in err


def test_a_refused_handshake_fails_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server that refuses the client's CURVE key will refuse it again: the
    probe exits 2 with the refusal at once, not when ``--timeout`` runs out (an
    exec probe's own timeout, often shorter, would kill it without the reason)."""
    server_keys = uvrpc.security.generate_keypair()
    security = uvrpc.security.ServerSecurity(server_keys, allow=[])
    with server_thread(Conformance(), security=security) as running:
        began = time.monotonic()
        status, out, err = run(
            capsys, running.endpoint, "--timeout", "30",
            f"--curve-server-key={server_keys.public}",
        )  # fmt: skip
        assert (status, out) == (2, "")
        assert "the server refused this client's CURVE key" in err
        assert time.monotonic() - began < 10


class _Lines(io.StringIO):
    """An output that tells when a whole line was written."""

    def __init__(self) -> None:
        super().__init__()
        self.wrote = threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        if "\n" in text:  # print() writes the text and its end apart
            self.wrote.set()
        return written


def test_watch_prints_each_change_until_the_stream_fails(tmp_path: Path) -> None:
    async def body() -> None:
        server = uvrpc.Server(Conformance())
        await server.start()
        endpoint = server.bind(f"ipc://{tmp_path / 'health.sock'}")
        out, err = _Lines(), io.StringIO()
        probe = asyncio.ensure_future(
            asyncio.to_thread(health.main, [endpoint, SERVICE, "--watch"], out, err)
        )
        assert await asyncio.to_thread(out.wrote.wait, 10)
        out.wrote.clear()
        server.set_serving(SERVICE, False)
        assert await asyncio.to_thread(out.wrote.wait, 10)
        # Closed without a grace: the connection drops, and the stream with it.
        await server.close()
        assert await probe == 3
        assert out.getvalue() == "status: SERVING\nstatus: NOT_SERVING\n"
        assert err.getvalue() == (
            "uvrpc health: health rpc failed: UNAVAILABLE: the connection dropped "
            "during uvrpc.Health.watch\n"
        )

    asyncio.run(body())
