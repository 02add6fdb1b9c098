"""Typed use of the module generated from ``tests/orders/v2/orders.idl``: must pass
``mypy --strict`` (``tests/system/test_orders.py`` runs it)."""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import AsyncIterator
from typing import assert_type

import orders

import uvrpc


def label(payment: orders.Payment) -> str:
    """Every member of the union, the unknown one included, or mypy objects."""
    match payment:
        case orders.PaymentCard(card):
            assert_type(card, orders.Card)
            return card.last4
        case orders.PaymentVoucher(code):
            assert_type(code, str)
            return code
        case orders.PaymentTransfer(reference):
            assert_type(reference, uuid.UUID)
            return str(reference)
        case orders.PaymentCredit(amount):
            assert_type(amount, decimal.Decimal)
            return str(amount)
        case orders.PaymentInvoice(due):
            assert_type(due, datetime.datetime)
            return due.isoformat()
        case uvrpc.UnknownMember(id=number):
            return f"member {number}"


class Orders(orders.UnimplementedOrdersServer):
    async def total(self, *, order: orders.Order) -> decimal.Decimal:
        assert_type(order.discount, decimal.Decimal | None)
        assert_type(order.packing, datetime.timedelta | None)
        assert_type(order.refund, orders.Payment | None)
        return sum((line.unit_price for line in order.lines), decimal.Decimal(0))

    async def ship(
        self, *, ids: AsyncIterator[uuid.UUID], within: datetime.timedelta
    ) -> int:
        return len([i async for i in ids])


async def use(client: orders.OrdersClient) -> None:
    order = orders.Order(
        id=uuid.uuid4(),
        customer="Ada",
        lines=[orders.Line(sku="AB-1", quantity=1, unit_price=decimal.Decimal(1))],
        payments=[orders.PaymentCredit(value=decimal.Decimal("1.10"))],
        placed_at=datetime.datetime.now(datetime.UTC),
    )
    assert_type(await client.place(order=order), uuid.UUID)
    assert_type(await client.total(order=order), decimal.Decimal)
    assert_type(await client.refused(payments=order.payments), list[orders.Payment])
    async with client.since(after=order.placed_at) as found:
        async for item in found:
            assert_type(item.placed_at, datetime.datetime)
    label(order.payments[0])
