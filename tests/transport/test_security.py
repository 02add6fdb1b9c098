"""CURVE: allowed clients are served, others get a clear error, keys round-trip.

Each server is a secured :class:`uvrpc.Server` on loopback TCP (``inproc://`` skips
the handshake, so a secured server refuses to bind it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import server_thread
from feed import FeedClient, FeedSyncClient
from feed_server import Feed

import uvrpc
import uvrpc.server.server
from uvrpc.security import (
    ClientSecurity,
    Keypair,
    ServerSecurity,
    generate_keypair,
    load_keypair,
    load_public_keys,
)

ROOT = Path(__file__).resolve().parents[2]
SERVER = generate_keypair()
ALLOWED = generate_keypair()


def secured(allow: list[str] | None = None) -> ServerSecurity:
    return ServerSecurity(SERVER, allow=[ALLOWED.public] if allow is None else allow)


def test_an_allowed_client_is_served_async_and_blocking() -> None:
    with server_thread(Feed(), security=secured()) as server:
        security = ClientSecurity(SERVER.public, ALLOWED)

        async def main() -> None:
            async with FeedClient(server.endpoint, timeout=10, security=security) as c:
                assert await c.ping(n=7) == 7

        asyncio.run(main())
        with FeedSyncClient(server.endpoint, timeout=10, security=security) as c:
            assert c.ping(n=8) == 8


def test_allow_any_admits_an_ephemeral_client_key() -> None:
    with server_thread(Feed(), security=ServerSecurity(SERVER, allow="any")) as s:
        with FeedSyncClient(
            s.endpoint, timeout=10, security=ClientSecurity(SERVER.public)
        ) as c:
            assert c.ping(n=1) == 1


def test_unknown_and_plaintext_clients_fail_while_the_allowed_one_is_served() -> None:
    with server_thread(Feed(), security=secured()) as server:

        async def main() -> None:
            allowed = FeedClient(
                server.endpoint,
                timeout=10,
                security=ClientSecurity(SERVER.public, ALLOWED),
            )
            stranger = FeedClient(
                server.endpoint, timeout=10, security=ClientSecurity(SERVER.public)
            )
            plain = FeedClient(server.endpoint, timeout=10)
            async with allowed, stranger, plain:
                slow = asyncio.ensure_future(allowed.ping(n=-3))  # 0.3 s
                # The async channel's monitor sees the refused handshake: the
                # call fails at once rather than at its deadline.
                with pytest.raises(uvrpc.Unauthenticated, match="refused this client"):
                    await stranger.ping(n=1)
                # libzmq does not retry a refused key: later calls fail at once.
                with pytest.raises(uvrpc.Unauthenticated, match="not sending"):
                    await stranger.ping(n=1)
                # libzmq reports a mechanism mismatch, or only that the server
                # closed the connection, depending on which side saw it first.
                with pytest.raises(uvrpc.Unavailable, match="handshake failed"):
                    await plain.ping(n=1)
                assert await allowed.ping(n=2) == 2
                assert await slow == -3

        asyncio.run(main())
        assert server.stats.received == 2  # only the allowed client's calls

        # A blocking channel watches its connection too: the refused handshake
        # fails the call at once, not at its deadline.
        with FeedSyncClient(
            server.endpoint, timeout=10, security=ClientSecurity(SERVER.public)
        ) as stranger_sync:
            with pytest.raises(uvrpc.Unauthenticated, match="refused this client"):
                stranger_sync.ping(n=1)
        with FeedSyncClient(server.endpoint, timeout=10) as plain_sync:
            with pytest.raises(uvrpc.Unavailable, match="handshake failed"):
                plain_sync.ping(n=1)
        with FeedSyncClient(
            server.endpoint, timeout=10, security=ClientSecurity(SERVER.public, ALLOWED)
        ) as allowed_sync:
            assert allowed_sync.ping(n=3) == 3


def test_a_blocking_call_that_waits_for_ready_fails_at_once_when_refused() -> None:
    """With ``wait_for_ready=True`` a blocking call on a refused key (or CURVE on
    one side only) waited for its deadline, for ever without one, and then said
    only that it "could not be sent within 10 s"; an async call fails at once."""
    stranger = ClientSecurity(SERVER.public, generate_keypair())
    with server_thread(Feed(), security=secured()) as s:
        for security, error in (
            (stranger, uvrpc.Unauthenticated),
            (None, uvrpc.Unavailable),
        ):
            with FeedSyncClient(s.endpoint, timeout=10, security=security) as c:
                started = time.monotonic()
                with pytest.raises(error, match="not sending") as raised:
                    c.ping(n=1, wait_for_ready=True)
                assert time.monotonic() - started < 5, raised.value


def test_ready_answers_false_at_once_when_the_handshake_is_refused() -> None:
    """``await channel.ready()`` on a refused key waited for ever (libzmq does
    not retry it), and ``ready(timeout)`` for all of its timeout."""

    async def main(endpoint: str) -> None:
        for security in (ClientSecurity(SERVER.public, generate_keypair()), None):
            async with uvrpc.Channel(endpoint, security=security) as channel:
                # Waiting as the refusal arrives, then once it is known.
                assert await asyncio.wait_for(channel.ready(), 5) is False
                assert await asyncio.wait_for(channel.ready(30), 1) is False
                assert channel.handshake_failure is not None
        allowed = ClientSecurity(SERVER.public, ALLOWED)
        async with uvrpc.Channel(endpoint, security=allowed) as channel:
            assert await asyncio.wait_for(channel.ready(), 5) is True

    with server_thread(Feed(), security=secured()) as s:
        asyncio.run(main(s.endpoint))


def test_a_client_pinning_another_server_key_is_refused() -> None:
    with server_thread(Feed(), security=secured()) as server:

        async def main() -> None:
            wrong = ClientSecurity(generate_keypair().public, ALLOWED)
            async with FeedClient(server.endpoint, timeout=10, security=wrong) as c:
                with pytest.raises(uvrpc.Unavailable, match="public key"):
                    await c.ping(n=1)

        asyncio.run(main())


def test_a_server_with_an_allow_list_refuses_to_start_without_its_zap_handler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def no_authenticator(self: uvrpc.Server, security: ServerSecurity) -> None:
        # The authenticator is never started, but the check still runs.
        await self._check_zap(security)

    monkeypatch.setattr(uvrpc.Server, "_start_authenticator", no_authenticator)
    monkeypatch.setattr(uvrpc.server.server, "ZAP_CHECK_TIMEOUT", 0.2)

    async def main() -> None:
        server = uvrpc.Server(Feed(), security=secured())
        try:
            with pytest.raises(RuntimeError, match="without a working ZAP handler"):
                await server.start()
        finally:
            await server.close()

    asyncio.run(main())


def test_a_secured_server_binds_only_once_started_and_never_inproc() -> None:
    async def main() -> None:
        server = uvrpc.Server(Feed(), security=secured())
        with pytest.raises(RuntimeError, match="before binding"):
            server.bind("tcp://127.0.0.1:*")
        await server.start()
        try:
            with pytest.raises(ValueError, match="inproc"):
                server.bind("inproc://uvrpc-secured")
            assert server.bind("tcp://127.0.0.1:*").startswith("tcp://")
        finally:
            await server.close()

    asyncio.run(main())


def test_keys_are_checked() -> None:
    with pytest.raises(ValueError, match="40 characters"):
        Keypair("short", SERVER.secret)
    with pytest.raises(ValueError, match="does not belong"):
        Keypair(ALLOWED.public, SERVER.secret)
    with pytest.raises(TypeError, match="iterable of public keys"):
        ServerSecurity(SERVER, allow=ALLOWED.public)
    assert SERVER.secret not in repr(SERVER)


def test_a_key_pair_given_for_a_public_key_is_named() -> None:
    """Arguments swapped, or a key pair on an allow-list: said so, not as
    "object of type 'Keypair' has no len()"."""
    text = "a CURVE public key is Z85 text (str or bytes), not a "
    with pytest.raises(TypeError) as refused:
        ClientSecurity(ALLOWED, SERVER.public)  # type: ignore[arg-type]
    assert str(refused.value) == text + "Keypair: give its .public"
    with pytest.raises(TypeError) as refused:
        ServerSecurity(SERVER, allow=[ALLOWED])  # type: ignore[list-item]
    assert str(refused.value) == text + "Keypair: give its .public"
    with pytest.raises(TypeError) as refused:
        ClientSecurity(None)  # type: ignore[arg-type]
    assert str(refused.value) == text + "NoneType"


def test_the_other_end_s_security_or_a_bare_key_is_refused_as_it_is_given() -> None:
    """Not as "'ClientSecurity' object has no attribute 'allow'" (or 'apply')
    from inside the server or the channel."""
    client = ClientSecurity(SERVER.public)
    server_message = (
        "a server's security= is a uvrpc.ServerSecurity(keypair, allow=...), not "
    )
    client_message = (
        "a client's security= is a uvrpc.ClientSecurity(server_public_key), not "
    )
    with pytest.raises(TypeError) as refused:
        uvrpc.Server(Feed(), security=client)  # type: ignore[arg-type]
    assert str(refused.value) == server_message + "a ClientSecurity: that is a client's"
    for make in (uvrpc.Channel, uvrpc.SyncChannel, FeedClient, FeedSyncClient):
        with pytest.raises(TypeError) as refused:
            make("inproc://never-bound", security=secured())  # type: ignore[arg-type]
        assert str(refused.value) == (
            client_message + "a ServerSecurity: that is a server's"
        )
        with pytest.raises(TypeError) as refused:
            make("inproc://never-bound", security=SERVER.public)  # type: ignore[arg-type]
        assert str(refused.value) == (
            client_message + "str: a key goes into it, ClientSecurity(key)"
        )


def test_keygen_writes_keys_that_work(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "uvrpc", "keygen", "client", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    public_file, secret_file = tmp_path / "client.key", tmp_path / "client.key_secret"
    assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600
    keypair = load_keypair(secret_file)
    assert result.stdout.strip() == keypair.public
    assert load_public_keys(public_file) == {keypair.public}
    assert load_public_keys(tmp_path) == {keypair.public}
    with pytest.raises(ValueError, match="no secret key"):
        load_keypair(public_file)

    server_dir = tmp_path / "server"
    server_dir.mkdir()
    SERVER.save(server_dir, "server")
    server_keys = load_keypair(server_dir / "server.key_secret")
    assert server_keys == SERVER
    allow = load_public_keys(tmp_path)
    with server_thread(Feed(), security=ServerSecurity(server_keys, allow=allow)) as s:
        (server_public,) = load_public_keys(server_dir)
        security = ClientSecurity(server_public, keypair)
        with FeedSyncClient(s.endpoint, timeout=10, security=security) as c:
            assert c.ping(n=5) == 5


BROKER = generate_keypair()
WORKER = generate_keypair()


def test_a_secured_broker_admits_only_the_clients_and_servers_it_allows() -> None:
    asyncio.run(secured_broker())


async def secured_broker() -> None:
    from uvrpc.broker import Broker

    with Broker(
        ["tcp://127.0.0.1:*"],
        ["tcp://127.0.0.1:*"],
        security=ServerSecurity(BROKER, allow=[ALLOWED.public]),
        backend_security=ServerSecurity(BROKER, allow=[WORKER.public]),
    ) as broker:
        front, back = broker.frontends[0], broker.backends[0]
        async with (
            uvrpc.Server(Feed()) as stranger_server,
            uvrpc.Server(Feed()) as plain_server,
            uvrpc.Server(Feed()) as admitted,
        ):
            # A server with a key the backend does not allow, and one without
            # CURVE, are never admitted: neither is ever sent a call.
            stranger_server.connect(back, security=ClientSecurity(BROKER.public))
            plain_server.connect(back)
            admitted.connect(back, security=ClientSecurity(BROKER.public, WORKER))
            deadline = asyncio.get_running_loop().time() + 20
            while broker.servers < 1:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.01)
            allowed = FeedClient(
                front, timeout=10, security=ClientSecurity(BROKER.public, ALLOWED)
            )
            # A worker's key is no client's: each socket has its own allow-list.
            worker_key = FeedClient(
                front, timeout=10, security=ClientSecurity(BROKER.public, WORKER)
            )
            plain = FeedClient(front, timeout=10)
            async with allowed, worker_key, plain:
                replies = await asyncio.gather(*(allowed.ping(n=n) for n in range(20)))
                assert replies == list(range(20))
                with pytest.raises(uvrpc.Unauthenticated):
                    await worker_key.ping(n=1)
                with pytest.raises(uvrpc.Unavailable, match="handshake failed"):
                    await plain.ping(n=1)
            assert admitted.stats.replied == 20
            assert broker.servers == 1
            assert stranger_server.stats.received == plain_server.stats.received == 0


def test_a_server_the_broker_refuses_says_so_in_its_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server whose key the broker's backend does not admit (or that connects
    without CURVE, or pins another key) waited for calls that never came, and
    logged nothing: its operator could not tell why no call arrived."""
    asyncio.run(refused_servers_log(caplog))


