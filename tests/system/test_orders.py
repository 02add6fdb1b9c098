"""The IDL's constructs together, as a ported schema uses them.

``tests/orders/v1/orders.idl`` and ``v2/orders.idl`` are an order service a shop
would port from Thrift or protobuf: uuid ids, timestamps, decimal prices,
constrained strings and lists, a union of payment methods whose members are
messages, constrained strings and well-known types, reserved ids and names, and
streams. Version 2 adds fields and a union member. Each test runs real calls, in
memory and over ipc, through generated clients and servers, ``uvrpc call`` and
``uvrpc describe``, and ``uvrpc-gen --compat``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import decimal
import functools
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pydantic
import pytest
from conftest import generate_modules, server_thread

import uvrpc
import uvrpc.testing
from uvrpc.cli import main as uvrpc_main
from uvrpc.services.reflection import describe
from uvrpc.wire.codec import new_packer, unpack
from uvrpc_gen.cli import main as gen_main

ROOT = Path(__file__).resolve().parents[2]
ORDERS = ROOT / "tests" / "orders"
UTC = dt.UTC
TIMEOUT = 10.0
PLACES = ("memory", "ipc")

_MODULES: dict[str, ModuleType] = {}


def in_a_loop(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an ``async def`` test in a loop of its own."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))  # type: ignore[arg-type]

    return run


SEEN: list[Any] = []
"""What the handlers received."""


@pytest.fixture(scope="module", autouse=True)
def _generated(tmp_path_factory: pytest.TempPathFactory) -> None:
    for version in ("v1", "v2"):
        directory = tmp_path_factory.mktemp(version)
        text = (ORDERS / version / "orders.idl").read_text(encoding="utf-8")
        modules = generate_modules(
            directory, {"orders.idl": text}, package=f"orders_{version}"
        )
        _MODULES[version] = modules["orders"]


@pytest.fixture(autouse=True)
def _forget() -> None:
    SEEN.clear()


def v1() -> Any:
    return _MODULES["v1"]


def v2() -> Any:
    return _MODULES["v2"]


def an_order(o: Any, **fields: Any) -> Any:
    """An order of module ``o`` using every construct of its version."""
    values: dict[str, Any] = {
        "id": uuid.UUID(int=7),
        "customer": "Ada",
        "lines": [o.Line(sku="AB-1", quantity=2, unit_price=decimal.Decimal("9.90"))],
        "payments": [
            o.PaymentCard(value=o.Card(last4="1234", holder="Ada L")),
            o.PaymentCredit(value=decimal.Decimal("1.10")),
            o.PaymentTransfer(value=uuid.UUID(int=3)),
        ],
        "placed_at": dt.datetime(2025, 1, 1, tzinfo=UTC),
    }
    if o is v2():
        values["payments"][2] = o.PaymentInvoice(
            value=dt.datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
        )
        values |= {
            "promised_by": dt.datetime(
                2025, 2, 1, tzinfo=dt.timezone(dt.timedelta(hours=2))
            ),
            "discount": decimal.Decimal("-0.00"),
            "packing": dt.timedelta(hours=3),
            "refund": o.PaymentTransfer(value=uuid.UUID(int=9)),
        }
    return o.Order(**(values | fields))


def service(o: Any, backend: uvrpc.Channel | None = None) -> Any:
    """A partial ``Orders`` server of module ``o``: ``place`` is left out."""

    class Orders(o.UnimplementedOrdersServer):  # type: ignore[misc]
        async def get(self, *, id: uuid.UUID) -> Any:
            raise o.NoSuchOrder(id=id)

        async def echo(self, *, order: Any) -> Any:
            SEEN.append(order)
            if backend is not None:  # a relay: hand it on as received
                return await o.OrdersClient(backend).echo(order=order)
            return order

        async def total(self, *, order: Any) -> decimal.Decimal:
            total = sum(
                (line.unit_price * line.quantity for line in order.lines),
                decimal.Decimal(0),
            )
            return total - (getattr(order, "discount", None) or 0)

        async def refused(self, *, payments: list[Any]) -> list[Any]:
            SEEN.append(payments)
            return payments

        async def since(self, *, after: dt.datetime, limit: int) -> AsyncIterator[Any]:
            for n in range(min(limit, 2)):
                yield an_order(o, placed_at=after + dt.timedelta(days=n))

        async def ship(
            self, *, ids: AsyncIterator[uuid.UUID], within: dt.timedelta
        ) -> int:
            return len([i async for i in ids if within > dt.timedelta(0)])

        async def charge(self, *, payments: AsyncIterator[Any]) -> AsyncIterator[Any]:
            async for payment in payments:
                yield payment

    return Orders()


@contextlib.asynccontextmanager
async def channel_to(
    place: str, tmp_path: Path, server: Any, *, check_requests: bool = False
) -> AsyncIterator[uvrpc.Channel]:
    """A channel to ``server``, in memory or over ipc."""
    if place == "memory":
        async with uvrpc.testing.memory_channel(
            server, check_requests=check_requests
        ) as channel:
            yield channel
        return
    async with uvrpc.Server(server) as running:
        endpoint = running.bind(f"ipc://{tmp_path / f'{id(server)}.sock'}")
        async with uvrpc.Channel(endpoint, check_requests=check_requests) as channel:
            yield channel


# --- every construct through every kind of call -------------------------------


@pytest.mark.parametrize("place", PLACES)
@in_a_loop
async def test_an_order_travels_through_every_kind_of_call(
    place: str, tmp_path: Path
) -> None:
    o = v2()
    order = an_order(o)
    async with channel_to(place, tmp_path, service(o)) as channel:
        client = o.OrdersClient(channel, timeout=TIMEOUT)
        back = await client.echo(order=order)
        assert back == order and uvrpc.unknown_fields(back) == {}
        assert back.promised_by == dt.datetime(2025, 1, 31, 22, tzinfo=UTC)
        assert str(back.discount) == "-0.00"  # the sign and zeros travel
        assert isinstance(back.payments[2], o.PaymentInvoice)
        assert await client.total(order=order) == decimal.Decimal("19.80")
        payments = [o.PaymentVoucher(value="GIFT-2025"), *order.payments]
        assert await client.refused(payments=payments[:3]) == payments[:3]
        after = dt.datetime(2025, 3, 1, tzinfo=UTC)
        async with client.since(after=after) as orders:
            placed = [item.placed_at async for item in orders]
        assert placed == [after, after + dt.timedelta(days=1)]

        async def ids() -> AsyncIterator[uuid.UUID]:
            for n in range(3):
                yield uuid.UUID(int=n)

        assert await client.ship(ids=ids(), within=dt.timedelta(days=2)) == 3

        async def charges() -> AsyncIterator[Any]:
            for payment in payments:
                yield payment

        async with client.charge(payments=charges()) as charged:
            assert [p async for p in charged] == payments
        with pytest.raises(o.NoSuchOrder) as raised:
            await client.get(id=uuid.UUID(int=5))
        assert raised.value.id == uuid.UUID(int=5)
        with pytest.raises(uvrpc.Unimplemented, match="'shop.orders.Orders.place'"):
            await client.place(order=order)


def test_an_order_round_trips_through_json() -> None:
    o = v2()
    order = an_order(o)
    text = order.model_dump_json()
    assert json.loads(text)["payments"] == [
        {"card": {"last4": "1234", "holder": "Ada L"}},
        {"credit": "1.10"},
        {"invoice": "2025-01-02T03:04:05.000006Z"},
    ]
    assert json.loads(text)["refund"] == {"transfer": str(uuid.UUID(int=9))}
    assert o.Order.model_validate_json(text) == order
    assert o.Order.model_validate(order.model_dump()) == order
    assert o.Order.model_validate(order.model_dump(by_alias=True)) == order


# --- constraints, refused by the server and by a checking client alike --------

BAD: dict[str, tuple[str, dict[str, Any], str, str]] = {
    "a constrained union member in a list": (
        "refused",
        {"payments": [{"voucher": "abc"}]},
        "payments.0.voucher",
        "String should have at least 6 characters",
    ),
    "a message union member's constrained field": (
        "refused",
        {"payments": [{"card": {"last4": "12x4", "holder": "A"}}]},
        "payments.0.card.last4",
        "String should match pattern '^[0-9]+$'",
    ),
    "a constrained list of unions": (
        "refused",
        {"payments": [{"credit": "1"}] * 6},
        "payments",
        "List should have at most 5 items after validation, not 6",
    ),
    "a decimal union member given a float": (
        "refused",
        {"payments": [{"credit": 1.5}]},
        "payments.0.credit",
        "Value error, a float is inexact",
    ),
    "an optional union field's constrained member": (
        "echo",
        {"refund": {"voucher": "abc"}},
        "order.refund.voucher",
        "String should have at least 6 characters",
    ),
    "a constrained typedef in a list": (
        "echo",
        {"lines": [{"sku": "ab", "quantity": 1, "unit_price": "1"}]},
        "order.lines.0.sku",
        "String should match pattern '^[A-Z0-9-]+$'",
    ),
    "a constrained union member as a stream item": (
        "charge",
        {"payments": [{"voucher": "GIFT-2025"}, {"voucher": "abc"}]},
        "payments.1.voucher",
        "String should have at least 6 characters",
    ),
    "a range on a stream's opening parameter": (
        "since",
        {"after": dt.datetime(2025, 1, 1, tzinfo=UTC), "limit": 0},
        "limit",
        "Input should be greater than or equal to 1",
    ),
}


def _arguments(method: str, values: dict[str, Any]) -> dict[str, Any]:
    if method != "echo":
        return values
    return {"order": an_order(v2()).model_dump() | values}


async def _call(client: Any, method: str, arguments: dict[str, Any]) -> Any:
    if method == "since":
        async with client.since(**arguments) as items:
            return [item async for item in items]
    if method == "charge":  # the payments as a stream

        async def payments() -> AsyncIterator[Any]:
            for payment in arguments["payments"]:
                yield payment

        async with client.charge(payments=payments()) as items:
            return [item async for item in items]
    return await getattr(client, method)(**arguments)


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("case", sorted(BAD))
@in_a_loop
async def test_a_checking_client_refuses_what_the_server_refuses(
    place: str, case: str, tmp_path: Path
) -> None:
    method, values, path, text = BAD[case]
    arguments = _arguments(method, values)
    refused = []
    for check in (False, True):
        async with channel_to(
            place, tmp_path, service(v2()), check_requests=check
        ) as channel:
            client = v2().OrdersClient(channel, timeout=TIMEOUT)
            with pytest.raises(uvrpc.InvalidArgument) as raised:
                await _call(client, method, arguments)
            refused.append(raised.value)
    by_server, by_client = refused
    assert by_client.details["field_path"] == path
    assert text in str(by_client)
    assert (str(by_client), by_client.details) == (str(by_server), by_server.details)
    assert SEEN == []


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("check", [False, True])
@in_a_loop
async def test_a_naive_datetime_is_named_by_its_path_before_it_is_sent(
    place: str, check: bool, tmp_path: Path
) -> None:
    o = v2()
    naive = dt.datetime(2025, 1, 1)  # noqa: DTZ001 - the mistake under test
    order = an_order(o).model_dump() | {"placed_at": naive}
    member = o.PaymentInvoice.model_construct(value=naive)
    cases = [
        ("echo", {"order": order}, "order.placed_at"),
        ("refused", {"payments": [{"invoice": naive}]}, "payments.0.invoice"),
        ("refused", {"payments": [member]}, "payments.0.invoice"),
        ("since", {"after": naive}, "after"),
        ("charge", {"payments": [member]}, "payments.0.invoice"),
    ]
    async with channel_to(place, tmp_path, service(o), check_requests=check) as ch:
        client = o.OrdersClient(ch, timeout=TIMEOUT)
        for method, arguments, path in cases:
            with pytest.raises(uvrpc.InvalidArgument) as raised:
                await _call(client, method, arguments)
            assert raised.value.details["field_path"] == path
            what = "item 0" if method == "charge" else f"argument '{path}'"
            assert str(raised.value).startswith(
                f"INVALID_ARGUMENT: cannot send {what} of "
                f"shop.orders.Orders.{method}: a timestamp must be timezone-aware"
            )
    assert SEEN == []
    # The constructor names the same path.
    with pytest.raises(pydantic.ValidationError) as invalid:
        o.Order(**order)
    assert [e["loc"] for e in invalid.value.errors()] == [("placed_at",)]


# --- an old relay hands on what it cannot read ---------------------------------


@pytest.mark.parametrize("place", PLACES)
@in_a_loop
async def test_an_old_server_forwards_a_new_order_byte_for_byte(
    place: str, tmp_path: Path
) -> None:
    old, new = v1(), v2()
    order = an_order(new)
    async with (
        channel_to(place, tmp_path, service(new)) as backend,
        channel_to(place, tmp_path, service(old, backend)) as relay,
    ):
        back = await new.OrdersClient(relay, timeout=TIMEOUT).echo(order=order)
    assert back == order
    assert new_packer().pack(back) == new_packer().pack(order)
    relayed, stored = SEEN  # the version 1 relay's, then the backend's
    assert isinstance(relayed, old.Order) and isinstance(stored, new.Order)
    assert new_packer().pack(relayed) == new_packer().pack(order)
    assert relayed.payments[:2] == [
        old.PaymentCard(value=old.Card(last4="1234", holder="Ada L")),
        old.PaymentCredit(value=decimal.Decimal("1.10")),
    ]
    invoice = relayed.payments[2]
    assert isinstance(invoice, uvrpc.UnknownMember) and invoice.id == 5
    unknown = uvrpc.unknown_fields(relayed)
    assert sorted(unknown) == [8, 9, 10, 11]
    assert unknown[9] == "-0.00" and unknown[10] == 3 * 3600 * 10**6
    assert unknown[11] == {"3": uuid.UUID(int=9).bytes}
    # Written as JSON, the old side shows what it cannot read in its wire form.
    assert json.loads(relayed.model_dump_json())["payments"][2] == {
        "5": "2025-01-02T03:04:05.000006Z"
    }


# --- uvrpc describe, uvrpc call, uvrpc-gen --compat ----------------------------


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    with server_thread(service(v2())) as server:
        yield server.endpoint


def _uvrpc(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = uvrpc_main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_describe_prints_idl_that_regenerates_the_same_service(
    served: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, text, err = _uvrpc(capsys, "describe", served, "shop.orders.Orders")
    assert (status, err) == (0, "")
    assert "    4: list<Payment>(min_len = 1, max_len = 3) payments;\n" in text
    assert "    2: string(min_len = 6, max_len = 16) voucher;\n" in text
    assert "    5: timestamp invoice;\n" in text
    assert (
        '    1: string(min_len = 1, max_len = 12, pattern = "^[A-Z0-9-]+$") sku;\n'
        in text
    )
    (tmp_path / "again").mkdir()
    regenerated = generate_modules(tmp_path / "again", {"orders.idl": text})
    again = regenerated["orders"]
    assert describe(again.OrdersServer) == describe(v2().OrdersServer)


def test_uvrpc_call_takes_and_prints_every_construct(
    served: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    order = json.loads(an_order(v2()).model_dump_json())
    status, out, err = _uvrpc(
        capsys, "call", served, "shop.orders.Orders.echo", json.dumps({"order": order})
    )
    assert (status, err) == (0, "")
    printed = json.loads(out)
    assert printed.pop("status") == "PLACED"  # enums by name, as uvrpc call writes
    assert printed == {k: v for k, v in order.items() if k != "status"}
    status, out, _ = _uvrpc(
        capsys, "call", served, "shop.orders.Orders.total",
        json.dumps({"order": order}),
    )  # fmt: skip
    assert (status, json.loads(out)) == (0, "19.80")
    payments = [{"voucher": "GIFT-2025"}, {"transfer": str(uuid.UUID(int=1))}]
    status, out, _ = _uvrpc(
        capsys, "call", served, "shop.orders.Orders.refused",
        json.dumps({"payments": payments}),
    )  # fmt: skip
    assert (status, json.loads(out)) == (0, payments)
    status, out, _ = _uvrpc(
        capsys, "call", served, "shop.orders.Orders.since",
        json.dumps({"after": "2025-03-01T00:00:00+01:00", "limit": 1}),
    )  # fmt: skip
    assert status == 0
    assert json.loads(out)["placed_at"] == "2025-02-28T23:00:00Z"
    ids = "".join(f'"{uuid.UUID(int=n)}"\n' for n in range(3))
    monkeypatch.setattr("sys.stdin", io.StringIO(ids))  # the client's stream
    status, out, _ = _uvrpc(
        capsys, "call", served, "shop.orders.Orders.ship", '{"within": "P1DT2H"}'
    )
    assert (status, out) == (0, "3\n")
    charges = [{"invoice": "2025-01-01T00:00:00+02:00"}, {"credit": "1.50"}]
    monkeypatch.setattr(
        "sys.stdin", io.StringIO("".join(f"{json.dumps(c)}\n" for c in charges))
    )
    status, out, _ = _uvrpc(capsys, "call", served, "shop.orders.Orders.charge", "{}")
    assert (status, [json.loads(line) for line in out.splitlines()]) == (
        0,
        [{"invoice": "2024-12-31T22:00:00Z"}, {"credit": "1.50"}],
    )
    status, out, err = _uvrpc(
        capsys, "call", served, "shop.orders.Orders.refused",
        json.dumps({"payments": [{"voucher": "abc"}]}),
    )  # fmt: skip
    assert status == 1 and out == ""
    assert err.splitlines()[0] == (
        "INVALID_ARGUMENT: invalid argument 'payments.0.voucher' of "
        "shop.orders.Orders.refused: String should have at least 6 characters "
        "(status 3)"
    )


def test_uvrpc_call_prints_what_an_old_server_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An old server's reply holds a new union member whose value is a timestamp:
    ``uvrpc call`` prints it in its JSON form."""
    order = an_order(v2())

    class Stored(v1().UnimplementedOrdersServer):  # type: ignore[misc]
        async def get(self, *, id: uuid.UUID) -> Any:
            return v1().Order.model_validate(unpack(new_packer().pack(order)))

    with server_thread(Stored()) as server:
        status, out, err = _uvrpc(
            capsys, "call", server.endpoint, "shop.orders.Orders.get",
            json.dumps({"id": str(uuid.UUID(int=7))}),
        )  # fmt: skip
    assert (status, err) == (0, "")
    printed = json.loads(out)
    assert printed["payments"][2] == {"5": "2025-01-02T03:04:05.000006Z"}
    assert printed["8"] == "2025-01-31T22:00:00Z"


