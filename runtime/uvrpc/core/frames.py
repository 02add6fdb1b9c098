"""The shape and size of a received message: the first rule both sides apply.

A message is ``[routing…, b"", attachment…, header, body]`` (``docs/protocol.md``):
what a client's DEALER receives has no routing frames, what a server's ROUTER
receives has at least one. Its size is the bytes after the delimiter, and a message
over the size limit is refused before its body is decoded: its header is read only
to learn whom to refuse, and only if the header itself is small.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..wire.errors import ProtocolError, ResourceExhausted
from ..wire.limits import HEADER_READ_MAX, message_size, too_large
from ..wire.protocol import split_envelope

__all__ = ["measure", "oversized"]


def measure(frames: Sequence[Any], max_size: int, *, routed: bool) -> tuple[int, int]:
    """The index of the delimiter that ends a message's envelope, and the size of
    what follows it.

    ``routed`` says whether routing frames come first (a ROUTER's messages).

    Raises:
        ProtocolError: the frames are not a message, or it is over ``max_size``
            with a header too large to read.
    """
    if routed:
        end = split_envelope(frames)
    elif len(frames) < 3 or len(frames[0]) != 0:
        raise ProtocolError("message does not have the frames of one")
    else:
        end = 0
    if len(frames) == end + 3:
        size = len(frames[-1]) + len(frames[-2])  # the usual case: no attachments
    else:
        size = message_size(frames, end + 1)
    if size > max_size and len(frames[-2]) > HEADER_READ_MAX:
        raise ProtocolError(f"a message of {size:,} bytes has a huge header")
    return end, size


def oversized(what: str, size: int, limit: int, whose: str) -> ResourceExhausted:
    """The error of a message of ``size`` bytes over ``limit`` (``what``: "the
    reply of …"; ``whose``: "this channel", "this server")."""
    return ResourceExhausted(too_large(what, size, limit, whose))
