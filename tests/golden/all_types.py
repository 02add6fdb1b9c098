# Generated from all_types.idl by uvrpc-gen 0.6.0 — do not edit.
"""Every type the IDL knows, in one file: the generator's own showcase and test."""

from __future__ import annotations

import abc as _abc
import typing as _typing

import uvrpc as _uvrpc
from uvrpc import types as _t

_uvrpc.check_generated_code(generator="0.6.0", api=9, protocol=3)

__uvrpc_namespace__ = "all_types"

__all__ = [
    "Color",
    "Constrained",
    "Containers",
    "Item",
    "Scalars",
    "ShowcaseClient",
    "ShowcaseServer",
    "ShowcaseSyncClient",
    "Tree",
    "UnimplementedShowcaseServer",
    "WellKnown",
]


class Color(_uvrpc.Enum):
    """A colour, to show enums as field types, set elements and defaults."""

    RED = 1
    GREEN = -2
    """Negative values are allowed."""
    BLUE = 16


class Item(_uvrpc.Message):
    """A leaf of the nested containers below."""

    model_config = _uvrpc.field_ids(name=1, payload=2)

    name: _t.String
    payload: _t.Bytes | None = None

    if _typing.TYPE_CHECKING:

        def __init__(self, *, name: str, payload: _uvrpc.Buffer | None = ...) -> None:
            """Where the IDL says ``bytes``, any buffer is taken, uncopied."""
            ...


class Scalars(_uvrpc.Message):
    """One field of every scalar, with and without defaults."""

    model_config = _uvrpc.field_ids(
        flag=1,
        tiny=2,
        small=3,
        medium=4,
        large=5,
        single=6,
        precise=7,
        text=8,
        blob=9,
        flag_default=10,
        tiny_default=11,
        small_default=12,
        medium_default=13,
        large_default=14,
        single_default=15,
        precise_default=16,
        text_default=17,
        blob_default=18,
        color_default=19,
    )

    flag: _t.Bool
    tiny: _t.I8
    small: _t.I16
    medium: _t.I32
    large: _t.I64
    single: _t.Float
    precise: _t.Double
    text: _t.String
    blob: _t.Bytes
    flag_default: _t.Bool = True
    tiny_default: _t.I8 = -128
    small_default: _t.I16 = 32767
    medium_default: _t.I32 = -2147483648
    large_default: _t.I64 = 9223372036854775807
    single_default: _t.Float = 1.0
    precise_default: _t.Double = -2500.0
    text_default: _t.String = 'tab\there "quoted" \\ done'
    """Escapes in string defaults are decoded and written back as Python escapes."""
    blob_default: _t.Bytes = memoryview(b"raw")
    color_default: Color = Color.BLUE

    if _typing.TYPE_CHECKING:

        def __init__(
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
            blob: _uvrpc.Buffer,
            flag_default: bool = ...,
            tiny_default: int = ...,
            small_default: int = ...,
            medium_default: int = ...,
            large_default: int = ...,
            single_default: float = ...,
            precise_default: float = ...,
            text_default: str = ...,
            blob_default: _uvrpc.Buffer = ...,
            color_default: Color = ...,
        ) -> None:
            """Where the IDL says ``bytes``, any buffer is taken, uncopied."""
            ...


class Containers(_uvrpc.Message):
    """Containers nest freely; empty containers are valid defaults."""

    model_config = _uvrpc.field_ids(
        index=1,
        matrix=2,
        colors=3,
        weights=4,
        maybe_items=5,
        primes=6,
        named=7,
        tags=8,
    )

    index: dict[_t.I32, dict[_t.String, list[Item]]]
    matrix: list[list[_t.I32]] = _t.default([])
    colors: set[Color] = _t.default(set())
    weights: dict[_t.String, _t.Double] = _t.default({})
    maybe_items: list[Item] | None = None
    primes: list[_t.I32] = _t.default([2, 3, 5])
    named: dict[_t.String, Color] = _t.default({"red": Color.RED})
    tags: set[_t.String] = _t.default({"a", "b"})

    if _typing.TYPE_CHECKING:

        def __init__(
            self,
            *,
            index: _typing.Mapping[int, _typing.Mapping[str, _typing.Sequence[Item]]],
            matrix: _typing.Sequence[_typing.Sequence[int]] = ...,
            colors: _typing.AbstractSet[Color] = ...,
            weights: _typing.Mapping[str, float] = ...,
            maybe_items: _typing.Sequence[Item] | None = ...,
            primes: _typing.Sequence[int] = ...,
            named: _typing.Mapping[str, Color] = ...,
            tags: _typing.AbstractSet[str] = ...,
        ) -> None:
            """A list is taken as any sequence, a set as any set and a map as any
            mapping, of the element types or narrower ones.
            """
            ...


