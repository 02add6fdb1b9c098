"""The well-known types (``uuid``, ``timestamp``, ``duration``, ``decimal``): their
Python checks, their wire forms through the codec, their JSON forms, and the edges
of each range."""

from __future__ import annotations

import datetime
import decimal
import re
import uuid
from typing import Any

import msgpack
import pytest
from pydantic import BaseModel, ValidationError

from uvrpc import types as _t
from uvrpc.wire.codec import EncodeError, new_packer, unpack
from uvrpc.wire.wellknown import MAX_DECIMAL_DIGITS, MAX_DECIMAL_EXPONENT

UTC = datetime.UTC
D = decimal.Decimal
US = datetime.timedelta(microseconds=1)


class Known(BaseModel):
    """One field of each, as a generated message declares them."""

    id: _t.Uuid | None = None
    at: _t.Timestamp | None = None
    took: _t.Duration | None = None
    amount: _t.Decimal | None = None
    text: _t.String | None = None
    timings: dict[_t.Uuid, _t.Duration] = {}
    moments: set[_t.Timestamp] = set()


def through_wire(**fields: Any) -> Known:
    """``Known(**fields)`` packed as a body is, unpacked and validated again."""
    body = new_packer().pack(Known(**fields).model_dump(exclude_none=True))
    return Known.model_validate(unpack(body))


def refused(**fields: Any) -> str:
    """The first error message of validating ``fields``."""
    with pytest.raises(ValidationError) as caught:
        Known.model_validate(fields)
    error = caught.value.errors()[0]
    return f"{'.'.join(map(str, error['loc']))}: {error['msg']}"


# --- uuid ---------------------------------------------------------------------


def test_a_uuid_is_its_16_bytes_on_the_wire() -> None:
    value = uuid.UUID("0f8e3c1a-9b2d-4e5f-8a7b-6c5d4e3f2a1b")
    packed = new_packer().pack(value)
    assert packed == b"\xc4\x10" + value.bytes  # msgpack bin 8, 16 bytes
    assert through_wire(id=value).id == value
    assert through_wire(id=uuid.UUID(int=0)).id == uuid.UUID(int=0)
    assert through_wire(id=uuid.UUID(int=2**128 - 1)).id == uuid.UUID(int=2**128 - 1)


def test_a_uuid_refuses_text_and_other_lengths() -> None:
    text = "0f8e3c1a-9b2d-4e5f-8a7b-6c5d4e3f2a1b"
    assert refused(id=text) == "id: Value error, expected a uuid.UUID, not str"
    assert refused(id=b"x" * 15) == "id: Value error, a uuid is 16 bytes, not 15"
    assert Known.model_validate_json(f'{{"id": "{text}"}}').id == uuid.UUID(text)
    assert Known(id=uuid.UUID(text)).model_dump_json(exclude_none=True) == (
        f'{{"id":"{text}","timings":{{}},"moments":[]}}'
    )
    with pytest.raises(ValidationError, match="not a uuid: 'nope'"):
        Known.model_validate_json('{"id": "nope"}')


# --- timestamp ----------------------------------------------------------------

EDGES = [
    datetime.datetime(1970, 1, 1, tzinfo=UTC),
    datetime.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime.datetime(1, 1, 1, tzinfo=UTC),
    datetime.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime.datetime(2024, 2, 29, 12, 30, 0, 999999, tzinfo=UTC),
    datetime.datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC),  # past 32-bit seconds
]


@pytest.mark.parametrize("at", EDGES, ids=str)
def test_timestamps_round_trip_exactly(at: datetime.datetime) -> None:
    back = through_wire(at=at).at
    assert back == at and back.tzinfo is UTC and back.microsecond == at.microsecond
    assert Known.model_validate_json(Known(at=at).model_dump_json()).at == at


def test_a_timestamp_is_the_msgpack_timestamp_extension() -> None:
    at = datetime.datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)
    packed = new_packer().pack(at)
    assert packed[:3] == b"\xc7\x0c\xff"  # ext 8, 12 bytes, type -1
    assert msgpack.unpackb(packed) == msgpack.Timestamp(-1, 500_000_000)
    assert msgpack.unpackb(packed, timestamp=3) == at  # as other peers read it


def test_an_aware_timestamp_is_kept_in_utc() -> None:
    east = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
    at = Known(at=datetime.datetime(2024, 1, 1, 5, 30, tzinfo=east)).at
    assert at == datetime.datetime(2024, 1, 1, tzinfo=UTC) and at.tzinfo is UTC
    assert Known.model_validate_json('{"at": "2024-01-01T05:30:00+05:30"}').at == at


