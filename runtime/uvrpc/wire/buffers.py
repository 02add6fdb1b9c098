"""Pooled encode buffers, and how long ZeroMQ may hold on to what it is given.

Every message body is encoded by a msgpack :class:`~msgpack.Packer` straight into the
packer's own growable buffer, and a view of that buffer is what goes to ZeroMQ: the
body is never copied into an exact-size ``bytes`` first. A packer whose buffer has
grown is worth keeping, so packers live in a :class:`BufferPool`.

Who owns a packer, and when it goes back:

* each socket owner (a channel, a server) has a :class:`BodyEncoder`, which takes a
  packer from the pool (:meth:`BufferPool.acquire`) and encodes into it, sending a
  view of its buffer;
* if ZeroMQ copied the frame at once (a successful send of a frame shorter than
  :data:`ZERO_COPY_MIN`), the encoder empties the packer and keeps it for the next
  message;
* otherwise ZeroMQ, or a send waiting for room, still refers to the view, so the
  packer is *lent* (:meth:`BufferPool.lend`) and the encoder takes another: the lent
  one comes back by itself when the last reference to the view goes — for a
  zero-copy frame, when libzmq has sent it and pyzmq's garbage thread drops it.
  That can happen on another thread, so the pool takes a lock;
* closing the channel or server gives its encoder's packer back.

The pool never grows without bound: it keeps at most ``max_buffers`` idle packers,
and a packer whose buffer grew beyond ``max_buffer_size`` is dropped on return
instead of kept. ``docs/memory.md`` has the whole ownership table.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgpack

from .codec import (
    ATTACHMENT_EXT_TYPE,
    NOT_CONTIGUOUS,
    EncodeError,
    byte_view,
    new_packer,
    outline,
    outline_fields,
)
from .limits import ZERO_COPY_MIN, check_limit
from .unknown import KEPT

__all__ = [
    "ATTACHMENT_MIN",
    "ZERO_COPY_MIN",
    "BodyEncoder",
    "BufferPool",
    "PoolStats",
    "default_pool",
]

ATTACHMENT_MIN = 32 * 1024
"""Binary values at least this long travel as attachment frames, not in the body.

An attachment costs one more frame and a reference in the body; a value in the body
costs a copy into the body and, on the receiving side, a copy out of it. Measured
with ``python -m uvrpc.bench.zerocopy --tables attachment`` (``docs/memory.md``):
inline is cheaper up to 16 KiB, the two are even at 32 and 64 KiB, and attached is
cheaper from there on — and only attached payloads reach the receiver uncopied.
"""


@dataclass(frozen=True, slots=True)
class PoolStats:
    """A snapshot of a :class:`BufferPool`'s counters."""

    hits: int
    """Acquisitions served by an idle packer."""
    misses: int
    """Acquisitions that had to make a new packer."""
    in_use: int
    """Packers acquired and not yet back (lent ones included)."""
    high_water: int
    """The most packers ever in use at once."""
    idle: int
    """Packers waiting in the pool."""
    dropped: int
    """Packers not kept on return: the pool was full, or the buffer too big."""


