"""The blocking channel: one call at a time over a DEALER socket.

It sends and then blocks in ``recv`` with the call's remaining time as the socket's
receive timeout, so a call costs one send and one receive, as close to raw blocking
pyzmq as the protocol allows. The send has the same deadline: with no server to take
them, a DEALER queues requests up to its high-water mark and then blocks in ``send``.
Replies to earlier calls that timed out are recognised by their request id and
skipped.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Generator, Iterable, Iterator, Sequence
from typing import Any, cast

import zmq

from ..core.calls import check_size, decode_reply, encode_request, timeout_ms
from ..core.context import CURRENT_CALL, OUTGOING, inherited_timeout
from ..interceptors.base import ClientCallInfo, SyncClientInterceptor
from ..transport.forks import check_process
from ..transport.liveness import DEFAULT_HEARTBEAT, Heartbeat
from ..transport.reactor import recv_message, send_message
from ..transport.security import ClientSecurity, no_reply_text
from ..transport.sockets import open_socket
from ..wire.buffers import ATTACHMENT_MIN, BodyEncoder, BufferPool
from ..wire.codec import DecodeError, EncodeError, unpack
from ..wire.errors import (
    DeadlineExceeded,
    InternalError,
    InvalidArgument,
    ProtocolError,
    ResourceExhausted,
    Unavailable,
)
from ..wire.limits import (
    HEADER_READ_MAX,
    HIGH_WATER_MARK,
    MAX_MESSAGE_SIZE,
    STREAM_WINDOW,
    check_limit,
    message_size,
    too_large,
)
from ..wire.methods import (
    ClientStreaming,
    In,
    Out,
    Reply,
    ServerStreaming,
    StreamingMethod,
    Unary,
)
from ..wire.protocol import (
    DELIMITER,
    KIND_CANCEL,
    KIND_CREDIT,
    KIND_END,
    KIND_ITEM,
    NIL_BODY,
    ONEWAY_CALL_ID,
    ReplyHeader,
    StreamHeader,
    encode_stream_header,
    parse_client_header,
    parse_reply_header,
)
from .intercept import (
    intercept_sync_call,
    intercept_sync_server_stream,
    intercept_sync_stream,
)

__all__ = ["SyncChannel"]


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
        )
        self._sock.connect(endpoint)
        self._no_reply = no_reply_text(security)
        self._ids = itertools.count(1)
        self._encoder = BodyEncoder(pool, attachment_min=attachment_min)
        self._recv_timeout_ms = -1
        self._send_timeout_ms = -1
        self._closed = False
        self.dropped_replies = 0
        """Replies that were late for their call (or malformed) and were skipped."""
        self.stale_messages = 0
        """Stream items of calls that had ended, skipped."""

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
        call_id = ONEWAY_CALL_ID if method.oneway else next(self._ids)
        frames = encode_request(
            self._encoder,
            call_id,
            method,
            args,
            timeout,
            None if scope is None else scope.encoded,
            max_size=self.max_message_size,
        )
        deadline = None if timeout is None else time.monotonic() + timeout
        send_timeout = timeout_ms(timeout)
        self._set_send_timeout(-1 if send_timeout is None else send_timeout)
        sent = False
        try:
            send_message(self._sock, frames)
            sent = True
        except zmq.Again:
            # Only the first frame can time out, so nothing was half sent.
            raise DeadlineExceeded(
                f"{method.route} could not be sent within {timeout:g} s"
            ) from None
        finally:
            self._encoder.settle(frames[-1], sent)
        del frames
        if call_id == ONEWAY_CALL_ID:
            return cast(Reply, None)
        try:
            header, reply = self._reply(call_id, deadline)
        except BaseException:
            # Interrupted: tell the server, whose handler need not go on.
            if not self._closed:
                self._send_control(KIND_CANCEL, call_id)
            raise
        if header is None:
            if not self._closed:
                self._send_control(KIND_CANCEL, call_id)
            raise DeadlineExceeded(
                f"{method.route} {self._no_reply} within {timeout:g} s"
            )
        if scope is not None:
            scope.trailers = header.trailers or {}
        size = message_size(reply, 1)
        if size > self.max_message_size:
            raise self._too_large(f"the reply of {method.route}", size)
        return decode_reply(
            method, header, reply[-1].buffer, [f.buffer for f in reply[1:-2]]
        )

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

    def _reply(
        self, call_id: int, deadline: float | None
    ) -> tuple[ReplyHeader | None, list[zmq.Frame]]:
        """Receive the reply to ``call_id``; ``None`` if the deadline passed first."""
        while (reply := self._receive(deadline)) is not None:
            try:
                if len(reply) < 3 or len(reply[0]) != 0:
                    raise ProtocolError("reply does not have the frames of a reply")
                self._size(reply)  # a huge reply's header is not read
                header = parse_reply_header(reply[-2].buffer)
            except ProtocolError:
                self.dropped_replies += 1
                continue
            if header.call_id != call_id:
                self.dropped_replies += 1
                continue
            return header, reply
        return None, []

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
        window = self.stream_window
        call_id, deadline = self._open_stream(method, args, timeout, window)
        over = False
        taken = 0
        try:
            while True:
                header, frames = self._next_message(call_id, deadline, method, timeout)
                if type(header) is ReplyHeader:
                    over = True
                    if final is not None:
                        final.append(header)
                    decode_reply(
                        method.final, header, frames[-1].buffer, _buffers(frames)
                    )
                    return
                assert type(header) is StreamHeader
                if header.kind != KIND_ITEM:
                    continue  # a probe
                item = _decode_item(method, frames)
                taken += 1
                if taken >= max(1, window // 2):
                    self._send_flow(
                        KIND_CREDIT, call_id, method, deadline, timeout, taken
                    )
                    taken = 0
                yield cast(Out, item)
        finally:
            if not over and not self._closed:
                self._send_control(KIND_CANCEL, call_id)

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
        call_id, deadline = self._open_stream(method, args, timeout, None)
        final: tuple[ReplyHeader, list[zmq.Frame]] | None = None
        credit = 0
        try:
            for index, item in enumerate(items):
                while credit <= 0 and final is None:
                    header, frames = self._next_message(
                        call_id, deadline, method, timeout
                    )
                    if type(header) is ReplyHeader:
                        final = (header, frames)
                    elif type(header) is StreamHeader and header.kind == KIND_CREDIT:
                        credit += header.n
                if final is not None:
                    break  # the handler finished before taking every item
                credit -= 1
                self._send_item(method, call_id, item, index, deadline, timeout)
            if final is None:
                self._send_flow(KIND_END, call_id, method, deadline, timeout)
            while final is None:
                header, frames = self._next_message(call_id, deadline, method, timeout)
                if type(header) is ReplyHeader:
                    final = (header, frames)
        finally:
            if final is None and not self._closed:
                self._send_control(KIND_CANCEL, call_id)
        header, frames = final
        if replied is not None:
            replied.append(header)
        result = decode_reply(method.final, header, frames[-1].buffer, _buffers(frames))
        return cast(Reply, result)

    def _open_stream(
        self,
        method: StreamingMethod,
        args: dict[str, Any],
        timeout: float | None,
        window: int | None,
    ) -> tuple[int, float | None]:
        if self._closed:
            raise Unavailable("the channel is closed")
        check_process("SyncChannel", self._pid)
        call_id = next(self._ids)
        frames = encode_request(
            self._encoder,
            call_id,
            method.final,
            args,
            timeout,
            max_size=self.max_message_size,
        )
        scope = OUTGOING.get()
        frames[-2] = method.headers.encode_stream(
            call_id,
            timeout_ms(timeout),
            window,
            None if scope is None else scope.encoded,
        )
        deadline = None if timeout is None else time.monotonic() + timeout
        self._send(frames, method.route, deadline, timeout)
        return call_id, deadline

    def _send(
        self,
        frames: list[Any],
        route: str,
        deadline: float | None,
        timeout: float | None,
    ) -> None:
        if deadline is None:
            self._set_send_timeout(-1)
        else:
            self._set_send_timeout(max(1, round((deadline - time.monotonic()) * 1000)))
        sent = False
        try:
            send_message(self._sock, frames)
            sent = True
        except zmq.Again:
            raise DeadlineExceeded(
                f"{route} could not be sent within {timeout:g} s"
            ) from None
        finally:
            self._encoder.settle(frames[-1], sent)

    def _send_item(
        self,
        method: StreamingMethod,
        call_id: int,
        item: Any,
        index: int,
        deadline: float | None,
        timeout: float | None,
    ) -> None:
        try:
            body, attachments = self._encoder.encode(
                item, method.request_item_carries_bytes
            )
        except (EncodeError, ValueError, OverflowError) as exc:
            raise InvalidArgument(
                f"cannot send item {index} of {method.route}: {exc}"
            ) from None
        header = encode_stream_header(KIND_ITEM, call_id)
        frames = [DELIMITER, *attachments, header, body]
        what = f"item {index} of {method.route}"
        check_size(self._encoder, frames, what, self.max_message_size)
        self._send(frames, method.route, deadline, timeout)

    def _send_flow(
        self,
        kind: int,
        call_id: int,
        method: StreamingMethod,
        deadline: float | None,
        timeout: float | None,
        n: int = 0,
    ) -> None:
        """Send an END or CREDIT message within the call's deadline.

        Raises:
            DeadlineExceeded: the socket had no room before the deadline.
        """
        header = encode_stream_header(kind, call_id, n)
        self._send([DELIMITER, header, NIL_BODY], method.route, deadline, timeout)

    def _send_control(self, kind: int, call_id: int, n: int = 0) -> None:
        """Send a CANCEL if the socket has room now; otherwise it is dropped (the
        server's deadline or probe ends the call then)."""
        frames = [DELIMITER, encode_stream_header(kind, call_id, n), NIL_BODY]
        try:
            send_message(self._sock, frames, zmq.NOBLOCK)
        except zmq.Again:
            pass

    def _next_message(
        self,
        call_id: int,
        deadline: float | None,
        method: StreamingMethod,
        timeout: float | None,
    ) -> tuple[ReplyHeader | StreamHeader, list[zmq.Frame]]:
        """The next message of call ``call_id``; others are skipped."""
        while (frames := self._receive(deadline)) is not None:
            try:
                if len(frames) < 3 or len(frames[0]) != 0:
                    raise ProtocolError("message does not have the frames of one")
                size = self._size(frames)
                header = parse_client_header(frames[-2].buffer)
            except ProtocolError:
                self.dropped_replies += 1
                continue
            if header.call_id == call_id:
                if size > self.max_message_size:
                    raise self._too_large(f"a message of {method.route}", size)
                return header, frames
            if isinstance(header, ReplyHeader):
                self.dropped_replies += 1
            elif header.kind == KIND_ITEM:
                self.stale_messages += 1
        raise DeadlineExceeded(f"{method.route} did not finish within {timeout:g} s")

    def _size(self, frames: list[zmq.Frame]) -> int:
        """The size of a received message; a huge one's header is not read.

        Raises:
            ProtocolError: the message is too large to read its header.
        """
        size = message_size(frames, 1)
        if size > self.max_message_size and len(frames[-2]) > HEADER_READ_MAX:
            raise ProtocolError(f"a message of {size:,} bytes has a huge header")
        return size

    def _too_large(self, what: str, size: int) -> ResourceExhausted:
        limit = self.max_message_size
        return ResourceExhausted(too_large(what, size, limit, "this channel"))

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


def _buffers(frames: list[zmq.Frame]) -> list[Any]:
    """The attachments of a received message, as buffers."""
    return [frame.buffer for frame in frames[1:-2]]


def _decode_item(method: StreamingMethod, frames: list[zmq.Frame]) -> Any:
    try:
        return method.check_reply_item(unpack(frames[-1].buffer, _buffers(frames)))
    except (DecodeError, ValueError) as exc:
        raise InternalError(
            f"an item of {method.route} does not match its declared type: {exc}"
        ) from None
