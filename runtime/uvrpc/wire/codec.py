"""msgpack encoding and decoding of message bodies.

Encoding accepts what generated code hands over: plain values, generated messages
(dumped keyed by field id, as ``model_dump(by_alias=True)`` does, with the unknown
fields a message kept: :mod:`uvrpc.wire.unknown`), sets (msgpack has no set
type: they travel as arrays and the receiving model turns them back into sets, each
element once), enums (``IntEnum`` values travel as
integers), the well-known types in their wire forms
(:func:`uvrpc.wire.wellknown.wire_form`: a ``UUID`` as its 16 bytes, an aware
``datetime`` as a msgpack timestamp, a ``timedelta`` as microseconds, a ``Decimal``
as its text) and any object with the buffer protocol as ``bytes``. :func:`outline` takes
large binary values out of a value, to travel as attachment frames of their own.
Decoding keeps msgpack's traps shut: integer map keys are allowed (the IDL has
``map<i32, …>``), strings must be UTF-8, ``bin`` stays ``bytes``, an attachment
reference becomes a read-only view of its frame, a timestamp (extension type -1)
stays a :class:`msgpack.Timestamp` for validation to read where a ``timestamp`` is
declared and refuse elsewhere, and other extension types are refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, cast

import msgpack
from pydantic import BaseModel
from typing_extensions import Buffer

from .wellknown import wire_form

__all__ = [
    "ATTACHMENT_EXT_TYPE",
    "DecodeError",
    "EncodeError",
    "MAX_DEPTH",
    "NOT_CONTIGUOUS",
    "byte_view",
    "new_packer",
    "outline",
    "outline_fields",
    "unpack",
    "unsendable",
]

ATTACHMENT_EXT_TYPE = 1
"""msgpack extension type of a reference to an attachment frame (``docs/protocol.md``).

Its data is the attachment's index as a big-endian unsigned integer; the decoder
replaces it with a read-only ``memoryview`` of that frame.
"""


MAX_DEPTH = 1024
"""The deepest nesting of arrays and maps a body may have: the fixed stack of
msgpack's C unpacker, which refuses a deeper value before building it, at no cost
to other values. No IDL type nests that deep (pydantic refuses a recursive message
much sooner), so a deep value fails validation well before this.

msgpack's pure-Python fallback recurses instead, and stops at Python's recursion
limit: sooner, at a depth that depends on the stack in use when it decodes."""

_TOO_DEEP = (
    "nested deeper than the pure-Python msgpack decoder goes"
    if msgpack.Unpacker.__module__ == "msgpack.fallback"
    else f"nested deeper than {MAX_DEPTH} levels"
)


NOT_CONTIGUOUS = (
    "a buffer must be contiguous in row (C) order to be sent; bytes(buffer) is a "
    "copy that is"
)
"""Why a strided view (``memoryview(b)[::2]``) is refused: it has no one run of
bytes to send. A Fortran-order array is one run, but not in the order its
``bytes()`` and ``tobytes()`` give, so it is refused too: the message says which
order, since "contiguous" alone would be false of it."""


class EncodeError(TypeError):
    """A value cannot be encoded: its type has no msgpack form in uvrpc."""


class DecodeError(ValueError):
    """A body is not valid msgpack, or uses a form the protocol does not allow."""


def outline_fields(
    args: dict[str, Any], keys: Iterable[str], attachments: list[Any], threshold: int
) -> dict[str, Any]:
    """:func:`outline` for the entries ``keys`` of ``args`` only: the parameters
    whose types can hold binary values, known from the method's signature."""
    rebuilt: dict[str, Any] | None = None
    for key in keys:
        item: Any = args.get(key)
        kind = type(item)  # the common cases inline: a call costs more
        if (kind is bytes and len(item) < threshold) or kind in _PLAIN:
            continue
        new = outline(item, attachments, threshold)
        if new is not item:
            if rebuilt is None:
                rebuilt = dict(args)
            rebuilt[key] = new
    return args if rebuilt is None else rebuilt


