"""The IDL's well-known types: ``uuid``, ``timestamp``, ``duration`` and ``decimal``.

Each is a standard Python type annotated for pydantic, strict as the other scalars
are (:mod:`uvrpc.wire.types`), with a wire form of its own and a JSON form:

* ``uuid``: :class:`uuid.UUID`; msgpack ``bin`` of its 16 bytes; its text in JSON.
* ``timestamp``: a timezone-aware ``datetime``, in UTC; the msgpack timestamp
  extension (type -1); RFC 3339 text in JSON.
* ``duration``: a ``timedelta``; an ``int`` of microseconds; ISO 8601 text
  (``PT1.5S``) in JSON, or a number of seconds on the way in.
* ``decimal``: a :class:`decimal.Decimal`; its canonical text (``str(Decimal)``),
  in JSON too, where an integer is also read.

Each accepts its wire form on the Python side too (validation of a received message
is the same as of a constructed one): 16 bytes for a ``uuid``, a
:class:`msgpack.Timestamp` for a ``timestamp``, an ``int`` of microseconds for a
``duration`` and canonical text for a ``decimal``. Type checkers see only the
Python types. What each refuses:

* a ``timestamp`` must be timezone-aware: a naive ``datetime`` names no instant.
  Values are kept in UTC. A received timestamp's nanoseconds are truncated to
  microseconds (as protobuf's ``Timestamp.ToDatetime`` does), and one outside
  ``datetime``'s years 1 to 9999 is refused;
* a ``duration`` is whole microseconds within a signed 64-bit count: about 292,471
  years either way, less than ``timedelta``'s own range, so ``timedelta.max`` is
  refused;
* a ``decimal`` is finite (no NaN or Infinity), of at most
  :data:`MAX_DECIMAL_DIGITS` significant digits and an adjusted exponent within
  ±\\ :data:`MAX_DECIMAL_EXPONENT`, so that a peer's ``1e999999999`` cannot cost
  its reader a billion digits when it is formatted or converted. A ``float`` is
  refused (it is inexact: write ``Decimal("0.1")``); an ``int`` is accepted, exactly.
"""

from __future__ import annotations

import datetime
import decimal
import re
import uuid
from collections.abc import Callable
from typing import Annotated, Any

import msgpack
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

__all__ = [
    "MAX_DECIMAL_DIGITS",
    "MAX_DECIMAL_EXPONENT",
    "MAX_DURATION_US",
    "Decimal",
    "Duration",
    "Timestamp",
    "Uuid",
    "check_decimal",
    "check_duration",
    "check_timestamp",
    "check_uuid",
    "from_json",
    "to_json",
    "wire_form",
]

MAX_DECIMAL_DIGITS = 100
"""The most significant digits a ``decimal`` may have (``Decimal``'s default context
keeps 28; the wire keeps every digit up to this)."""

MAX_DECIMAL_EXPONENT = 6144
"""The largest magnitude of a ``decimal``'s adjusted exponent (the exponent of its
first digit): IEEE 754 decimal128's range."""

MAX_DURATION_US = 2**63 - 1
"""The largest ``duration`` in microseconds (its wire form is a signed 64-bit
integer); the smallest is ``-2**63``."""

_MIN_DURATION_US = -(2**63)
_UTC = datetime.UTC
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=_UTC)
_US = datetime.timedelta(microseconds=1)

# The longest text any allowed decimal needs, with room for a redundant sign and
# leading zeros; longer text is refused before it is parsed.
_MAX_DECIMAL_TEXT = MAX_DECIMAL_DIGITS + 32
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_MAX_TIME_TEXT = 64
# ISO 8601 durations in days, hours, minutes and seconds (years and months have
# no fixed length), with a sign in front.
_ISO_DURATION = re.compile(
    r"(?P<sign>[+-])?P(?:(?P<d>[0-9]+)D)?"
    r"(?:T(?:(?P<h>[0-9]+)H)?(?:(?P<m>[0-9]+)M)?(?:(?P<s>[0-9]+(?:\.[0-9]+)?)S)?)?"
)


def _name(value: object) -> str:
    return type(value).__name__


# --- uuid ---------------------------------------------------------------------