async def refused_servers_log(caplog: pytest.LogCaptureFixture) -> None:
    from uvrpc.broker import Broker

    wrong = generate_keypair()
    closed = "the broker closed the connection"
    cases = [
        (ClientSecurity(BROKER.public, ALLOWED), ("refused this server's CURVE key",)),
        # Which end libzmq sees the mismatch at first decides the words.
        (None, (closed, "different security mechanisms")),
        (ClientSecurity(wrong.public, WORKER), (closed,)),
    ]
    caplog.set_level(logging.WARNING, logger="uvrpc.server")
    with Broker(
        ["tcp://127.0.0.1:*"],
        ["tcp://127.0.0.1:*"],
        security=ServerSecurity(BROKER, allow=[ALLOWED.public]),
        backend_security=ServerSecurity(BROKER, allow=[WORKER.public]),
    ) as broker:
        back = broker.backends[0]
        for security, why in cases:
            caplog.clear()
            async with uvrpc.Server(Feed()) as server:
                server.connect(back, security=security)
                deadline = asyncio.get_running_loop().time() + 10
                while not caplog.records:
                    assert asyncio.get_running_loop().time() < deadline, why
                    await asyncio.sleep(0.01)
            (record,) = caplog.records
            assert record.levelno == logging.WARNING
            text = record.getMessage()
            assert text.startswith("a broker refused this server's connection: ")
            assert back in text and any(words in text for words in why)