def byte_view(obj: object) -> memoryview:
    """A flat view of the bytes of any object with the buffer protocol, no copy.

    A typed or shaped buffer (``array.array``, a numpy array) is viewed as its raw
    bytes, which is what travels.

    Raises:
        EncodeError: ``obj`` has no buffer protocol, or its buffer is not contiguous.
    """
    try:
        view = memoryview(cast(Buffer, obj))
    except TypeError:
        raise EncodeError(
            f"expected bytes or another buffer, not {type(obj).__name__}"
        ) from None
    if not view.c_contiguous:
        raise EncodeError(NOT_CONTIGUOUS)
    if view.format == "B" and view.ndim == 1:
        return view
    return view.cast("B")


def _encode_extra(obj: object) -> object:
    """Give msgpack a form for the types it does not know itself."""
    if isinstance(obj, BaseModel):
        return _wire_form(obj)
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    try:
        form = wire_form(obj)  # uuid, timestamp, duration, decimal
    except ValueError as exc:
        raise EncodeError(str(exc)) from None
    if form is not NotImplemented:
        return form
    if _is_buffer(obj):
        return byte_view(obj)
    # Any other container, as the generated annotations of sent values allow
    # (a deque for a list, a mappingproxy for a map, dict.keys() for a set).
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, (AbstractSet, Sequence)):
        return list(obj)
    raise EncodeError(f"cannot encode a value of type {type(obj).__name__}")


def _wire_form(model: BaseModel) -> Any:
    """``model.model_dump(by_alias=True)``, unknown fields included, straight from
    pydantic's serializer: a message's own ``model_dump`` first looks for unknown
    fields to hide, which the wire form keeps (:mod:`uvrpc.wire.unknown`)."""
    return model.__pydantic_serializer__.to_python(model, by_alias=True)


def _is_buffer(obj: object) -> bool:
    try:
        memoryview(cast(Buffer, obj))
    except TypeError:
        return False
    return True


def new_packer(*, autoreset: bool = True) -> msgpack.Packer:
    """Return a packer for message bodies and headers.

    With ``autoreset`` (the default) :meth:`~msgpack.Packer.pack` returns the encoded
    ``bytes``; without, the packer keeps what it encodes in its buffer, to be read
    through :meth:`~msgpack.Packer.getbuffer` without a copy (see
    :mod:`uvrpc.buffers`). A packer is not thread-safe.
    """
    return msgpack.Packer(default=_encode_extra, use_bin_type=True, autoreset=autoreset)


def unsendable(values: dict[str, Any]) -> list[str] | None:
    """The path to the first value inside ``values`` that has no msgpack form, to
    name it once encoding ``values`` failed: the key of its entry, then the field
    names, indexes and union member names that lead to it inside (``["order",
    "payments", "0", "invoice"]``, as validation names a path); ``None`` if each
    entry has one alone."""
    packer = new_packer()
    for key, value in values.items():
        if not _packs(packer, value):
            return [key, *_unsendable_inside(packer, value)]
    return None


def _packs(packer: msgpack.Packer, value: Any) -> bool:
    try:
        packer.pack(value)
    except (TypeError, ValueError, OverflowError, BufferError, RecursionError):
        return False  # EncodeError is a TypeError; msgpack's own errors besides
    return True


def _unsendable_inside(packer: msgpack.Packer, value: Any) -> list[str]:
    """The path inside ``value`` (which has no msgpack form) to the innermost value
    that has none; ``[]`` when ``value`` itself is that value. Walked level by
    level, not recursively (the value may nest as deep as the encoder failed
    at), and :data:`MAX_DEPTH` levels at most. A value that contains itself has
    no innermost value: its path ends where it meets itself again, which is
    where to look, found at once where each level's failed encoding would walk
    the cycle as deep as msgpack goes (seconds, for a thousand levels)."""
    path: list[str] = []
    on_path = {id(value)}
    while len(path) < MAX_DEPTH:
        inside: Iterable[tuple[str, Any]]
        member = getattr(value, "uvrpc_name", None)  # a union member, as in JSON
        if isinstance(value, BaseModel) and isinstance(member, str):
            inside = [(member, getattr(value, "value", None))]
        elif isinstance(value, BaseModel):
            inside = (
                (name, getattr(value, name, None)) for name in type(value).model_fields
            )
        elif isinstance(value, dict):
            inside = ((str(key), item) for key, item in value.items())
        elif isinstance(value, list | tuple):
            inside = ((str(index), item) for index, item in enumerate(value))
        else:
            return path
        for name, item in inside:
            if not _packs(packer, item):
                path.append(name)
                if id(item) in on_path:
                    return path  # the value it is inside: a cycle
                on_path.add(id(item))
                value = item
                break
        else:
            return path
    return path


