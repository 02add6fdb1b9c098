"""Sockets on any context: a ``zmq.asyncio.Context`` given to a server, a client or
a broker serves as the plain one it shadows (``transport/sockets.py``). Binding an
endpoint in use, a tcp port or an ipc:// path a live server listens on, is refused
with one clear error."""

from __future__ import annotations

import asyncio
import errno
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
import zmq.asyncio
from echo import EchoClient, EchoSyncClient
from echo_server import Echo
from feed import FeedClient
from feed_server import Feed

import uvrpc
from uvrpc.broker import Broker
from uvrpc.transport.sockets import (
    SocketFile,
    bind,
    connect,
    plain_context,
    remove_socket_files,
)


@pytest.fixture
def routers() -> Iterator[tuple[zmq.Socket[bytes], zmq.Socket[bytes]]]:
    """Two ROUTER sockets on a context of their own, closed after the test."""
    context: zmq.Context[Any] = zmq.Context()
    first, second = context.socket(zmq.ROUTER), context.socket(zmq.ROUTER)
    try:
        yield first, second
    finally:
        first.close(0)
        second.close(0)
        context.destroy(linger=0)  # a test that failed halfway left sockets


def _assert_in_use(exc: pytest.ExceptionInfo[OSError], endpoint: str) -> None:
    assert exc.value.errno == errno.EADDRINUSE
    assert endpoint in str(exc.value)
    assert "already in use" in str(exc.value)


def _answers(router: zmq.Socket[bytes], endpoint: str) -> bool:
    """Whether ``router`` receives what a new peer sends to ``endpoint``."""
    peer = router.context.socket(zmq.DEALER)
    try:
        peer.connect(endpoint)
        peer.send(b"ping")
        return bool(router.poll(5000)) and router.recv_multipart()[-1] == b"ping"
    finally:
        peer.close(0)


def test_an_ipc_path_a_live_server_listens_on_is_not_taken_over(
    routers: tuple[zmq.Socket[bytes], zmq.Socket[bytes]], tmp_path: Path
) -> None:
    first, second = routers
    endpoint = bind(first, f"ipc://{tmp_path / 'inv.sock'}")
    with pytest.raises(OSError) as exc:
        bind(second, endpoint)
    _assert_in_use(exc, endpoint)
    assert _answers(first, endpoint)  # the first server is still reachable


def test_a_path_another_process_listens_on_is_refused_without_waiting(
    routers: tuple[zmq.Socket[bytes], zmq.Socket[bytes]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only a path this process bound may still be held by its own closing
    listener: another's listener (here a plain Unix socket, bound outside
    ``bind``) is refused at the first probe, with no wait for it to go."""
    path = tmp_path / "other.sock"
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)  # what bind would wait with
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as other:
        other.bind(str(path))
        other.listen()
        first, _ = routers
        with pytest.raises(OSError) as exc:
            bind(first, f"ipc://{path}")
        _assert_in_use(exc, f"ipc://{path}")
    assert slept == []


def test_a_stale_ipc_socket_file_is_bound_over(
    routers: tuple[zmq.Socket[bytes], zmq.Socket[bytes]], tmp_path: Path
) -> None:
    path = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as gone:
        gone.bind(str(path))  # the file of a server that exited without unlinking
    assert path.is_socket()
    first, _ = routers
    endpoint = bind(first, f"ipc://{path}")
    assert _answers(first, endpoint)


def test_an_ipc_path_is_bound_again_at_once_after_its_socket_closed(
    routers: tuple[zmq.Socket[bytes], zmq.Socket[bytes]], tmp_path: Path
) -> None:
    """A server or broker restarted on its path in one process: libzmq closes the
    old listener on its I/O thread after close() returned, and the new bind waits
    for that instead of taking the old listener for a live server."""
    first, second = routers
    endpoint = bind(first, f"ipc://{tmp_path / 'again.sock'}")
    for _ in range(20):
        first.close(0)
        first = second.context.socket(zmq.ROUTER)
        assert bind(first, endpoint) == endpoint
    assert _answers(first, endpoint)
    first.close(0)


def test_a_tcp_port_in_use_is_refused_with_its_endpoint(
    routers: tuple[zmq.Socket[bytes], zmq.Socket[bytes]],
) -> None:
    first, second = routers
    endpoint = bind(first, "tcp://127.0.0.1:*")
    with pytest.raises(OSError) as exc:
        bind(second, endpoint)
    _assert_in_use(exc, endpoint)


def test_every_interface_to_connect_to_and_a_foreign_address_to_bind_are_named(
    routers: tuple[zmq.Socket[bytes], zmq.Socket[bytes]],
) -> None:
    """Not ZeroMQ's "Invalid argument" or "Cannot assign requested address"."""
    first, second = routers
    with pytest.raises(ValueError) as refused:
        connect(first, "tcp://*:5555")
    assert str(refused.value) == (
        "bad endpoint 'tcp://*:5555': '*' (every interface) is for binding; connect "
        "to a host name or address, such as tcp://127.0.0.1:5555"
    )
    with pytest.raises(ValueError) as refused:  # TEST-NET-1: no host's own address
        bind(second, "tcp://192.0.2.1:5555")
    assert str(refused.value) == (
        "bad endpoint 'tcp://192.0.2.1:5555': no local interface has that address"
    )


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="abstract ipc names are Linux's"
)
def test_an_abstract_ipc_name_in_use_is_refused(
    routers: tuple[zmq.Socket[bytes], zmq.Socket[bytes]],
) -> None:
    first, second = routers
    endpoint = bind(first, f"ipc://@uvrpc-test-{uuid.uuid4().hex}")
    with pytest.raises(OSError) as exc:
        bind(second, endpoint)
    _assert_in_use(exc, endpoint)