def test_a_deadline_after_an_accepted_handshake_does_not_blame_curve() -> None:
    """A CURVE client whose handshake succeeded and whose call then got no reply
    (a broker with no server behind it) was told that the server may have
    refused its CURVE handshake: the deadline says only that no reply came."""
    asyncio.run(deadline_after_handshake())


async def deadline_after_handshake() -> None:
    from uvrpc.broker import Broker

    with Broker(
        ["tcp://127.0.0.1:*"],
        ["tcp://127.0.0.1:*"],
        security=ServerSecurity(BROKER, allow=[ALLOWED.public]),
        backend_security=ServerSecurity(BROKER, allow=[WORKER.public]),
    ) as broker:
        client = FeedClient(
            broker.frontends[0], security=ClientSecurity(BROKER.public, ALLOWED)
        )
        async with client:
            with pytest.raises(uvrpc.DeadlineExceeded) as raised:
                await client.ping(n=1, timeout=0.5, wait_for_ready=True)
    assert "got no reply within" in str(raised.value)
    assert "CURVE" not in str(raised.value)


def test_a_server_secured_for_its_clients_connects_to_a_secured_broker() -> None:
    asyncio.run(secured_server_behind_secured_broker())


async def secured_server_behind_secured_broker() -> None:
    from uvrpc.broker import Broker

    with Broker(
        ["tcp://127.0.0.1:*"],
        ["tcp://127.0.0.1:*"],
        backend_security=ServerSecurity(BROKER, allow=[SERVER.public]),
    ) as broker:
        # The server's own endpoint stays a CURVE server for its clients while
        # its connection to the broker is a CURVE client.
        async with uvrpc.Server(Feed(), security=secured()) as server:
            server.connect(
                broker.backends[0], security=ClientSecurity(BROKER.public, SERVER)
            )
            direct = server.bind("tcp://127.0.0.1:*")
            async with (
                FeedClient(broker.frontends[0], timeout=10) as through_broker,
                FeedClient(
                    direct, timeout=10, security=ClientSecurity(SERVER.public, ALLOWED)
                ) as secured_client,
                FeedClient(direct, timeout=10) as plain,
            ):
                assert await through_broker.ping(n=4) == 4
                assert await secured_client.ping(n=5) == 5
                with pytest.raises(uvrpc.Unavailable, match="handshake failed"):
                    await plain.ping(n=1)