class BufferPool:
    """A bounded, thread-safe pool of msgpack packers and their buffers.

    Args:
        max_buffers: the most idle packers kept.
        max_buffer_size: a packer that encoded a message longer than this is not
            kept (its buffer stays as large as the largest message it encoded).
    """

    def __init__(
        self, *, max_buffers: int = 64, max_buffer_size: int = 1024 * 1024
    ) -> None:
        if max_buffers < 0 or max_buffer_size < 0:
            raise ValueError("pool limits must not be negative")
        self.max_buffers = max_buffers
        self.max_buffer_size = max_buffer_size
        self._idle: list[msgpack.Packer] = []
        # Reentrant: a lent view freed by the garbage collector returns its packer
        # from a weak reference callback, which runs wherever the collector does
        # (from Python 3.13, at almost any point of the code), so also in this
        # thread while it holds the lock. Each method's changes are complete
        # wherever it calls out, so a nested release leaves the counts right.
        self._lock = threading.RLock()
        # A lent packer is reached from the weak reference to the view it lent;
        # the dict keeps each weak reference (and so its callback) alive.
        self._lent: dict[int, tuple[weakref.ref[memoryview], msgpack.Packer, int]] = {}
        self._hits = self._misses = self._in_use = self._high_water = 0
        self._dropped = 0

    @property
    def stats(self) -> PoolStats:
        """The pool's counters now."""
        with self._lock:
            return PoolStats(
                hits=self._hits,
                misses=self._misses,
                in_use=self._in_use,
                high_water=self._high_water,
                idle=len(self._idle),
                dropped=self._dropped,
            )

    def acquire(self) -> msgpack.Packer:
        """Take a packer (with an empty buffer) for one message."""
        with self._lock:
            self._in_use += 1
            if self._in_use > self._high_water:
                self._high_water = self._in_use
            if self._idle:
                self._hits += 1
                return self._idle.pop()
            self._misses += 1
        return new_packer(autoreset=False)

    def release(self, packer: msgpack.Packer, size: int) -> None:
        """Give back a packer no frame refers to any more.

        ``size`` is the length of what it encoded, which its buffer holds at least.
        """
        try:
            packer.reset()
            reusable = size <= self.max_buffer_size
        except BufferError:
            # A view of it is still alive: the garbage collector calls weak
            # reference callbacks of a cycle's objects before it frees them. The
            # packer goes with the view instead of back to the pool.
            reusable = False
        with self._lock:
            self._in_use -= 1
            if reusable and len(self._idle) < self.max_buffers:
                self._idle.append(packer)
            else:
                self._dropped += 1

    def lend(self, packer: msgpack.Packer, body: memoryview) -> None:
        """Let ``body`` (``packer.getbuffer()`` of an acquired packer) go to
        ZeroMQ or a queue.

        The packer comes back to the pool when the last reference to ``body`` is
        dropped, wherever that happens. The packer is named, not read from the
        view: msgpack's C packer exports its buffer itself, but its pure-Python
        fallback exports a ``BytesIO``'s.
        """
        size = len(body)
        ref = weakref.ref(body, self._returned)
        # The size is kept with the packer: the view is gone when the callback runs.
        self._lent[id(ref)] = (ref, packer, size)

    def _returned(self, ref: weakref.ref[memoryview]) -> None:
        _, packer, size = self._lent.pop(id(ref))
        self.release(packer, size)


_TOO_DEEP_TO_SEND = "a value nested too deeply to be sent"
"""What a value nested deeper than Python's recursion limit lets the encoder look
for binary values in is refused with."""

_BLOB_BODY = memoryview(msgpack.packb(msgpack.ExtType(ATTACHMENT_EXT_TYPE, bytes(4))))
"""The body of a value that is one binary value of ``attachment_min`` bytes or
more (a ``bytes`` stream item, an echoed payload): a reference to attachment 0,
the same bytes every time, so it is never packed."""

_default_pool: BufferPool | None = None
_default_lock = threading.Lock()


def default_pool() -> BufferPool:
    """The process-wide pool that channels and servers use unless given one."""
    global _default_pool
    if _default_pool is None:
        with _default_lock:
            if _default_pool is None:
                _default_pool = BufferPool()
    return _default_pool