def test_a_naive_datetime_is_refused_where_it_is_built_and_sent() -> None:
    naive = datetime.datetime(2024, 1, 1)
    assert refused(at=naive) == (
        "at: Value error, a timestamp must be timezone-aware: a naive datetime "
        "names no instant (use e.g. datetime.now(timezone.utc))"
    )
    with pytest.raises(EncodeError, match="must be timezone-aware"):
        new_packer().pack({"1": naive})
    # Text with no offset: the advice is to write one, not Python's.
    with pytest.raises(ValidationError) as raised:
        Known.model_validate_json('{"at": "2024-01-01T00:00:00"}')
    assert (
        "timestamp '2024-01-01T00:00:00' has no offset: it names no instant (end "
        "it with Z for UTC, or an offset such as +02:00)"
    ) in str(raised.value)


def test_timestamps_beyond_year_9999_are_refused() -> None:
    end = datetime.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    seconds = (end - datetime.datetime(1970, 1, 1, tzinfo=UTC)) // datetime.timedelta(
        seconds=1
    )
    assert through_wire(at=end).at == end
    beyond = msgpack.Timestamp(seconds + 1, 0)  # 10000-01-01T00:00:00Z
    assert refused(at=beyond) == (
        f"at: Value error, timestamp of {seconds + 1} seconds since 1970 is outside "
        "years 1 to 9999"
    )
    assert "outside years 1 to 9999" in refused(at=msgpack.Timestamp(-(2**63), 0))
    west = datetime.timezone(-datetime.timedelta(hours=1))
    assert "outside years 1 to 9999 in UTC" in refused(
        at=datetime.datetime(9999, 12, 31, 23, 30, tzinfo=west)
    )


def test_nanoseconds_are_truncated_to_microseconds() -> None:
    at = Known.model_validate({"at": msgpack.Timestamp(0, 999_999_999)}).at
    assert at == datetime.datetime(1970, 1, 1, 0, 0, 0, 999999, tzinfo=UTC)
    before = Known.model_validate({"at": msgpack.Timestamp(-1, 1)}).at
    assert before == datetime.datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_a_timestamp_is_refused_where_another_type_is_declared() -> None:
    body = new_packer().pack({"text": msgpack.Timestamp(0, 0)})
    assert refused(**unpack(body)) == "text: Input should be a valid string"
    with pytest.raises(ValidationError, match="expected a uuid.UUID, not Timestamp"):
        Known.model_validate({"id": msgpack.Timestamp(0, 0)})


# --- duration -----------------------------------------------------------------

LIMIT = 2**63 - 1


@pytest.mark.parametrize(
    "took",
    [
        datetime.timedelta(0),
        -US,
        datetime.timedelta(days=-3, microseconds=999999),
        datetime.timedelta(microseconds=LIMIT),
        datetime.timedelta(microseconds=-(2**63)),
    ],
    ids=str,
)
def test_durations_round_trip_exactly(took: datetime.timedelta) -> None:
    assert new_packer().pack(took) == new_packer().pack(took // US)  # an int
    assert through_wire(took=took).took == took
    assert Known.model_validate_json(Known(took=took).model_dump_json()).took == took


def test_durations_beyond_64_bits_of_microseconds_are_refused() -> None:
    assert datetime.timedelta.max // US > LIMIT  # timedelta reaches further
    for took in (
        datetime.timedelta.max,
        datetime.timedelta.min,
        datetime.timedelta(microseconds=LIMIT + 1),
        datetime.timedelta(microseconds=-(2**63) - 1),
    ):
        assert "out of range: at most 2**63-1 microseconds" in refused(took=took)
        with pytest.raises(EncodeError, match="out of range"):
            new_packer().pack(took)
    assert "out of range for a signed 64-bit integer" in refused(took=2**63)
    assert (
        refused(took=True)
        == "took: Value error, expected a datetime.timedelta, not bool"
    )
    assert (
        refused(took=1.5)
        == "took: Value error, expected a datetime.timedelta, not float"
    )


def test_durations_in_json() -> None:
    def read(text: str) -> datetime.timedelta | None:
        return Known.model_validate_json(f'{{"took": {text}}}').took

    assert read('"PT1.5S"') == datetime.timedelta(seconds=1.5)
    assert read('"-P1DT2H3M4.000005S"') == -datetime.timedelta(
        days=1, hours=2, minutes=3, seconds=4, microseconds=5
    )
    assert read("90") == datetime.timedelta(seconds=90)
    assert read("-0.000001") == -US
    assert (
        Known(took=-datetime.timedelta(seconds=1.25)).model_dump_json(include={"took"})
        == '{"took":"-PT1.25S"}'
    )
    for bad, message in (
        ('"PT0.0000001S"', "not a whole number of microseconds"),
        ('"P1Y"', "not an ISO 8601 duration"),
        ('"PT"', "not an ISO 8601 duration"),
        ("true", "expected an ISO 8601 duration or a number of seconds"),
        ("1e300", "out of range"),
    ):
        with pytest.raises(ValidationError, match=message):
            read(bad)


# --- decimal ------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount",
    [
        "0",
        "-0",
        "-0.00",
        "1.10",
        "3.141592653589793238462643383279502884197",  # 40 digits: past 28
        "1E+6144",
        "-1E-6144",
        "9" * MAX_DECIMAL_DIGITS,
        "1.000000000000000000000000000000000001E-300",
    ],
)
def test_decimals_round_trip_exactly(amount: str) -> None:
    value = D(amount)
    assert new_packer().pack(value) == new_packer().pack(str(value))
    back = through_wire(amount=value).amount
    assert back is not None
    assert str(back) == str(value) and back.as_tuple() == value.as_tuple()
    json = Known(amount=value).model_dump_json(include={"amount"})
    assert json == f'{{"amount":"{value}"}}'
    assert Known.model_validate_json(json).amount.as_tuple() == value.as_tuple()  # type: ignore[union-attr]


