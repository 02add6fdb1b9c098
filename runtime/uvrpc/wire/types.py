"""Python types of the IDL's scalars, as generated message fields declare them.

Each alias is the plain Python type (so ``mypy`` sees ``int``, ``str``…) annotated for
pydantic with strict validation and, for sized integers and ``float``, the range the
IDL type allows. Strict means what arrives on the wire must already have the right
type: ``True`` is not an ``i32``, ``1`` is not a ``bool`` and a ``str`` is not
``bytes``. The one widening is an integer accepted where a float is declared.

``bytes`` is the exception to "plain Python type": a received binary value is a
read-only :class:`memoryview` — of the received ZeroMQ frame itself when it travelled
as an attachment — so :data:`Bytes` is a ``memoryview`` that accepts any buffer
(``bytes``, ``bytearray``, ``memoryview``, numpy arrays) and views it without a copy.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import AfterValidator, Field, PlainValidator, Strict

from .codec import EncodeError, byte_view

__all__ = [
    "FLOAT32_MAX",
    "Bool",
    "Bytes",
    "Double",
    "Float",
    "I8",
    "I16",
    "I32",
    "I64",
    "String",
    "as_view",
]

FLOAT32_MAX = 3.4028234663852886e38
"""The largest finite IEEE 754 single-precision value."""


def _check_float32(value: float) -> float:
    """Reject finite values outside the single-precision range."""
    if math.isfinite(value) and abs(value) > FLOAT32_MAX:
        raise ValueError(f"{value!r} is out of range for a 32-bit float")
    return value


Bool = Annotated[bool, Strict()]
"""IDL ``bool``."""
I8 = Annotated[int, Strict(), Field(ge=-(2**7), le=2**7 - 1)]
"""IDL ``i8``: a signed 8-bit integer."""
I16 = Annotated[int, Strict(), Field(ge=-(2**15), le=2**15 - 1)]
"""IDL ``i16``: a signed 16-bit integer."""
I32 = Annotated[int, Strict(), Field(ge=-(2**31), le=2**31 - 1)]
"""IDL ``i32``: a signed 32-bit integer."""
I64 = Annotated[int, Strict(), Field(ge=-(2**63), le=2**63 - 1)]
"""IDL ``i64``: a signed 64-bit integer."""
Float = Annotated[float, Strict(), AfterValidator(_check_float32)]
"""IDL ``float``: single precision in range, carried as a Python float."""
Double = Annotated[float, Strict()]
"""IDL ``double``."""
String = Annotated[str, Strict()]
"""IDL ``string``: UTF-8 text."""


def as_view(value: object) -> memoryview:
    """Any buffer as a flat, read-only byte view of the same memory, uncopied.

    Raises:
        ValueError: ``value`` has no buffer protocol (a ``str`` included), or its
            buffer is not contiguous.
    """
    if type(value) is bytes:
        return memoryview(value)
    if (
        type(value) is memoryview
        and value.readonly
        and value.format == "B"
        and value.ndim == 1
        and value.c_contiguous
    ):
        return value  # as the decoder makes them
    try:
        view = byte_view(value)
    except EncodeError as exc:
        raise ValueError(str(exc)) from None
    return view.toreadonly()


Bytes = Annotated[memoryview, PlainValidator(as_view, json_schema_input_type=bytes)]
"""IDL ``bytes``: a read-only byte view; accepts any buffer without copying it."""
