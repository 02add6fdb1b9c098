"""The Showcase service of ``idl/all_types.idl``, implemented for the tests that
serve it."""

from __future__ import annotations

import datetime
import decimal
import uuid

from golden.all_types import (
    Color,
    Constrained,
    Item,
    Scalars,
    ShowcaseServer,
    Tree,
)


class Showcase(ShowcaseServer):
    """Builds trees and matrices from its arguments, so replies can be checked."""

    async def ping(self) -> None:
        return None

    async def build(
        self,
        *,
        label: str,
        depth: int,
        color: Color | None,
        items: list[Item],
        weight: float,
    ) -> Tree:
        tree = Tree(label=f"{label}|{color!r}|{weight!r}|{len(items)}")
        for level in range(depth):
            tree = Tree(
                label=f"{label}:{level}", left=tree, children=[Tree(label=str(level))]
            )
        return tree

    async def palette(self, *, wanted: set[Color]) -> dict[str, list[Color]]:
        return {color.name: [color] * color.value for color in wanted if color > 0}

    async def get_matrix(self, *, rows: int, columns: int) -> list[list[int]]:
        return [[r * columns + c for c in range(columns)] for r in range(rows)]

    async def fetch(self, *, names: list[str], size: int) -> list[Item]:
        return [Item(name=n, payload=n.encode()[:1] * size) for n in names]

    async def mirror(self, *, value: Scalars) -> Scalars:
        return value

    async def names(
        self, *, count: int, width: int, like: Constrained | None
    ) -> list[str]:
        stem = like.name if like is not None else "name"
        return [f"{stem}{index}"[:width] for index in range(count)]

    async def schedule(
        self,
        *,
        id: uuid.UUID,
        delay: datetime.timedelta,
        budget: decimal.Decimal | None,
    ) -> datetime.datetime:
        start = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
        return start + datetime.timedelta(seconds=id.int % 60) + delay
