"""The conformance service of ``idl/conformance.idl``, implemented for the tests
that serve it: every method answers from its arguments, so replies can be checked."""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import AsyncIterator

from golden import shared
from golden.conformance import (
    Bounded,
    Color,
    ConformanceServer,
    Containers,
    Drawing,
    Node,
    NotFound,
    Rejected,
    Scalars,
    Shape,
    ShapeLabel,
    WellKnown,
)


class Conformance(ConformanceServer):
    """The reference implementation: echoes, records and streams as documented."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.visit_count = 0

    async def ping(self) -> None:
        return None

    async def echo_bounded(self, *, value: Bounded, keep: int) -> Bounded:
        return value.model_copy(update={"tags": value.tags[:keep]})

    async def repeat(self, *, text: str, times: int) -> str:
        return text * times

    async def echo_scalars(self, *, value: Scalars) -> Scalars:
        return value

    async def mixed(
        self,
        *,
        flag: bool,
        tiny: int,
        small: int,
        medium: int,
        large: int,
        single: float,
        precise: float,
        text: str,
        blob: memoryview,
        color: Color,
        note: str | None,
    ) -> Scalars:
        return Scalars(
            flag=flag,
            tiny=tiny,
            small=small,
            medium=medium,
            large=large,
            single=single,
            precise=precise,
            text=text if note is None else f"{text}|{note}",
            blob=blob,
            color=color,
        )

    async def echo_containers(self, *, value: Containers) -> Containers:
        return value

    async def echo_nested(
        self, *, value: dict[int, dict[str, list[Scalars]]]
    ) -> dict[int, dict[str, list[Scalars]]]:
        return value

    async def echo_colors(self, *, colors: set[Color]) -> set[Color]:
        return colors

    async def echo_matrix(self, *, matrix: list[list[int]]) -> list[list[int]]:
        return matrix

    async def echo_tree(self, *, root: Node) -> Node:
        return root

    async def echo_bytes(self, *, data: memoryview) -> memoryview:
        return data

    async def echo_string(self, *, text: str) -> str:
        return text

    async def echo_double(self, *, value: float) -> float:
        return value

    async def echo_float(self, *, value: float) -> float:
        return value

    async def echo_i64(self, *, value: int) -> int:
        return value

    async def echo_well_known(self, *, value: WellKnown) -> WellKnown:
        return value

    async def echo_uuid(self, *, value: uuid.UUID) -> uuid.UUID:
        return value

    async def echo_decimal(self, *, value: decimal.Decimal) -> decimal.Decimal:
        return value

    async def echo_duration(self, *, value: datetime.timedelta) -> datetime.timedelta:
        return value

    async def later(
        self, *, at: datetime.datetime, by: datetime.timedelta
    ) -> datetime.datetime:
        return at + by

    async def ticks(
        self, *, start: datetime.datetime, step: datetime.timedelta, n: int
    ) -> AsyncIterator[datetime.datetime]:
        for index in range(n):
            yield start + step * index

    async def fail(self, *, which: str) -> None:
        if which == "not_found":
            raise NotFound(key="k")
        if which == "rejected":
            raise Rejected(argument="which", code=7, evidence=b"\x00" * 40_000)
        if which == "overloaded":
            raise shared.Overloaded(retry_after=1.5, message="try later")
        raise LookupError(which)

    async def record(self, *, event: str) -> None:
        self.events.append(event)

    async def recorded(self) -> list[str]:
        return list(self.events)

    async def visits(self) -> int:
        self.visit_count += 1
        return self.visit_count

    async def count(self, *, start: int, n: int) -> AsyncIterator[int]:
        for value in range(start, start + n):
            yield value

    async def sum(self, *, values: AsyncIterator[int]) -> int:
        total = 0
        async for value in values:
            total += value
        return total

    async def echo_shape(self, *, shape: Shape, extra: Shape | None) -> Shape:
        return shape if extra is None else extra

    async def echo_drawing(self, *, drawing: Drawing) -> Drawing:
        return drawing

    async def shapes(self, *, shapes: list[Shape]) -> AsyncIterator[Shape]:
        for shape in shapes:
            yield shape
        yield ShapeLabel(value=f"{len(shapes)} shapes")

    async def transform(
        self, *, values: AsyncIterator[Scalars], add: int
    ) -> AsyncIterator[Scalars]:
        async for value in values:
            if value.large < 0:
                raise Rejected(argument="values", code=value.large)
            yield value.model_copy(update={"large": value.large + add})
