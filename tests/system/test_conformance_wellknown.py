"""The well-known types of ``idl/conformance.idl`` served end to end: edge values
round trip through real calls, and a peer's out-of-range values are refused with
``INVALID_ARGUMENT`` naming the field."""

from __future__ import annotations

import asyncio
import datetime
import decimal
import uuid
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import msgpack
import pytest
from conformance_server import Conformance
from conftest import endpoint_for, server_thread
from golden.conformance import ConformanceClient, ConformanceSyncClient, WellKnown

import uvrpc
from uvrpc.testing import memory_channel

UTC = datetime.UTC
D = decimal.Decimal
US = datetime.timedelta(microseconds=1)
FIRST = datetime.datetime(1, 1, 1, tzinfo=UTC)
LAST = datetime.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


@pytest.fixture(params=["memory", "ipc"])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A way to open an async client of a new implementation."""
    service = Conformance()
    if request.param == "memory":
        yield lambda: ConformanceClient(memory_channel(service), timeout=30)
        return
    with server_thread(service, bind=endpoint_for("ipc", tmp_path)) as running:
        yield lambda: ConformanceClient(running.endpoint, timeout=30)


def run(factory: Any, body: Any) -> None:
    """Open a client with ``factory``, await ``body(client)``, close the client."""

    async def main() -> None:
        client: AbstractAsyncContextManager[ConformanceClient] = factory()
        async with client as opened:
            await body(opened)

    asyncio.run(main())


def edges() -> list[WellKnown]:
    """Messages of edge values: epoch, before 1970, the ends of datetime's range,
    a leap day, the largest and smallest durations and exact decimals."""
    return [
        WellKnown(
            id=uuid.UUID(int=0),
            at=datetime.datetime(1970, 1, 1, tzinfo=UTC),
            took=datetime.timedelta(0),
            amount=D("-0"),
        ),
        WellKnown(
            id=uuid.UUID(int=2**128 - 1),
            at=datetime.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            took=datetime.timedelta(microseconds=2**63 - 1),
            amount=D("3.141592653589793238462643383279502884197"),
            expires=LAST,
            prices=[D("1E+6144"), D("-1E-6144"), D("0.10"), D(2**80)],
            timings={uuid.UUID(int=7): -US, uuid.UUID(int=8): datetime.timedelta(0)},
            moments={FIRST, LAST, datetime.datetime(2024, 2, 29, tzinfo=UTC)},
        ),
        WellKnown(
            id=uuid.uuid4(),
            at=FIRST,
            took=datetime.timedelta(microseconds=-(2**63)),
            amount=D("9" * 100),
        ),
    ]


def same(a: WellKnown, b: WellKnown) -> bool:
    """Equal, and every decimal written the same (``-0`` is not ``0``)."""
    return (
        a == b
        and str(a.amount) == str(b.amount)
        and list(map(str, a.prices)) == list(map(str, b.prices))
    )


def test_edge_values_round_trip(factory: Any) -> None:
    async def body(client: ConformanceClient) -> None:
        for value in edges():
            echoed = await client.echo_well_known(value=value)
            assert same(echoed, value), (echoed, value)
            assert echoed.at.tzinfo is UTC
        east = datetime.timezone(datetime.timedelta(hours=14))
        local = datetime.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=east)
        at = await client.later(at=local, by=US)
        assert at == local + US and at.tzinfo is UTC
        assert at == datetime.datetime(2024, 2, 29, 10, 0, tzinfo=UTC)
        assert await client.later(at=FIRST, by=LAST - FIRST) == LAST
        assert await client.echo_uuid(value=uuid.UUID(int=42)) == uuid.UUID(int=42)
        assert str(await client.echo_decimal(value=D("-0.000"))) == "-0.000"
        assert await client.echo_decimal(value=D("1E-6144")) == D("1E-6144")
        assert await client.echo_duration(value=-US) == -US
        ticks = [x async for x in client.ticks(start=FIRST, step=US, n=3)]
        assert ticks == [FIRST, FIRST + US, FIRST + 2 * US]

    run(factory, body)


@pytest.mark.parametrize(
    ("method", "args", "path", "message"),
    [
        (
            "echo_decimal",
            {"value": "1e999999999"},
            "value",
            "a decimal's exponent is within ±6144, not 999999999",
        ),
        (
            "echo_decimal",
            {"value": "1" * 1_000_000},
            "value",
            "not a finite decimal number",
        ),
        ("echo_decimal", {"value": "NaN"}, "value", "not a finite decimal number"),
        (
            "later",
            {"at": msgpack.Timestamp(253402300800), "by": 0},
            "at",
            "timestamp of 253402300800 seconds since 1970 is outside years 1 to 9999",
        ),
        (
            "echo_duration",
            {"value": 2**64 - 1},
            "value",
            "out of range for a signed 64-bit integer",
        ),
        ("echo_uuid", {"value": b"\x00" * 17}, "value", "a uuid is 16 bytes, not 17"),
        ("echo_uuid", {"value": str(uuid.UUID(int=1))}, "value", "not str"),
        ("echo_string", {"text": msgpack.Timestamp(0)}, "text", "valid string"),
    ],
)
def test_a_peers_bad_values_are_invalid_arguments(
    factory: Any, method: str, args: dict[str, Any], path: str, message: str
) -> None:
    """What a peer puts on the wire is checked by the server, whatever sent it:
    here the wire forms go out unchecked, as another implementation's would."""

    async def body(client: ConformanceClient) -> None:
        with pytest.raises(uvrpc.InvalidArgument) as caught:
            await getattr(client, method)(**args)
        assert caught.value.details["field_path"] == path
        assert message in str(caught.value)
        assert len(str(caught.value)) < 300  # the peer's text is not echoed whole

    run(factory, body)


def test_values_that_cannot_be_sent_fail_before_the_wire(factory: Any) -> None:
    async def body(client: ConformanceClient) -> None:
        with pytest.raises(uvrpc.InvalidArgument) as caught:
            await client.later(at=datetime.datetime(2024, 1, 1), by=US)
        assert str(caught.value) == (
            "INVALID_ARGUMENT: cannot send argument 'at' of "
            "conformance.Conformance.later: a "
            "timestamp must be timezone-aware: a naive datetime names no instant "
            "(use e.g. datetime.now(timezone.utc))"
        )
        assert caught.value.details == {"field_path": "at"}
        with pytest.raises(uvrpc.InvalidArgument, match="argument 'start' of"):
            async for _ in client.ticks(
                start=datetime.datetime(2024, 1, 1), step=US, n=1
            ):
                pass
        with pytest.raises(uvrpc.InvalidArgument, match="out of range"):
            await client.echo_duration(value=datetime.timedelta.max)
        with pytest.raises(uvrpc.InvalidArgument, match="must be finite"):
            await client.echo_decimal(value=D("Infinity"))
        assert await client.echo_uuid(value=uuid.UUID(int=3)) == uuid.UUID(int=3)

    run(factory, body)


def test_the_blocking_client(tmp_path: Path) -> None:
    with server_thread(Conformance(), bind=endpoint_for("ipc", tmp_path)) as running:
        with ConformanceSyncClient(running.endpoint, timeout=30) as client:
            for value in edges():
                assert same(client.echo_well_known(value=value), value)
            assert list(client.ticks(start=LAST, step=-US, n=2)) == [LAST, LAST - US]