def check_uuid(value: object) -> uuid.UUID:
    """A ``uuid`` value: a :class:`uuid.UUID`, or its 16 bytes as the wire carries it.

    Raises:
        ValueError: anything else, text included (``uuid.UUID(text)`` parses it).
    """
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, bytes | memoryview):
        if len(value) != 16:
            raise ValueError(f"a uuid is 16 bytes, not {len(value)}")
        return uuid.UUID(bytes=bytes(value))
    raise ValueError(f"expected a uuid.UUID, not {_name(value)}")


def _uuid_from_json(value: object) -> uuid.UUID:
    if not isinstance(value, str):
        raise ValueError(f"expected uuid text, not {_name(value)}")
    if len(value) > _MAX_TIME_TEXT:
        raise ValueError("uuid text is too long")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValueError(f"not a uuid: {value!r}") from None


# --- timestamp ----------------------------------------------------------------


def check_timestamp(value: object) -> datetime.datetime:
    """A ``timestamp`` value in UTC: a timezone-aware ``datetime``, or a
    :class:`msgpack.Timestamp` as the wire carries it (nanoseconds truncated to
    microseconds).

    Raises:
        ValueError: a naive ``datetime``, an instant outside years 1 to 9999 in
            UTC, or another type.
    """
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                "a timestamp must be timezone-aware: a naive datetime names no "
                "instant (use e.g. datetime.now(timezone.utc))"
            )
        if value.utcoffset() == datetime.timedelta(0) and value.tzinfo is _UTC:
            return value
        try:
            return value.astimezone(_UTC)
        except OverflowError:
            raise ValueError(
                f"timestamp {value.isoformat()} is outside years 1 to 9999 in UTC"
            ) from None
    if isinstance(value, msgpack.Timestamp):
        # Nanoseconds count up from the second (even before 1970), so flooring
        # to microseconds truncates them.
        micros = value.to_unix_nano() // 1000
        try:
            return _EPOCH + datetime.timedelta(microseconds=micros)
        except OverflowError:
            raise ValueError(
                f"timestamp of {micros // 1_000_000} seconds since 1970 is outside "
                "years 1 to 9999"
            ) from None
    raise ValueError(f"expected a timezone-aware datetime, not {_name(value)}")


def _timestamp_from_json(value: object) -> datetime.datetime:
    if not isinstance(value, str):
        raise ValueError(f"expected RFC 3339 text, not {_name(value)}")
    if len(value) > _MAX_TIME_TEXT:
        raise ValueError("timestamp text is too long")
    text = value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else value
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"not an RFC 3339 timestamp: {value!r} (like 2024-02-29T12:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        # check_timestamp's advice is Python's; text needs its offset written.
        raise ValueError(
            f"timestamp {value!r} has no offset: it names no instant (end it with "
            "Z for UTC, or an offset such as +02:00)"
        )
    return check_timestamp(parsed)


def _timestamp_to_json(value: datetime.datetime) -> str:
    return value.astimezone(_UTC).isoformat().replace("+00:00", "Z")


# --- duration -----------------------------------------------------------------


def check_duration(value: object) -> datetime.timedelta:
    """A ``duration`` value: a ``timedelta``, or an ``int`` of microseconds as the
    wire carries it.

    Raises:
        ValueError: outside a signed 64-bit count of microseconds, or another type
            (``bool`` and ``float`` included).
    """
    if isinstance(value, datetime.timedelta):
        micros = value // _US
        if not _MIN_DURATION_US <= micros <= MAX_DURATION_US:
            raise ValueError(
                f"duration {value} is out of range: at most 2**63-1 microseconds "
                "(about 292,471 years) either way"
            )
        return value
    if type(value) is int:
        if not _MIN_DURATION_US <= value <= MAX_DURATION_US:
            raise ValueError(
                f"duration of {value} microseconds is out of range for a signed "
                "64-bit integer"
            )
        return datetime.timedelta(microseconds=value)
    raise ValueError(f"expected a datetime.timedelta, not {_name(value)}")


