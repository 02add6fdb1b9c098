"""The blocking channel: one call at a time over a DEALER socket.

It sends and then blocks in ``recv`` with the call's remaining time as the socket's
receive timeout, so a call costs one send and one receive, as close to raw blocking
pyzmq as the protocol allows. The send has the same deadline: with no server to take
them, a DEALER queues requests up to its high-water mark and then blocks in ``send``.
Replies to earlier calls that timed out are recognised by their request id and
skipped. What a message means is the protocol core's (:mod:`uvrpc.core.client`), as
for the asyncio channel: this shell owns the socket, its timeouts and the waiting.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterable, Iterator, Sequence
from typing import Any, cast

import zmq

from ..core.client import END, WAIT, CallState, ClientCore, finish
from ..core.context import CURRENT_CALL, OUTGOING, inherited_timeout
from ..interceptors.base import ClientCallInfo, SyncClientInterceptor
from ..transport.forks import check_process
from ..transport.liveness import DEFAULT_HEARTBEAT, Heartbeat
from ..transport.reactor import recv_message, send_message
from ..transport.security import ClientSecurity, no_reply_text
from ..transport.sockets import open_socket
from ..wire.buffers import ATTACHMENT_MIN, BodyEncoder, BufferPool
from ..wire.errors import DeadlineExceeded, Unavailable
from ..wire.limits import (
    HIGH_WATER_MARK,
    MAX_MESSAGE_SIZE,
    STREAM_WINDOW,
    check_limit,
)
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
from .feeder import NOTHING, Feeder
from .intercept import (
    intercept_sync_call,
    intercept_sync_server_stream,
    intercept_sync_stream,
)

__all__ = ["SyncChannel"]

_NOBLOCK = int(zmq.NOBLOCK)
_POLLOUT = int(zmq.POLLOUT)


class SyncChannel:
    """A blocking connection to one endpoint.

    Args:
        endpoint: where to connect (``tcp://``, ``ipc://`` or ``inproc://``).
        context: the ZeroMQ context; the process-wide one by default.
        pool: the pool of encode buffers; the process-wide one (thread-safe) by
            default.
        attachment_min: binary arguments at least this many bytes long travel as
            frames of their own, sent without a copy, instead of inside the body.
        stream_window: the items a server may send ahead of the caller taking them.
        max_message_size: the largest request, reply or stream item in bytes (all
            its frames). A call whose request is larger fails at once with
            :class:`~uvrpc.ResourceExhausted`, before anything is sent; so does a
            call whose reply is larger, without decoding it.
        hwm: messages queued each way before ZeroMQ pushes back (``SNDHWM``,
            ``RCVHWM``).
        security: connect over CURVE, pinning the server's public key
            (:class:`~uvrpc.security.ClientSecurity`); a refused handshake shows as
            :class:`~uvrpc.DeadlineExceeded` saying so.
        heartbeat: ZeroMQ heartbeats on the connection (:class:`~uvrpc.Heartbeat`);
            ``None`` turns them off. A blocking call has no disconnect monitor: a
            dead server closes the connection, and the call fails at its deadline.
        interceptors: run around each call, the first outermost: unary and
            oneway (:meth:`call`) and stream calls
            (:class:`~uvrpc.SyncClientInterceptor`, ``docs/interceptors.md``).

    Not thread-safe: use one per thread; not usable in a child process after a
    fork (:class:`RuntimeError`). A reply's binary values are views of the
    received frames, which live as long as the views do.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        context: zmq.Context[Any] | None = None,
        pool: BufferPool | None = None,
        attachment_min: int = ATTACHMENT_MIN,
        stream_window: int = STREAM_WINDOW,
        max_message_size: int = MAX_MESSAGE_SIZE,
        hwm: int = HIGH_WATER_MARK,
        security: ClientSecurity | None = None,
        heartbeat: Heartbeat | None = DEFAULT_HEARTBEAT,
        interceptors: Sequence[SyncClientInterceptor] = (),
    ) -> None:
        if stream_window < 1:
            raise ValueError("a stream window must be at least 1")
        self._interceptors = tuple(interceptors)
        self.stream_window = stream_window
        self.max_message_size = check_limit("max_message_size", max_message_size)
        """The largest message sent or taken, in bytes."""
        check_limit("hwm", hwm, 0)
        self._pid = os.getpid()
        self._sock = open_socket(
            context,
            zmq.DEALER,
            max_message_size=max_message_size,
            hwm=hwm,
            heartbeat=heartbeat,
            security=security,
            immediate=True,
        )
        self._sock.connect(endpoint)
        self._encoder = BodyEncoder(pool, attachment_min=attachment_min)
        self._core = ClientCore(
            self._encoder,
            stream_window=stream_window,
            max_message_size=self.max_message_size,
            no_reply=no_reply_text(security),
        )
        # The socket queues requests only for a connected server (ZMQ_IMMEDIATE):
        # a send that finds no room may mean that no server completed a
        # handshake, which ZeroMQ never reports to a blocking socket.
        self._not_sent = no_reply_text(security)[len("got no reply") :]
        self._recv_timeout_ms = -1
        self._send_timeout_ms = -1
        self._closed = False

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

    def call(
        self, method: Unary[Any, Reply], args: dict[str, Any], timeout: float | None
    ) -> Reply:
        """Make one call and return its typed result.

        A oneway method's call returns ``None`` once its request is sent; no reply
        comes. Metadata and trailers are as for :meth:`uvrpc.Channel.call`. When
        the deadline passes, or the wait is interrupted (``KeyboardInterrupt``),
        the server is sent a CANCEL if the socket has room for it.

        Raises:
            RpcError: the server replied with an error (the subclass names the status).
            DeadlineExceeded: no reply within ``timeout`` seconds (for a oneway
                call: the request could not be sent within it).
            Unavailable: the channel is closed.
        """
        if self._interceptors:
            return intercept_sync_call(
                self._interceptors, self._call, method, args, timeout
            )
        return self._call(method, args, timeout)

    def _call(
        self, method: Unary[Any, Reply], args: dict[str, Any], timeout: float | None
    ) -> Reply:
        if self._closed:
            raise Unavailable("the channel is closed")
        if os.getpid() != self._pid:
            check_process("SyncChannel", self._pid)
        scope = OUTGOING.get()
        if CURRENT_CALL.get() is not None:
            timeout = inherited_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        core = self._core
        if method.oneway:
            frames = core.oneway_request(method, args, timeout, scope)
            self._send(frames, method.route, deadline, timeout)
            return cast(Reply, None)
        state, frames = core.start_call(method, args, timeout, scope)
        sent = False
        try:
            # Without blocking: a request that must wait for a server goes with
            # the time it has left (_send_late).
            send_message(self._sock, frames, _NOBLOCK)
            sent = True
        except zmq.Again:
            # Only the first frame can fail, so nothing was half sent.
            try:
                sent = self._send_late(frames, deadline)
            except BaseException as exc:
                core.fail(state, exc)
                raise
            if not sent:
                error = DeadlineExceeded(
                    f"{method.route} could not be sent within {timeout:g} s"
                    f"{self._not_sent}"
                )
                core.fail(state, error)
                raise error from None
        except BaseException as exc:
            core.fail(state, exc)
            raise
        finally:
            self._encoder.settle(frames[-1], sent)
        del frames
        try:
            while not state.over:
                # _await_message, inline: this is every blocking call's path.
                reply = self._receive(deadline)
                if reply is None:
                    core.expire(state)
                else:
                    core.receive(reply)
        finally:
            # Interrupted, or the deadline passed: tell the server, whose handler
            # need not go on.
            self._end(state)
        result: Reply = finish(state)  # no cast(): a call, on every call's path
        return result

    def _send_late(self, frames: list[Any], deadline: float | None) -> bool:
        """Send a request that found no room (no server connected, or its pipe
        full) once there is, before ``deadline``; return whether it went.

        It goes with its timeout cut to the time left and a fresh send stamp, so
        that a server never gives its handler more time than its caller waits.
        """
        sock = self._sock
        while True:
            wait_ms = -1
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                wait_ms = max(1, round(left * 1000))
            if not sock.poll(wait_ms, _POLLOUT):
                continue
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                frames[-2] = restamp_request_header(
                    frames[-2], max(1, int(left * 1000)), send_stamp()
                )
            try:
                send_message(sock, frames, _NOBLOCK)
            except zmq.Again:
                continue
            return True

    def _receive(self, deadline: float | None) -> list[zmq.Frame] | None:
        """The next message, waiting until ``deadline``; ``None`` once it passed."""
        if deadline is None:
            self._set_recv_timeout(-1)
        else:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._set_recv_timeout(max(1, round(remaining * 1000)))
        try:
            return recv_message(self._sock)
        except zmq.Again:
            return None

    def _await_message(self, state: CallState, deadline: float | None) -> None:
        """Take the next message (of any call); once the deadline passed, the
        call expires."""
        frames = self._receive(deadline)
        if frames is None:
            self._core.expire(state)
        else:
            self._core.receive(frames)

    def _end(self, state: CallState) -> None:
        """The caller is done with a call: cancel it if it is still going, and
        send what the core owes the server as far as the socket has room."""
        core = self._core
        if not state.over:
            core.cancel(state)
        outbox = core.outbox
        if outbox:
            if not self._closed:
                for frames in outbox:
                    try:
                        send_message(self._sock, frames, zmq.NOBLOCK)
                    except zmq.Again:
                        pass  # dropped: the server's deadline or probe ends it
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
            self._send(frames, state.method.route, deadline, state.timeout)

    # --- streams -------------------------------------------------------------

    def server_stream(
        self,
        method: ServerStreaming[Any, Out],
        args: dict[str, Any],
        timeout: float | None,
    ) -> Iterator[Out]:
        """Iterate the items of a server-streaming call (sent on the first ``next``).

        The socket is the call's until the iterator is exhausted or closed: finish
        or close it (``break`` out of a ``for`` loop closes it once it is dropped;
        ``contextlib.closing`` or ``iterator.close()`` close it at once) before the
        next call. Closing it early, or the deadline passing, cancels the call.

        Raises:
            RpcError: the server ended the stream with an error.
            DeadlineExceeded: the stream did not end within ``timeout`` seconds.
            Unavailable: the channel is closed.

        With interceptors, they run on a thread of their own from the first
        ``next`` until the stream ends, and the stream ends as they do.
        """
        if self._interceptors:
            return intercept_sync_server_stream(
                self._interceptors, self._intercepted_items, method, args, timeout
            )
        return self._items(method, args, timeout)

    def _intercepted_items(
        self, info: ClientCallInfo, final: list[ReplyHeader]
    ) -> Generator[Any, None, None]:
        method = cast(ServerStreaming[Any, Any], info.method)
        return self._items(method, info.args, info.timeout, final)

    def _items(
        self,
        method: ServerStreaming[Any, Out],
        args: dict[str, Any],
        timeout: float | None,
        final: list[ReplyHeader] | None = None,
    ) -> Generator[Out, None, None]:
        state, deadline = self._open_stream(method, args, timeout)
        core = self._core
        try:
            while True:
                item = core.take(state)
                self._flush(state, deadline)
                if item is END:
                    return
                if item is WAIT:
                    self._await_message(state, deadline)
                else:
                    yield cast(Out, item)
        finally:
            self._ended(state, final)

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
    ) -> Reply:
        """Send ``items`` as the server grants credit and return the call's result.

        Raises:
            RpcError: the server replied with an error; the client stops sending.
            DeadlineExceeded: the call did not end within ``timeout`` seconds.
            Unavailable: the channel is closed.
            Exception: whatever iterating ``items`` raised; the call is cancelled.
        """
        if self._interceptors:
            result = intercept_sync_stream(
                self._interceptors,
                self._intercepted_client_stream,
                method,
                args,
                items,
                timeout,
            )
            return cast(Reply, result)
        return self._client_stream(method, args, items, timeout)

    def _intercepted_client_stream(
        self, info: ClientCallInfo, final: list[ReplyHeader]
    ) -> Any:
        method = cast(ClientStreaming[Any, Any, Any], info.method)
        items = cast(Iterable[Any], info.items)
        return self._client_stream(method, info.args, items, info.timeout, final)

    def _client_stream(
        self,
        method: ClientStreaming[Any, In, Reply],
        args: dict[str, Any],
        items: Iterable[In],
        timeout: float | None,
        replied: list[ReplyHeader] | None = None,
    ) -> Reply:
        state, deadline = self._open_stream(method, args, timeout)
        core = self._core
        try:
            for index, item in enumerate(items):
                while not state.over and not core.can_send(state):
                    self._await_message(state, deadline)
                if state.over:
                    break  # the handler finished before taking every item
                frames = core.item_frames(state, item, index)
                self._send(frames, method.route, deadline, timeout)
            end = core.end_frames(state)
            if end is not None:
                self._send(end, method.route, deadline, timeout)
            while not state.over:
                self._await_message(state, deadline)
        finally:
            self._ended(state, replied)
        return cast(Reply, finish(state))

    def bidi_stream(
        self,
        method: BidiStreaming[Any, In, Out],
        args: dict[str, Any],
        items: Iterable[In],
        timeout: float | None,
    ) -> Iterator[Out]:
        """Iterate the items of a bidirectional call (sent on the first ``next``),
        sending ``items`` as the server grants credit.

        ``items`` is read on a thread of its own, so it may block, or wait for
        the items this returns (a chat); the caller's thread sends them. The socket
        is the call's until the iterator is exhausted or closed, as for
        :meth:`server_stream`; closing it early, the deadline passing, or ``items``
        raising cancels the call (the iterator then raises what ``items`` raised).

        Raises:
            RpcError: the server ended the stream with an error.
            DeadlineExceeded: the stream did not end within ``timeout`` seconds.
            Unavailable: the channel is closed.

        With interceptors, they run on a thread of their own, as for
        :meth:`server_stream`.
        """
        if self._interceptors:
            return intercept_sync_server_stream(
                self._interceptors,
                self._intercepted_bidi,
                method,
                args,
                timeout,
                items,
            )
        return self._bidi(method, args, items, timeout)

    def _intercepted_bidi(
        self, info: ClientCallInfo, final: list[ReplyHeader]
    ) -> Generator[Any, None, None]:
        method = cast(BidiStreaming[Any, Any, Any], info.method)
        items = cast(Iterable[Any], info.items)
        return self._bidi(method, info.args, items, info.timeout, final)

    def _bidi(
        self,
        method: BidiStreaming[Any, In, Out],
        args: dict[str, Any],
        items: Iterable[In],
        timeout: float | None,
        final: list[ReplyHeader] | None = None,
    ) -> Generator[Out, None, None]:
        state, deadline = self._open_stream(method, args, timeout)
        core = self._core
        feeder = Feeder(items, f"uvrpc {method.route} items")
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(feeder.fd, zmq.POLLIN)
        index = 0
        ended = False
        try:
            while True:
                while not ended and core.can_send(state):
                    item = feeder.take()
                    if item is NOTHING:
                        break
                    frames = core.item_frames(state, item, index)
                    self._send(frames, method.route, deadline, timeout)
                    index += 1
                if not ended and not state.over and feeder.done:
                    ended = True
                    if feeder.error is not None:
                        core.fail(state, feeder.error, cancel=True)
                    else:
                        end = core.end_frames(state)
                        assert end is not None
                        self._send(end, method.route, deadline, timeout)
                item = core.take(state)
                self._flush(state, deadline)
                if item is END:
                    return
                if item is not WAIT:
                    yield cast(Out, item)
                    continue
                self._poll(poller, state, feeder, deadline)
        finally:
            feeder.stop()
            self._ended(state, final)

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
        ready = dict(poller.poll(timeout_ms))
        if feeder.fd in ready:
            feeder.drain()
        if self._sock in ready:
            while True:
                try:
                    frames = recv_message(self._sock, zmq.NOBLOCK)
                except zmq.Again:
                    break
                self._core.receive(frames)

    def _open_stream(
        self,
        method: StreamingMethod,
        args: dict[str, Any],
        timeout: float | None,
    ) -> tuple[CallState, float | None]:
        if self._closed:
            raise Unavailable("the channel is closed")
        check_process("SyncChannel", self._pid)
        if CURRENT_CALL.get() is not None:
            timeout = inherited_timeout(timeout)
        state, frames = self._core.open_stream(method, args, timeout, OUTGOING.get())
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self._send(frames, method.route, deadline, timeout)
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
    ) -> None:
        """Send within the deadline; the body goes back to the encoder.

        Raises:
            DeadlineExceeded: the socket had no room before the deadline.
        """
        if deadline is None:
            self._set_send_timeout(-1)
        else:
            self._set_send_timeout(max(1, round((deadline - time.monotonic()) * 1000)))
        sent = False
        try:
            send_message(self._sock, frames)
            sent = True
        except zmq.Again:
            # Only the first frame can time out, so nothing was half sent.
            raise DeadlineExceeded(
                f"{route} could not be sent within {timeout:g} s{self._not_sent}"
            ) from None
        finally:
            self._encoder.settle(frames[-1], sent)

    def close(self) -> None:
        """Close the socket without lingering."""
        if not self._closed:
            self._closed = True
            self._sock.close(linger=0)
            self._encoder.close()

    def __enter__(self) -> SyncChannel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
