"""Drive a non-blocking ZeroMQ socket from an asyncio event loop.

ZeroMQ signals readiness through one file descriptor per socket, edge-triggered: it
becomes readable when the socket's events *may* have changed, and any operation on the
socket (a send, reading ``EVENTS``) can consume that edge. So the reactor

* registers the descriptor with the loop and, when woken, receives every message that
  is ready (up to a batch limit, so one busy socket cannot starve other tasks) before
  returning to the loop — no future and no task per received message;
* after sends, checks ``EVENTS`` for input that arrived meanwhile and drains it itself,
  because that input's edge may have been consumed by the send. Reading ``EVENTS``
  costs about as much as a send, so the check runs once per loop iteration, after all
  of that iteration's sends, not once per send — and not at all for sends made while
  draining (a server answering at once), because the drain goes on receiving until
  the socket says it has nothing left, which sees that input anyway;
* sends without blocking, and only when a send would block (high-water mark reached)
  parks the sender on a future woken when the socket becomes writable. A ROUTER
  has no such signal for one peer (it is writable while *any* peer's pipe has
  room): :class:`RouterReactor` parks each peer's messages apart and looks again
  when that peer sends something, when the socket wakes without input (a pipe
  got room), and otherwise after a delay that doubles while the peer reads
  nothing, so a peer that never reads costs a few wake-ups a second, not a spin.

It sends and receives frame by frame with integer flags rather than through pyzmq's
``send_multipart``/``recv_multipart``, whose per-call validation, ``RCVMORE`` reads and
flag-enum arithmetic cost more than the socket operations themselves (measured in
``docs/performance.md``). Frames shorter than :data:`ZERO_COPY_MIN` are copied into
the message (cheaper than pinning them); longer ones are sent without a copy, and so
is a view of a whole received frame from :data:`SHARE_MIN` bytes (by reference).

Client channels and servers share this one piece.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, cast

import zmq

from ..wire.limits import ZERO_COPY_MIN

__all__ = [
    "DRAIN_BATCH",
    "SEND_RETRY",
    "SEND_RETRY_MAX",
    "SHARE_MIN",
    "ZERO_COPY_MIN",
    "RouterReactor",
    "SocketReactor",
    "frame_sender",
    "recv_message",
    "send_message",
]

DRAIN_BATCH = 512
"""Most messages handled per wake-up before yielding to other tasks."""

SEND_RETRY = 0.005
"""Seconds before senders that found no room twice look again (see ``send``); on a
ROUTER, before a peer's parked messages are first tried again."""

SEND_RETRY_MAX = 1.0
"""The longest a ROUTER waits before it tries a parked peer again: the delay doubles
from :data:`SEND_RETRY` up to this while the peer reads nothing."""

SHARE_MIN = 4096
"""A view of a whole received frame at least this long is sent as that frame, by
reference (see :func:`send_message`); a shorter one is copied, which costs less
than the frame object a reference takes."""

_GAVE_UP = -1
"""What a parked sender's future gets when its ``prepare`` gave up."""

_NOBLOCK = int(zmq.NOBLOCK)
_SNDMORE = int(zmq.SNDMORE)
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)
_POLLOUT = int(zmq.POLLOUT)

_SEND = zmq.Socket.send
_COMPILED_SEND = zmq.backend.Socket.send
"""The send of pyzmq's compiled socket class, which ``zmq.Socket.send`` calls when
it is given no routing id or group (options of RADIO and SERVER sockets only)."""


def frame_sender(sock: zmq.Socket[bytes]) -> Callable[..., Any]:
    """The function that sends one frame on ``sock``, called as
    ``send(sock, data, flags, copy=...)``.

    For a plain ``zmq.Socket``, the compiled send that its ``send`` wraps: a frame
    then costs no Python call of its own (the wrapper cost about 0.25 µs a frame,
    measured warm, where a reply is four frames and a large stream item five). A
    socket of a class of its own (a test's injected fault) keeps its ``send``.
    """
    send: Callable[..., Any] = type(sock).send
    return _COMPILED_SEND if send is _SEND else send


