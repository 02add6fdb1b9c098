# Generated from all_types.idl by uvrpc-gen 0.6.0 — do not edit.
"""Every type the IDL knows, in one file: the generator's own showcase and test."""

from __future__ import annotations

import abc as _abc
import typing as _typing

import uvrpc as _uvrpc
from uvrpc import types as _t

_uvrpc.check_generated_code(generator="0.6.0", api=7, protocol=3)

__all__ = [
    "Color",
    "Containers",
    "Item",
    "Scalars",
    "ShowcaseClient",
    "ShowcaseServer",
    "ShowcaseSyncClient",
    "Tree",
    "UnimplementedShowcaseServer",
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
    matrix: list[list[_t.I32]] = []
    colors: set[Color] = set()
    weights: dict[_t.String, _t.Double] = {}
    maybe_items: list[Item] | None = None
    primes: list[_t.I32] = [2, 3, 5]
    named: dict[_t.String, Color] = {"red": Color.RED}
    tags: set[_t.String] = {"a", "b"}


class Tree(_uvrpc.Message):
    """A recursive message: a tree of labelled nodes."""

    model_config = _uvrpc.field_ids(label=1, left=2, right=3, children=4)

    label: _t.String
    left: Tree | None = None
    right: Tree | None = None
    children: list[Tree] = []


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
_SHOWCASE = _uvrpc.ServiceSpec(
    name="all_types.Showcase",
    methods=(
        _SHOWCASE_PING,
        _SHOWCASE_BUILD,
        _SHOWCASE_PALETTE,
        _SHOWCASE_GET_MATRIX,
        _SHOWCASE_FETCH,
        _SHOWCASE_MIRROR,
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
        items: list[Item],
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
        items: list[Item],
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
        wanted: set[Color],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> dict[str, list[Color]]:
        """Returns a container type."""
        return await self._call(_SHOWCASE_PALETTE, (wanted,), timeout, wait_for_ready)

    def start_palette(
        self,
        *,
        wanted: set[Color],
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
        names: list[str],
        size: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> list[Item]:
        """Returns one item per name, each with a payload of `size` bytes."""
        return await self._call(_SHOWCASE_FETCH, (names, size), timeout, wait_for_ready)

    def start_fetch(
        self,
        *,
        names: list[str],
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
        items: list[Item],
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
        wanted: set[Color],
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
        names: list[str],
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
    async def palette(self, *, wanted: set[Color]) -> dict[str, list[Color]]:
        """Returns a container type."""

    @_abc.abstractmethod
    async def get_matrix(self, *, rows: int, columns: int) -> list[list[int]]:
        """A method name in camelCase becomes snake_case in Python."""

    @_abc.abstractmethod
    async def fetch(self, *, names: list[str], size: int) -> list[Item]:
        """Returns one item per name, each with a payload of `size` bytes."""

    @_abc.abstractmethod
    async def mirror(self, *, value: Scalars) -> Scalars:
        """Returns the scalars it is sent."""


class UnimplementedShowcaseServer(ShowcaseServer):
    """A ``all_types.Showcase`` implementation that answers every method UNIMPLEMENTED
    until it is overridden.

    Subclass it to serve some of the methods, say while a new method reaches the servers
    one by one. A class that must serve them all subclasses :class:`ShowcaseServer`,
    whose abstract methods let a type checker find one left out.
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

    async def palette(self, *, wanted: set[Color]) -> dict[str, list[Color]]:
        """Returns a container type."""
        raise _uvrpc.unimplemented(_SHOWCASE_PALETTE)

    async def get_matrix(self, *, rows: int, columns: int) -> list[list[int]]:
        """A method name in camelCase becomes snake_case in Python."""
        raise _uvrpc.unimplemented(_SHOWCASE_GET_MATRIX)

    async def fetch(self, *, names: list[str], size: int) -> list[Item]:
        """Returns one item per name, each with a payload of `size` bytes."""
        raise _uvrpc.unimplemented(_SHOWCASE_FETCH)

    async def mirror(self, *, value: Scalars) -> Scalars:
        """Returns the scalars it is sent."""
        raise _uvrpc.unimplemented(_SHOWCASE_MIRROR)
