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
In JSON (``model_dump_json``, ``model_validate_json``) it is base64 text, as pydantic
writes ``bytes`` with ``ser_json_bytes="base64"``: URL-safe and padded on the way
out, either alphabet, padded or not, on the way in.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from typing import Annotated, Any, TypeAlias, TypeVar, Union

from annotated_types import Interval, MaxLen, MinLen
from pydantic import (
    AfterValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    Strict,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema
from typing_extensions import Buffer

from .codec import EncodeError, byte_view
from .wellknown import Decimal, Duration, Timestamp, Uuid

__all__ = [
    "FLOAT32_MAX",
    "Bool",
    "ByteLength",
    "Bytes",
    "BytesKeyed",
    "Constraints",
    "Decimal",
    "Double",
    "Duration",
    "Float",
    "I8",
    "I16",
    "I32",
    "I64",
    "String",
    "Timestamp",
    "Uuid",
    "as_view",
    "default",
    "from_base64",
    "to_base64",
]

FLOAT32_MAX = 3.4028234663852886e38
"""The largest finite IEEE 754 single-precision value."""


def check_float32(value: float) -> float:
    """Reject finite values outside the single-precision range: the check
    :data:`Float` adds to a strict float (which :mod:`uvrpc.wire.flat` finds in
    a core schema by its identity).

    Raises:
        ValueError: ``value`` is finite and too large for single precision.
    """
    if math.isfinite(value) and abs(value) > FLOAT32_MAX:
        raise ValueError(f"{value!r} is out of range for a 32-bit float")
    return value


# The integers' ranges are annotated-types' Interval, not pydantic's Field: pydantic
# 2.11 wrote a field's default into a Field it found inside a shared alias, so
# ``code: I32 = 0`` gave every later ``Annotated[I32, ...]`` field that default.
Bool = Annotated[bool, Strict()]
"""IDL ``bool``."""
I8 = Annotated[int, Strict(), Interval(ge=-(2**7), le=2**7 - 1)]
"""IDL ``i8``: a signed 8-bit integer."""
I16 = Annotated[int, Strict(), Interval(ge=-(2**15), le=2**15 - 1)]
"""IDL ``i16``: a signed 16-bit integer."""
I32 = Annotated[int, Strict(), Interval(ge=-(2**31), le=2**31 - 1)]
"""IDL ``i32``: a signed 32-bit integer."""
I64 = Annotated[int, Strict(), Interval(ge=-(2**63), le=2**63 - 1)]
"""IDL ``i64``: a signed 64-bit integer."""
Float = Annotated[float, Strict(), AfterValidator(check_float32)]
"""IDL ``float``: single precision in range, carried as a Python float."""
Double = Annotated[float, Strict()]
"""IDL ``double``."""
String = Annotated[str, Strict()]
"""IDL ``string``: UTF-8 text."""

Constraints = Field
"""``pydantic.Field``, as generated code writes the constraints of an IDL type
inside ``Annotated``: ``string(max_len = 50)`` is ``Annotated[String,
Constraints(max_length=50)]`` (``min``/``max`` are ``ge``/``le``, ``min_len``/
``max_len`` are ``min_length``/``max_length``, ``pattern`` is ``pattern``).
``bytes`` has :class:`ByteLength` instead."""


class ByteLength:
    """The length bounds of IDL ``bytes`` (``bytes(max_len = 16)`` is
    ``Annotated[Bytes, ByteLength(max_length=16)]``), checked as pydantic checks
    those of its own ``bytes``, with its errors (``bytes_too_long``: "Data should
    have at most 16 bytes"). :class:`Constraints` would count the view's length
    as a list's: "at most 16 items after validation".

    Args:
        min_length: the fewest bytes a value holds, if bounded.
        max_length: the most bytes a value holds, if bounded.
    """

    __slots__ = ("max_length", "metadata", "min_length")

    def __init__(
        self, *, min_length: int | None = None, max_length: int | None = None
    ) -> None:
        self.min_length = min_length
        self.max_length = max_length
        self.metadata: tuple[MinLen | MaxLen, ...] = (
            *(() if min_length is None else (MinLen(min_length),)),
            *(() if max_length is None else (MaxLen(max_length),)),
        )
        """The bounds as ``annotated_types`` has them, as a ``pydantic.Field``
        holds them (what :mod:`uvrpc.services.constraints` reads back)."""

    def __repr__(self) -> str:
        given = {"min_length": self.min_length, "max_length": self.max_length}
        shown = ", ".join(f"{k}={v}" for k, v in given.items() if v is not None)
        return f"ByteLength({shown})"

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler, /
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(
            self._check, handler(source)
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler, /
    ) -> JsonSchemaValue:
        return handler(schema)  # base64 text, whose length is not the bytes'

    def _check(self, value: memoryview) -> memoryview:
        size = value.nbytes
        low, high = self.min_length, self.max_length
        if low is not None and size < low:
            raise PydanticCustomError(
                "bytes_too_short",
                "Data should have at least {min_length} byte{expected_plural}",
                {"min_length": low, "expected_plural": "" if low == 1 else "s"},
            )
        if high is not None and size > high:
            raise PydanticCustomError(
                "bytes_too_long",
                "Data should have at most {max_length} byte{expected_plural}",
                {"max_length": high, "expected_plural": "" if high == 1 else "s"},
            )
        return value


_T = TypeVar("_T")


def default(value: _T) -> _T:
    """The default of a message field that holds a list, set or map, as generated
    code writes it: ``tags: set[String] = default({"a"})``.

    It is ``pydantic.Field(default=value)``: each message gets its own copy of
    ``value``, as pydantic gives it of any mutable default. Written as a field
    rather than as the value itself, it does not read as one list shared by every
    instance to a linter that cannot see that a message is a pydantic model (ruff's
    RUF012, mutable class default).
    """
    return Field(default=value)


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


# Either alphabet of base64 in, the standard one to decode.
_STANDARD = str.maketrans("-_", "+/")


def from_base64(text: str) -> memoryview:
    """The bytes of base64 ``text`` (standard or URL-safe, padded or not), as a
    read-only view: a ``bytes`` value read from JSON.

    Raises:
        ValueError: ``text`` is not base64.
    """
    padded = text.translate(_STANDARD) + "=" * (-len(text) % 4)
    try:
        return memoryview(base64.b64decode(padded, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"expected base64 text: {exc}") from None


def to_base64(value: object) -> str:
    """A buffer as URL-safe, padded base64 text: a ``bytes`` value written to JSON."""
    return base64.urlsafe_b64encode(as_view(value)).decode("ascii")


class _AnyBuffer:
    """The pydantic schema of :data:`Bytes`: any buffer, viewed uncopied, from
    Python; base64 text from JSON, and written back as such."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler, /
    ) -> CoreSchema:
        return core_schema.json_or_python_schema(
            python_schema=core_schema.no_info_plain_validator_function(as_view),
            json_schema=core_schema.chain_schema(
                [
                    core_schema.str_schema(strict=True),
                    core_schema.no_info_plain_validator_function(from_base64),
                ]
            ),
            serialization=core_schema.plain_serializer_function_ser_schema(
                to_base64, return_schema=core_schema.str_schema(), when_used="json"
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler, /
    ) -> JsonSchemaValue:
        return {"type": "string", "format": "base64url"}


Bytes = Annotated[memoryview, _AnyBuffer()]
"""IDL ``bytes``: a read-only byte view; accepts any buffer without copying it, and
base64 text in JSON."""


_V = TypeVar("_V")

# typing.Union, not ``|``: the alias is subscripted at run time too.
BytesKeyed: TypeAlias = Union[  # noqa: UP007
    Mapping[Buffer, _V], Mapping[bytes, _V], Mapping[memoryview, _V]
]
"""What a ``map<bytes, V>`` is sent as: a mapping keyed by any buffer, by ``bytes``
or by ``memoryview``. A mapping's keys are invariant, so ``Mapping[Buffer, V]``
alone would refuse the ``dict[bytes, V]`` a caller builds (or a handler returns)
and the ``dict[memoryview, V]`` a received message holds."""