def send_message(
    sock: zmq.Socket[bytes], frames: Sequence[Any], flags: int = 0
) -> None:
    """Send ``frames`` as one multipart message.

    Raises ``zmq.Again`` only before the first frame is queued (ZeroMQ accepts the
    rest of a message once its first part is in), so a message is never half sent.
    """
    send: Callable[..., Any] = type(sock).send  # frame_sender(sock), inline:
    if send is _SEND:  # this is every message's path
        send = _COMPILED_SEND
    more = flags | _SNDMORE
    for frame in frames[:-1]:
        if len(frame) < SHARE_MIN:
            send(sock, frame, more)
        else:
            _send_large(send, sock, frame, more)
    last = frames[-1]
    if len(last) < SHARE_MIN:
        send(sock, last, flags)
    else:
        _send_large(send, sock, last, flags)


def _send_large(
    send: Callable[..., Any], sock: zmq.Socket[bytes], frame: Any, flags: int
) -> None:
    """Send a frame of at least :data:`SHARE_MIN` bytes as cheaply as it can go.

    A view of a whole received frame (a handler that sends back, or streams again
    and again, the bytes it received) goes as that frame: libzmq shares its buffer
    by reference count, with no copy and no trip through pyzmq's garbage-collection
    thread. Any other buffer is copied below :data:`ZERO_COPY_MIN` and pinned for
    libzmq from there on, where that round trip costs less than the copy.
    """
    if type(frame) is memoryview:
        owner: object = frame.obj
        if isinstance(owner, zmq.Frame) and len(owner) == frame.nbytes:
            send(sock, owner, flags)  # a Frame is always sent by reference
            return
    if len(frame) < ZERO_COPY_MIN:
        send(sock, frame, flags)
    else:
        send(sock, frame, flags, copy=False)


def recv_message(sock: zmq.Socket[bytes], flags: int = 0) -> list[zmq.Frame]:
    """Receive one multipart message as frames that share the received buffers."""
    recv = sock.recv
    frame = recv(flags, copy=False)
    frames = [frame]
    while frame.more:
        frame = recv(flags, copy=False)
        frames.append(frame)
    return frames


def _events(sock: zmq.Socket[bytes]) -> int:
    """The socket's ``EVENTS`` bit mask (reading it processes pending commands)."""
    return cast(int, sock.getsockopt(_EVENTS))