class BodyEncoder:
    """Encodes message bodies into a pooled buffer, large payloads outlined.

    Args:
        pool: where buffers come from; :func:`default_pool` by default.
        attachment_min: binary values at least this long travel as attachments.

    Use::

        body, attachments = encoder.encode(value, payloads)
        sent = transport.try_send([*envelope, header, body, *attachments])
        encoder.settle(body, sent)

    An encoder keeps one packer from the pool and encodes every body into its
    buffer: a body that ZeroMQ copied at once leaves the packer free for the next
    one, with no trip to the pool (and no lock) per message. A body ZeroMQ or a
    queue keeps is lent with its packer, and the encoder takes another from the
    pool. :meth:`settle` must follow every :meth:`encode` before the next; one
    encoder per socket owner, never shared between threads. :meth:`close` gives
    the packer back.
    """

    __slots__ = ("_packer", "attachment_min", "pool")

    def __init__(
        self, pool: BufferPool | None = None, *, attachment_min: int = ATTACHMENT_MIN
    ) -> None:
        self.pool = pool if pool is not None else default_pool()
        self.attachment_min = check_limit("attachment_min", attachment_min)
        self._packer: msgpack.Packer | None = None

    def encode(
        self, value: Any, payloads: bool | tuple[str, ...]
    ) -> tuple[memoryview, Sequence[Any]]:
        """Encode ``value``; return the body and the attachments it refers to.

        The body is a view of the encoder's packer, to :meth:`settle` once sent;
        a value that is one large binary value has a constant body, a view of no
        packer, which settling leaves alone.

        ``payloads`` says where binary values to outline can be: ``False`` for
        nowhere (the type holds none), ``True`` for anywhere in ``value``, or the
        keys of the entries of the dict ``value`` that can hold them. Once an
        unknown field has kept a binary value in this process
        (:data:`~uvrpc.wire.unknown.KEPT`), it is anywhere.

        Raises:
            EncodeError: a value has no msgpack form.
        """
        attachments: Sequence[Any] = ()
        if KEPT.views:
            payloads = True  # an unknown field may hold one, whatever the type
        if payloads:
            # The common case — a small bytes value where one may be — is decided
            # here, without a call.
            threshold = self.attachment_min
            if payloads is True:
                kind = type(value)
                if kind is bytes:
                    if len(value) >= threshold:
                        return _BLOB_BODY, (value,)
                elif kind is memoryview:
                    if value.nbytes >= threshold:
                        return _BLOB_BODY, (byte_view(value),)
                else:
                    attachments = []
                    try:
                        value = outline(value, attachments, threshold)
                    except RecursionError:
                        raise EncodeError(_TOO_DEEP_TO_SEND) from None
            elif isinstance(payloads, tuple):
                for key in payloads:
                    item = value.get(key)
                    if type(item) is not bytes or len(item) >= threshold:
                        attachments = []
                        try:
                            value = outline_fields(
                                value, payloads, attachments, threshold
                            )
                        except RecursionError:
                            raise EncodeError(_TOO_DEEP_TO_SEND) from None
                        break
        packer = self._packer
        if packer is None:
            packer = self._packer = self.pool.acquire()
        try:
            packer.pack(value)
        except BufferError:
            # msgpack packs a memoryview itself, and refuses a strided one so:
            # a value's fault, worded as byte_view words it.
            packer.reset()
            raise EncodeError(NOT_CONTIGUOUS) from None
        except BaseException:
            packer.reset()
            raise
        return packer.getbuffer(), attachments

    def settle(self, body: Any, sent: bool) -> None:
        """Say what became of a body after a send attempt.

        If the body went out and ZeroMQ copied it (it is shorter than
        :data:`ZERO_COPY_MIN`), its buffer is reused at once; otherwise the buffer
        is lent until the last reference to the body is gone. Bodies that are not
        pooled views (error replies, the constant body of one large binary value)
        are left alone.
        """
        if type(body) is not memoryview or body is _BLOB_BODY:
            return
        packer = self._packer
        assert packer is not None, "settle() follows encode()"
        if sent and len(body) < ZERO_COPY_MIN:
            body.release()
            packer.reset()
        else:
            self._packer = None
            self.pool.lend(packer, body)

    def close(self) -> None:
        """Give the encoder's packer back to the pool."""
        packer, self._packer = self._packer, None
        if packer is not None:
            self.pool.release(packer, 0)