def test_a_server_binding_an_ipc_path_in_use_says_so(tmp_path: Path) -> None:
    async def main() -> None:
        async with uvrpc.Server(Echo()) as first, uvrpc.Server(Echo()) as second:
            endpoint = first.bind(f"ipc://{tmp_path / 'echo.sock'}")
            with pytest.raises(OSError) as exc:
                second.bind(endpoint)
            _assert_in_use(exc, endpoint)
            async with uvrpc.Channel(endpoint) as channel:
                reply = await EchoClient(channel).echo(data=b"still", timeout=10)
                assert bytes(reply) == b"still"

    asyncio.run(main())


def test_a_broker_binding_an_ipc_path_in_use_says_so(tmp_path: Path) -> None:
    front, back = f"ipc://{tmp_path / 'front.sock'}", f"ipc://{tmp_path / 'back.sock'}"
    with Broker([front], [back]):
        with pytest.raises(OSError) as exc:
            Broker([front], [f"ipc://{tmp_path / 'other.sock'}"])
        _assert_in_use(exc, front)


def test_a_closed_server_or_broker_leaves_no_socket_file(tmp_path: Path) -> None:
    """libzmq leaves an ipc:// path's file behind when its socket closes: a
    stopped server would litter its directory (and a user's ``ls``)."""
    path = tmp_path / "echo.sock"

    async def serve() -> None:
        async with uvrpc.Server(Echo()) as server:
            server.bind(f"ipc://{path}")
            assert path.is_socket()

    asyncio.run(serve())
    assert not path.exists()
    front, back = tmp_path / "front.sock", tmp_path / "back.sock"
    with Broker([f"ipc://{front}"], [f"ipc://{back}"]):
        assert front.is_socket() and back.is_socket()
    assert not front.exists() and not back.exists()


def test_a_socket_file_bound_over_since_is_not_removed(
    tmp_path: Path, routers: tuple[zmq.Socket[bytes], zmq.Socket[bytes]]
) -> None:
    """Only the file the bind made: another listener's, on the same path since
    (a process that unlinked it first, as libzmq's own bind does), is its own;
    and only by the process that bound it (a forked child's copy of a server
    closing is not it)."""
    path = tmp_path / "taken.sock"
    first, second = routers
    files: list[SocketFile] = []
    bind(first, f"ipc://{path}", files)
    [made] = files
    SocketFile(made.path, made.identity, made.pid + 1).remove()
    assert path.is_socket()  # another process's record: left
    path.unlink()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as other:
        other.bind(str(path))
        first.close(linger=0)
        remove_socket_files(files)
        assert path.is_socket() and files == []


def test_a_server_closed_twice_leaves_the_next_servers_file(tmp_path: Path) -> None:
    """The second close (``close()`` in a ``with`` block, then its end) comes
    after another server bound the path: that server's file stays."""
    path = tmp_path / "echo.sock"

    async def main() -> None:
        first = uvrpc.Server(Echo())
        await first.start()
        first.bind(f"ipc://{path}")
        await first.close()
        async with uvrpc.Server(Echo()) as second:
            endpoint = second.bind(f"ipc://{path}")
            await first.close()
            assert path.is_socket()
            async with uvrpc.Channel(endpoint) as channel:
                reply = await EchoClient(channel).echo(data=b"up", timeout=10)
                assert bytes(reply) == b"up"

    asyncio.run(main())


