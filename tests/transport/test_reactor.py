"""The socket reactor drains every ready message in one wake-up, in batches."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import zmq

from uvrpc.transport import reactor as reactor_module
from uvrpc.transport.reactor import (
    DRAIN_BATCH,
    SHARE_MIN,
    ZERO_COPY_MIN,
    RouterReactor,
    SocketReactor,
    send_message,
)


def pair() -> tuple[zmq.Socket[bytes], zmq.Socket[bytes]]:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    endpoint = f"inproc://reactor-{uuid.uuid4().hex}"
    receiver, sender = context.socket(zmq.DEALER), context.socket(zmq.DEALER)
    for sock in (receiver, sender):
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVHWM, 0)
        sock.setsockopt(zmq.SNDHWM, 0)
    receiver.bind(endpoint)
    sender.connect(endpoint)
    return receiver, sender


class CountingReactor(SocketReactor):
    """Counts its wake-ups and the messages each one handled."""

    def __init__(self, sock: zmq.Socket[bytes], loop: asyncio.AbstractEventLoop):
        self.batches: list[int] = []
        self.received: list[list[zmq.Frame]] = []
        super().__init__(sock, loop, self.received.append)

    def _on_ready(self) -> None:
        before = len(self.received)
        super()._on_ready()
        if len(self.received) > before:
            self.batches.append(len(self.received) - before)


def drained(count: int) -> list[int]:
    """Queue ``count`` messages, then start a reactor; return its batch sizes."""
    receiver, sender = pair()
    try:
        for n in range(count):
            send_message(sender, [b"", n.to_bytes(4, "big")])

        async def main() -> list[int]:
            loop = asyncio.get_running_loop()
            reactor = CountingReactor(receiver, loop)
            for _ in range(100):
                if len(reactor.received) == count:
                    break
                await asyncio.sleep(0.01)
            reactor.close()
            order = [int.from_bytes(f[1].bytes, "big") for f in reactor.received]
            assert order == list(range(count))  # in order, none lost
            return reactor.batches

        return asyncio.run(main())
    finally:
        receiver.close()
        sender.close()


def test_every_ready_message_is_handled_in_one_wake_up() -> None:
    assert drained(200) == [200]


def test_a_long_queue_is_drained_in_batches_that_let_other_tasks_run() -> None:
    assert drained(DRAIN_BATCH * 2 + 10) == [DRAIN_BATCH, DRAIN_BATCH, 10]


def test_a_lone_message_is_read_without_a_receive_that_finds_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One message per wake-up, the usual case when calls come one at a time:
    the drain asks the socket whether another waits, rather than ending on a
    receive that fails (pyzmq raises a zmq.Again, three times the cost)."""
    receiver, sender = pair()
    receives = empty = 0
    real_recv = reactor_module.recv_message

    def counting_recv(sock: zmq.Socket[bytes], flags: int = 0) -> list[zmq.Frame]:
        nonlocal receives, empty
        receives += 1
        try:
            return real_recv(sock, flags)
        except zmq.Again:
            empty += 1
            raise

    monkeypatch.setattr(reactor_module, "recv_message", counting_recv)

    async def main() -> None:
        nonlocal receives, empty
        reactor = CountingReactor(receiver, asyncio.get_running_loop())
        await asyncio.sleep(0.01)  # the first drain, which finds nothing
        receives = empty = 0
        for n in range(5):
            send_message(sender, [b"", n.to_bytes(4, "big")])
            for _ in range(1000):  # turns of the loop, not time
                if len(reactor.received) > n:
                    break
                await asyncio.sleep(0)
        reactor.close()
        assert [int.from_bytes(f[1].bytes, "big") for f in reactor.received] == [
            0,
            1,
            2,
            3,
            4,
        ]
        assert (receives, empty) == (5, 0)

    try:
        asyncio.run(main())
    finally:
        receiver.close()
        sender.close()


