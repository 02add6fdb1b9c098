"""One blocking connection of a :class:`~uvrpc.SyncChannel`: a DEALER socket, its
monitor, and the protocol core's state of the calls on it.

It sends without blocking and then blocks in ``recv`` for a short while, so a call
answered at once costs one send and one receive, as close to raw blocking pyzmq as
the protocol allows. A call that waits longer polls the socket together with its
monitor, which reports a connection that dropped (a server that died, or one whose
heartbeats stopped): the call then fails with :class:`~uvrpc.Unavailable` instead of
waiting for its deadline, or for ever. The socket sends only to a connected server
(``ZMQ_IMMEDIATE``): when it cannot send, the monitor says whether a server is
connected, and a call with none fails at once once the channel's
``connect_timeout`` has passed. Replies to earlier calls that timed out are
recognised by their request id and skipped. What a message means is the protocol
core's (:mod:`uvrpc.core.client`), as for the asyncio channel: this shell owns the
socket, its timeouts and the waiting.

A ZeroMQ socket is one thread's at a time: a caller first claims the connection
(:meth:`SyncConnection.claim`), and the call it makes gives it up when it ends (a
stream's, between its steps too). :class:`~uvrpc.SyncChannel` lends a spare
connection to a thread that finds its own busy (:mod:`uvrpc.client.spares`).
"""

from __future__ import annotations

import math
import os
import threading
import time
from _thread import get_ident
from asyncio.events import _get_running_loop as _running_loop
from collections.abc import Generator, Iterable, Sequence
from typing import Any, cast

import zmq

from ..core.client import END, WAIT, CallState, ClientCore, finish
from ..core.context import CURRENT_CALL, OUTGOING, inherited_timeout
from ..transport.coalesce import announce_batches
from ..transport.forks import FORKS, check_process
from ..transport.inproc import InprocTarget
from ..transport.liveness import (
    Heartbeat,
    Refusal,
    handshake_refusal,
    monitor_address,
    monitor_event,
)
from ..transport.reactor import recv_message, send_message
from ..transport.security import ClientSecurity, no_reply_text
from ..transport.serving import check_not_served_here
from ..transport.sockets import close_when_dropped, connect, open_socket
from ..wire.buffers import BodyEncoder, BufferPool
from ..wire.errors import ChannelClosed, DeadlineExceeded, Unavailable
from ..wire.methods import (
    BidiStreaming,
    ClientStreaming,
    In,
    Out,
    Reply,
    ServerStreaming,
    StreamingMethod,
    Unary,
)
from ..wire.protocol import ReplyHeader, restamp_request_header, send_stamp
from .closing import Closing
from .feeder import NOTHING, Feeder, feeding

__all__ = ["CLIENT_STREAM_AHEAD", "FIRST_WAIT_MS", "SyncConnection"]

CLIENT_STREAM_AHEAD = 32
"""Items of a blocking client stream its feeder thread reads ahead at most (the
credit a server grants at a time): the caller's thread takes them in runs, one
hand-off between the threads for many items."""

FIRST_WAIT_MS = 50
"""Milliseconds a call blocks in ``recv`` alone before it polls the socket and its
monitor together: most replies come sooner, and cost no poll."""

_NOBLOCK = int(zmq.NOBLOCK)
_POLLIN = int(zmq.POLLIN)
_POLLOUT = int(zmq.POLLOUT)
_HANDSHAKE_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
)
_INPROC_LOOK_MS = 10
"""Milliseconds between looks, while a blocking send waits for an ``inproc://``
endpoint's server to be bound (no monitor event says so)."""
_LOST = object()
"""What :meth:`SyncConnection._receive` returns when the connection dropped."""
_CLOSED = object()
"""What :meth:`SyncConnection._receive` returns when the channel closed."""