def test_a_server_secured_for_its_clients_connects_to_a_plain_broker() -> None:
    """Connected without ``security=``, a secured server's connection was a CURVE
    server's, as its socket was: a plain backend closed it (a secured one too),
    and the server never took a call."""
    asyncio.run(secured_server_behind_plain_broker())


async def secured_server_behind_plain_broker() -> None:
    from uvrpc.broker import Broker

    with Broker(["tcp://127.0.0.1:*"], ["tcp://127.0.0.1:*"]) as broker:
        async with uvrpc.Server(Feed(), security=secured()) as server:
            server.connect(broker.backends[0])
            direct = server.bind("tcp://127.0.0.1:*")
            async with (
                FeedClient(broker.frontends[0], timeout=10) as through_broker,
                FeedClient(
                    direct, timeout=10, security=ClientSecurity(SERVER.public, ALLOWED)
                ) as secured_client,
                FeedClient(direct, timeout=10) as plain,
            ):
                assert await through_broker.ping(n=4, wait_for_ready=True) == 4
                assert await secured_client.ping(n=5) == 5
                with pytest.raises(uvrpc.Unavailable, match="handshake failed"):
                    await plain.ping(n=1)


def broker_keys(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The broker's and the worker's key pairs in ``keys``, and the public keys of
    the client (``clients``) and of the worker (``servers``)."""
    keys, clients, servers = (
        tmp_path / "keys",
        tmp_path / "clients",
        tmp_path / "servers",
    )
    for directory in (keys, clients, servers):
        directory.mkdir()
    BROKER.save(keys, "broker")
    WORKER.save(keys, "worker")
    for directory, name, keypair in (
        (clients, "client", ALLOWED),
        (servers, "worker", WORKER),
    ):
        keypair.save(directory, name)
        (directory / f"{name}.key_secret").unlink()
    return keys, clients, servers


def broker_command(tmp_path: Path, *options: str) -> list[str]:
    """``uvrpc broker`` on a free tcp:// frontend and an ipc:// backend."""
    return [
        sys.executable,
        "-m",
        "uvrpc",
        "broker",
        "--frontend",
        "tcp://127.0.0.1:*",
        "--backend",
        f"ipc://{tmp_path / 'backend.sock'}",
        "--curve-secret",
        str(tmp_path / "keys" / "broker.key_secret"),
        *options,
    ]


def test_the_broker_command_and_its_workers_connect_over_curve(tmp_path: Path) -> None:
    keys, clients, servers = broker_keys(tmp_path)
    tests = Path(__file__).resolve().parents[1]
    uvrpc_cmd = [sys.executable, "-m", "uvrpc"]
    broker = subprocess.Popen(
        broker_command(
            tmp_path, "--allow-clients", str(clients), "--allow-servers", str(servers)
        ),
        cwd=tests,
        stdout=subprocess.PIPE,
        text=True,
    )
    worker: subprocess.Popen[bytes] | None = None
    try:
        assert broker.stdout is not None
        frontend = broker.stdout.readline().strip()
        backend = broker.stdout.readline().strip()
        worker = subprocess.Popen(
            [
                *uvrpc_cmd,
                "serve",
                "feed_server:Feed",
                "--connect",
                backend,
                "--broker-key",
                str(keys / "broker.key"),
                "--curve-secret",
                str(keys / "worker.key_secret"),
            ],
            cwd=tests,
        )
        security = ClientSecurity(BROKER.public, ALLOWED)
        with FeedSyncClient(frontend, timeout=30, security=security) as client:
            assert client.ping(n=9) == 9
    finally:
        for process in (worker, broker):
            if process is not None:
                process.kill()
                process.wait()
        assert broker.stdout is not None
        broker.stdout.close()


def test_workers_serve_behind_a_secured_frontend(tmp_path: Path) -> None:
    BROKER.save(tmp_path, "server")
    (tmp_path / "allow").mkdir()
    ALLOWED.save(tmp_path / "allow", "c")
    (tmp_path / "allow" / "c.key_secret").unlink()
    parent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvrpc",
            "serve",
            "feed_server:Feed",
            "--workers",
            "2",
            "--bind",
            "tcp://127.0.0.1:*",
            "--curve-secret",
            str(tmp_path / "server.key_secret"),
            "--allow",
            str(tmp_path / "allow"),
        ],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        endpoint = parent.stdout.readline().strip()
        allowed = ClientSecurity(BROKER.public, ALLOWED)
        with FeedSyncClient(endpoint, timeout=30, security=allowed) as client:
            assert client.ping(n=3) == 3
        with FeedSyncClient(endpoint, timeout=10) as plain:
            with pytest.raises(uvrpc.Unavailable, match="handshake failed"):
                plain.ping(n=1)
    finally:
        parent.terminate()  # the parent stops its workers
        try:
            parent.wait(15)
        except subprocess.TimeoutExpired:
            parent.kill()
            parent.wait()
        assert parent.stdout is not None
        parent.stdout.close()