def test_a_send_that_finds_no_room_does_not_spend_the_edge_of_new_input() -> None:
    """A send that fails (its peer's pipe is full) processes the socket's pending
    commands, as one that goes does: a message that arrived meanwhile has its
    edge spent, and is read all the same. Without that, a server whose every
    send to a slow caller failed would never read again."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    endpoint = f"inproc://reactor-{uuid.uuid4().hex}"
    router, dealer = context.socket(zmq.ROUTER), context.socket(zmq.DEALER)
    router.setsockopt(zmq.ROUTER_MANDATORY, 1)
    router.setsockopt(zmq.SNDHWM, 1)
    dealer.setsockopt(zmq.RCVHWM, 1)
    for sock in (router, dealer):
        sock.setsockopt(zmq.LINGER, 0)
    router.bind(endpoint)
    dealer.connect(endpoint)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        received: list[list[zmq.Frame]] = []
        reactor = RouterReactor(router, loop, received.append)
        try:
            dealer.send(b"hello")
            while not received:
                await asyncio.sleep(0.001)
            peer = received[0][0].bytes
            while reactor.try_send([peer, b"reply"]):  # fill the pipe to the peer
                pass
            await asyncio.sleep(0.01)  # the loop settles: nothing to read
            dealer.send(b"second")
            # Wait, without running the loop, until the message is in; then a send
            # that fails spends its edge before the loop looks.
            while not zmq.select([router.getsockopt(zmq.FD)], [], [], 0)[0]:
                time.sleep(0.001)
            assert not reactor.try_send([peer, b"reply"])
            for _ in range(200):
                if len(received) == 2:
                    break
                await asyncio.sleep(0.005)
            assert [frames[-1].bytes for frames in received] == [b"hello", b"second"]
        finally:
            reactor.close()
            router.close(linger=0)
            dealer.close(linger=0)

    asyncio.run(main())


def test_senders_held_by_may_send_wait_for_wake_writers() -> None:
    """A client's socket that sends only to connected servers holds its messages
    while its connection is down (``may_send`` false): nothing goes, even with
    room in the socket, and the senders wait until ``wake_writers`` (a
    handshake succeeded)."""
    receiver, sender = pair()
    connected = False

    async def main() -> None:
        loop = asyncio.get_running_loop()
        got: list[list[zmq.Frame]] = []
        outgoing = SocketReactor(sender, loop, lambda _: None, lambda: connected)
        incoming = SocketReactor(receiver, loop, got.append)
        try:
            assert not outgoing.try_send([b"", b"now"])
            sending = asyncio.ensure_future(outgoing.send([b"", b"later"]))
            await asyncio.sleep(0.05)
            assert not sending.done() and got == []
            nonlocal connected
            connected = True
            outgoing.wake_writers()
            assert await asyncio.wait_for(sending, 10)
            while not got:
                await asyncio.sleep(0.001)
            assert [frames[-1].bytes for frames in got] == [b"later"]
        finally:
            outgoing.close()
            incoming.close()

    try:
        asyncio.run(main())
    finally:
        receiver.close(linger=0)
        sender.close(linger=0)


class RecordingSocket:
    """Stands in for a socket: records what each ``send`` was handed, and how."""

    def __init__(self) -> None:
        self.sent: list[tuple[object, bool]] = []

    def send(self, data: object, flags: int = 0, copy: bool = True) -> None:
        self.sent.append((data, copy))


def received(size: int) -> zmq.Frame:
    """A frame of ``size`` bytes received from a socket."""
    receiver, sender = pair()
    try:
        sender.send(bytes(range(256)) * (size // 256))
        return receiver.recv(copy=False)
    finally:
        receiver.close(linger=0)
        sender.close(linger=0)


def test_a_view_of_a_whole_received_frame_is_sent_as_that_frame() -> None:
    """A stream that sends back, or again and again, the bytes it received hands
    libzmq the received frame (shared by reference) rather than a view of it
    that libzmq would copy, from SHARE_MIN bytes on."""
    frame = received(64 * 1024)
    sock = RecordingSocket()
    send_message(sock, [b"", b"header", frame.buffer])  # type: ignore[arg-type]
    assert [data for data, _ in sock.sent[:2]] == [b"", b"header"]
    assert sock.sent[2][0] is frame
    # As an attachment (a frame before the last) too.
    sock.sent.clear()
    send_message(sock, [b"", frame.buffer, b"header", b"body"])  # type: ignore[arg-type]
    assert sock.sent[1][0] is frame


def test_other_buffers_are_sent_as_they_are() -> None:
    """Part of a received frame, a small one, and any other buffer go as they
    are: copied by libzmq below ZERO_COPY_MIN, pinned from there."""
    frame = received(64 * 1024)
    small = received(SHARE_MIN // 2)
    part = frame.buffer[1:]
    own = bytes(64 * 1024)
    large = bytes(ZERO_COPY_MIN)
    sock = RecordingSocket()
    send_message(sock, [part, small.buffer, own, large])  # type: ignore[arg-type]
    assert [data for data, _ in sock.sent] == [part, small.buffer, own, large]
    assert [copy for _, copy in sock.sent] == [True, True, True, False]


def test_a_plain_socket_queues_each_frame_with_no_python_call_of_pyzmq() -> None:
    """``send_message`` calls the compiled send that ``zmq.Socket.send`` wraps:
    the frames of a message cost no call of pyzmq's Python layer."""
    receiver, sender = pair()
    pyzmq = str(Path(zmq.__file__).parent)
    calls: list[str] = []

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code.co_filename.startswith(pyzmq):
            calls.append(frame.f_code.co_name)

    try:
        sys.setprofile(profile)
        try:
            send_message(sender, [b"", b"header", b"body"])
        finally:
            sys.setprofile(None)
        assert calls == []
        assert [f.bytes for f in receiver.recv_multipart(copy=False)] == [
            b"",
            b"header",
            b"body",
        ]
    finally:
        receiver.close()
        sender.close()