def test_a_relative_path_is_removed_where_it_was_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not in the directory the process moved to since."""
    bound_in, moved_to = tmp_path / "a", tmp_path / "b"
    bound_in.mkdir()
    moved_to.mkdir()
    (moved_to / "rel.sock").touch()  # not a socket file of this bind

    async def main() -> None:
        async with uvrpc.Server(Echo()) as server:
            monkeypatch.chdir(bound_in)
            server.bind("ipc://rel.sock")
            monkeypatch.chdir(moved_to)

    asyncio.run(main())
    assert not (bound_in / "rel.sock").exists()
    assert (moved_to / "rel.sock").exists()


def test_a_path_libzmq_picked_is_left_to_libzmq(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ipc://*``: libzmq removes the file and the directory it made for it;
    removing the file first would leave the directory behind."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))

    async def main() -> None:
        async with uvrpc.Server(Echo()) as server:
            endpoint = server.bind("ipc://*")
            assert Path(endpoint.removeprefix("ipc://")).is_socket()

    asyncio.run(main())
    deadline = time.monotonic() + 10
    while list(tmp_path.iterdir()):  # libzmq's I/O thread removes them
        assert time.monotonic() < deadline, list(tmp_path.iterdir())
        time.sleep(0.01)


class _Counted(zmq.Socket[bytes]):
    """A socket class of a program's own."""


class _CountingContext(zmq.Context[_Counted]):
    _socket_class = _Counted


def test_a_plain_context_is_used_as_it_is() -> None:
    plain: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    own = _CountingContext()
    try:
        assert plain_context(plain) is plain
        assert plain_context(own) is own  # its sockets stay of its class
        assert plain_context(None) is zmq.Context.instance()
    finally:
        plain.term()
        own.term()


def test_an_asyncio_context_is_used_through_a_plain_shadow() -> None:
    context = zmq.asyncio.Context()
    try:
        context.setsockopt(zmq.LINGER, 7)
        shadow = plain_context(context)
        assert type(shadow) is zmq.Context
        assert shadow.underlying == context.underlying
        sock = shadow.socket(zmq.PAIR)
        assert type(sock) is zmq.Socket
        assert sock.getsockopt(zmq.LINGER) == 7  # the context's defaults hold
        sock.close(0)
    finally:
        context.term()


def test_a_server_and_its_clients_on_an_asyncio_context_answer() -> None:
    async def main() -> None:
        context = zmq.asyncio.Context()
        try:
            async with uvrpc.Server(Echo(), Feed(), context=context) as server:
                # inproc:// shows that the shadow is the very same ZeroMQ context
                endpoint = server.bind("inproc://asyncio-context")
                async with uvrpc.Channel(endpoint, context=context) as channel:
                    assert bytes(await EchoClient(channel).echo(data=b"abc")) == b"abc"
                    feed = FeedClient(channel)
                    assert [t.seq async for t in feed.ticks(count=3)] == [0, 1, 2]

                def blocking() -> bytes:
                    with uvrpc.SyncChannel(endpoint, context=context) as sync:
                        return bytes(EchoSyncClient(sync).echo(data=b"xyz"))

                assert await asyncio.to_thread(blocking) == b"xyz"
        finally:
            context.term()

    asyncio.run(main())


def test_a_broker_on_an_asyncio_context_passes_calls() -> None:
    async def main() -> None:
        context = zmq.asyncio.Context()
        try:
            with Broker(
                ["inproc://asyncio-front"], ["inproc://asyncio-back"], context=context
            ) as broker:
                async with uvrpc.Server(Echo(), context=context) as server:
                    server.connect("inproc://asyncio-back")
                    deadline = time.monotonic() + 10
                    while broker.servers < 1:
                        assert time.monotonic() < deadline, "the server's READY"
                        await asyncio.sleep(0.01)
                    async with uvrpc.Channel(
                        "inproc://asyncio-front", context=context
                    ) as channel:
                        reply = await EchoClient(channel).echo(data=b"hop", timeout=10)
                        assert bytes(reply) == b"hop"
        finally:
            context.term()

    asyncio.run(main())


def _ipv6_loopback() -> bool:
    """Whether this host can bind IPv6's loopback address."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="this host has no IPv6 loopback")
def test_a_server_on_ipv6_loopback_answers_calls() -> None:
    async def main() -> None:
        async with uvrpc.Server(Echo()) as server:
            endpoint = server.bind("tcp://[::1]:*")
            assert endpoint.startswith("tcp://[::1]:")
            async with uvrpc.Channel(endpoint) as channel:
                reply = await EchoClient(channel).echo(data=b"six", timeout=10)
                assert bytes(reply) == b"six"

            def blocking() -> bytes:
                with uvrpc.SyncChannel(endpoint) as sync:
                    return bytes(EchoSyncClient(sync).echo(data=b"v6", timeout=10))

            assert await asyncio.to_thread(blocking) == b"v6"

    asyncio.run(main())


@pytest.mark.skipif(not _ipv6_loopback(), reason="this host has no IPv6 loopback")
def test_ipv6_is_set_for_an_ipv6_endpoint_alone(
    routers: tuple[zmq.Socket[bytes], zmq.Socket[bytes]],
) -> None:
    first, _ = routers
    bind(first, "tcp://[::1]:*")
    bind(first, "tcp://127.0.0.1:*")  # the same socket, IPv4 as before
    # left as it was: a host name connected to later resolves as IPv4 still
    assert first.getsockopt(zmq.IPV6) == 0