def test_the_broker_command_refuses_a_client_key_on_its_backend(tmp_path: Path) -> None:
    _, clients, servers = broker_keys(tmp_path)
    broker = subprocess.Popen(
        broker_command(
            tmp_path, "--allow-clients", str(clients), "--allow-servers", str(servers)
        ),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert broker.stdout is not None
        frontend = broker.stdout.readline().strip()
        backend = broker.stdout.readline().strip()
        asyncio.run(forge_a_server(frontend, backend))
    finally:
        broker.kill()
        broker.wait()
        assert broker.stdout is not None
        broker.stdout.close()


async def forge_a_server(frontend: str, backend: str) -> None:
    """A client's key pair cannot make a server of the broker's backend: it is
    never sent a call, and every call goes to the admitted server."""
    async with uvrpc.Server(Feed()) as forged, uvrpc.Server(Feed()) as admitted:
        forged.connect(backend, security=ClientSecurity(BROKER.public, ALLOWED))
        admitted.connect(backend, security=ClientSecurity(BROKER.public, WORKER))
        security = ClientSecurity(BROKER.public, ALLOWED)
        async with FeedClient(frontend, timeout=30, security=security) as client:
            replies = await asyncio.gather(*(client.ping(n=n) for n in range(40)))
        assert replies == list(range(40))
        assert admitted.stats.replied == 40
        assert forged.stats.received == 0


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (
            ("--allow-clients", "clients", "--allow-servers", "clients"),
            "such a client could connect as a server",
        ),
        (
            ("--allow-clients", "any", "--allow-servers", "servers"),
            "such a client could connect as a server",
        ),
        (("--allow-clients", "clients", "--allow-servers", "any"), 'not "any"'),
        (("--allow", "clients"), "instead of --allow"),
        (("--allow-clients", "clients"), "needs --allow-clients"),
    ],
)
def test_the_broker_command_refuses_one_list_for_clients_and_servers(
    tmp_path: Path, options: tuple[str, ...], error: str
) -> None:
    broker_keys(tmp_path)
    paths = [str(tmp_path / o) if o in ("clients", "servers") else o for o in options]
    done = subprocess.run(
        broker_command(tmp_path, *paths), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("uvrpc: error: "), done.stderr
    assert error in done.stderr
    assert "Traceback" not in done.stderr


def test_the_broker_command_takes_shared_keys_when_told(tmp_path: Path) -> None:
    _, clients, _ = broker_keys(tmp_path)
    options = ["--allow-clients", str(clients), "--allow-servers", str(clients)]
    options.append("--same-keys-for-clients-and-servers")
    broker = subprocess.Popen(
        broker_command(tmp_path, *options), stdout=subprocess.PIPE, text=True
    )
    try:
        assert broker.stdout is not None
        assert broker.stdout.readline().startswith("tcp://127.0.0.1:")
    finally:
        broker.kill()
        broker.wait()
        assert broker.stdout is not None
        broker.stdout.close()


def test_a_broker_refuses_a_backend_list_that_admits_clients() -> None:
    from uvrpc.broker import Broker, SharedKeysError

    both = ServerSecurity(BROKER, allow=[ALLOWED.public, WORKER.public])
    clients = ServerSecurity(BROKER, allow=[ALLOWED.public])
    anyone = ServerSecurity(BROKER, allow="any")
    servers = ServerSecurity(BROKER, allow=[WORKER.public])
    for front, back in ((clients, both), (clients, anyone), (anyone, servers)):
        with pytest.raises(SharedKeysError, match="could connect as a server"):
            Broker(
                ["tcp://127.0.0.1:*"],
                ["tcp://127.0.0.1:*"],
                security=front,
                backend_security=back,
            )
    # Separate lists, a backend with a key pair clients do not know, or shared
    # keys asked for explicitly, all start.
    other = ServerSecurity(generate_keypair(), allow="any")
    starting: list[tuple[ServerSecurity, ServerSecurity | None, bool]] = [
        (anyone, None, False),
        (clients, servers, False),
        (clients, other, False),
        (clients, both, True),
    ]
    for front, backend, shared in starting:
        with Broker(
            ["tcp://127.0.0.1:*"],
            ["tcp://127.0.0.1:*"],
            security=front,
            backend_security=backend,
            allow_shared_keys=shared,
        ):
            pass


class KeySpy:
    """A server interceptor that records the caller's key of each call, by route."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []

    async def intercept_server(self, call: uvrpc.ServerCallInfo, proceed: Any) -> Any:
        self.seen.append((call.route.rpartition(".")[2], call.call.peer_key))
        return await proceed()


class KeyedFeed(Feed):
    """Keeps the caller's key of each ``ping`` it answers."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str | None] = []

    async def ping(self, *, n: int) -> int:
        self.keys.append(uvrpc.current_call().peer_key)
        return n


def test_a_handler_and_an_interceptor_see_the_callers_curve_key() -> None:
    spy, feed = KeySpy(), KeyedFeed()
    with server_thread(feed, security=secured(), interceptors=[spy]) as server:
        security = ClientSecurity(SERVER.public, ALLOWED)

        async def main() -> None:
            async with FeedClient(server.endpoint, timeout=10, security=security) as c:
                assert await c.ping(n=1) == 1
                assert [t.seq async for t in c.ticks(count=2)] == [0, 1]

        asyncio.run(main())
        with FeedSyncClient(server.endpoint, timeout=10, security=security) as c:
            assert c.ping(n=2) == 2
    assert feed.keys == [ALLOWED.public, ALLOWED.public]
    assert spy.seen == [
        ("ping", ALLOWED.public),
        ("ticks", ALLOWED.public),
        ("ping", ALLOWED.public),
    ]


def test_allow_any_names_each_clients_own_key_and_no_curve_names_none() -> None:
    feed = KeyedFeed()
    first, second = generate_keypair(), generate_keypair()
    with server_thread(feed, security=ServerSecurity(SERVER, allow="any")) as s:
        for keypair in (first, second):
            security = ClientSecurity(SERVER.public, keypair)
            with FeedSyncClient(s.endpoint, timeout=10, security=security) as c:
                assert c.ping(n=1) == 1
    assert feed.keys == [first.public, second.public]
    plain = KeyedFeed()
    with server_thread(plain) as s, FeedSyncClient(s.endpoint, timeout=10) as c:
        assert c.ping(n=1) == 1
    assert plain.keys == [None]


def test_behind_a_broker_a_server_sees_no_client_key() -> None:
    asyncio.run(keys_behind_a_broker())


async def keys_behind_a_broker() -> None:
    from uvrpc.broker import Broker

    feed = KeyedFeed()
    with Broker(
        ["tcp://127.0.0.1:*"],
        ["tcp://127.0.0.1:*"],
        security=ServerSecurity(BROKER, allow=[ALLOWED.public]),
        backend_security=ServerSecurity(BROKER, allow=[SERVER.public]),
    ) as broker:
        async with uvrpc.Server(feed, security=secured()) as server:
            server.connect(
                broker.backends[0], security=ClientSecurity(BROKER.public, SERVER)
            )
            direct = server.bind("tcp://127.0.0.1:*")
            security = ClientSecurity(BROKER.public, ALLOWED)
            async with (
                FeedClient(broker.frontends[0], timeout=10, security=security) as via,
                FeedClient(
                    direct, timeout=10, security=ClientSecurity(SERVER.public, ALLOWED)
                ) as straight,
            ):
                assert await via.ping(n=4) == 4
                assert await straight.ping(n=5) == 5
    # The broker authenticated the client; the server's own connection to the
    # broker carries no client key, so the handler cannot be fooled by one.
    assert feed.keys == [None, ALLOWED.public]


def test_the_authorization_example_runs(tmp_path: Path) -> None:
    """The per-method authorization example of docs/security.md, run as written."""
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    section = text.split("## Who is calling: per-method authorization", 1)[1]
    blocks = section.split("```")
    code, printed = blocks[1], blocks[3]
    assert code.startswith("python\n") and printed.startswith("\n")
    script = tmp_path / "authorize.py"
    script.write_text(code.removeprefix("python\n"), encoding="utf-8")
    examples = ROOT / "examples" / "calculator"
    path = os.pathsep.join([str(examples), *sys.path])
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == printed.removeprefix("\n")