def test_a_socket_of_a_class_of_its_own_sends_with_its_own_send() -> None:
    """A socket class that overrides ``send`` (a test's injected fault) is not
    bypassed."""

    class Counted(zmq.Socket[bytes]):
        sent = 0

        def send(self, data: Any, flags: int = 0, *args: Any, **kwargs: Any) -> Any:
            Counted.sent += 1
            return super().send(data, flags, *args, **kwargs)

    receiver, plain = pair()
    plain.close()
    sender = Counted(zmq.Context.instance(), zmq.DEALER)
    try:
        sender.setsockopt(zmq.LINGER, 0)
        sender.connect(receiver.get_string(zmq.LAST_ENDPOINT))
        send_message(sender, [b"", b"header", bytes(ZERO_COPY_MIN)])
        assert Counted.sent == 3
        assert len(receiver.recv_multipart()) == 3
    finally:
        receiver.close()
        sender.close()


def test_a_shared_frame_arrives_whole_after_the_sender_dropped_it() -> None:
    """libzmq holds a reference to the shared frame: the receiver gets every byte
    even once the sender let go of its frame."""
    frame = received(64 * 1024)
    expected = frame.bytes
    receiver, sender = pair()
    try:
        for _ in range(3):
            send_message(sender, [b"", frame.buffer])
        del frame
        for _ in range(3):
            got = [receiver.recv(), receiver.recv()]
            assert got == [b"", expected]
    finally:
        receiver.close(linger=0)
        sender.close(linger=0)


