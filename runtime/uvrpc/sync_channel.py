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
import time
from typing import Any, cast

import zmq

from .buffers import ATTACHMENT_MIN, BodyEncoder, BufferPool
from .calls import decode_reply, encode_request, timeout_ms
from .errors import DeadlineExceeded, ProtocolError, Unavailable
from .methods import Reply, Unary
from .protocol import ONEWAY_CALL_ID, parse_reply_header
from .reactor import recv_message, send_message

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

    Not thread-safe: use one per thread. A reply's binary values are views of the
    received frames, which live as long as the views do.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        context: zmq.Context[Any] | None = None,
        pool: BufferPool | None = None,
        attachment_min: int = ATTACHMENT_MIN,
    ) -> None:
        ctx = context if context is not None else zmq.Context.instance()
        self._sock: zmq.Socket[bytes] = ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.connect(endpoint)
        self._ids = itertools.count(1)
        self._encoder = BodyEncoder(pool, attachment_min=attachment_min)
        self._recv_timeout_ms = -1
        self._send_timeout_ms = -1
        self._closed = False
        self.dropped_replies = 0
        """Replies that were late for their call (or malformed) and were skipped."""

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
        comes.

        Raises:
            RpcError: the server replied with an error (the subclass names the status).
            DeadlineExceeded: no reply within ``timeout`` seconds (for a oneway
                call: the request could not be sent within it).
            Unavailable: the channel is closed.
        """
        if self._closed:
            raise Unavailable("the channel is closed")
        call_id = ONEWAY_CALL_ID if method.oneway else next(self._ids)
        frames = encode_request(self._encoder, call_id, method, args, timeout)
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
        while True:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._set_recv_timeout(max(1, round(remaining * 1000)))
            else:
                self._set_recv_timeout(-1)
            try:
                reply = recv_message(self._sock)
            except zmq.Again:
                break
            try:
                if len(reply) < 3 or len(reply[0]) != 0:
                    raise ProtocolError("reply does not have the frames of a reply")
                header = parse_reply_header(reply[-2].buffer)
            except ProtocolError:
                self.dropped_replies += 1
                continue
            if header.call_id != call_id:
                self.dropped_replies += 1
                continue
            return decode_reply(
                method, header, reply[-1].buffer, [f.buffer for f in reply[1:-2]]
            )
        raise DeadlineExceeded(f"{method.route} got no reply within {timeout:g} s")

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