def test_decimals_take_ints_and_text_but_not_floats() -> None:
    assert Known.model_validate({"amount": 10**30}).amount == D(10**30)
    assert Known.model_validate({"amount": "2.50"}).amount == D("2.50")
    assert refused(amount=0.1) == (
        "amount: Value error, a float is inexact: pass a decimal.Decimal or text, "
        "like Decimal('0.1') for 0.1"
    )
    assert "expected a decimal.Decimal, not bool" in refused(amount=True)
    with pytest.raises(ValidationError, match="write a decimal as a JSON string"):
        Known.model_validate_json('{"amount": 0.1}')
    assert Known.model_validate_json('{"amount": 12}').amount == D(12)


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (D("NaN"), "a decimal must be finite, not NaN"),
        (D("-Infinity"), "a decimal must be finite, not -Infinity"),
        ("NaN", "not a finite decimal number: 'NaN'"),
        ("Infinity", "not a finite decimal number: 'Infinity'"),
        (D("1E+6145"), f"a decimal's exponent is within ±{MAX_DECIMAL_EXPONENT}"),
        (D("0E-6145"), f"a decimal's exponent is within ±{MAX_DECIMAL_EXPONENT}"),
        ("1e999999999", f"a decimal's exponent is within ±{MAX_DECIMAL_EXPONENT}"),
        ("9" * (MAX_DECIMAL_DIGITS + 1), "at most 100 significant digits"),
        (10**MAX_DECIMAL_DIGITS, "at most 100 significant digits"),
        ("1" * 10_000_000, "(10,000,000 chars)"),
        (" 1", "not a finite decimal number"),
        ("1_000", "not a finite decimal number"),
        ("", "not a finite decimal number"),
    ],
)
def test_decimals_out_of_bounds_are_refused(amount: object, message: str) -> None:
    assert message in refused(amount=amount)


def test_a_decimal_too_large_is_not_sent() -> None:
    with pytest.raises(EncodeError, match="exponent is within"):
        new_packer().pack(D("1e999999999"))
    with pytest.raises(EncodeError, match="must be finite"):
        new_packer().pack(D("sNaN"))


# --- containers ---------------------------------------------------------------


def test_uuids_and_timestamps_as_keys_and_elements() -> None:
    ids = [uuid.UUID(int=n) for n in range(3)]
    known = through_wire(
        timings={i: n * US for n, i in enumerate(ids)}, moments=set(EDGES)
    )
    assert known.timings == {i: n * US for n, i in enumerate(ids)}
    assert known.moments == set(EDGES)
    again = Known.model_validate_json(known.model_dump_json())
    assert again.timings == known.timings and again.moments == known.moments


def test_json_schemas_say_what_json_takes() -> None:
    schema = Known.model_json_schema()["properties"]
    assert schema["id"]["anyOf"][0] == {"type": "string", "format": "uuid"}
    assert schema["at"]["anyOf"][0] == {"type": "string", "format": "date-time"}
    took = schema["took"]["anyOf"]
    assert took[:2] == [{"type": "string", "format": "duration"}, {"type": "number"}]
    text, integer, _ = schema["amount"]["anyOf"]
    assert integer == {"type": "integer"}
    pattern = re.compile(text["pattern"])
    assert pattern.search("-1.5E+3") and not pattern.search("x1.5")
