"""Batches: several protocol messages for one peer travel as one ZeroMQ message.

libzmq's cost is paid per message, so a peer that has several small messages ready
for the same peer in one turn of its loop sends them as one batch
(``docs/protocol.md``, "Batches"):

* header: ``[version, KIND_BATCH, 0, count]``, a stream-shaped header whose call id
  is 0;
* body: a msgpack array of ``2 × count`` binary values, each message's header frame
  then its body frame, in the order they were sent.

Only messages without attachments go into a batch: a large binary value keeps its
frame of its own. A peer sends batches only to a peer whose connection announced
that it reads them: each side sets the ZMTP property :data:`BATCH_PROPERTY` on its
socket, exchanged in ZeroMQ's handshake, and reads it from the messages of the
connection (a peer that predates batches sets nothing and is never sent one).

A batch is taken whole or not at all: :func:`split_batch` refuses an empty,
truncated, oversized or nested one with a :class:`~uvrpc.wire.errors.ProtocolError`
whose message says what is wrong with it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import msgpack

from .errors import ProtocolError
from .version import PROTOCOL_VERSION

__all__ = [
    "BATCH_PROPERTY",
    "BatchBuilder",
    "batch_count",
    "BATCH_PROPERTY_SETTING",
    "KIND_BATCH",
    "MAX_BATCH",
    "encode_batch",
    "is_batch_header",
    "split_batch",
]

KIND_BATCH = 9
"""Header kind of a batch: several messages in one."""

MAX_BATCH = 1024
"""The most messages one batch may hold; a reader refuses a batch of more."""

BATCH_PROPERTY = "X-Uvrpc-Batch"
"""The ZMTP metadata property a socket sets to say it reads batches (value ``1``)."""

BATCH_PROPERTY_SETTING = f"{BATCH_PROPERTY}:1".encode()
"""The value of the ``ZMQ_METADATA`` socket option that sets the property."""

_HEADER = struct.Struct(">4sBI")
_PREFIX = (
    b"\x94" + msgpack.packb(PROTOCOL_VERSION) + msgpack.packb(KIND_BATCH) + b"\x00"
)
_UINT32 = 0xCE
_BIN8 = struct.Struct(">BB")
_BIN16 = struct.Struct(">BH")
_BIN32 = struct.Struct(">BI")
_ARRAY32 = struct.Struct(">BI")
_VERSION = msgpack.packb(PROTOCOL_VERSION)
_KIND = msgpack.packb(KIND_BATCH)
_VERSION_BYTE = _VERSION[0] if len(_VERSION) == 1 else -1  # a fixint: one byte
_KIND_BYTE = _KIND[0] if len(_KIND) == 1 else -1


_BIN8_HEADS = [_BIN8.pack(0xC4, length) for length in range(0x100)]


def _bin_head(length: int) -> bytes:
    """The msgpack head of a ``bin`` value of ``length`` bytes (256 or more)."""
    if length < 0x10000:
        return _BIN16.pack(0xC5, length)
    return _BIN32.pack(0xC6, length)


class BatchBuilder:
    """A batch being filled: each message added is copied into it at once (the
    sender may reuse its buffers as soon as it returns)."""

    __slots__ = ("_body", "count", "size")

    def __init__(self) -> None:
        # Five bytes kept for the array header, written once the count is known.
        self._body = bytearray(5)
        self.count = 0
        """The messages added so far."""
        self.size = 0
        """Their header and body bytes added up."""

    def add(self, header: Any, body: Any) -> None:
        """Add one message's header and body frames."""
        buf = self._body
        size = len(header)
        buf += _BIN8_HEADS[size] if size < 0x100 else _bin_head(size)
        buf += header
        length = len(body)
        buf += _BIN8_HEADS[length] if length < 0x100 else _bin_head(length)
        buf += body
        self.size += size + length
        self.count += 1

    def frames(self) -> list[Any]:
        """The batch's ``[header, body]`` frames."""
        body = self._body
        _ARRAY32.pack_into(body, 0, 0xDD, 2 * self.count)
        return [_HEADER.pack(_PREFIX, _UINT32, self.count), body]


def encode_batch(messages: Sequence[tuple[Any, Any]]) -> list[Any]:
    """The ``[header, body]`` frames of a batch of ``messages``, each its
    ``(header, body)`` frames."""
    builder = BatchBuilder()
    for header, body in messages:
        builder.add(header, body)
    return builder.frames()


def batch_count(header: Any) -> int:
    """How many messages a batch header written by :class:`BatchBuilder` says its
    batch holds; 0 for any other header."""
    if len(header) == _HEADER.size and bytes(header[:4]) == _PREFIX:
        return int(_HEADER.unpack(header)[2])
    return 0


def is_batch_header(header: Any) -> bool:
    """Whether a message's header frame is a batch header of this version (any
    valid msgpack encoding of it)."""
    try:
        fields = msgpack.unpackb(header)
    except (ValueError, TypeError, msgpack.UnpackException):
        return False
    return (
        type(fields) is list
        and len(fields) >= 4
        and fields[0] == PROTOCOL_VERSION
        and fields[1] == KIND_BATCH
    )


def split_batch(header: Any, body: Any) -> list[tuple[bytes, bytes]]:
    """The messages of a batch, each as its ``(header, body)`` frames.

    Raises:
        ProtocolError: the batch is empty, holds more than :data:`MAX_BATCH`
            messages, its header is not valid msgpack, its body is truncated
            or not what its header says, or it holds another batch.
    """
    try:
        fields = msgpack.unpackb(header)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        # A reader that decodes headers leniently (a broker) may take one with an
        # element a strict decode refuses for a batch's: it is none.
        raise ProtocolError(f"a batch header is not valid msgpack: {exc}") from None
    count = fields[3]
    if type(count) is not int or count < 1:
        raise ProtocolError(f"a batch must hold at least one message, not {count!r}")
    if count > MAX_BATCH:
        raise ProtocolError(
            f"a batch of {count:,} messages is over the limit of {MAX_BATCH:,}"
        )
    try:
        frames = msgpack.unpackb(body, max_array_len=2 * MAX_BATCH)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise ProtocolError(
            f"the body of a batch of {count} is malformed: {exc}"
        ) from None
    if type(frames) is not list or len(frames) != 2 * count:
        got = len(frames) if type(frames) is list else type(frames).__name__
        raise ProtocolError(
            f"a batch of {count} messages must hold {2 * count} frames, not {got}"
        )
    if not all(type(frame) is bytes for frame in frames):
        raise ProtocolError(f"a batch of {count} holds a frame that is not binary")
    messages = list(zip(frames[::2], frames[1::2], strict=True))
    for index, (part, _) in enumerate(messages):
        # A header as uvrpc writes it (an array, the version and kind fixints)
        # of another kind is read off its bytes; anything else is decoded, so
        # that exactly what is_batch_header takes for a batch is refused here.
        # The broker bundles a message it does not read into a batch of its
        # own: refused for a few bytes that only start like a batch header
        # ([3, 9], a map {3: 9}), that batch would take its other messages down
        # with it, other servers' replies to the same client among them.
        # (Read as ints, not slices: a slice is a new bytes object, and this runs
        # for every message of every batch.)
        if (
            len(part) > 2
            and 0x90 <= part[0] <= 0x9F
            and part[1] == _VERSION_BYTE
            and part[2] < 0x80
            and part[2] != _KIND_BYTE
        ):
            nested = False
        else:
            nested = is_batch_header(part)
        if nested:
            raise ProtocolError(
                f"message {index} of a batch of {count} is a batch itself: batches "
                "do not nest"
            )
    return messages