def _duration_from_json(value: object) -> datetime.timedelta:
    if type(value) is int:
        seconds = decimal.Decimal(value)
    elif type(value) is float:
        seconds = decimal.Decimal(repr(value))
    elif isinstance(value, str) and len(value) <= _MAX_TIME_TEXT:
        match = _ISO_DURATION.fullmatch(value)
        if match is None or value.rstrip("+-") in ("P", "PT") or value.endswith("T"):
            raise ValueError(
                f"not an ISO 8601 duration: {value!r} (like PT1.5S or -P1DT2H)"
            )
        parts = {k: decimal.Decimal(match[k] or 0) for k in "dhms"}
        seconds = parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]
        if match["sign"] == "-":
            seconds = -seconds
    else:
        raise ValueError(
            f"expected an ISO 8601 duration or a number of seconds, not {_name(value)}"
        )
    micros = seconds * 1_000_000
    if micros != micros.to_integral_value():
        raise ValueError(f"duration {value!r} is not a whole number of microseconds")
    return check_duration(int(micros))


def _duration_to_json(value: datetime.timedelta) -> str:
    micros = value // _US
    sign = "-" if micros < 0 else ""
    seconds, fraction = divmod(abs(micros), 1_000_000)
    text = f"{seconds}.{fraction:06d}".rstrip("0") if fraction else str(seconds)
    return f"{sign}PT{text}S"


# --- decimal ------------------------------------------------------------------


def _bounded(value: decimal.Decimal) -> decimal.Decimal:
    if not value.is_finite():
        raise ValueError(f"a decimal must be finite, not {value}")
    digits = len(value.as_tuple().digits)
    if digits > MAX_DECIMAL_DIGITS:
        raise ValueError(
            f"a decimal has at most {MAX_DECIMAL_DIGITS} significant digits, "
            f"not {digits}"
        )
    if abs(value.adjusted()) > MAX_DECIMAL_EXPONENT:
        raise ValueError(
            f"a decimal's exponent is within ±{MAX_DECIMAL_EXPONENT}, "
            f"not {value.adjusted()}"
        )
    return value


def _parse_decimal(text: str) -> decimal.Decimal:
    if len(text) > _MAX_DECIMAL_TEXT or not _DECIMAL_TEXT.fullmatch(text):
        shown = text if len(text) <= 40 else f"{text[:40]}… ({len(text):,} chars)"
        raise ValueError(f"not a finite decimal number: {shown!r}")
    return _bounded(decimal.Decimal(text))


def check_decimal(value: object) -> decimal.Decimal:
    """A ``decimal`` value: a finite :class:`decimal.Decimal`, an ``int``, or decimal
    text (``"-12.50"``, ``"1E+3"``) as the wire carries it.

    Raises:
        ValueError: a ``float`` (inexact), NaN or Infinity, more than
            :data:`MAX_DECIMAL_DIGITS` digits, an exponent beyond
            :data:`MAX_DECIMAL_EXPONENT`, text that is not a number, or another type.
    """
    if isinstance(value, decimal.Decimal):
        return _bounded(value)
    if type(value) is str:
        return _parse_decimal(value)
    if type(value) is int:
        if abs(value) >= 10**MAX_DECIMAL_DIGITS:
            raise ValueError(
                f"a decimal has at most {MAX_DECIMAL_DIGITS} significant digits"
            )
        return decimal.Decimal(value)
    if type(value) is float:
        raise ValueError(
            "a float is inexact: pass a decimal.Decimal or text, like "
            "Decimal('0.1') for 0.1"
        )
    raise ValueError(f"expected a decimal.Decimal, not {_name(value)}")


def _decimal_from_json(value: object) -> decimal.Decimal:
    if type(value) is float:
        raise ValueError(
            'write a decimal as a JSON string ("0.1"): a JSON number with a '
            "fraction or exponent is read as an inexact float"
        )
    return check_decimal(value)


# --- pydantic -----------------------------------------------------------------