class Constrained(_uvrpc.Message):
    """Constraints on values: lengths, ranges and patterns, on their own and inside
    containers.
    """

    model_config = _uvrpc.field_ids(
        name=1,
        blob=2,
        labels=3,
        ports=4,
        gains=5,
        limit=6,
        ratio=7,
    )

    name: _typing.Annotated[_t.String, _t.Constraints(min_length=1, max_length=50)]
    """1 to 50 characters."""
    blob: _typing.Annotated[_t.Bytes, _t.ByteLength(max_length=1024)] = memoryview(b"")
    """At most 1024 bytes."""
    labels: _typing.Annotated[
        list[_typing.Annotated[_t.String, _t.Constraints(max_length=8)]],
        _t.Constraints(max_length=10),
    ] = _t.default([])
    """At most 10 items; each item at most 8 characters."""
    ports: _typing.Annotated[
        set[_typing.Annotated[_t.I16, _t.Constraints(ge=0)]],
        _t.Constraints(min_length=1),
    ] = _t.default({80})
    """At least 1 item; each item at least 0."""
    gains: _typing.Annotated[
        dict[
            _typing.Annotated[_t.String, _t.Constraints(pattern="^[a-z_]+$")],
            _typing.Annotated[_t.Double, _t.Constraints(ge=-1.5, le=1.5)],
        ],
        _t.Constraints(max_length=100),
    ] = _t.default({})
    """At most 100 entries; each key matching the pattern ``^[a-z_]+$``; each value from
    -1.5 to 1.5.
    """
    limit: _typing.Annotated[_t.I64, _t.Constraints(ge=1)] | None = None
    """At least 1."""
    ratio: _typing.Annotated[_t.Float, _t.Constraints(ge=0.0, le=1.0)] = 0.5
    """From 0.0 to 1.0."""

    if _typing.TYPE_CHECKING:

        def __init__(
            self,
            *,
            name: str,
            blob: _uvrpc.Buffer = ...,
            labels: _typing.Sequence[str] = ...,
            ports: _typing.AbstractSet[int] = ...,
            gains: _typing.Mapping[str, float] = ...,
            limit: int | None = ...,
            ratio: float = ...,
        ) -> None:
            """Where the IDL says ``bytes``, any buffer is taken, uncopied. A list is
            taken as any sequence, a set as any set and a map as any mapping, of the
            element types or narrower ones.
            """
            ...


class WellKnown(_uvrpc.Message):
    """The well-known types: standard Python values with wire forms of their own.
    They take no defaults; `decimal` is no set element or map key.
    """

    model_config = _uvrpc.field_ids(
        id=1,
        at=2,
        took=3,
        amount=4,
        expires=5,
        prices=6,
        timings=7,
        moments=8,
    )

    id: _t.Uuid
    at: _t.Timestamp
    took: _t.Duration
    amount: _t.Decimal
    expires: _t.Timestamp | None = None
    prices: list[_t.Decimal] = _t.default([])
    timings: dict[_t.Uuid, _t.Duration] = _t.default({})
    moments: set[_t.Timestamp] = _t.default(set())

    if _typing.TYPE_CHECKING:

        def __init__(
            self,
            *,
            id: _t.Uuid,
            at: _t.Timestamp,
            took: _t.Duration,
            amount: _t.Decimal,
            expires: _t.Timestamp | None = ...,
            prices: _typing.Sequence[_t.Decimal] = ...,
            timings: _typing.Mapping[_t.Uuid, _t.Duration] = ...,
            moments: _typing.AbstractSet[_t.Timestamp] = ...,
        ) -> None:
            """A list is taken as any sequence, a set as any set and a map as any
            mapping, of the element types or narrower ones.
            """
            ...