def test_compat_lists_the_changes_from_version_1_to_version_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "uvrpc_gen", "--compat",
         "tests/orders/v1/orders.idl", "tests/orders/v2/orders.idl"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env=dict(os.environ),
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (1, "")
    kinds = [line.split(": ", 2)[1] for line in result.stdout.splitlines()[:-1]]
    assert kinds == ["breaking", "warning", *["compatible"] * 7]
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "tests/orders/v2/orders.idl:90:61: breaking: parameter 2 'limit' of method "
        "'Orders.since' changed the constraint 'max = 1000' to 'max = 500': a new "
        "server may refuse what an old client sends"
    )
    assert lines[1].startswith(
        "tests/orders/v1/orders.idl:61:38: warning: field 2 'hint' of exception "
        "'NoSuchOrder' was removed without reserving its id 2"
    )
    assert (
        "tests/orders/v2/orders.idl:35:18: compatible: union member 5 'invoice' was "
        "added to union 'Payment': peers built from the old file receive it as an "
        "unknown member and pass it on unchanged"
    ) in lines
    assert (
        "tests/orders/v2/orders.idl:64:26: compatible: optional field 11 'refund' "
        "was added to message 'Order': old readers keep it unread and send it on, "
        "new readers take None from old writers"
    ) in lines
    assert (
        "tests/orders/v2/orders.idl:87:44: compatible: parameter 1 'payments' of "
        "method 'Orders.refused' changed the constraint 'max_len = 3' to 'max_len "
        "= 5': new servers take all that old clients send"
    ) in lines
    assert lines[-1] == (
        "tests/orders/v1/orders.idl -> tests/orders/v2/orders.idl: 1 breaking "
        "change, 1 warning, 7 compatible changes"
    )


# --- typing -------------------------------------------------------------------


@pytest.mark.typecheck
def test_typed_use_of_the_orders_module_passes_mypy_strict(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    assert gen_main([str(ORDERS / "v2" / "orders.idl"), "-o", str(out)]) == 0
    usage = tmp_path / "usage.py"
    usage.write_text(
        (ROOT / "tests" / "typing" / "typed_orders.py").read_text(encoding="utf-8")
    )
    env = dict(os.environ)
    env["MYPYPATH"] = str(out)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file",
         str(ROOT / "pyproject.toml"), "--no-error-summary", "--show-error-codes",
         str(usage)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (0, ""), result.stdout
