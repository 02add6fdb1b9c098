"""msgpack encoding and decoding of message bodies.

Encoding accepts what generated code hands over: plain values, generated messages
(dumped keyed by field id), sets (msgpack has no set type: they travel as arrays and
the receiving model turns them back into sets) and enums (``IntEnum`` values travel as
integers). Decoding keeps msgpack's traps shut: integer map keys are allowed (the IDL
has ``map<i32, …>``), strings must be UTF-8, ``bin`` stays ``bytes``, and extension
types other than the protocol's own attachment reference are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgpack
from pydantic import BaseModel
from typing_extensions import Buffer

__all__ = [
    "ATTACHMENT_EXT_TYPE",
    "DecodeError",
    "EncodeError",
    "new_packer",
    "unpack",
]

ATTACHMENT_EXT_TYPE = 1
"""msgpack extension type of a reference to an attachment frame (``docs/protocol.md``).

Its data is the attachment's index as a big-endian unsigned integer; the decoder
replaces it with a read-only ``memoryview`` of that frame.
"""


class EncodeError(TypeError):
    """A value cannot be encoded: its type has no msgpack form in uvrpc."""


class DecodeError(ValueError):
    """A body is not valid msgpack, or uses a form the protocol does not allow."""


def _encode_extra(obj: object) -> object:
    """Give msgpack a form for the types it does not know itself."""
    if isinstance(obj, BaseModel):
        return obj.model_dump()
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    if isinstance(obj, memoryview):
        return obj.tobytes()
    raise EncodeError(f"cannot encode a value of type {type(obj).__name__}")


def new_packer() -> msgpack.Packer:
    """Return a packer for message bodies and headers.

    A packer reuses its internal buffer between calls, so keep one per socket owner;
    it is not thread-safe.
    """
    return msgpack.Packer(default=_encode_extra, use_bin_type=True, autoreset=True)


def _refuse_ext(code: int, data: bytes) -> object:
    raise DecodeError(f"msgpack extension type {code} is not allowed here")


def unpack(buf: Buffer, attachments: Sequence[Buffer] = ()) -> Any:
    """Decode one msgpack value from ``buf`` without copying the buffer first.

    ``attachments`` are the frames after the body; a body value of extension type
    :data:`ATTACHMENT_EXT_TYPE` becomes a read-only view of the frame it names.

    Raises:
        DecodeError: the buffer is not exactly one valid msgpack value, a string is
            not UTF-8, or an extension type is not allowed.
    """
    if attachments:

        def ext_hook(code: int, data: bytes) -> object:
            if code != ATTACHMENT_EXT_TYPE:
                return _refuse_ext(code, data)
            index = int.from_bytes(data, "big")
            if index >= len(attachments):
                raise DecodeError(
                    f"attachment {index} is referenced but only "
                    f"{len(attachments)} were sent"
                )
            return memoryview(attachments[index]).toreadonly()

        hook = ext_hook
    else:
        hook = _refuse_ext
    try:
        return msgpack.unpackb(buf, raw=False, strict_map_key=False, ext_hook=hook)
    except DecodeError:
        raise
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise DecodeError(f"malformed msgpack: {exc}") from None