class SocketReactor:
    """Receive and send on one ZeroMQ socket from one asyncio loop.

    Args:
        sock: a socket of any type, owned by the caller (the reactor never closes it).
        loop: the loop to run on.
        on_message: called with the frames of each received message, in order.
        may_send: when given and false, nothing is sent (:meth:`try_send` says
            no) and senders wait until :meth:`wake_writers`; a client's socket
            that sends only to connected servers holds its messages so while
            its connection is down, since one sent then would go to the pipe of
            the lost connection, which libzmq discards.
    """

    def __init__(
        self,
        sock: zmq.Socket[bytes],
        loop: asyncio.AbstractEventLoop,
        on_message: Callable[[list[zmq.Frame]], None],
        may_send: Callable[[], bool] | None = None,
    ) -> None:
        self._sock = sock
        self._loop = loop
        self._on_message = on_message
        self._may_send = may_send
        self._fd = cast(int, sock.getsockopt(zmq.FD))
        self._drain_scheduled = False
        self._check_scheduled = False
        self._draining = False
        self._sent_draining = False
        self._writers: deque[asyncio.Future[None]] = deque()
        self._closed = False
        self._retry: asyncio.TimerHandle | None = None
        self._turn_end: Callable[[], None] | None = None
        loop.add_reader(self._fd, self._on_ready)
        # Input may already be queued, its edge spent before we registered.
        self._schedule_drain()

    def at_turn_end(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` once a turn that sent is over: as a drain that sent ends,
        or in the loop iteration after one whose callbacks sent, before the
        socket is looked at again (a sender that holds messages until its turn
        is over needs no callback of its own for that)."""
        self._turn_end = hook

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (a message's handler may call it
        while a drain runs)."""
        return self._closed

    @property
    def turn_end_pending(self) -> bool:
        """Whether the hook of :meth:`at_turn_end` is due (a send of this turn
        made it so)."""
        return self._check_scheduled or self._sent_draining

    def _drained(self) -> None:
        """A drain ended: end the turn of the sends made while it ran (handlers
        that answered at once). The drain read until the socket had nothing
        left, so those sends need no look at the socket after them."""
        self._draining = False
        if self._sent_draining:
            self._sent_draining = False
            if self._turn_end is not None and not self._closed:
                self._turn_end()

    def deliver_to(self, on_message: Callable[[list[zmq.Frame]], None]) -> None:
        """Hand each message received from now on to ``on_message`` instead."""
        self._on_message = on_message

    def _schedule_drain(self) -> None:
        if not self._drain_scheduled:
            self._drain_scheduled = True
            self._loop.call_soon(self._on_ready)

    def _on_ready(self) -> None:
        self._drain_scheduled = False
        if self._closed:
            return
        sock, on_message = self._sock, self._on_message
        self._draining = True
        try:
            for index in range(DRAIN_BATCH):
                try:
                    frames = recv_message(sock, _NOBLOCK)
                except zmq.Again:
                    break
                on_message(frames)
                if self.closed:
                    # on_message closed the reactor (a handler that closed
                    # its server): its socket may be closed already.
                    break
                if not index and not _events(sock) & _POLLIN:
                    # A lone message, the usual wake-up when calls come one
                    # at a time: asking the socket whether another waits
                    # costs a third of the receive that would find nothing
                    # (pyzmq makes and raises a zmq.Again, importing twice
                    # as it makes one), and one look more in a drain of
                    # several. Both process the socket's pending commands,
                    # so the descriptor wakes the loop when the next comes.
                    break
            else:
                # More may be waiting; come back after other ready callbacks
                # have run.
                self._schedule_drain()
        except BaseException:
            self._drain_after_error()
            raise
        finally:
            self._drained()
        if self._writers:
            self._wake_writers()

    def drain(self) -> None:
        """Handle every message waiting in the socket now, at once.

        A peer's last messages are queued before its disconnection is reported:
        whoever acts on that report drains first, so as not to take them for
        lost.
        """
        if self._closed or self._draining:
            return
        sock, on_message = self._sock, self._on_message
        self._draining = True
        try:
            first = True
            while True:
                try:
                    frames = recv_message(sock, _NOBLOCK)
                except zmq.Again:
                    break
                on_message(frames)
                if self.closed:
                    break  # see _on_ready
                if first:
                    if not _events(sock) & _POLLIN:
                        break  # a lone message (see _on_ready)
                    first = False
        except BaseException:
            self._drain_after_error()
            raise
        finally:
            self._drained()

    def _drain_after_error(self) -> None:
        """Something raised out of a drain: a bug of ``on_message``'s, left to
        the loop to report. The messages after it are read all the same, in the
        next iteration: the edge that announced them is spent, and no other
        wake-up may come for them. Not on a socket closed under the reactor (or
        whose context ended): every drain would raise again, for ever."""
        if not self._closed and not self._sock.closed:
            self._schedule_drain()

    def _after_sends(self) -> None:
        """Once per loop iteration with sends: drain input whose edge they
        consumed, and wake writers waiting for room that came meanwhile (a
        client's first connection: its socket queues only for connected peers)."""
        self._check_scheduled = False
        if self._closed:
            return
        if self._turn_end is not None:
            self._turn_end()
        events = _events(self._sock)
        if events & _POLLIN:
            self._on_ready()
        elif self._writers and events & _POLLOUT:
            self._wake_writers()

    def _wake_writers(self) -> None:
        events = _events(self._sock)
        if events & _POLLIN:
            # Reading EVENTS spent the edge of this input: drain it ourselves.
            self._schedule_drain()
        if events & _POLLOUT:
            while self._writers:
                waiter = self._writers.popleft()
                if not waiter.done():
                    waiter.set_result(None)

    def try_send(self, frames: Sequence[Any]) -> bool:
        """Send one message if the socket can take it now; return whether it did.

        A message may overtake one that waits for room: on a ROUTER the waiting
        one is for a slow caller, whom the others must not wait behind.
        """
        if self._may_send is not None and not self._may_send():
            return False
        try:
            send_message(self._sock, frames, _NOBLOCK)
        except zmq.Again:
            sent = False
        else:
            sent = True
        # A send that failed processes the socket's pending commands as one that
        # went does, and may spend the edge of input that came meanwhile: without
        # this check, a server whose every send to a slow caller fails would
        # never read again.
        if self._draining:
            self._sent_draining = True
        elif not self._check_scheduled:
            self._check_scheduled = True
            self._loop.call_soon(self._after_sends)
        return sent

    async def send(
        self, frames: Sequence[Any], prepare: Callable[[], bool] | None = None
    ) -> bool:
        """Send one message, waiting while the socket is at its high-water mark;
        return whether it was sent.

        ``prepare`` is called each time the message waited, before it is tried
        again: it may update ``frames`` in place, or return False to give up.
        """
        again = False
        while not self.try_send(frames):
            waiter = self._loop.create_future()
            self._writers.append(waiter)
            if again and (self._may_send is None or self._may_send()):
                # Woken, and still no room: a socket that reports room it does
                # not have for this message (a ROUTER: room for some peer; the
                # server uses RouterReactor for that) would wake its writers
                # again at once, for ever. Look again a little later. Held back
                # by may_send, they wait for wake_writers() instead.
                self._retry_later()
            else:
                # The socket may have become writable between the failed send and
                # now.
                self._schedule_drain()
            again = True
            await waiter
            if prepare is not None and not prepare():
                return False
        return True

    def wake_writers(self) -> None:
        """Wake every sender waiting for room, to try again (a connection came
        up)."""
        while self._writers:
            waiter = self._writers.popleft()
            if not waiter.done():
                waiter.set_result(None)

    def _retry_later(self) -> None:
        if self._retry is None:
            self._retry = self._loop.call_later(SEND_RETRY, self._retry_now)

    def _retry_now(self) -> None:
        self._retry = None
        self._schedule_drain()

    def close(self) -> None:
        """Stop watching the socket and release parked senders."""
        if self._closed:
            return
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
        self._loop.remove_reader(self._fd)
        alive = not self._loop.is_closed()  # else nothing will run them again
        while self._writers:
            waiter = self._writers.popleft()
            if alive and not waiter.done():
                waiter.cancel()


class _Parked:
    """The messages waiting for room in the pipe to one ROUTER peer, in order."""

    __slots__ = ("delay", "queue", "timer")

    def __init__(self) -> None:
        self.queue: deque[
            tuple[Sequence[Any], asyncio.Future[int], Callable[[], bool] | None]
        ] = deque()
        self.delay = SEND_RETRY
        self.timer: asyncio.TimerHandle | None = None


class RouterReactor(SocketReactor):
    """A :class:`SocketReactor` for a ROUTER with ``ROUTER_MANDATORY`` set, whose
    full pipe to one peer holds up only that peer's messages.

    Such a ROUTER refuses a send (``zmq.Again``) only for a peer whose pipe is
    full, but it reports itself writable while any peer's pipe has room, so a
    sender woken by ``POLLOUT`` would find no room again, and again. Here a
    message that finds no room waits in its peer's queue (the first frame of a
    message names the peer), and that queue is tried again:

    * when the peer sends a message (it is reading, or will be soon);
    * when the socket wakes with no message to receive: a pipe got room;
    * otherwise after :data:`SEND_RETRY` seconds, a delay that doubles, up to
      :data:`SEND_RETRY_MAX`, each time nothing could be sent.

    So a peer that never reads costs about a dozen failed sends in its first few
    seconds and one a second after that, whatever else the socket does, and the
    other peers' messages never wait behind its. ``on_retry`` is called after
    each try that sent nothing.
    """

    def __init__(
        self,
        sock: zmq.Socket[bytes],
        loop: asyncio.AbstractEventLoop,
        on_message: Callable[[list[zmq.Frame]], None],
        on_retry: Callable[[], None] | None = None,
    ) -> None:
        self._parked: dict[bytes, _Parked] = {}
        self._deliver = on_message
        self._on_retry = on_retry
        super().__init__(sock, loop, on_message)

    @property
    def parked(self) -> int:
        """Messages waiting for room now, over all peers."""
        return sum(len(parked.queue) for parked in self._parked.values())

    def _on_ready(self) -> None:
        # SocketReactor._on_ready, counting what it received (no call of its
        # own: this runs at every wake-up).
        self._drain_scheduled = False
        if self._closed:
            return
        sock, on_message = self._sock, self._on_message
        received = 0
        self._draining = True
        try:
            for received in range(DRAIN_BATCH):  # noqa: B007 (read after)
                try:
                    frames = recv_message(sock, _NOBLOCK)
                except zmq.Again:
                    break
                on_message(frames)
                if self.closed:
                    break  # see SocketReactor._on_ready
                if not received and not _events(sock) & _POLLIN:
                    received = 1  # a lone message (SocketReactor._on_ready)
                    break
            else:
                received = DRAIN_BATCH
                self._schedule_drain()
        except BaseException:
            self._drain_after_error()
            raise
        finally:
            self._drained()
        if not received and self._parked:
            # Woken with nothing to read: a peer's pipe may have got room (ZeroMQ
            # says which one nowhere); try each parked peer once.
            for peer, parked in list(self._parked.items()):
                self._flush(peer, parked, rearm=False)

    def _on_message_while_parked(self, frames: list[zmq.Frame]) -> None:
        """``on_message`` while messages are parked: a peer that sends may have
        read, so its queue is tried at once."""
        peer = frames[0].bytes
        parked = self._parked.get(peer)
        if parked is not None:
            self._flush(peer, parked, rearm=False)
        self._deliver(frames)

    async def send(
        self, frames: Sequence[Any], prepare: Callable[[], bool] | None = None
    ) -> bool:
        """Send one message, waiting while its peer's pipe is full (other peers'
        messages may overtake it); return whether it was sent. ``prepare`` is as
        for :meth:`SocketReactor.send`."""
        if self.try_send(frames):
            return True
        peer = bytes(frames[0])
        parked = self._parked.get(peer)
        if parked is None:
            parked = self._parked[peer] = _Parked()
            parked.timer = self._loop.call_later(parked.delay, self._retry_peer, peer)
            # Watch incoming messages only while something is parked: the common
            # path pays nothing for it.
            self._on_message = self._on_message_while_parked
        waiter: asyncio.Future[int] = self._loop.create_future()
        parked.queue.append((frames, waiter, prepare))
        error = await waiter
        if error == _GAVE_UP:
            return False
        if error:
            # Raised here, not set on the future: an exception kept by a future
            # and a frame that holds both would be a cycle that keeps the
            # message's frames until the garbage collector's next full pass.
            raise zmq.ZMQError(error)
        return True

    def _retry_peer(self, peer: bytes) -> None:
        parked = self._parked.get(peer)
        if parked is not None:
            parked.timer = None
            self._flush(peer, parked, rearm=True)

    def _flush(self, peer: bytes, parked: _Parked, *, rearm: bool) -> None:
        """Send what the peer's pipe takes now, in order. Then, if messages are
        left: wait :data:`SEND_RETRY` again if any went, else twice as long as
        last time (only after a timed try, ``rearm``: other tries leave the
        timer as it is)."""
        queue = parked.queue
        sent = False
        while queue:
            frames, waiter, prepare = queue[0]
            if waiter.done():  # its sender was cancelled
                queue.popleft()
                continue
            if prepare is not None and not prepare():
                queue.popleft()
                waiter.set_result(_GAVE_UP)
                continue
            try:
                if not self.try_send(frames):
                    break
            except zmq.ZMQError as exc:  # EHOSTUNREACH: the peer is gone
                queue.popleft()
                waiter.set_result(exc.errno or zmq.EHOSTUNREACH)
                continue
            queue.popleft()
            waiter.set_result(0)
            sent = True
        if not queue:
            self._forget(peer, parked)
            return
        if sent:
            parked.delay = SEND_RETRY
        else:
            if self._on_retry is not None:
                self._on_retry()
            if not rearm:
                return
            parked.delay = min(parked.delay * 2, SEND_RETRY_MAX)
        if parked.timer is not None:
            parked.timer.cancel()
        parked.timer = self._loop.call_later(parked.delay, self._retry_peer, peer)

    def _forget(self, peer: bytes, parked: _Parked) -> None:
        if parked.timer is not None:
            parked.timer.cancel()
        del self._parked[peer]
        if not self._parked:
            self._on_message = self._deliver

    def close(self) -> None:
        """Stop watching the socket and release parked senders."""
        if self._closed:
            return
        super().close()
        for peer, parked in list(self._parked.items()):
            self._forget(peer, parked)
            for _, waiter, _ in parked.queue:
                if not waiter.done():
                    waiter.cancel()