class Tree(_uvrpc.Message):
    """A recursive message: a tree of labelled nodes."""

    model_config = _uvrpc.field_ids(label=1, left=2, right=3, children=4)

    label: _t.String
    left: Tree | None = None
    right: Tree | None = None
    children: list[Tree] = _t.default([])

    if _typing.TYPE_CHECKING:

        def __init__(
            self,
            *,
            label: str,
            left: Tree | None = ...,
            right: Tree | None = ...,
            children: _typing.Sequence[Tree] = ...,
        ) -> None:
            """A list is taken as any sequence, a set as any set and a map as any
            mapping, of the element types or narrower ones.
            """
            ...


class _ShowcasePingParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids()


class _ShowcaseBuildParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(label=1, depth=2, color=3, items=4, weight=5)

    label: _t.String
    depth: _t.I32 = 3
    """How deep the tree goes."""
    color: Color | None = None
    items: list[Item]
    weight: _t.Double = 1.0


class _ShowcasePaletteParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(wanted=1)

    wanted: set[Color]


class _ShowcaseGetMatrixParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(rows=1, columns=2)

    rows: _t.I32
    columns: _t.I32


class _ShowcaseFetchParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(names=1, size=2)

    names: list[_t.String]
    size: _t.I32


class _ShowcaseMirrorParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(value=1)

    value: Scalars


class _ShowcaseNamesParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(count=1, width=2, like=3)

    count: _typing.Annotated[_t.I32, _t.Constraints(ge=0, le=100)]
    """From 0 to 100."""
    width: _typing.Annotated[_t.I8, _t.Constraints(ge=1, le=16)] = 8
    """How wide each name is.

    From 1 to 16.
    """
    like: Constrained | None = None


class _ShowcaseScheduleParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(id=1, delay=2, budget=3)

    id: _t.Uuid
    delay: _t.Duration
    budget: _t.Decimal | None = None


_SHOWCASE_PING: _uvrpc.Unary[_ShowcasePingParams, None] = _uvrpc.Unary(
    route="all_types.Showcase.ping",
    handler="ping",
    params=_ShowcasePingParams,
    reply=None,
)
_SHOWCASE_BUILD: _uvrpc.Unary[_ShowcaseBuildParams, Tree] = _uvrpc.Unary(
    route="all_types.Showcase.build",
    handler="build",
    params=_ShowcaseBuildParams,
    reply=Tree,
)
_SHOWCASE_PALETTE: _uvrpc.Unary[_ShowcasePaletteParams, dict[str, list[Color]]] = (
    _uvrpc.Unary(
        route="all_types.Showcase.palette",
        handler="palette",
        params=_ShowcasePaletteParams,
        reply=dict[_t.String, list[Color]],
    )
)
_SHOWCASE_GET_MATRIX: _uvrpc.Unary[_ShowcaseGetMatrixParams, list[list[int]]] = (
    _uvrpc.Unary(
        route="all_types.Showcase.getMatrix",
        handler="get_matrix",
        params=_ShowcaseGetMatrixParams,
        reply=list[list[_t.I32]],
    )
)
_SHOWCASE_FETCH: _uvrpc.Unary[_ShowcaseFetchParams, list[Item]] = _uvrpc.Unary(
    route="all_types.Showcase.fetch",
    handler="fetch",
    params=_ShowcaseFetchParams,
    reply=list[Item],
)
_SHOWCASE_MIRROR: _uvrpc.Unary[_ShowcaseMirrorParams, Scalars] = _uvrpc.Unary(
    route="all_types.Showcase.mirror",
    handler="mirror",
    params=_ShowcaseMirrorParams,
    reply=Scalars,
)
_SHOWCASE_NAMES: _uvrpc.Unary[_ShowcaseNamesParams, list[str]] = _uvrpc.Unary(
    route="all_types.Showcase.names",
    handler="names",
    params=_ShowcaseNamesParams,
    reply=_typing.Annotated[
        list[_typing.Annotated[_t.String, _t.Constraints(max_length=16)]],
        _t.Constraints(max_length=100),
    ],
)
_SHOWCASE_SCHEDULE: _uvrpc.Unary[_ShowcaseScheduleParams, _t.Timestamp] = _uvrpc.Unary(
    route="all_types.Showcase.schedule",
    handler="schedule",
    params=_ShowcaseScheduleParams,
    reply=_t.Timestamp,
)
_SHOWCASE = _uvrpc.ServiceSpec(
    name="all_types.Showcase",
    methods=(
        _SHOWCASE_PING,
        _SHOWCASE_BUILD,
        _SHOWCASE_PALETTE,
        _SHOWCASE_GET_MATRIX,
        _SHOWCASE_FETCH,
        _SHOWCASE_MIRROR,
        _SHOWCASE_NAMES,
        _SHOWCASE_SCHEDULE,
    ),
)