class _WellKnown:
    """The pydantic schema of one well-known type: ``check`` from Python (where the
    wire form arrives too), ``from_json`` from JSON, and ``to_json`` to write it."""

    def __init__(
        self,
        check: Callable[[Any], Any],
        from_json: Callable[[Any], Any],
        to_json: Callable[[Any], Any],
        json_schema: JsonSchemaValue,
    ) -> None:
        self.check = check
        self.from_json = from_json
        self.to_json = to_json
        self.json_schema = json_schema

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler, /
    ) -> CoreSchema:
        return core_schema.json_or_python_schema(
            python_schema=core_schema.no_info_plain_validator_function(self.check),
            json_schema=core_schema.no_info_plain_validator_function(self.from_json),
            serialization=core_schema.plain_serializer_function_ser_schema(
                self.to_json, return_schema=core_schema.str_schema(), when_used="json"
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler, /
    ) -> JsonSchemaValue:
        return dict(self.json_schema)


_UUID = _WellKnown(
    check_uuid, _uuid_from_json, str, {"type": "string", "format": "uuid"}
)
_TIMESTAMP = _WellKnown(
    check_timestamp,
    _timestamp_from_json,
    _timestamp_to_json,
    {"type": "string", "format": "date-time"},
)
_DURATION = _WellKnown(
    check_duration,
    _duration_from_json,
    _duration_to_json,
    {"anyOf": [{"type": "string", "format": "duration"}, {"type": "number"}]},
)
_DECIMAL = _WellKnown(
    check_decimal,
    _decimal_from_json,
    str,
    {
        "anyOf": [
            {"type": "string", "pattern": f"^{_DECIMAL_TEXT.pattern}$"},
            {"type": "integer"},
        ]
    },
)

Uuid = Annotated[uuid.UUID, _UUID]
"""IDL ``uuid``: a :class:`uuid.UUID`; 16 bytes on the wire, its text in JSON."""

Timestamp = Annotated[datetime.datetime, _TIMESTAMP]
"""IDL ``timestamp``: a timezone-aware ``datetime`` in UTC, to the microsecond; the
msgpack timestamp extension on the wire, RFC 3339 text in JSON."""

Duration = Annotated[datetime.timedelta, _DURATION]
"""IDL ``duration``: a ``timedelta`` of whole microseconds; a signed 64-bit count of
microseconds on the wire, ISO 8601 text (or seconds) in JSON."""

Decimal = Annotated[decimal.Decimal, _DECIMAL]
"""IDL ``decimal``: an exact, finite :class:`decimal.Decimal`; its canonical text on
the wire and in JSON."""

_BY_NAME = {
    "uuid": _UUID,
    "timestamp": _TIMESTAMP,
    "duration": _DURATION,
    "decimal": _DECIMAL,
}


def from_json(idl_type: str, value: object) -> object:
    """A value of the well-known ``idl_type`` (``"uuid"``…) from its JSON form, as
    ``json.loads`` gives it; ``NotImplemented`` for any other type.

    Raises:
        ValueError: ``value`` is not a JSON form of ``idl_type``.
    """
    known = _BY_NAME.get(idl_type)
    return NotImplemented if known is None else known.from_json(value)


def to_json(idl_type: str, value: object) -> object:
    """The JSON form of a value of the well-known ``idl_type``, given as Python or
    as its wire form; ``NotImplemented`` for any other type.

    Raises:
        ValueError: ``value`` is not a value of ``idl_type``.
    """
    known = _BY_NAME.get(idl_type)
    return NotImplemented if known is None else known.to_json(known.check(value))


# --- the wire -----------------------------------------------------------------


def wire_form(value: object) -> object:
    """The msgpack form of a well-known value, checked as validation checks it;
    ``NotImplemented`` for a value of any other type.

    Raises:
        ValueError: the value is not one its type allows (a naive ``datetime``,
            a ``timedelta`` beyond 64 bits of microseconds, a NaN ``Decimal``…).
    """
    if isinstance(value, uuid.UUID):
        return value.bytes
    if isinstance(value, datetime.datetime):
        # Whole microseconds, not msgpack's from_datetime: in msgpack 1.1.0 it
        # went through a float, and moved instants before 1970 or near year 9999.
        seconds, micros = divmod((check_timestamp(value) - _EPOCH) // _US, 1_000_000)
        return msgpack.Timestamp(seconds, micros * 1000)
    if isinstance(value, datetime.timedelta):
        return check_duration(value) // _US
    if isinstance(value, decimal.Decimal):
        return str(_bounded(value))
    return NotImplemented
