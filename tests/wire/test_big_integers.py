"""An integer argument beyond 64 bits, which msgpack cannot encode, is refused
with the bound it breaks, as one just beyond an ``i64`` is, not as a value of
type int that cannot be encoded (``core/calls.py``)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import generate_modules

import uvrpc

IDL = """namespace stock;
service Stock {
    i64 reserve(1: string sku, 2: i64 n);
    i32 small(1: i32 n);
    i64 total(1: stream<i64> counts);
    double scale(1: double x);
    double sum(1: stream<double> xs);
}
"""

I64_MAX = "Input should be less than or equal to 9223372036854775807"


@pytest.fixture
def stock(tmp_path: Path) -> ModuleType:
    return generate_modules(tmp_path, {"stock.idl": IDL})["stock"]


def _server(stock: ModuleType) -> Any:
    class Stock(stock.StockServer):  # type: ignore[name-defined,misc]
        async def reserve(self, *, sku: str, n: int) -> int:
            return n

        async def small(self, *, n: int) -> int:
            return n

        async def total(self, *, counts: Any) -> int:
            return sum([n async for n in counts])

        async def scale(self, *, x: float) -> float:
            assert type(x) is float
            return x

        async def sum(self, *, xs: Any) -> float:
            return float(sum([x async for x in xs]))

    return Stock()


@pytest.mark.parametrize("check_requests", [False, True])
@pytest.mark.parametrize(
    ("n", "words"),
    [
        (2**63, I64_MAX),  # within msgpack's range: refused by validation
        (2**70, I64_MAX),
        (2**64, I64_MAX),
        (-(2**70), "Input should be greater than or equal to -9223372036854775808"),
    ],
)
def test_an_integer_beyond_its_type_is_refused_with_its_bound(
    stock: ModuleType, check_requests: bool, n: int, words: str
) -> None:
    async def main() -> None:
        async with uvrpc.Server(_server(stock)) as server:
            endpoint = server.bind(f"inproc://stock-{uuid.uuid4().hex}")
            async with uvrpc.Channel(endpoint, check_requests=check_requests) as ch:
                with pytest.raises(uvrpc.InvalidArgument) as exc:
                    await stock.StockClient(ch).reserve(sku="a", n=n, timeout=10)
                assert str(exc.value).endswith(
                    f"invalid argument 'n' of stock.Stock.reserve: {words}"
                )
                assert exc.value.details["field_path"] == "n"
                assert await stock.StockClient(ch).reserve(sku="a", n=5) == 5

            def blocking() -> str:
                with (
                    uvrpc.SyncChannel(endpoint, check_requests=check_requests) as sync,
                    pytest.raises(uvrpc.InvalidArgument) as exc,
                ):
                    stock.StockSyncClient(sync).small(n=n, timeout=10)
                return str(exc.value)

            text = await asyncio.to_thread(blocking)
            assert "invalid argument 'n' of stock.Stock.small: Input should be" in text

    asyncio.run(main())


@pytest.mark.parametrize("check_requests", [False, True])
@pytest.mark.parametrize(("n", "words"), [(2**70, I64_MAX), (2**63, I64_MAX)])
def test_a_stream_item_beyond_its_type_is_refused_with_its_bound(
    stock: ModuleType, check_requests: bool, n: int, words: str
) -> None:
    """An item of the caller's stream, as an argument: the bound it breaks,
    named at ``<stream>.<index>`` (2**63 reaches the server, which says so)."""

    async def main() -> None:
        async with uvrpc.Server(_server(stock)) as server:
            endpoint = server.bind(f"inproc://stock-{uuid.uuid4().hex}")
            async with uvrpc.Channel(endpoint, check_requests=check_requests) as ch:
                client = stock.StockClient(ch)
                with pytest.raises(uvrpc.InvalidArgument) as exc:
                    await client.total(counts=[1, n], timeout=10)
                assert str(exc.value).endswith(
                    f"invalid argument 'counts.1' of stock.Stock.total: {words}"
                )
                assert exc.value.details["field_path"] == "counts.1"
                assert await client.total(counts=[1, 2], timeout=10) == 3

            def blocking() -> str:
                with (
                    uvrpc.SyncChannel(endpoint, check_requests=check_requests) as sync,
                    pytest.raises(uvrpc.InvalidArgument) as exc,
                ):
                    stock.StockSyncClient(sync).total(counts=iter([n]), timeout=10)
                return str(exc.value)

            text = await asyncio.to_thread(blocking)
            assert text.endswith(
                f"invalid argument 'counts.0' of stock.Stock.total: {words}"
            )

    asyncio.run(main())


@pytest.mark.parametrize("check_requests", [False, True])
def test_an_integer_beyond_64_bits_for_a_double_is_sent_as_that_double(
    stock: ModuleType, check_requests: bool
) -> None:
    """An int is a value of a ``double``, however large: 2**70 failed with
    "cannot send argument 'x' ... cannot encode a value of type int", having no
    msgpack form until it is the float the server would read it as."""

    async def main() -> None:
        async with uvrpc.Server(_server(stock)) as server:
            endpoint = server.bind(f"inproc://stock-{uuid.uuid4().hex}")
            async with uvrpc.Channel(endpoint, check_requests=check_requests) as ch:
                client = stock.StockClient(ch)
                assert await client.scale(x=2**70, timeout=10) == float(2**70)
                assert await client.sum(xs=[2**70, 1], timeout=10) == float(2**70)

            def blocking() -> tuple[float, float]:
                with uvrpc.SyncChannel(endpoint, check_requests=check_requests) as sync:
                    client = stock.StockSyncClient(sync)
                    return (
                        client.scale(x=2**70, timeout=10),
                        client.sum(xs=iter([2**70]), timeout=10),
                    )

            assert await asyncio.to_thread(blocking) == (float(2**70),) * 2

    asyncio.run(main())