class ShowcaseClient(_uvrpc.AsyncClient):
    """Asynchronous client of ``all_types.Showcase``.

    A service exercising parameter and return shapes.
    """

    async def ping(
        self,
        *,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> None:
        """Does nothing and returns nothing."""
        await self._call(_SHOWCASE_PING, (), timeout, wait_for_ready)

    def start_ping(
        self,
        *,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[None]:
        """Start :meth:`ping` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_SHOWCASE_PING, (), timeout, wait_for_ready)

    async def build(
        self,
        *,
        label: str,
        depth: int = 3,
        color: Color | None = None,
        items: _typing.Sequence[Item],
        weight: float = 1.0,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Tree:
        """Mixes required, optional and defaulted parameters.

        Args:
            depth: How deep the tree goes.
        """
        return await self._call(
            _SHOWCASE_BUILD,
            (label, depth, color, items, weight),
            timeout,
            wait_for_ready,
        )

    def start_build(
        self,
        *,
        label: str,
        depth: int = 3,
        color: Color | None = None,
        items: _typing.Sequence[Item],
        weight: float = 1.0,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[Tree]:
        """Start :meth:`build` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(
            _SHOWCASE_BUILD,
            (label, depth, color, items, weight),
            timeout,
            wait_for_ready,
        )

    async def palette(
        self,
        *,
        wanted: _typing.AbstractSet[Color],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> dict[str, list[Color]]:
        """Returns a container type."""
        return await self._call(_SHOWCASE_PALETTE, (wanted,), timeout, wait_for_ready)

    def start_palette(
        self,
        *,
        wanted: _typing.AbstractSet[Color],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[dict[str, list[Color]]]:
        """Start :meth:`palette` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_SHOWCASE_PALETTE, (wanted,), timeout, wait_for_ready)

    async def get_matrix(
        self,
        *,
        rows: int,
        columns: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> list[list[int]]:
        """A method name in camelCase becomes snake_case in Python."""
        return await self._call(
            _SHOWCASE_GET_MATRIX,
            (rows, columns),
            timeout,
            wait_for_ready,
        )

    def start_get_matrix(
        self,
        *,
        rows: int,
        columns: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[list[list[int]]]:
        """Start :meth:`get_matrix` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(
            _SHOWCASE_GET_MATRIX,
            (rows, columns),
            timeout,
            wait_for_ready,
        )

    async def fetch(
        self,
        *,
        names: _typing.Sequence[str],
        size: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> list[Item]:
        """Returns one item per name, each with a payload of `size` bytes."""
        return await self._call(_SHOWCASE_FETCH, (names, size), timeout, wait_for_ready)

    def start_fetch(
        self,
        *,
        names: _typing.Sequence[str],
        size: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[list[Item]]:
        """Start :meth:`fetch` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_SHOWCASE_FETCH, (names, size), timeout, wait_for_ready)

    async def mirror(
        self,
        *,
        value: Scalars,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Scalars:
        """Returns the scalars it is sent."""
        return await self._call(_SHOWCASE_MIRROR, (value,), timeout, wait_for_ready)

    def start_mirror(
        self,
        *,
        value: Scalars,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[Scalars]:
        """Start :meth:`mirror` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_SHOWCASE_MIRROR, (value,), timeout, wait_for_ready)

    async def names(
        self,
        *,
        count: int,
        width: int = 8,
        like: Constrained | None = None,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> list[str]:
        """Returns up to `count` names, each at most `width` characters.

        Args:
            count: From 0 to 100.
            width: How wide each name is.

                From 1 to 16.
        """
        return await self._call(
            _SHOWCASE_NAMES,
            (count, width, like),
            timeout,
            wait_for_ready,
        )

    def start_names(
        self,
        *,
        count: int,
        width: int = 8,
        like: Constrained | None = None,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[list[str]]:
        """Start :meth:`names` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(
            _SHOWCASE_NAMES,
            (count, width, like),
            timeout,
            wait_for_ready,
        )

    async def schedule(
        self,
        *,
        id: _t.Uuid,
        delay: _t.Duration,
        budget: _t.Decimal | None = None,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _t.Timestamp:
        """Well-known types as parameters and result: when `id` runs after `delay`."""
        return await self._call(
            _SHOWCASE_SCHEDULE,
            (id, delay, budget),
            timeout,
            wait_for_ready,
        )

    def start_schedule(
        self,
        *,
        id: _t.Uuid,
        delay: _t.Duration,
        budget: _t.Decimal | None = None,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[_t.Timestamp]:
        """Start :meth:`schedule` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(
            _SHOWCASE_SCHEDULE,
            (id, delay, budget),
            timeout,
            wait_for_ready,
        )


class ShowcaseSyncClient(_uvrpc.SyncClient):
    """Blocking client of ``all_types.Showcase``.

    A service exercising parameter and return shapes.
    """

    def ping(
        self,
        *,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> None:
        """Does nothing and returns nothing."""
        self._call(_SHOWCASE_PING, (), timeout, wait_for_ready)

    def build(
        self,
        *,
        label: str,
        depth: int = 3,
        color: Color | None = None,
        items: _typing.Sequence[Item],
        weight: float = 1.0,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Tree:
        """Mixes required, optional and defaulted parameters.

        Args:
            depth: How deep the tree goes.
        """
        return self._call(
            _SHOWCASE_BUILD,
            (label, depth, color, items, weight),
            timeout,
            wait_for_ready,
        )

    def palette(
        self,
        *,
        wanted: _typing.AbstractSet[Color],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> dict[str, list[Color]]:
        """Returns a container type."""
        return self._call(_SHOWCASE_PALETTE, (wanted,), timeout, wait_for_ready)

    def get_matrix(
        self,
        *,
        rows: int,
        columns: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> list[list[int]]:
        """A method name in camelCase becomes snake_case in Python."""
        return self._call(
            _SHOWCASE_GET_MATRIX,
            (rows, columns),
            timeout,
            wait_for_ready,
        )

    def fetch(
        self,
        *,
        names: _typing.Sequence[str],
        size: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> list[Item]:
        """Returns one item per name, each with a payload of `size` bytes."""
        return self._call(_SHOWCASE_FETCH, (names, size), timeout, wait_for_ready)

    def mirror(
        self,
        *,
        value: Scalars,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Scalars:
        """Returns the scalars it is sent."""
        return self._call(_SHOWCASE_MIRROR, (value,), timeout, wait_for_ready)

    def names(
        self,
        *,
        count: int,
        width: int = 8,
        like: Constrained | None = None,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> list[str]:
        """Returns up to `count` names, each at most `width` characters.

        Args:
            count: From 0 to 100.
            width: How wide each name is.

                From 1 to 16.
        """
        return self._call(
            _SHOWCASE_NAMES,
            (count, width, like),
            timeout,
            wait_for_ready,
        )

    def schedule(
        self,
        *,
        id: _t.Uuid,
        delay: _t.Duration,
        budget: _t.Decimal | None = None,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _t.Timestamp:
        """Well-known types as parameters and result: when `id` runs after `delay`."""
        return self._call(
            _SHOWCASE_SCHEDULE,
            (id, delay, budget),
            timeout,
            wait_for_ready,
        )


class ShowcaseServer(_uvrpc.ServiceBase):
    """Base class of ``all_types.Showcase`` implementations.

    A service exercising parameter and return shapes.
    """

    uvrpc_service = _SHOWCASE

    @_abc.abstractmethod
    async def ping(self) -> None:
        """Does nothing and returns nothing."""

    @_abc.abstractmethod
    async def build(
        self,
        *,
        label: str,
        depth: int,
        color: Color | None,
        items: list[Item],
        weight: float,
    ) -> Tree:
        """Mixes required, optional and defaulted parameters.

        Args:
            depth: How deep the tree goes.
        """

    @_abc.abstractmethod
    async def palette(
        self,
        *,
        wanted: set[Color],
    ) -> _typing.Mapping[str, _typing.Sequence[Color]]:
        """Returns a container type."""

    @_abc.abstractmethod
    async def get_matrix(
        self,
        *,
        rows: int,
        columns: int,
    ) -> _typing.Sequence[_typing.Sequence[int]]:
        """A method name in camelCase becomes snake_case in Python."""

    @_abc.abstractmethod
    async def fetch(self, *, names: list[str], size: int) -> _typing.Sequence[Item]:
        """Returns one item per name, each with a payload of `size` bytes."""

    @_abc.abstractmethod
    async def mirror(self, *, value: Scalars) -> Scalars:
        """Returns the scalars it is sent."""

    @_abc.abstractmethod
    async def names(
        self,
        *,
        count: int,
        width: int,
        like: Constrained | None,
    ) -> _typing.Sequence[str]:
        """Returns up to `count` names, each at most `width` characters.

        Args:
            count: From 0 to 100.
            width: How wide each name is.

                From 1 to 16.
        """

    @_abc.abstractmethod
    async def schedule(
        self,
        *,
        id: _t.Uuid,
        delay: _t.Duration,
        budget: _t.Decimal | None,
    ) -> _t.Timestamp:
        """Well-known types as parameters and result: when `id` runs after `delay`."""


class UnimplementedShowcaseServer(ShowcaseServer):
    """A partial server: each method answers UNIMPLEMENTED until overridden.

    Subclass it to serve some of the methods of ``all_types.Showcase``, say while a new
    method reaches the servers one by one. A class that must serve them all subclasses
    :class:`ShowcaseServer`, whose abstract methods let a type checker find one left
    out.
    """

    async def ping(self) -> None:
        """Does nothing and returns nothing."""
        raise _uvrpc.unimplemented(_SHOWCASE_PING)

    async def build(
        self,
        *,
        label: str,
        depth: int,
        color: Color | None,
        items: list[Item],
        weight: float,
    ) -> Tree:
        """Mixes required, optional and defaulted parameters.

        Args:
            depth: How deep the tree goes.
        """
        raise _uvrpc.unimplemented(_SHOWCASE_BUILD)

    async def palette(
        self,
        *,
        wanted: set[Color],
    ) -> _typing.Mapping[str, _typing.Sequence[Color]]:
        """Returns a container type."""
        raise _uvrpc.unimplemented(_SHOWCASE_PALETTE)

    async def get_matrix(
        self,
        *,
        rows: int,
        columns: int,
    ) -> _typing.Sequence[_typing.Sequence[int]]:
        """A method name in camelCase becomes snake_case in Python."""
        raise _uvrpc.unimplemented(_SHOWCASE_GET_MATRIX)

    async def fetch(self, *, names: list[str], size: int) -> _typing.Sequence[Item]:
        """Returns one item per name, each with a payload of `size` bytes."""
        raise _uvrpc.unimplemented(_SHOWCASE_FETCH)

    async def mirror(self, *, value: Scalars) -> Scalars:
        """Returns the scalars it is sent."""
        raise _uvrpc.unimplemented(_SHOWCASE_MIRROR)

    async def names(
        self,
        *,
        count: int,
        width: int,
        like: Constrained | None,
    ) -> _typing.Sequence[str]:
        """Returns up to `count` names, each at most `width` characters.

        Args:
            count: From 0 to 100.
            width: How wide each name is.

                From 1 to 16.
        """
        raise _uvrpc.unimplemented(_SHOWCASE_NAMES)

    async def schedule(
        self,
        *,
        id: _t.Uuid,
        delay: _t.Duration,
        budget: _t.Decimal | None,
    ) -> _t.Timestamp:
        """Well-known types as parameters and result: when `id` runs after `delay`."""
        raise _uvrpc.unimplemented(_SHOWCASE_SCHEDULE)
