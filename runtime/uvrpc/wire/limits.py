"""The limits a peer holds the other to (the socket options that back them are set by
:func:`uvrpc.transport.sockets.configure_socket`).

Every limit is documented, with what the peer sees when it is reached, in
``docs/limits.md``. The size of a message is the sum of the lengths of its frames
after the routing envelope: attachments, header and body. It is checked in Python
before anything is decoded, so an oversized request is answered with
RESOURCE_EXHAUSTED naming its size and the limit; ZeroMQ's own ``MAXMSGSIZE``,
which applies to each frame and *disconnects* the peer without a word, is set at
twice the limit as a backstop only, so that no frame beyond it is ever buffered.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

__all__ = [
    "BACKSTOP_FACTOR",
    "HEADER_READ_MAX",
    "HIGH_WATER_MARK",
    "MAX_ECHO",
    "MAX_IN_FLIGHT",
    "MAX_MESSAGE_SIZE",
    "MAX_PROBLEMS",
    "STREAM_BYTES",
    "STREAM_WINDOW",
    "STREAM_WINDOW_MAX",
    "ZERO_COPY_MIN",
    "backstop_size",
    "check_limit",
    "check_seconds",
    "echo",
    "message_size",
    "too_large",
]

MAX_MESSAGE_SIZE = 64 * 1024 * 1024
"""The largest message (all its frames after the envelope) a peer takes, by default:
64 MiB."""

MAX_IN_FLIGHT = 10_000
"""Calls one channel has pending, and handlers one server runs, at once, by
default."""

HIGH_WATER_MARK = 1000
"""Messages a socket queues per peer and direction before it pushes back (ZeroMQ's
``SNDHWM`` and ``RCVHWM``), by default. It is libzmq's own default, set explicitly:
the memory a pipe may hold is at most this many messages of at most the message size
limit each, and far less for the small messages most calls carry."""

BACKSTOP_FACTOR = 2
"""``MAXMSGSIZE`` is this many times the message size limit: ZeroMQ drops the
connection of a peer that sends a larger frame."""

BACKSTOP_MIN = 512 * 1024
"""``MAXMSGSIZE`` is at least this: a peer batches small messages without knowing
the limit of the server it sends them to, up to 256 KiB and one message of at
most 32 KiB more (``core/coalesce.py``), and a batch larger than the backstop of
a server with a small limit would drop its connection and fail every call on it."""

HEADER_READ_MAX = 64 * 1024
"""The largest header frame read of an oversized message, to learn whom to refuse:
a larger one is not read at all, and the message is dropped."""

MAX_PROBLEMS = 10
"""Problems an ``INVALID_ARGUMENT`` error lists, at most; it says how many more
there are."""

MAX_ECHO = 200
"""Characters of a peer's input (a route, a metadata key) an error message repeats,
at most; a longer one is cut and its length given (:func:`echo`)."""


def echo(value: object, limit: int = MAX_ECHO) -> str:
    """``value`` as text, cut to ``limit`` characters if longer, saying its length.

    For every message that repeats what a peer sent (a route, a metadata key): a
    peer's 8 MiB route must not come back as an 8 MiB error.
    """
    text = value if type(value) is str else repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


STREAM_WINDOW = 128
"""Items a receiver lets its peer send ahead, by default (per stream call), and
the least it grows from while the stream's items are small (:data:`STREAM_BYTES`).

128 rather than fewer so that credit round trips do not stall small items (see
``docs/performance.md``, "Streams"); a stream of items of 2 KiB or more buffers at
most this many on each side, so a service of large items may want a smaller
window (an explicit window is kept as it is)."""

STREAM_BYTES = 256 * 1024
"""Bytes of items a receiver with the default window lets its peer send ahead: a
stream of small items is granted up to this many bytes of them (at most
:data:`STREAM_WINDOW_MAX` items), as gRPC counts its window in bytes. At 64-byte
items 128 items are 8 KiB, which on two busy cores one credit round trip can take
longer to drain than to send (``docs/performance.md``, "A window of small items
grows")."""

STREAM_WINDOW_MAX = 8 * STREAM_WINDOW
"""The most items a receiver with the default window lets its peer send ahead,
however small they are: the bound on what one stream buffers on each side."""

ZERO_COPY_MIN = 128 * 1024
"""Frames at least this long are handed to ZeroMQ without a copy.

Below it ZeroMQ copies the frame into its own message, which is cheaper than pinning
the Python object until libzmq is done with it (pyzmq then releases it through a
garbage-collection thread). Measured on the reference machine with ``python -m
uvrpc.bench.zerocopy --tables copy`` (``docs/memory.md``): copying wins at 64 KiB,
the two are within noise of each other from 128 to 256 KiB, and at 1 MiB zero-copy
saves a fifth to a half. pyzmq's own default, ``zmq.COPY_THRESHOLD``, is 64 KiB.
End to end, the stream cases at 64 KiB with this threshold at 64 KiB instead
(``docs/performance.md``, "ZERO_COPY_MIN, end to end"): a client sending its own
items spent less CPU per item, its server more, the two together and the items per
second the same; measured again on a quieter host, the client stream gained 12–18%
and the bidirectional one lost 12% in one run of two.
"""


def check_limit(name: str, value: int, least: int = 1) -> int:
    """``value`` if it is an int of at least ``least``.

    Raises:
        ValueError: it is not.
    """
    if type(value) is not int or value < least:
        raise ValueError(
            f"{name} must be an integer of at least {least}, not {value!r}"
        )
    return value


def check_seconds(
    name: str, value: object, *, zero: bool = False, forever: bool = False
) -> float:
    """``value`` as a float if it is a finite number of seconds above zero (or
    zero too, if ``zero``; or ``math.inf``, if ``forever``): any real number but
    a bool.

    Raises:
        ValueError: it is not; NaN and infinity included, which the comparisons
            of a bounds check let through, and a timer or a socket option then
            refuses far from where they were given.
    """
    if not isinstance(value, bool) and isinstance(value, numbers.Real):
        seconds = float(value)
        if forever and seconds == math.inf:
            return seconds
        if math.isfinite(seconds) and (seconds > 0 or zero and seconds == 0):
            return seconds
    least = "zero or more" if zero else "more than zero"
    kind = "a finite number of seconds" + (" or math.inf" if forever else "")
    raise ValueError(f"{name} must be {kind}, {least}, not {value!r}")


def backstop_size(max_message_size: int) -> int:
    """The ``MAXMSGSIZE`` of a socket that takes messages of at most
    ``max_message_size`` bytes: :data:`BACKSTOP_FACTOR` times it, and
    :data:`BACKSTOP_MIN` at least."""
    return max(BACKSTOP_FACTOR * max_message_size, BACKSTOP_MIN)


def message_size(frames: Sequence[Any], start: int) -> int:
    """The bytes of ``frames[start:]``, the frames of a message after its envelope
    (the last two, header and body, are always there)."""
    size = len(frames[-1]) + len(frames[-2])
    if len(frames) > start + 2:
        for frame in frames[start:-2]:
            size += len(frame)
    return size


def too_large(what: str, size: int, limit: int, whose: str) -> str:
    """The message of the RESOURCE_EXHAUSTED error of an oversized message."""
    return (
        f"{what} is {size:,} bytes, more than the {limit:,} bytes {whose} takes "
        "(max_message_size)"
    )