def _attach(buffer: object, attachments: list[Any]) -> msgpack.ExtType:
    index = len(attachments)
    attachments.append(buffer)
    return msgpack.ExtType(ATTACHMENT_EXT_TYPE, index.to_bytes(4, "big"))


def outline(value: Any, attachments: list[Any], threshold: int) -> Any:
    """Return ``value`` with each binary value of ``threshold`` bytes or more taken out.

    Each such value is appended to ``attachments`` as it is — the caller's own object,
    never a copy (a typed buffer is viewed as bytes) — and replaced by a reference to
    it (:data:`ATTACHMENT_EXT_TYPE`). Containers and messages holding one are rebuilt
    around the reference; everything else, and any container with nothing to take
    out, is returned as it is.

    Raises:
        EncodeError: a buffer to take out is not contiguous.
    """
    cls = type(value)
    if cls is bytes or cls is bytearray:
        return value if len(value) < threshold else _attach(value, attachments)
    if cls is dict:
        return outline_fields(value, value, attachments, threshold)
    if cls is list or cls is tuple or cls is set or cls is frozenset:
        items = [outline(item, attachments, threshold) for item in value]
        changed = any(new is not old for new, old in zip(items, value, strict=True))
        return items if changed or cls is not list else value
    if cls is memoryview:
        if value.nbytes < threshold:
            return value
        return _attach(byte_view(value), attachments)
    if isinstance(value, BaseModel):
        return outline(_wire_form(value), attachments, threshold)
    if value is None or cls in _PLAIN or isinstance(value, (int, float, str)):
        return value
    try:
        view = byte_view(value)
    except EncodeError:
        return value  # not a buffer: the packer says what it is
    return view if view.nbytes < threshold else _attach(view, attachments)


_PLAIN = frozenset({int, float, str, bool, type(None)})


def _refuse_ext(code: int, data: bytes) -> object:
    if code == ATTACHMENT_EXT_TYPE:
        index = int.from_bytes(data, "big")
        raise DecodeError(f"attachment {index} is referenced but none were sent")
    raise DecodeError(f"msgpack extension type {code} is not allowed here")


def unpack(
    buf: Buffer,
    attachments: Sequence[Buffer] = (),
    views: list[memoryview] | None = None,
) -> Any:
    """Decode one msgpack value from ``buf`` without copying the buffer first.

    ``attachments`` are the frames after the body; a body value of extension type
    :data:`ATTACHMENT_EXT_TYPE` becomes a read-only view of the frame it names,
    appended to ``views`` too if given.

    Raises:
        DecodeError: the buffer is not exactly one valid msgpack value, a string is
            not UTF-8, an extension type is not allowed, a container declares more
            items than the buffer holds, or values nest deeper than
            :data:`MAX_DEPTH`.
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
            # A view of the frame itself: the payload is never copied, and the
            # view keeps the frame alive for as long as anyone holds it.
            view = memoryview(attachments[index]).toreadonly()
            if views is not None:
                views.append(view)
            return view

        hook = ext_hook
    else:
        hook = _refuse_ext
    try:
        return msgpack.unpackb(buf, raw=False, strict_map_key=False, ext_hook=hook)
    except DecodeError:
        raise
    except msgpack.StackError:
        raise DecodeError(f"malformed msgpack: {_TOO_DEEP}") from None
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        # Some of msgpack's errors have no words (a reserved byte's FormatError).
        raise DecodeError(
            f"malformed msgpack: {str(exc) or type(exc).__name__}"
        ) from None