class SyncConnection:
    """One connection of a blocking channel (see the module's docstring).

    The arguments are :class:`~uvrpc.SyncChannel`'s, checked there.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        context: zmq.Context[Any] | None,
        pool: BufferPool | None,
        attachment_min: int,
        stream_window: int | None,
        max_message_size: int,
        hwm: int,
        security: ClientSecurity | None,
        heartbeat: Heartbeat | None,
        connect_timeout: float,
        wait_for_ready: bool,
        linger: float,
        check_requests: bool,
        closing: Closing,
    ) -> None:
        self.max_message_size = max_message_size
        """The largest message sent or taken, in bytes."""
        self._pid = os.getpid()
        self._forks = FORKS.count  # read per call instead of a getpid() syscall
        self._sock = open_socket(
            context,
            zmq.DEALER,
            max_message_size=max_message_size,
            hwm=hwm,
            heartbeat=heartbeat,
            security=security,
            immediate=True,  # nothing is queued for a server not connected
            backstop=False,  # one oversized reply fails its call, not the channel
        )
        # It reads batches (ClientCore takes them), though it sends none: it has
        # one message to send at a time.
        announce_batches(self._sock)
        self._monitor = self._sock.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_SUCCEEDED
            | zmq.EVENT_DISCONNECTED
            | _HANDSHAKE_FAILED
            | zmq.EVENT_MONITOR_STOPPED,
            monitor_address(),
        )
        self._monitor.setsockopt(zmq.LINGER, 0)
        # inproc:// has no handshake, so no event says it is connected, and
        # libzmq queues what is sent to an endpoint nobody bound yet: it counts
        # as connected while the uvrpc server it reaches is bound (see
        # uvrpc.transport.inproc).
        self._inproc = (
            InprocTarget(self._sock.context, endpoint, self)
            if isinstance(endpoint, str) and endpoint.startswith("inproc://")
            else None
        )
        try:
            connect(self._sock, endpoint)
        except BaseException:
            if self._inproc is not None:
                self._inproc.close()
            self._sock.disable_monitor()
            self._monitor.close(linger=0)
            self._sock.close(linger=0)
            raise
        self._when_dropped = close_when_dropped(self, self._sock, self._monitor)
        self.endpoint = endpoint
        """The endpoint connected to."""
        self._handshakes = self._inproc is None
        # The channel's, which keeps them up to date (see SyncChannel).
        self.connect_timeout = connect_timeout
        """Seconds to wait for a connection before calls fail at once."""
        self.wait_for_ready = wait_for_ready
        """Whether calls wait for a connection by default."""
        self.linger = linger
        """Seconds :meth:`close` waits, at most, for sent requests to go out."""
        self._connected = False
        # Connection lost while a call waited: set by the monitor's events.
        self._dropped = False
        self._refusal: Refusal | None = None
        # Calls wait for a connection until then (monotonic seconds).
        self._grace_end = time.monotonic() + connect_timeout
        self._poller = zmq.Poller()
        self._poller.register(self._sock, zmq.POLLIN)
        self._poller.register(self._monitor, zmq.POLLIN)
        # The channel's closing wakes a long wait (see uvrpc.client.closing).
        self._closing = closing
        self._poller.register(closing.fd, zmq.POLLIN)
        self._encoder = BodyEncoder(pool, attachment_min=attachment_min)
        self._core = ClientCore(
            self._encoder,
            stream_window=stream_window,
            max_message_size=self.max_message_size,
            no_reply=no_reply_text(security),
            check_requests=check_requests,
        )
        self._recv_timeout_ms = -1
        self._send_timeout_ms = -1
        self._closed = False
        # Held by the thread inside a call or a stream step; re-entrant, so a
        # stream's items or an interceptor may call on the same thread.
        self._user = threading.RLock()
        # How many times the holding thread took _user: only it changes this, so
        # it knows when it gives the socket up for good (see _leave).
        self._depth = 0
        # The closing of the socket (see close_when_free): the time its linger
        # ends, while it is to be closed; whether the closing thread waits for
        # the holder to leave, and the holder's word that it left. Re-entrant:
        # a stream collected on this thread under it may leave the socket.
        self._close_pending: float | None = None
        self._closer_waiting = False
        self._freed = threading.Event()
        self._close_lock = threading.RLock()
        # Streams open on this socket between their steps, and the thread that
        # opened them: the socket is that thread's until they end (see claim).
        self._streams_open = 0
        self._streams_thread = 0
        self._streams_lock = threading.Lock()
        # Streams closed by a thread that could not take the socket (another's
        # call held it): ended by the next to claim it.
        self._unended: list[CallState] = []

    def claim(self) -> bool:
        """Take the socket for this thread if it is free: no other thread is
        inside a call on it, nor has a stream open on it (whose items would wait
        behind this thread's call, and might never come: a chat relaying this
        thread's items). Return whether it did; if so, the call made next on it
        gives it up as it ends (a stream's, between its steps too)."""
        if not self._user.acquire(False):
            return False
        self._depth += 1
        if self._streams_open and self._streams_thread != get_ident():
            self._leave()
            return False
        if self._unended:
            self._end_unended()
        return True

    def _end_unended(self) -> None:
        """End (cancel) the streams closed while another thread held the socket."""
        unended = self._unended
        while unended:
            self._end(unended.pop())

    def _stream_opened(self) -> None:
        """A stream opened on this socket, by this thread, which holds it."""
        with self._streams_lock:
            self._streams_open += 1
            self._streams_thread = get_ident()

    def _stream_closed(self) -> None:
        with self._streams_lock:
            self._streams_open -= 1

    def _take_now(self) -> bool:
        """Take the socket for this thread if it is free (or this thread's)."""
        if self._user.acquire(False):
            self._depth += 1
            return True
        return False

    def _leave(self) -> None:
        """Give the socket up (once for each time it was taken); the last time,
        if the channel closed meanwhile, hand it to the closing thread."""
        self._depth -= 1
        self._user.release()
        if self._close_pending is not None and not self._depth:
            self._left()

    def _left(self) -> None:
        """The holder left a socket a close found held: tell the closing thread,
        waiting for it, or close it if that one gave up waiting."""
        with self._close_lock:
            if self._close_pending is None:
                return
            if self._closer_waiting:
                self._freed.set()
                return
            self._close_if_free()

    def _close_if_free(self) -> bool:
        """Close the socket, cancelling the calls still open on it, if no thread
        holds it; return whether it is closed."""
        with self._close_lock:
            ends = self._close_pending
            if ends is None:
                return True
            if not self._user.acquire(False):
                return False
            try:
                if self._depth:  # this thread's own: its outer call leaves last
                    return False
                self._close_pending = None
                self._core.fail_all(
                    lambda state: ChannelClosed(
                        f"the channel was closed during {state.method.route}"
                    ),
                    cancel=True,
                )
                self._send_owed()
                self.close(max(0.0, ends - time.monotonic()))
            finally:
                self._user.release()
            return True

    def _held_here(self) -> bool:
        """Whether this thread holds the socket (is inside a call on it)."""
        if not self._user.acquire(False):
            return False
        try:
            return self._depth > 0
        finally:
            self._user.release()

    def stop(self) -> None:
        """Take no more calls: the channel is closing. Calls inside their wait
        end with :class:`~uvrpc.ChannelClosed` as the channel's closing signal
        wakes them; a stream's next step raises it."""
        self._closed = True

    def close_when_free(self, linger: float, wait: float) -> None:
        """Close the socket (calls still open on it cancelled, the server told),
        sending what was sent within ``linger`` seconds; if a thread holds it,
        once it leaves (the channel's closing signal wakes it), waiting up to
        ``wait`` seconds for that. Past that, the holder closes it as it leaves
        (a client stream's, say, waiting for its caller's next item). Call
        :meth:`stop` first."""
        with self._close_lock:
            if self._sock.closed or self._close_pending is not None:
                return  # closed, or being closed by another thread
            self._close_pending = time.monotonic() + linger
            if self._close_if_free() or self._held_here():
                return  # (held here: this thread's outer call closes it as it leaves)
            self._closer_waiting = True
            self._freed.clear()
        try:
            self._freed.wait(wait)
        finally:
            with self._close_lock:
                self._closer_waiting = False
                self._close_if_free()

    def _next_step(self, state: CallState, deadline: float | None) -> None:
        """Take the socket back for a stream's next step. Stepped by another
        thread than the one that opened it, it waits for that thread's call on
        the socket, until the stream's deadline.

        Raises:
            RuntimeError: this thread reads the items of a client stream or a
                bidirectional call on this connection, which holds it: the call
                would wait for this step as this step waits for it.
            DeadlineExceeded: the deadline passed first.
            ChannelClosed: the channel was closed meanwhile (the stream was
                cancelled).
        """
        if self._closed:  # cancelled by the close: no need of the socket
            raise ChannelClosed("the channel is closed")
        user = self._user
        if user.acquire(False):
            self._depth += 1
            self._check_open()
            return
        if feeding() is self:
            raise RuntimeError(
                f"{state.method.route}: a stream read as the items of a client "
                "stream or a bidirectional call shares a connection with that "
                "call, whose thread holds it; open the stream on another "
                "SyncChannel"
            )
        wait = -1.0 if deadline is None else max(0.0, deadline - time.monotonic())
        if not user.acquire(timeout=wait):
            raise DeadlineExceeded(
                f"{state.method.route} did not finish within {state.timeout:g} s"
            )
        self._depth += 1
        self._check_open()

    def _check_open(self) -> None:
        """Raise ChannelClosed, giving the socket back, if the channel closed."""
        if self._closed:
            self._leave()
            raise ChannelClosed("the channel is closed")

    @property
    def dropped_replies(self) -> int:
        """Replies that were late for their call (or malformed) and were skipped."""
        return self._core.dropped_replies

    @property
    def stale_messages(self) -> int:
        """Messages of stream calls that had ended, skipped."""
        return self._core.stale_messages

    def _set_recv_timeout(self, ms: int) -> None:
        if ms != self._recv_timeout_ms:
            self._sock.setsockopt(zmq.RCVTIMEO, ms)
            self._recv_timeout_ms = ms

    def _set_send_timeout(self, ms: int) -> None:
        if ms != self._send_timeout_ms:
            self._sock.setsockopt(zmq.SNDTIMEO, ms)
            self._send_timeout_ms = ms

    @property
    def check_requests(self) -> bool:
        """Whether each request and client-stream item is checked as the server
        will check it, before it is sent (see the ``check_requests`` argument)."""
        return self._core.check_requests

    def poll_connected(self) -> bool:
        """Whether the server is connected: the monitor's waiting events read if
        no thread uses the socket (briefly holding it), else as they were last
        read; any thread may ask."""
        if not self._take_now():
            return self._connected
        try:
            if not self._monitor.closed:
                self._read_events()
            return self._connected
        finally:
            self._leave()

    @property
    def was_connected(self) -> bool:
        """Whether the server was connected when the monitor's events were last
        read; any thread may ask."""
        return self._connected

    def _read_events(self) -> None:
        """Take the monitor's waiting events: connections made, lost or refused.

        The connection a call waits on dropped if the events end with the server
        disconnected. Events are not read before each call (that would cost a
        call a system call): a drop and a reconnection both before a call was
        sent, read during its wait, end connected, and are no loss of its own.
        A drop during the wait is read before libzmq reconnects: a call polls
        its monitor within 50 ms, and libzmq waits 100 ms to reconnect.
        """
        monitor = self._monitor
        dropped = False
        while True:
            try:
                frames = monitor.recv_multipart(_NOBLOCK, copy=False)
            except zmq.Again:
                break
            if len(frames) != 2:
                continue
            event, value = monitor_event(frames[0])
            if event & zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self._connected = True
                self._refusal = None
            elif event & zmq.EVENT_DISCONNECTED:
                if self._connected:
                    self._grace_end = time.monotonic() + self.connect_timeout
                self._connected = False
                dropped = True
            elif event & _HANDSHAKE_FAILED:
                self._refusal = handshake_refusal(event, value)
        if self._inproc is not None:
            up = self._inproc.up()
            if self._connected and not up:
                self._grace_end = time.monotonic() + self.connect_timeout
                dropped = True
            self._connected = up
        if dropped and not self._connected:
            self._dropped = True

    def inproc_changed(self) -> None:
        """Its ``inproc://`` server was bound or released: read when next it
        looks (see :meth:`_send_waiting`)."""

    def _send_now(self, frames: Sequence[Any]) -> bool:
        """Send if a connection is up (as far as the events read so far tell) and
        the socket has room; return whether it went.

        With ``ZMQ_IMMEDIATE``, libzmq drops what went to the pipe of a
        connection that dropped: a message sent after the drop was read would be
        lost unseen, so none is sent then. Only the first frame can fail, so
        nothing is ever half sent.
        """
        if self._handshakes:
            if not self._connected:
                return False
        elif self._inproc is not None and not self._inproc.up():
            return False
        try:
            send_message(self._sock, frames, _NOBLOCK)
        except zmq.Again:
            return False
        return True

    def _send_waiting(
        self,
        frames: list[Any],
        route: str,
        deadline: float | None,
        timeout: float | None,
        wait_for_ready: bool | None,
        restamp: bool = False,
        stream: CallState | None = None,
    ) -> bool:
        """Send a message the socket had no room for: wait for a connection (for
        the rest of ``connect_timeout``, or until the deadline when waiting for
        ready) or for room (until the deadline). Return whether it went.

        With ``restamp`` (``frames`` a timed request), the request goes with its
        timeout cut to the time left and a fresh send stamp, so that a server
        never gives its handler more time than its caller still waits.

        With ``stream`` (``frames`` a message of that open call, its credit),
        the connection dropping fails the call and gives up the message: the
        server that held the call is gone, and waiting for a new connection
        would wait until the deadline, or for ever without one.

        Raises:
            Unavailable: no server connected within ``connect_timeout``.
            Unauthenticated: the server refused this client's CURVE key.
            DeadlineExceeded: not sent before the deadline.
            ChannelClosed: the channel was closed as it waited.
        """
        waits = self.wait_for_ready if wait_for_ready is None else wait_for_ready
        poller = zmq.Poller()
        poller.register(self._sock, _POLLOUT)
        poller.register(self._monitor, _POLLIN)
        poller.register(self._closing.fd, _POLLIN)
        first = True
        while True:
            if restamp and deadline is not None and not first:
                left = deadline - time.monotonic()
                if left > 0:
                    frames[-2] = restamp_request_header(
                        frames[-2], max(1, int(left * 1000)), send_stamp()
                    )
            first = False
            if self._send_now(frames):
                return True
            if self._closed:
                raise ChannelClosed(f"the channel was closed before {route} was sent")
            self._read_events()
            if stream is not None and self._dropped:
                self._lost(stream)
                return False
            now = time.monotonic()
            # A refusal fails a call that waits for ready too, as on a Channel:
            # libzmq does not retry a refused key, so it waited for its deadline
            # (for ever without one) and then blamed only the time.
            if not self._connected and self._refusal is not None:
                error, why = self._refusal
                raise error(f"{why}; not sending {route}")
            if not self._connected and not waits:
                if now >= self._grace_end:
                    raise Unavailable(
                        f"not sending {route}: no connection to {self.endpoint} "
                        f"for {self.connect_timeout:g} s (is the server running "
                        f"and reachable? wait_for_ready=True waits for it)"
                    )
            ends = [] if deadline is None else [deadline]
            if not self._connected and not waits:
                ends.append(self._grace_end)
            if ends and now >= min(ends):
                raise DeadlineExceeded(
                    f"{route} could not be sent within {timeout:g} s"
                )
            end = min(ends, default=math.inf)  # connect_timeout may be math.inf
            wait_ms = None if end == math.inf else max(1, round((end - now) * 1000))
            if self._inproc is not None and not self._connected:
                # No event says an inproc:// server was bound: look again soon.
                wait_ms = min(wait_ms or _INPROC_LOOK_MS, _INPROC_LOOK_MS)
            # Room in the socket counts only with a connection up (_send_now);
            # without one, the monitor's next event is what to wait for.
            may_send = self._connected
            poller.modify(self._sock, _POLLOUT if may_send else 0)
            poller.poll(wait_ms)

    def call(
        self,
        method: Unary[Any, Reply],
        args: dict[str, Any],
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> Reply:
        """Make one call, on a connection this thread has claimed, and return its
        typed result (``None`` for a oneway call, once sent); see
        :meth:`uvrpc.SyncChannel.call`."""
        try:
            if self._closed:
                raise ChannelClosed("the channel is closed")
            if FORKS.count != self._forks:
                check_process("SyncChannel", self._pid)
            if not method.oneway and _running_loop() is not None:
                # A loop runs this thread: is it the server's, which could never
                # answer? (A oneway call waits for no answer: it only sends.)
                check_not_served_here(self.endpoint, method.route)
            scope = OUTGOING.get()
            if CURRENT_CALL.get() is not None:
                timeout = inherited_timeout(timeout, method.route)
            deadline = None if timeout is None else time.monotonic() + timeout
            core = self._core
            if method.oneway:
                frames = core.oneway_request(method, args, timeout, scope)
                self._send(frames, method.route, deadline, timeout, wait_for_ready)
                return cast(Reply, None)
            state, frames = core.start_call(method, args, timeout, scope)
            # _send, inline: this is every blocking call's path.
            sent = False
            try:
                try:
                    self._dropped = False  # a drop read from now on is this call's
                    if not self._send_now(frames):
                        self._send_waiting(
                            frames,
                            method.route,
                            deadline,
                            timeout,
                            wait_for_ready,
                            True,
                        )
                    sent = True
                finally:
                    self._encoder.settle(frames[-1], sent)
                del frames
                while not state.over:
                    # _await_message, inline: this is every blocking call's path.
                    reply = self._receive(deadline)
                    if reply is None:
                        core.expire(state)
                    elif reply is _LOST:
                        self._lost(state)
                    elif reply is _CLOSED:
                        self._stopped(state)
                    else:
                        core.receive(reply)
            except BaseException as exc:
                if not sent:
                    # An interrupt (KeyboardInterrupt) is raised where Python first
                    # checks for signals, which may be just after the C call that
                    # queued the request: it may have gone, so the server is told to
                    # stop (a CANCEL for a call it never got is counted as stale).
                    core.fail(state, exc, cancel=not isinstance(exc, Exception))
                raise
            finally:
                # Interrupted, or the deadline passed: tell the server, whose handler
                # need not go on.
                self._end(state)
            result: Reply = finish(state)  # no cast(): a call, on every call's path
            return result
        finally:
            # _leave, inline: this is every blocking call's path.
            self._depth -= 1
            self._user.release()
            if self._close_pending is not None and not self._depth:
                self._left()

    def _receive(self, deadline: float | None) -> Any:
        """The next message, waiting until ``deadline``: its frames, ``None`` once
        the deadline passed, :data:`_LOST` if the connection dropped, or
        :data:`_CLOSED` if the channel closed (within :data:`FIRST_WAIT_MS`)."""
        if deadline is None:
            wait_ms = FIRST_WAIT_MS
        else:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            wait_ms = min(FIRST_WAIT_MS, max(1, round(remaining * 1000)))
        self._set_recv_timeout(wait_ms)
        try:
            return recv_message(self._sock)
        except zmq.Again:
            pass
        # A longer wait: watch the connection too. An inproc:// one has no event
        # for its server's close: it is looked at every FIRST_WAIT_MS instead.
        poller = self._poller
        inproc = self._inproc
        while True:
            if (
                self._dropped
                or self._closed
                or (inproc is not None and not inproc.up())
            ):
                try:  # what arrived before the drop (or close) answers first
                    return recv_message(self._sock, _NOBLOCK)
                except zmq.Again:
                    return _CLOSED if self._closed else _LOST
            poll_ms = None
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                poll_ms = max(1, round(remaining * 1000))
            if inproc is not None:
                poll_ms = min(poll_ms or FIRST_WAIT_MS, FIRST_WAIT_MS)
            ready = dict(poller.poll(poll_ms))
            if self._sock in ready:
                try:
                    return recv_message(self._sock, _NOBLOCK)
                except zmq.Again:
                    pass
            if self._monitor in ready:
                self._read_events()

    def _lost(self, state: CallState) -> None:
        """The connection dropped while a call waited: no reply will come."""
        self._core.fail(
            state, Unavailable(f"the connection dropped during {state.method.route}")
        )

    def _await_message(self, state: CallState, deadline: float | None) -> None:
        """Take the next message (of any call); once the deadline passed, the
        call expires; if the connection dropped or the channel closed, it fails."""
        frames = self._receive(deadline)
        if frames is None:
            self._core.expire(state)
        elif frames is _LOST:
            self._lost(state)
        elif frames is _CLOSED:
            self._stopped(state)
        else:
            self._core.receive(frames)

    def _stopped(self, state: CallState) -> None:
        """The channel closed while a call waited: it is cancelled."""
        error = ChannelClosed(f"the channel was closed during {state.method.route}")
        self._core.fail(state, error, cancel=True)

    def _end(self, state: CallState) -> None:
        """The caller is done with a call: cancel it if it is still going, and
        send what the core owes the server as far as the socket has room."""
        core = self._core
        if not state.over:
            core.cancel(state)
        if core.outbox:
            self._send_owed()

    def _send_owed(self) -> None:
        """Send what the core owes the server (cancels) as far as the socket
        has room; the rest is dropped: the server's deadline or probe ends it."""
        outbox = self._core.outbox
        if not self._sock.closed:
            for frames in outbox:
                try:
                    send_message(self._sock, frames, zmq.NOBLOCK)
                except zmq.Again:
                    pass
        outbox.clear()

    def _flush(self, state: CallState, deadline: float | None) -> None:
        """Send what the core owes the server (credit) within the deadline."""
        outbox = self._core.outbox
        if not outbox:
            return
        if state.over:
            self._end(state)
            return
        messages = outbox[:]
        outbox.clear()
        for frames in messages:
            route = state.method.route
            if not self._send(frames, route, deadline, state.timeout, True, state):
                return  # its connection dropped as the credit waited: it failed

    # --- streams -------------------------------------------------------------

    def items(
        self,
        method: ServerStreaming[Any, Out],
        args: dict[str, Any],
        timeout: float | None,
        final: list[ReplyHeader] | None = None,
        wait_for_ready: bool | None = None,
    ) -> Generator[Out, None, None]:
        """The items of a server-streaming call, on a connection this thread has
        claimed by the first ``next``; the last reply's header is appended to
        ``final`` (for interceptors) as the stream ends."""
        held = True  # the channel is this stream's between its yields only
        try:
            state, deadline = self._open_stream(method, args, timeout, wait_for_ready)
            self._stream_opened()
            try:
                while True:
                    item = self._take(state, deadline)
                    if item is END:
                        return
                    if item is WAIT:
                        self._await_message(state, deadline)
                    else:
                        held = False
                        self._leave()
                        yield cast(Out, item)
                        self._next_step(state, deadline)
                        held = True
            finally:
                held = self._stream_over(state, final, held)
        finally:
            if held:
                self._leave()

    def _take(self, state: CallState, deadline: float | None) -> Any:
        """A stream's next item (or END, or WAIT), and the credit it owes sent.

        Items read while another call waited on the socket are not served past
        the deadline (expire is a no-op once the stream ended within it).
        """
        core = self._core
        if deadline is not None and time.monotonic() >= deadline:
            core.expire(state)
        item = core.take(state)
        self._flush(state, deadline)
        return item

    def _stream_over(
        self, state: CallState, final: list[ReplyHeader] | None, held: bool
    ) -> bool:
        """A stream's iteration ended: end its call if the socket is this
        thread's, or can be taken, else leave it to the next thread to claim the
        socket; return whether this thread holds the socket."""
        held = held or self._take_now()
        if held:  # not while another thread is inside a call
            self._ended(state, final)
        else:
            self._unended.append(state)
        self._stream_closed()
        return held

    def _ended(self, state: CallState, final: list[ReplyHeader] | None) -> None:
        """A stream call's iteration ended: hand its last reply's header to the
        interceptors, cancel the call if it is still going."""
        if final is not None and state.header is not None:
            final.append(state.header)
        self._end(state)

    def client_stream(
        self,
        method: ClientStreaming[Any, In, Reply],
        args: dict[str, Any],
        items: Iterable[In],
        timeout: float | None,
        replied: list[ReplyHeader] | None = None,
        wait_for_ready: bool | None = None,
    ) -> Reply:
        """Send ``items`` and return the call's result, on a connection this
        thread has claimed; the last reply's header is appended to ``replied``."""
        try:
            return self._client_stream_alone(
                method, args, items, timeout, replied, wait_for_ready
            )
        finally:
            self._leave()

    def _client_stream_alone(
        self,
        method: ClientStreaming[Any, In, Reply],
        args: dict[str, Any],
        items: Iterable[In],
        timeout: float | None,
        replied: list[ReplyHeader] | None,
        wait_for_ready: bool | None,
    ) -> Reply:
        # The caller's items are read on a thread of their own, as gRPC's
        # blocking stream-unary call reads its iterator: the deadline, the
        # server's reply (an error before the handler took every item) and the
        # channel's close end the call whatever the caller's iterable does.
        state, deadline = self._open_stream(method, args, timeout, wait_for_ready)
        feeder = Feeder(
            items, f"uvrpc {method.route} items", self, ahead=CLIENT_STREAM_AHEAD
        )
        poller = self._stream_poller(feeder)
        index: int | None = 0  # None once the caller's items ended
        try:
            while not state.over:
                if index is not None:
                    index = self._feed(state, feeder, index, deadline)
                self._flush(state, deadline)
                if not state.over:
                    self._poll(poller, state, feeder, deadline)
        finally:
            feeder.stop()
            self._ended(state, replied)
        return cast(Reply, finish(state))

    def bidi(
        self,
        method: BidiStreaming[Any, In, Out],
        args: dict[str, Any],
        items: Iterable[In],
        timeout: float | None,
        final: list[ReplyHeader] | None = None,
        wait_for_ready: bool | None = None,
    ) -> Generator[Out, None, None]:
        """The items of a bidirectional call, sending ``items`` (read on a
        thread of their own), on a connection this thread has claimed by the
        first ``next``; ``final`` as for :meth:`items`."""
        held = True  # the channel is this stream's between its yields only
        try:
            state, deadline = self._open_stream(method, args, timeout, wait_for_ready)
            feeder = Feeder(items, f"uvrpc {method.route} items", self)
            poller = self._stream_poller(feeder)
            index: int | None = 0  # None once the caller's items ended
            self._stream_opened()  # once nothing can fail before the try
            try:
                while True:
                    if index is not None:
                        index = self._feed(state, feeder, index, deadline)
                    item = self._take(state, deadline)
                    if item is END:
                        return
                    if item is not WAIT:
                        held = False
                        self._leave()
                        yield cast(Out, item)
                        self._next_step(state, deadline)
                        held = True
                        continue
                    self._poll(poller, state, feeder, deadline)
            finally:
                feeder.stop()
                held = self._stream_over(state, final, held)
        finally:
            if held:
                self._leave()

    def _feed(
        self, state: CallState, feeder: Feeder, index: int, deadline: float | None
    ) -> int | None:
        """Send the caller's items the feeder has ready, numbered from
        ``index``, as far as the server's credit goes, then the stream's END
        once they ended (or fail the call with what the caller's iterable
        raised); return the next item's index, or ``None`` once they ended."""
        core = self._core
        route, timeout = state.method.route, state.timeout
        while core.can_send(state):
            item = feeder.take()
            if item is NOTHING:
                break
            frames = core.item_frames(state, item, index)
            if not self._send(frames, route, deadline, timeout, stream=state):
                return index  # its connection dropped: the call failed
            index += 1
        if state.over or not feeder.done:
            return index
        if feeder.error is not None:
            core.fail(state, feeder.error, cancel=True)
        else:
            end = core.end_frames(state)
            assert end is not None
            self._send(end, route, deadline, timeout, stream=state)
        return None

    def _stream_poller(self, feeder: Feeder) -> zmq.Poller:
        """What a stream fed by ``feeder`` waits on: the socket, the caller's
        next item, the connection's events and the channel's close."""
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(feeder.fd, zmq.POLLIN)
        poller.register(self._monitor, zmq.POLLIN)
        poller.register(self._closing.fd, zmq.POLLIN)
        return poller

    def _poll(
        self,
        poller: zmq.Poller,
        state: CallState,
        feeder: Feeder,
        deadline: float | None,
    ) -> None:
        """Wait until a message arrives or the caller's next item is ready; once
        the deadline passed, the call expires."""
        timeout_ms: int | None = None
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._core.expire(state)
                return
            timeout_ms = max(1, round(remaining * 1000))
        inproc = self._inproc is not None
        if inproc:
            # No monitor event says an inproc:// server closed: look, as the
            # wait for a reply does, or a stream whose items are slow to come
            # would wait for them (or its deadline) to learn it.
            timeout_ms = min(timeout_ms or FIRST_WAIT_MS, FIRST_WAIT_MS)
        ready = dict(poller.poll(timeout_ms))
        if feeder.fd in ready and not feeder.drain():
            poller.unregister(feeder.fd)  # the items ended: :attr:`done` says so
        if inproc or self._monitor in ready:
            self._read_events()
        if self._sock in ready or self._dropped:
            while True:
                try:
                    frames = recv_message(self._sock, zmq.NOBLOCK)
                except zmq.Again:
                    break
                self._core.receive(frames)
        if self._dropped:
            self._lost(state)
        elif self._closed:
            self._stopped(state)

    def _open_stream(
        self,
        method: StreamingMethod,
        args: dict[str, Any],
        timeout: float | None,
        wait_for_ready: bool | None = None,
    ) -> tuple[CallState, float | None]:
        if self._closed:
            raise ChannelClosed("the channel is closed")
        check_process("SyncChannel", self._pid)
        check_not_served_here(self.endpoint, method.route)
        if CURRENT_CALL.get() is not None:
            timeout = inherited_timeout(timeout, method.route)
        state, frames = self._core.open_stream(method, args, timeout, OUTGOING.get())
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self._dropped = False
            self._send(frames, method.route, deadline, timeout, wait_for_ready)
        except BaseException as exc:
            self._core.fail(state, exc)
            raise
        return state, deadline

    def _send(
        self,
        frames: list[Any],
        route: str,
        deadline: float | None,
        timeout: float | None,
        wait_for_ready: bool | None = None,
        stream: CallState | None = None,
    ) -> bool:
        """Send within the deadline; the body goes back to the encoder. Return
        whether it went: always, but with ``stream``, whose call a dropped
        connection fails instead (see :meth:`_send_waiting`).

        Raises:
            DeadlineExceeded: the socket had no room before the deadline.
            Unavailable: no server is connected (see :meth:`call`).
        """
        sent = False
        try:
            sent = self._send_now(frames) or self._send_waiting(
                frames, route, deadline, timeout, wait_for_ready, stream=stream
            )
        finally:
            self._encoder.settle(frames[-1], sent)
        return sent

    def close(self, linger: float | None = None) -> None:
        """Close the socket, waiting up to ``linger`` seconds (:attr:`linger` if
        ``None``) for requests sent to go out; by the thread that claimed the
        connection, or with none claiming it."""
        self._closed = True
        if self._inproc is not None:
            self._inproc.close()
        linger = self.linger if linger is None else linger
        monitor = self._monitor
        try:
            if linger <= 0 or os.getpid() != self._pid:
                self._sock.disable_monitor()
                self._sock.close(linger=0)
            else:
                self._sock.close(linger=max(1, round(linger * 1000)))
                self._await_destroyed(linger)
        finally:
            monitor.close(linger=0)
            self._when_dropped.detach()
            self._encoder.close()

    def _await_destroyed(self, linger: float) -> None:
        """Wait for libzmq to destroy the closed socket: once its queued
        messages went out or its linger ran out.

        The monitor reports MONITOR_STOPPED then (see
        DealerTransport.close_lingering); a margin over the linger bounds the
        wait should the report never come, and a context terminated meanwhile
        ends it.
        """
        monitor = self._monitor
        end = time.monotonic() + linger + 0.5
        try:
            while (left := end - time.monotonic()) > 0:
                if not monitor.poll(max(1, round(left * 1000))):
                    break
                frames = monitor.recv_multipart(copy=False)
                event, _ = monitor_event(frames[0])
                if event & zmq.EVENT_MONITOR_STOPPED:
                    break
        except zmq.ZMQError:
            pass  # the context was terminated: the socket is gone