def kind_pair(kind: str) -> tuple[zmq.Socket[bytes], zmq.Socket[bytes]]:
    """A receiving socket for a reactor of ``kind`` (a ROUTER for "router",
    else a DEALER), bound, and a DEALER connected to it."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    endpoint = f"inproc://reactor-{uuid.uuid4().hex}"
    receiver = context.socket(zmq.ROUTER if kind == "router" else zmq.DEALER)
    sender = context.socket(zmq.DEALER)
    receiver.bind(endpoint)
    sender.connect(endpoint)
    return receiver, sender


def reactor_of(
    kind: str,
    receiver: zmq.Socket[bytes],
    loop: asyncio.AbstractEventLoop,
    on_message: Callable[[list[zmq.Frame]], None],
) -> SocketReactor:
    """A RouterReactor for "router", else a SocketReactor."""
    if kind == "router":
        return RouterReactor(receiver, loop, on_message)
    return SocketReactor(receiver, loop, on_message)


@pytest.mark.parametrize("kind", ["socket", "router", "drain"])
def test_a_message_whose_handler_closes_the_reactor_ends_the_drain(kind: str) -> None:
    """A server's handler may close its server, socket and all, while the drain
    that delivered its request runs: the drain reads nothing more and asks the
    closed socket nothing, so the loop reports no error."""
    receiver, sender = kind_pair(kind)
    for n in range(3):
        send_message(sender, [b"", n.to_bytes(4, "big")])
    handled: list[int] = []
    errors: list[dict[str, object]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _, report: errors.append(report))

        def on_message(frames: list[zmq.Frame]) -> None:
            handled.append(int.from_bytes(frames[-1].bytes, "big"))
            reactor.close()
            receiver.close(linger=0)

        reactor = reactor_of(kind, receiver, loop, on_message)
        if kind == "drain":
            while not receiver.poll(10):
                await asyncio.sleep(0.001)
            reactor.drain()
        for _ in range(100):
            if handled:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.01)

    try:
        asyncio.run(main())
    finally:
        receiver.close(linger=0)
        sender.close(linger=0)
    assert handled == [0]
    assert errors == []


@pytest.mark.parametrize("kind", ["socket", "router", "drain"])
@pytest.mark.parametrize("count", [1, 3])
def test_messages_after_one_whose_handler_raised_are_read(
    kind: str, count: int
) -> None:
    """A handler's exception out of a drain is the loop's to report, but the
    messages queued behind it are read all the same: the wake-up that announced
    them is spent, and none other may come (a lone request's connection would
    hang until its caller sent again)."""
    receiver, sender = kind_pair(kind)
    for n in range(count):
        send_message(sender, [b"", n.to_bytes(4, "big")])
    handled: list[int] = []
    errors: list[dict[str, object]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _, report: errors.append(report))

        def on_message(frames: list[zmq.Frame]) -> None:
            handled.append(int.from_bytes(frames[-1].bytes, "big"))
            if len(handled) == 1:
                raise RuntimeError("a handler's bug")

        reactor = reactor_of(kind, receiver, loop, on_message)
        try:
            if kind == "drain":
                while not receiver.poll(10):
                    await asyncio.sleep(0.001)
                with pytest.raises(RuntimeError):
                    reactor.drain()
            for _ in range(200):
                if len(handled) == count + 1:
                    break
                if len(handled) == count:
                    # Sent after the failing drain, with no new edge spent.
                    send_message(sender, [b"", count.to_bytes(4, "big")])
                    handled.append(-1)
                await asyncio.sleep(0.01)
        finally:
            reactor.close()

    try:
        asyncio.run(main())
    finally:
        receiver.close(linger=0)
        sender.close(linger=0)
    assert [n for n in handled if n >= 0] == list(range(count + 1))
    if kind != "drain":
        assert [str(e.get("exception")) for e in errors] == ["a handler's bug"]


def test_a_socket_closed_under_the_reactor_is_not_drained_again_and_again() -> None:
    """The drain that follows an error (above) is for the messages behind it:
    on a socket closed under the reactor every drain would raise again, a loop
    iteration each, for ever."""
    receiver, sender = pair()
    errors: list[dict[str, object]] = []
    for n in range(2):
        send_message(sender, [b"", n.to_bytes(4, "big")])

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _, report: errors.append(report))

        def on_message(frames: list[zmq.Frame]) -> None:
            receiver.close(linger=0)  # closed under the reactor, which goes on

        reactor = SocketReactor(receiver, loop, on_message)
        await asyncio.sleep(0.3)
        reactor._closed = True  # its close would unwatch a closed descriptor
        await asyncio.sleep(0)

    try:
        asyncio.run(main())
    finally:
        receiver.close(linger=0)
        sender.close(linger=0)
    assert len(errors) <= 2, f"{len(errors)} errors reported"
