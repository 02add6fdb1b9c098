# Generated from conformance.idl by uvrpc-gen 0.6.0 — do not edit.
"""The conformance service: every construct of the IDL in one service, each method
a round trip that any implementation must answer the same way.
"""

from __future__ import annotations

import abc as _abc
import typing as _typing

import uvrpc as _uvrpc
from uvrpc import types as _t

# isort: split
from golden import shared as _shared

_uvrpc.check_generated_code(generator="0.6.0", api=9, protocol=3)

__uvrpc_namespace__ = "conformance"

__all__ = [
    "DEFAULT_COLOR",
    "ENABLED",
    "GREETING",
    "I64_MAX",
    "I64_MIN",
    "MAGIC",
    "RATIO",
    "Bounded",
    "Circle",
    "Color",
    "ConformanceClient",
    "ConformanceServer",
    "ConformanceSyncClient",
    "Containers",
    "Drawing",
    "Node",
    "NotFound",
    "Rejected",
    "Scalars",
    "Shape",
    "ShapeBlob",
    "ShapeCircle",
    "ShapeGroup",
    "ShapeLabel",
    "ShapeSquare",
    "UnimplementedConformanceServer",
    "WellKnown",
]


class Color(_uvrpc.Enum):
    """A colour, for enums as values, set elements and defaults."""

    RED = 1
    GREEN = 2
    BLUE = 3


I64_MAX: _typing.Final[int] = 9223372036854775807
"""The largest i64."""
I64_MIN: _typing.Final[int] = -9223372036854775808
"""The smallest i64."""
GREETING: _typing.Final[str] = "héllo, 世界 é"
"""Text outside ASCII."""
DEFAULT_COLOR: _typing.Final[Color] = Color.GREEN
MAGIC: _typing.Final[bytes] = b"\x00\xffuv"
RATIO: _typing.Final[float] = 0.5
ENABLED: _typing.Final[bool] = True


class Scalars(_uvrpc.Message):
    """Every scalar type once."""

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
        color=10,
        origin=11,
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
    color: Color = DEFAULT_COLOR
    origin: _shared.Origin = _shared.Origin.CLIENT

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
            color: Color = ...,
            origin: _shared.Origin = ...,
        ) -> None:
            """Where the IDL says ``bytes``, any buffer is taken, uncopied."""
            ...


class Node(_uvrpc.Message):
    """A tree: a message that contains itself through an optional field and a list."""

    model_config = _uvrpc.field_ids(label=1, next=2, children=3)

    label: _t.String
    next: Node | None = None
    children: list[Node] = _t.default([])

    if _typing.TYPE_CHECKING:

        def __init__(
            self,
            *,
            label: str,
            next: Node | None = ...,
            children: _typing.Sequence[Node] = ...,
        ) -> None:
            """A list is taken as any sequence, a set as any set and a map as any
            mapping, of the element types or narrower ones.
            """
            ...


class Containers(_uvrpc.Message):
    """Containers inside containers."""

    model_config = _uvrpc.field_ids(
        nested=1,
        colors=2,
        matrix=3,
        blobs=4,
        words=5,
        weights=6,
    )

    nested: dict[_t.I32, dict[_t.String, list[Scalars]]] = _t.default({})
    colors: set[Color] = _t.default(set())
    matrix: list[list[_t.I64]] = _t.default([])
    blobs: dict[_t.String, _t.Bytes] = _t.default({})
    words: list[_t.String] = _t.default(["a", "b"])
    weights: dict[_t.I64, _t.Double] = _t.default({I64_MIN: RATIO})

    if _typing.TYPE_CHECKING:

        def __init__(
            self,
            *,
            nested: _typing.Mapping[
                int, _typing.Mapping[str, _typing.Sequence[Scalars]]
            ] = ...,
            colors: _typing.AbstractSet[Color] = ...,
            matrix: _typing.Sequence[_typing.Sequence[int]] = ...,
            blobs: _typing.Mapping[str, _uvrpc.Buffer] = ...,
            words: _typing.Sequence[str] = ...,
            weights: _typing.Mapping[int, float] = ...,
        ) -> None:
            """Where the IDL says ``bytes``, any buffer is taken, uncopied. A list is
            taken as any sequence, a set as any set and a map as any mapping, of the
            element types or narrower ones.
            """
            ...


class Bounded(_uvrpc.Message):
    """Values with constraints, which the side that reads them enforces."""

    model_config = _uvrpc.field_ids(
        name=1,
        tags=2,
        counts=3,
        percent=4,
        weight=5,
        key=6,
        signs=7,
    )

    name: _typing.Annotated[_t.String, _t.Constraints(max_length=5)]
    """At most 5 characters."""
    tags: _typing.Annotated[
        list[
            _typing.Annotated[
                _t.String,
                _t.Constraints(min_length=1, max_length=8, pattern="^[a-z]+$"),
            ]
        ],
        _t.Constraints(max_length=4),
    ] = _t.default([])
    """At most 4 items; each item 1 to 8 characters, matching the pattern
    ``^[a-z]+$``.
    """
    counts: _typing.Annotated[
        dict[_t.String, _typing.Annotated[_t.I32, _t.Constraints(ge=0)]],
        _t.Constraints(max_length=3),
    ] = _t.default({})
    """At most 3 entries; each value at least 0."""
    percent: _typing.Annotated[_t.I32, _t.Constraints(ge=0, le=100)] = 50
    """From 0 to 100."""
    weight: _typing.Annotated[_t.Double, _t.Constraints(ge=0.0)] = 0.0
    """At least 0.0."""
    key: _typing.Annotated[_t.Bytes, _t.ByteLength(min_length=1, max_length=16)] = (
        memoryview(b"k")
    )
    """1 to 16 bytes."""
    signs: set[_typing.Annotated[_t.I64, _t.Constraints(ge=-1, le=1)]] = _t.default(
        set()
    )
    """Each item from -1 to 1."""

    if _typing.TYPE_CHECKING:

        def __init__(
            self,
            *,
            name: str,
            tags: _typing.Sequence[str] = ...,
            counts: _typing.Mapping[str, int] = ...,
            percent: int = ...,
            weight: float = ...,
            key: _uvrpc.Buffer = ...,
            signs: _typing.AbstractSet[int] = ...,
        ) -> None:
            """Where the IDL says ``bytes``, any buffer is taken, uncopied. A list is
            taken as any sequence, a set as any set and a map as any mapping, of the
            element types or narrower ones.
            """
            ...


class Circle(_uvrpc.Message):
    """A circle, for a message as a union member."""

    model_config = _uvrpc.field_ids(radius=1)

    radius: _t.Double


class Drawing(_uvrpc.Message):
    """Unions inside a message."""

    model_config = _uvrpc.field_ids(main=1, overlay=2, layers=3, named=4)

    main: Shape
    overlay: Shape | None = None
    layers: list[Shape] = _t.default([])
    named: dict[_t.String, Shape] = _t.default({})

    if _typing.TYPE_CHECKING:

        def __init__(
            self,
            *,
            main: Shape,
            overlay: Shape | None = ...,
            layers: _typing.Sequence[Shape] = ...,
            named: _typing.Mapping[str, Shape] = ...,
        ) -> None:
            """A list is taken as any sequence, a set as any set and a map as any
            mapping, of the element types or narrower ones.
            """
            ...


class WellKnown(_uvrpc.Message):
    """Every well-known type, alone and in containers."""

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


class ShapeCircle(_uvrpc.UnionMember):
    """A round shape."""

    __match_args__ = ("value",)
    uvrpc_id = 1
    uvrpc_name = "circle"

    value: Circle


class ShapeSquare(_uvrpc.UnionMember):
    """The side of a square."""

    __match_args__ = ("value",)
    uvrpc_id = 2
    uvrpc_name = "square"

    value: _t.Double


class ShapeLabel(_uvrpc.UnionMember):
    """The ``label`` member of ``Shape``."""

    __match_args__ = ("value",)
    uvrpc_id = 3
    uvrpc_name = "label"

    value: _t.String


class ShapeBlob(_uvrpc.UnionMember):
    """The ``blob`` member of ``Shape``."""

    __match_args__ = ("value",)
    uvrpc_id = 4
    uvrpc_name = "blob"

    value: _t.Bytes

    if _typing.TYPE_CHECKING:

        def __init__(self, *, value: _uvrpc.Buffer) -> None:
            """Where the IDL says ``bytes``, any buffer is taken, uncopied."""
            ...


class ShapeGroup(_uvrpc.UnionMember):
    """Shapes drawn together: a union that holds itself."""

    __match_args__ = ("value",)
    uvrpc_id = 5
    uvrpc_name = "group"

    value: list[Shape]

    if _typing.TYPE_CHECKING:

        def __init__(self, *, value: _typing.Sequence[Shape]) -> None:
            """A list is taken as any sequence, a set as any set and a map as any
            mapping, of the element types or narrower ones.
            """
            ...


Shape: _typing.TypeAlias = _typing.Annotated[
    ShapeCircle
    | ShapeSquare
    | ShapeLabel
    | ShapeBlob
    | ShapeGroup
    | _uvrpc.UnknownMember,
    _uvrpc.WireUnion("Shape"),
]
"""A shape: exactly one of its members, for unions as values, fields, list
elements, map values, parameters, results and stream items.
"""


class _NotFoundFields(_uvrpc.Message):
    model_config = _uvrpc.field_ids(key=1)

    key: _t.String


class NotFound(_uvrpc.DeclaredError):
    """No item of that key exists."""

    uvrpc_name = "conformance.NotFound"
    uvrpc_fields = _NotFoundFields

    key: str

    if _typing.TYPE_CHECKING:

        def __init__(self, *, key: str, message: str = "") -> None:
            """Raise it from a handler of a method that declares it.

            ``message`` defaults to the class name and field values.
            """
            ...


class _RejectedFields(_uvrpc.Message):
    model_config = _uvrpc.field_ids(argument=1, code=2, evidence=3)

    argument: _t.String
    code: _t.I32 = 0
    evidence: _t.Bytes | None = None


class Rejected(_uvrpc.DeclaredError):
    """An argument was refused by the service's own rules."""

    uvrpc_name = "conformance.Rejected"
    uvrpc_fields = _RejectedFields

    argument: str
    """Which argument."""
    code: int
    evidence: memoryview | None

    if _typing.TYPE_CHECKING:

        def __init__(
            self,
            *,
            argument: str,
            code: int = ...,
            evidence: _uvrpc.Buffer | None = ...,
            message: str = "",
        ) -> None:
            """Raise it from a handler of a method that declares it.

            ``message`` defaults to the class name and field values.
            """
            ...


class _ConformancePingParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids()


class _ConformanceEchoScalarsParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(value=1)

    value: Scalars


class _ConformanceMixedParams(_uvrpc.Message):
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
        color=10,
        note=11,
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
    color: Color = Color.RED
    note: _t.String | None = None


class _ConformanceEchoContainersParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(value=1)

    value: Containers


class _ConformanceEchoNestedParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(value=1)

    value: dict[_t.I32, dict[_t.String, list[Scalars]]]


class _ConformanceEchoColorsParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(colors=1)

    colors: set[Color]


class _ConformanceEchoMatrixParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(matrix=1)

    matrix: list[list[_t.I64]]


class _ConformanceEchoTreeParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(root=1)

    root: Node


class _ConformanceEchoBytesParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(data=1)

    data: _t.Bytes


class _ConformanceEchoStringParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(text=1)

    text: _t.String


class _ConformanceEchoDoubleParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(value=1)

    value: _t.Double


class _ConformanceEchoFloatParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(value=1)

    value: _t.Float


class _ConformanceEchoI64Params(_uvrpc.Message):
    model_config = _uvrpc.field_ids(value=1)

    value: _t.I64 = I64_MAX


class _ConformanceEchoWellKnownParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(value=1)

    value: WellKnown


class _ConformanceEchoUuidParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(value=1)

    value: _t.Uuid


class _ConformanceEchoDecimalParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(value=1)

    value: _t.Decimal


class _ConformanceEchoDurationParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(value=1)

    value: _t.Duration


class _ConformanceLaterParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(at=1, by=2)

    at: _t.Timestamp
    by: _t.Duration


class _ConformanceTicksParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(start=1, step=2, n=3)

    start: _t.Timestamp
    step: _t.Duration
    n: _t.I32


class _ConformanceFailParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(which=1)

    which: _t.String


class _ConformanceRecordParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(event=1)

    event: _t.String


class _ConformanceRecordedParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids()


class _ConformanceVisitsParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids()


class _ConformanceEchoBoundedParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(value=1, keep=2)

    value: Bounded
    keep: _typing.Annotated[_t.I8, _t.Constraints(ge=0, le=4)] = 4
    """From 0 to 4."""


class _ConformanceRepeatParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(text=1, times=2)

    text: _t.String
    times: _typing.Annotated[_t.I32, _t.Constraints(ge=0)]
    """At least 0."""


class _ConformanceCountParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(start=1, n=2)

    start: _t.I64
    n: _t.I32


class _ConformanceSumParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids()


class _ConformanceEchoShapeParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(shape=1, extra=2)

    shape: Shape
    extra: Shape | None = None


class _ConformanceEchoDrawingParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(drawing=1)

    drawing: Drawing


class _ConformanceShapesParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(shapes=1)

    shapes: list[Shape]


class _ConformanceTransformParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(add=2)

    add: _t.I64


_CONFORMANCE_PING: _uvrpc.Unary[_ConformancePingParams, None] = _uvrpc.Unary(
    route="conformance.Conformance.ping",
    handler="ping",
    params=_ConformancePingParams,
    reply=None,
)
_CONFORMANCE_ECHO_SCALARS: _uvrpc.Unary[_ConformanceEchoScalarsParams, Scalars] = (
    _uvrpc.Unary(
        route="conformance.Conformance.echoScalars",
        handler="echo_scalars",
        params=_ConformanceEchoScalarsParams,
        reply=Scalars,
    )
)
_CONFORMANCE_MIXED: _uvrpc.Unary[_ConformanceMixedParams, Scalars] = _uvrpc.Unary(
    route="conformance.Conformance.mixed",
    handler="mixed",
    params=_ConformanceMixedParams,
    reply=Scalars,
)
_CONFORMANCE_ECHO_CONTAINERS: _uvrpc.Unary[
    _ConformanceEchoContainersParams, Containers
] = _uvrpc.Unary(
    route="conformance.Conformance.echoContainers",
    handler="echo_containers",
    params=_ConformanceEchoContainersParams,
    reply=Containers,
)
_CONFORMANCE_ECHO_NESTED: _uvrpc.Unary[
    _ConformanceEchoNestedParams, dict[int, dict[str, list[Scalars]]]
] = _uvrpc.Unary(
    route="conformance.Conformance.echoNested",
    handler="echo_nested",
    params=_ConformanceEchoNestedParams,
    reply=dict[_t.I32, dict[_t.String, list[Scalars]]],
)
_CONFORMANCE_ECHO_COLORS: _uvrpc.Unary[_ConformanceEchoColorsParams, set[Color]] = (
    _uvrpc.Unary(
        route="conformance.Conformance.echoColors",
        handler="echo_colors",
        params=_ConformanceEchoColorsParams,
        reply=set[Color],
    )
)
_CONFORMANCE_ECHO_MATRIX: _uvrpc.Unary[
    _ConformanceEchoMatrixParams, list[list[int]]
] = _uvrpc.Unary(
    route="conformance.Conformance.echoMatrix",
    handler="echo_matrix",
    params=_ConformanceEchoMatrixParams,
    reply=list[list[_t.I64]],
)
_CONFORMANCE_ECHO_TREE: _uvrpc.Unary[_ConformanceEchoTreeParams, Node] = _uvrpc.Unary(
    route="conformance.Conformance.echoTree",
    handler="echo_tree",
    params=_ConformanceEchoTreeParams,
    reply=Node,
)
_CONFORMANCE_ECHO_BYTES: _uvrpc.Unary[_ConformanceEchoBytesParams, memoryview] = (
    _uvrpc.Unary(
        route="conformance.Conformance.echoBytes",
        handler="echo_bytes",
        params=_ConformanceEchoBytesParams,
        reply=_t.Bytes,
    )
)
_CONFORMANCE_ECHO_STRING: _uvrpc.Unary[_ConformanceEchoStringParams, str] = (
    _uvrpc.Unary(
        route="conformance.Conformance.echoString",
        handler="echo_string",
        params=_ConformanceEchoStringParams,
        reply=_t.String,
    )
)
_CONFORMANCE_ECHO_DOUBLE: _uvrpc.Unary[_ConformanceEchoDoubleParams, float] = (
    _uvrpc.Unary(
        route="conformance.Conformance.echoDouble",
        handler="echo_double",
        params=_ConformanceEchoDoubleParams,
        reply=_t.Double,
    )
)
_CONFORMANCE_ECHO_FLOAT: _uvrpc.Unary[_ConformanceEchoFloatParams, float] = (
    _uvrpc.Unary(
        route="conformance.Conformance.echoFloat",
        handler="echo_float",
        params=_ConformanceEchoFloatParams,
        reply=_t.Float,
    )
)
_CONFORMANCE_ECHO_I64: _uvrpc.Unary[_ConformanceEchoI64Params, int] = _uvrpc.Unary(
    route="conformance.Conformance.echoI64",
    handler="echo_i64",
    params=_ConformanceEchoI64Params,
    reply=_t.I64,
)
_CONFORMANCE_ECHO_WELL_KNOWN: _uvrpc.Unary[
    _ConformanceEchoWellKnownParams, WellKnown
] = _uvrpc.Unary(
    route="conformance.Conformance.echoWellKnown",
    handler="echo_well_known",
    params=_ConformanceEchoWellKnownParams,
    reply=WellKnown,
)
_CONFORMANCE_ECHO_UUID: _uvrpc.Unary[_ConformanceEchoUuidParams, _t.Uuid] = (
    _uvrpc.Unary(
        route="conformance.Conformance.echoUuid",
        handler="echo_uuid",
        params=_ConformanceEchoUuidParams,
        reply=_t.Uuid,
    )
)
_CONFORMANCE_ECHO_DECIMAL: _uvrpc.Unary[_ConformanceEchoDecimalParams, _t.Decimal] = (
    _uvrpc.Unary(
        route="conformance.Conformance.echoDecimal",
        handler="echo_decimal",
        params=_ConformanceEchoDecimalParams,
        reply=_t.Decimal,
    )
)
_CONFORMANCE_ECHO_DURATION: _uvrpc.Unary[
    _ConformanceEchoDurationParams, _t.Duration
] = _uvrpc.Unary(
    route="conformance.Conformance.echoDuration",
    handler="echo_duration",
    params=_ConformanceEchoDurationParams,
    reply=_t.Duration,
)
_CONFORMANCE_LATER: _uvrpc.Unary[_ConformanceLaterParams, _t.Timestamp] = _uvrpc.Unary(
    route="conformance.Conformance.later",
    handler="later",
    params=_ConformanceLaterParams,
    reply=_t.Timestamp,
)
_CONFORMANCE_TICKS: _uvrpc.ServerStreaming[_ConformanceTicksParams, _t.Timestamp] = (
    _uvrpc.ServerStreaming(
        route="conformance.Conformance.ticks",
        handler="ticks",
        params=_ConformanceTicksParams,
        reply_item=_t.Timestamp,
    )
)
_CONFORMANCE_FAIL: _uvrpc.Unary[_ConformanceFailParams, None] = _uvrpc.Unary(
    route="conformance.Conformance.fail",
    handler="fail",
    params=_ConformanceFailParams,
    reply=None,
    errors=(NotFound, Rejected, _shared.Overloaded),
)
_CONFORMANCE_RECORD: _uvrpc.Unary[_ConformanceRecordParams, None] = _uvrpc.Unary(
    route="conformance.Conformance.record",
    handler="record",
    params=_ConformanceRecordParams,
    reply=None,
    oneway=True,
)
_CONFORMANCE_RECORDED: _uvrpc.Unary[_ConformanceRecordedParams, list[str]] = (
    _uvrpc.Unary(
        route="conformance.Conformance.recorded",
        handler="recorded",
        params=_ConformanceRecordedParams,
        reply=list[_t.String],
    )
)
_CONFORMANCE_VISITS: _uvrpc.Unary[_ConformanceVisitsParams, int] = _uvrpc.Unary(
    route="conformance.Conformance.visits",
    handler="visits",
    params=_ConformanceVisitsParams,
    reply=_t.I64,
    idempotent=True,
)
_CONFORMANCE_ECHO_BOUNDED: _uvrpc.Unary[_ConformanceEchoBoundedParams, Bounded] = (
    _uvrpc.Unary(
        route="conformance.Conformance.echoBounded",
        handler="echo_bounded",
        params=_ConformanceEchoBoundedParams,
        reply=Bounded,
    )
)
_CONFORMANCE_REPEAT: _uvrpc.Unary[_ConformanceRepeatParams, str] = _uvrpc.Unary(
    route="conformance.Conformance.repeat",
    handler="repeat",
    params=_ConformanceRepeatParams,
    reply=_typing.Annotated[_t.String, _t.Constraints(max_length=10)],
)
_CONFORMANCE_COUNT: _uvrpc.ServerStreaming[_ConformanceCountParams, int] = (
    _uvrpc.ServerStreaming(
        route="conformance.Conformance.count",
        handler="count",
        params=_ConformanceCountParams,
        reply_item=_t.I64,
    )
)
_CONFORMANCE_SUM: _uvrpc.ClientStreaming[_ConformanceSumParams, int, int] = (
    _uvrpc.ClientStreaming(
        route="conformance.Conformance.sum",
        handler="sum",
        params=_ConformanceSumParams,
        stream="values",
        stream_id=1,
        request_item=_t.I64,
        reply=_t.I64,
    )
)
_CONFORMANCE_ECHO_SHAPE: _uvrpc.Unary[_ConformanceEchoShapeParams, Shape] = (
    _uvrpc.Unary(
        route="conformance.Conformance.echoShape",
        handler="echo_shape",
        params=_ConformanceEchoShapeParams,
        reply=Shape,
    )
)
_CONFORMANCE_ECHO_DRAWING: _uvrpc.Unary[_ConformanceEchoDrawingParams, Drawing] = (
    _uvrpc.Unary(
        route="conformance.Conformance.echoDrawing",
        handler="echo_drawing",
        params=_ConformanceEchoDrawingParams,
        reply=Drawing,
    )
)
_CONFORMANCE_SHAPES: _uvrpc.ServerStreaming[_ConformanceShapesParams, Shape] = (
    _uvrpc.ServerStreaming(
        route="conformance.Conformance.shapes",
        handler="shapes",
        params=_ConformanceShapesParams,
        reply_item=Shape,
    )
)
_CONFORMANCE_TRANSFORM: _uvrpc.BidiStreaming[
    _ConformanceTransformParams, Scalars, Scalars
] = _uvrpc.BidiStreaming(
    route="conformance.Conformance.transform",
    handler="transform",
    params=_ConformanceTransformParams,
    stream="values",
    stream_id=1,
    request_item=Scalars,
    reply_item=Scalars,
    errors=(Rejected,),
)
_CONFORMANCE = _uvrpc.ServiceSpec(
    name="conformance.Conformance",
    methods=(
        _CONFORMANCE_PING,
        _CONFORMANCE_ECHO_SCALARS,
        _CONFORMANCE_MIXED,
        _CONFORMANCE_ECHO_CONTAINERS,
        _CONFORMANCE_ECHO_NESTED,
        _CONFORMANCE_ECHO_COLORS,
        _CONFORMANCE_ECHO_MATRIX,
        _CONFORMANCE_ECHO_TREE,
        _CONFORMANCE_ECHO_BYTES,
        _CONFORMANCE_ECHO_STRING,
        _CONFORMANCE_ECHO_DOUBLE,
        _CONFORMANCE_ECHO_FLOAT,
        _CONFORMANCE_ECHO_I64,
        _CONFORMANCE_ECHO_WELL_KNOWN,
        _CONFORMANCE_ECHO_UUID,
        _CONFORMANCE_ECHO_DECIMAL,
        _CONFORMANCE_ECHO_DURATION,
        _CONFORMANCE_LATER,
        _CONFORMANCE_TICKS,
        _CONFORMANCE_FAIL,
        _CONFORMANCE_RECORD,
        _CONFORMANCE_RECORDED,
        _CONFORMANCE_VISITS,
        _CONFORMANCE_ECHO_BOUNDED,
        _CONFORMANCE_REPEAT,
        _CONFORMANCE_COUNT,
        _CONFORMANCE_SUM,
        _CONFORMANCE_ECHO_SHAPE,
        _CONFORMANCE_ECHO_DRAWING,
        _CONFORMANCE_SHAPES,
        _CONFORMANCE_TRANSFORM,
    ),
)


class ConformanceClient(_uvrpc.AsyncClient):
    """Asynchronous client of ``conformance.Conformance``.

    Every construct of the IDL, as methods.
    """

    async def ping(
        self,
        *,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> None:
        """Does nothing and returns nothing."""
        await self._call(_CONFORMANCE_PING, (), timeout, wait_for_ready)

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
        return self._start(_CONFORMANCE_PING, (), timeout, wait_for_ready)

    async def echo_scalars(
        self,
        *,
        value: Scalars,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Scalars:
        """Returns its argument."""
        return await self._call(
            _CONFORMANCE_ECHO_SCALARS,
            (value,),
            timeout,
            wait_for_ready,
        )

    def start_echo_scalars(
        self,
        *,
        value: Scalars,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[Scalars]:
        """Start :meth:`echo_scalars` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_CONFORMANCE_ECHO_SCALARS, (value,), timeout, wait_for_ready)

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
        blob: _uvrpc.Buffer,
        color: Color = Color.RED,
        note: str | None = None,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Scalars:
        """Builds a message from parameters of every scalar type."""
        return await self._call(
            _CONFORMANCE_MIXED,
            (
                flag,
                tiny,
                small,
                medium,
                large,
                single,
                precise,
                text,
                blob,
                color,
                note,
            ),
            timeout,
            wait_for_ready,
        )

    def start_mixed(
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
        color: Color = Color.RED,
        note: str | None = None,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[Scalars]:
        """Start :meth:`mixed` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(
            _CONFORMANCE_MIXED,
            (
                flag,
                tiny,
                small,
                medium,
                large,
                single,
                precise,
                text,
                blob,
                color,
                note,
            ),
            timeout,
            wait_for_ready,
        )

    async def echo_containers(
        self,
        *,
        value: Containers,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Containers:
        """Call ``conformance.Conformance.echoContainers``."""
        return await self._call(
            _CONFORMANCE_ECHO_CONTAINERS,
            (value,),
            timeout,
            wait_for_ready,
        )

    def start_echo_containers(
        self,
        *,
        value: Containers,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[Containers]:
        """Start :meth:`echo_containers` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(
            _CONFORMANCE_ECHO_CONTAINERS,
            (value,),
            timeout,
            wait_for_ready,
        )

    async def echo_nested(
        self,
        *,
        value: _typing.Mapping[int, _typing.Mapping[str, _typing.Sequence[Scalars]]],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> dict[int, dict[str, list[Scalars]]]:
        """Call ``conformance.Conformance.echoNested``."""
        return await self._call(
            _CONFORMANCE_ECHO_NESTED,
            (value,),
            timeout,
            wait_for_ready,
        )

    def start_echo_nested(
        self,
        *,
        value: _typing.Mapping[int, _typing.Mapping[str, _typing.Sequence[Scalars]]],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[dict[int, dict[str, list[Scalars]]]]:
        """Start :meth:`echo_nested` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_CONFORMANCE_ECHO_NESTED, (value,), timeout, wait_for_ready)

    async def echo_colors(
        self,
        *,
        colors: _typing.AbstractSet[Color],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> set[Color]:
        """Call ``conformance.Conformance.echoColors``."""
        return await self._call(
            _CONFORMANCE_ECHO_COLORS,
            (colors,),
            timeout,
            wait_for_ready,
        )

    def start_echo_colors(
        self,
        *,
        colors: _typing.AbstractSet[Color],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[set[Color]]:
        """Start :meth:`echo_colors` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_CONFORMANCE_ECHO_COLORS, (colors,), timeout, wait_for_ready)

    async def echo_matrix(
        self,
        *,
        matrix: _typing.Sequence[_typing.Sequence[int]],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> list[list[int]]:
        """Call ``conformance.Conformance.echoMatrix``."""
        return await self._call(
            _CONFORMANCE_ECHO_MATRIX,
            (matrix,),
            timeout,
            wait_for_ready,
        )

    def start_echo_matrix(
        self,
        *,
        matrix: _typing.Sequence[_typing.Sequence[int]],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[list[list[int]]]:
        """Start :meth:`echo_matrix` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_CONFORMANCE_ECHO_MATRIX, (matrix,), timeout, wait_for_ready)

    async def echo_tree(
        self,
        *,
        root: Node,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Node:
        """Call ``conformance.Conformance.echoTree``."""
        return await self._call(
            _CONFORMANCE_ECHO_TREE,
            (root,),
            timeout,
            wait_for_ready,
        )

    def start_echo_tree(
        self,
        *,
        root: Node,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[Node]:
        """Start :meth:`echo_tree` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_CONFORMANCE_ECHO_TREE, (root,), timeout, wait_for_ready)

    async def echo_bytes(
        self,
        *,
        data: _uvrpc.Buffer,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> memoryview:
        """Call ``conformance.Conformance.echoBytes``."""
        return await self._call(
            _CONFORMANCE_ECHO_BYTES,
            (data,),
            timeout,
            wait_for_ready,
        )

    def start_echo_bytes(
        self,
        *,
        data: _uvrpc.Buffer,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[memoryview]:
        """Start :meth:`echo_bytes` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_CONFORMANCE_ECHO_BYTES, (data,), timeout, wait_for_ready)

    async def echo_string(
        self,
        *,
        text: str,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> str:
        """Call ``conformance.Conformance.echoString``."""
        return await self._call(
            _CONFORMANCE_ECHO_STRING,
            (text,),
            timeout,
            wait_for_ready,
        )

    def start_echo_string(
        self,
        *,
        text: str,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[str]:
        """Start :meth:`echo_string` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_CONFORMANCE_ECHO_STRING, (text,), timeout, wait_for_ready)

    async def echo_double(
        self,
        *,
        value: float,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> float:
        """Call ``conformance.Conformance.echoDouble``."""
        return await self._call(
            _CONFORMANCE_ECHO_DOUBLE,
            (value,),
            timeout,
            wait_for_ready,
        )

    def start_echo_double(
        self,
        *,
        value: float,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[float]:
        """Start :meth:`echo_double` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_CONFORMANCE_ECHO_DOUBLE, (value,), timeout, wait_for_ready)

    async def echo_float(
        self,
        *,
        value: float,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> float:
        """Call ``conformance.Conformance.echoFloat``."""
        return await self._call(
            _CONFORMANCE_ECHO_FLOAT,
            (value,),
            timeout,
            wait_for_ready,
        )

    def start_echo_float(
        self,
        *,
        value: float,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[float]:
        """Start :meth:`echo_float` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_CONFORMANCE_ECHO_FLOAT, (value,), timeout, wait_for_ready)

    async def echo_i64(
        self,
        *,
        value: int = I64_MAX,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> int:
        """Call ``conformance.Conformance.echoI64``."""
        return await self._call(
            _CONFORMANCE_ECHO_I64,
            (value,),
            timeout,
            wait_for_ready,
        )

    def start_echo_i64(
        self,
        *,
        value: int = I64_MAX,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[int]:
        """Start :meth:`echo_i64` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_CONFORMANCE_ECHO_I64, (value,), timeout, wait_for_ready)

    async def echo_well_known(
        self,
        *,
        value: WellKnown,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> WellKnown:
        """Call ``conformance.Conformance.echoWellKnown``."""
        return await self._call(
            _CONFORMANCE_ECHO_WELL_KNOWN,
            (value,),
            timeout,
            wait_for_ready,
        )

    def start_echo_well_known(
        self,
        *,
        value: WellKnown,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[WellKnown]:
        """Start :meth:`echo_well_known` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(
            _CONFORMANCE_ECHO_WELL_KNOWN,
            (value,),
            timeout,
            wait_for_ready,
        )

    async def echo_uuid(
        self,
        *,
        value: _t.Uuid,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _t.Uuid:
        """Call ``conformance.Conformance.echoUuid``."""
        return await self._call(
            _CONFORMANCE_ECHO_UUID,
            (value,),
            timeout,
            wait_for_ready,
        )

    def start_echo_uuid(
        self,
        *,
        value: _t.Uuid,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[_t.Uuid]:
        """Start :meth:`echo_uuid` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_CONFORMANCE_ECHO_UUID, (value,), timeout, wait_for_ready)

    async def echo_decimal(
        self,
        *,
        value: _t.Decimal,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _t.Decimal:
        """Call ``conformance.Conformance.echoDecimal``."""
        return await self._call(
            _CONFORMANCE_ECHO_DECIMAL,
            (value,),
            timeout,
            wait_for_ready,
        )

    def start_echo_decimal(
        self,
        *,
        value: _t.Decimal,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[_t.Decimal]:
        """Start :meth:`echo_decimal` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_CONFORMANCE_ECHO_DECIMAL, (value,), timeout, wait_for_ready)

    async def echo_duration(
        self,
        *,
        value: _t.Duration,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _t.Duration:
        """Call ``conformance.Conformance.echoDuration``."""
        return await self._call(
            _CONFORMANCE_ECHO_DURATION,
            (value,),
            timeout,
            wait_for_ready,
        )

    def start_echo_duration(
        self,
        *,
        value: _t.Duration,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[_t.Duration]:
        """Start :meth:`echo_duration` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(
            _CONFORMANCE_ECHO_DURATION,
            (value,),
            timeout,
            wait_for_ready,
        )

    async def later(
        self,
        *,
        at: _t.Timestamp,
        by: _t.Duration,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _t.Timestamp:
        """The instant `by` after `at`."""
        return await self._call(_CONFORMANCE_LATER, (at, by), timeout, wait_for_ready)

    def start_later(
        self,
        *,
        at: _t.Timestamp,
        by: _t.Duration,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[_t.Timestamp]:
        """Start :meth:`later` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_CONFORMANCE_LATER, (at, by), timeout, wait_for_ready)

    def ticks(
        self,
        *,
        start: _t.Timestamp,
        step: _t.Duration,
        n: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.ItemStream[_t.Timestamp]:
        """Streams `n` instants `step` apart from `start`."""
        return self._server_stream(
            _CONFORMANCE_TICKS,
            (start, step, n),
            timeout,
            wait_for_ready,
        )

    async def fail(
        self,
        *,
        which: str,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> None:
        """Raises what `which` names: "not_found", "rejected", "overloaded", or an
        undeclared error for anything else.

        Raises:
            NotFound: No item of that key exists.
            Rejected: An argument was refused by the service's own rules.
            _shared.Overloaded: The server is too busy to take the call now.
        """
        await self._call(_CONFORMANCE_FAIL, (which,), timeout, wait_for_ready)

    def start_fail(
        self,
        *,
        which: str,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[None]:
        """Start :meth:`fail` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_CONFORMANCE_FAIL, (which,), timeout, wait_for_ready)

    async def record(
        self,
        *,
        event: str,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> None:
        """Records an event; nothing is sent back."""
        await self._call(_CONFORMANCE_RECORD, (event,), timeout, wait_for_ready)

    async def recorded(
        self,
        *,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> list[str]:
        """The events recorded so far, in order."""
        return await self._call(_CONFORMANCE_RECORDED, (), timeout, wait_for_ready)

    def start_recorded(
        self,
        *,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[list[str]]:
        """Start :meth:`recorded` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_CONFORMANCE_RECORDED, (), timeout, wait_for_ready)

    async def visits(
        self,
        *,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> int:
        """How many times it was called: safe to retry."""
        return await self._call(_CONFORMANCE_VISITS, (), timeout, wait_for_ready)

    def start_visits(
        self,
        *,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[int]:
        """Start :meth:`visits` and return its call handle.

        Without client interceptors or a retry policy the request is sent before this
        returns; see :class:`uvrpc.Call`.
        """
        return self._start(_CONFORMANCE_VISITS, (), timeout, wait_for_ready)

    async def echo_bounded(
        self,
        *,
        value: Bounded,
        keep: int = 4,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Bounded:
        """Returns its argument with its first `keep` tags.

        Args:
            keep: From 0 to 4.
        """
        return await self._call(
            _CONFORMANCE_ECHO_BOUNDED,
            (value, keep),
            timeout,
            wait_for_ready,
        )

    def start_echo_bounded(
        self,
        *,
        value: Bounded,
        keep: int = 4,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[Bounded]:
        """Start :meth:`echo_bounded` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(
            _CONFORMANCE_ECHO_BOUNDED,
            (value, keep),
            timeout,
            wait_for_ready,
        )

    async def repeat(
        self,
        *,
        text: str,
        times: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> str:
        """Returns `text` repeated `times` times: a reply longer than ten characters
        is refused by the client.

        Args:
            times: At least 0.
        """
        return await self._call(
            _CONFORMANCE_REPEAT,
            (text, times),
            timeout,
            wait_for_ready,
        )

    def start_repeat(
        self,
        *,
        text: str,
        times: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[str]:
        """Start :meth:`repeat` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_CONFORMANCE_REPEAT, (text, times), timeout, wait_for_ready)

    def count(
        self,
        *,
        start: int,
        n: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.ItemStream[int]:
        """Streams `n` numbers counting up from `start`."""
        return self._server_stream(
            _CONFORMANCE_COUNT,
            (start, n),
            timeout,
            wait_for_ready,
        )

    async def sum(
        self,
        *,
        values: _typing.AsyncIterable[int] | _typing.Iterable[int],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> int:
        """Adds up a stream of numbers."""
        return await self._client_stream(
            _CONFORMANCE_SUM,
            (),
            values,
            timeout,
            wait_for_ready,
        )

    async def echo_shape(
        self,
        *,
        shape: Shape,
        extra: Shape | None = None,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Shape:
        """Returns its argument, and `extra` when given in place of it."""
        return await self._call(
            _CONFORMANCE_ECHO_SHAPE,
            (shape, extra),
            timeout,
            wait_for_ready,
        )

    def start_echo_shape(
        self,
        *,
        shape: Shape,
        extra: Shape | None = None,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[Shape]:
        """Start :meth:`echo_shape` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(
            _CONFORMANCE_ECHO_SHAPE,
            (shape, extra),
            timeout,
            wait_for_ready,
        )

    async def echo_drawing(
        self,
        *,
        drawing: Drawing,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Drawing:
        """Call ``conformance.Conformance.echoDrawing``."""
        return await self._call(
            _CONFORMANCE_ECHO_DRAWING,
            (drawing,),
            timeout,
            wait_for_ready,
        )

    def start_echo_drawing(
        self,
        *,
        drawing: Drawing,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[Drawing]:
        """Start :meth:`echo_drawing` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(
            _CONFORMANCE_ECHO_DRAWING,
            (drawing,),
            timeout,
            wait_for_ready,
        )

    def shapes(
        self,
        *,
        shapes: _typing.Sequence[Shape],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.ItemStream[Shape]:
        """Streams each shape of `shapes` back, then a label counting them."""
        return self._server_stream(
            _CONFORMANCE_SHAPES,
            (shapes,),
            timeout,
            wait_for_ready,
        )

    def transform(
        self,
        *,
        values: _typing.AsyncIterable[Scalars] | _typing.Iterable[Scalars],
        add: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.ItemStream[Scalars]:
        """Answers each message with itself, `large` increased by `add`.

        Raises:
            Rejected: An argument was refused by the service's own rules.
        """
        return self._bidi_stream(
            _CONFORMANCE_TRANSFORM,
            (add,),
            values,
            timeout,
            wait_for_ready,
        )


class ConformanceSyncClient(_uvrpc.SyncClient):
    """Blocking client of ``conformance.Conformance``.

    Every construct of the IDL, as methods.
    """

    def ping(
        self,
        *,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> None:
        """Does nothing and returns nothing."""
        self._call(_CONFORMANCE_PING, (), timeout, wait_for_ready)

    def echo_scalars(
        self,
        *,
        value: Scalars,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Scalars:
        """Returns its argument."""
        return self._call(_CONFORMANCE_ECHO_SCALARS, (value,), timeout, wait_for_ready)

    def mixed(
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
        color: Color = Color.RED,
        note: str | None = None,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Scalars:
        """Builds a message from parameters of every scalar type."""
        return self._call(
            _CONFORMANCE_MIXED,
            (
                flag,
                tiny,
                small,
                medium,
                large,
                single,
                precise,
                text,
                blob,
                color,
                note,
            ),
            timeout,
            wait_for_ready,
        )

    def echo_containers(
        self,
        *,
        value: Containers,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Containers:
        """Call ``conformance.Conformance.echoContainers``."""
        return self._call(
            _CONFORMANCE_ECHO_CONTAINERS,
            (value,),
            timeout,
            wait_for_ready,
        )

    def echo_nested(
        self,
        *,
        value: _typing.Mapping[int, _typing.Mapping[str, _typing.Sequence[Scalars]]],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> dict[int, dict[str, list[Scalars]]]:
        """Call ``conformance.Conformance.echoNested``."""
        return self._call(_CONFORMANCE_ECHO_NESTED, (value,), timeout, wait_for_ready)

    def echo_colors(
        self,
        *,
        colors: _typing.AbstractSet[Color],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> set[Color]:
        """Call ``conformance.Conformance.echoColors``."""
        return self._call(_CONFORMANCE_ECHO_COLORS, (colors,), timeout, wait_for_ready)

    def echo_matrix(
        self,
        *,
        matrix: _typing.Sequence[_typing.Sequence[int]],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> list[list[int]]:
        """Call ``conformance.Conformance.echoMatrix``."""
        return self._call(_CONFORMANCE_ECHO_MATRIX, (matrix,), timeout, wait_for_ready)

    def echo_tree(
        self,
        *,
        root: Node,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Node:
        """Call ``conformance.Conformance.echoTree``."""
        return self._call(_CONFORMANCE_ECHO_TREE, (root,), timeout, wait_for_ready)

    def echo_bytes(
        self,
        *,
        data: _uvrpc.Buffer,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> memoryview:
        """Call ``conformance.Conformance.echoBytes``."""
        return self._call(_CONFORMANCE_ECHO_BYTES, (data,), timeout, wait_for_ready)

    def echo_string(
        self,
        *,
        text: str,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> str:
        """Call ``conformance.Conformance.echoString``."""
        return self._call(_CONFORMANCE_ECHO_STRING, (text,), timeout, wait_for_ready)

    def echo_double(
        self,
        *,
        value: float,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> float:
        """Call ``conformance.Conformance.echoDouble``."""
        return self._call(_CONFORMANCE_ECHO_DOUBLE, (value,), timeout, wait_for_ready)

    def echo_float(
        self,
        *,
        value: float,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> float:
        """Call ``conformance.Conformance.echoFloat``."""
        return self._call(_CONFORMANCE_ECHO_FLOAT, (value,), timeout, wait_for_ready)

    def echo_i64(
        self,
        *,
        value: int = I64_MAX,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> int:
        """Call ``conformance.Conformance.echoI64``."""
        return self._call(_CONFORMANCE_ECHO_I64, (value,), timeout, wait_for_ready)

    def echo_well_known(
        self,
        *,
        value: WellKnown,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> WellKnown:
        """Call ``conformance.Conformance.echoWellKnown``."""
        return self._call(
            _CONFORMANCE_ECHO_WELL_KNOWN,
            (value,),
            timeout,
            wait_for_ready,
        )

    def echo_uuid(
        self,
        *,
        value: _t.Uuid,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _t.Uuid:
        """Call ``conformance.Conformance.echoUuid``."""
        return self._call(_CONFORMANCE_ECHO_UUID, (value,), timeout, wait_for_ready)

    def echo_decimal(
        self,
        *,
        value: _t.Decimal,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _t.Decimal:
        """Call ``conformance.Conformance.echoDecimal``."""
        return self._call(_CONFORMANCE_ECHO_DECIMAL, (value,), timeout, wait_for_ready)

    def echo_duration(
        self,
        *,
        value: _t.Duration,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _t.Duration:
        """Call ``conformance.Conformance.echoDuration``."""
        return self._call(_CONFORMANCE_ECHO_DURATION, (value,), timeout, wait_for_ready)

    def later(
        self,
        *,
        at: _t.Timestamp,
        by: _t.Duration,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _t.Timestamp:
        """The instant `by` after `at`."""
        return self._call(_CONFORMANCE_LATER, (at, by), timeout, wait_for_ready)

    def ticks(
        self,
        *,
        start: _t.Timestamp,
        step: _t.Duration,
        n: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _typing.Generator[_t.Timestamp, None, None]:
        """Streams `n` instants `step` apart from `start`."""
        return self._server_stream(
            _CONFORMANCE_TICKS,
            (start, step, n),
            timeout,
            wait_for_ready,
        )

    def fail(
        self,
        *,
        which: str,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> None:
        """Raises what `which` names: "not_found", "rejected", "overloaded", or an
        undeclared error for anything else.

        Raises:
            NotFound: No item of that key exists.
            Rejected: An argument was refused by the service's own rules.
            _shared.Overloaded: The server is too busy to take the call now.
        """
        self._call(_CONFORMANCE_FAIL, (which,), timeout, wait_for_ready)

    def record(
        self,
        *,
        event: str,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> None:
        """Records an event; nothing is sent back."""
        self._call(_CONFORMANCE_RECORD, (event,), timeout, wait_for_ready)

    def recorded(
        self,
        *,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> list[str]:
        """The events recorded so far, in order."""
        return self._call(_CONFORMANCE_RECORDED, (), timeout, wait_for_ready)

    def visits(
        self,
        *,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> int:
        """How many times it was called: safe to retry."""
        return self._call(_CONFORMANCE_VISITS, (), timeout, wait_for_ready)

    def echo_bounded(
        self,
        *,
        value: Bounded,
        keep: int = 4,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Bounded:
        """Returns its argument with its first `keep` tags.

        Args:
            keep: From 0 to 4.
        """
        return self._call(
            _CONFORMANCE_ECHO_BOUNDED,
            (value, keep),
            timeout,
            wait_for_ready,
        )

    def repeat(
        self,
        *,
        text: str,
        times: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> str:
        """Returns `text` repeated `times` times: a reply longer than ten characters
        is refused by the client.

        Args:
            times: At least 0.
        """
        return self._call(_CONFORMANCE_REPEAT, (text, times), timeout, wait_for_ready)

    def count(
        self,
        *,
        start: int,
        n: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _typing.Generator[int, None, None]:
        """Streams `n` numbers counting up from `start`."""
        return self._server_stream(
            _CONFORMANCE_COUNT,
            (start, n),
            timeout,
            wait_for_ready,
        )

    def sum(
        self,
        *,
        values: _typing.Iterable[int],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> int:
        """Adds up a stream of numbers."""
        return self._client_stream(
            _CONFORMANCE_SUM,
            (),
            values,
            timeout,
            wait_for_ready,
        )

    def echo_shape(
        self,
        *,
        shape: Shape,
        extra: Shape | None = None,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Shape:
        """Returns its argument, and `extra` when given in place of it."""
        return self._call(
            _CONFORMANCE_ECHO_SHAPE,
            (shape, extra),
            timeout,
            wait_for_ready,
        )

    def echo_drawing(
        self,
        *,
        drawing: Drawing,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Drawing:
        """Call ``conformance.Conformance.echoDrawing``."""
        return self._call(
            _CONFORMANCE_ECHO_DRAWING,
            (drawing,),
            timeout,
            wait_for_ready,
        )

    def shapes(
        self,
        *,
        shapes: _typing.Sequence[Shape],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _typing.Generator[Shape, None, None]:
        """Streams each shape of `shapes` back, then a label counting them."""
        return self._server_stream(
            _CONFORMANCE_SHAPES,
            (shapes,),
            timeout,
            wait_for_ready,
        )

    def transform(
        self,
        *,
        values: _typing.Iterable[Scalars],
        add: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _typing.Generator[Scalars, None, None]:
        """Answers each message with itself, `large` increased by `add`.

        Raises:
            Rejected: An argument was refused by the service's own rules.
        """
        return self._bidi_stream(
            _CONFORMANCE_TRANSFORM,
            (add,),
            values,
            timeout,
            wait_for_ready,
        )


class ConformanceServer(_uvrpc.ServiceBase):
    """Base class of ``conformance.Conformance`` implementations.

    Every construct of the IDL, as methods.
    """

    uvrpc_service = _CONFORMANCE

    @_abc.abstractmethod
    async def ping(self) -> None:
        """Does nothing and returns nothing."""

    @_abc.abstractmethod
    async def echo_scalars(self, *, value: Scalars) -> Scalars:
        """Returns its argument."""

    @_abc.abstractmethod
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
        """Builds a message from parameters of every scalar type."""

    @_abc.abstractmethod
    async def echo_containers(self, *, value: Containers) -> Containers:
        """Call ``conformance.Conformance.echoContainers``."""

    @_abc.abstractmethod
    async def echo_nested(
        self,
        *,
        value: dict[int, dict[str, list[Scalars]]],
    ) -> _typing.Mapping[int, _typing.Mapping[str, _typing.Sequence[Scalars]]]:
        """Call ``conformance.Conformance.echoNested``."""

    @_abc.abstractmethod
    async def echo_colors(self, *, colors: set[Color]) -> _typing.AbstractSet[Color]:
        """Call ``conformance.Conformance.echoColors``."""

    @_abc.abstractmethod
    async def echo_matrix(
        self,
        *,
        matrix: list[list[int]],
    ) -> _typing.Sequence[_typing.Sequence[int]]:
        """Call ``conformance.Conformance.echoMatrix``."""

    @_abc.abstractmethod
    async def echo_tree(self, *, root: Node) -> Node:
        """Call ``conformance.Conformance.echoTree``."""

    @_abc.abstractmethod
    async def echo_bytes(self, *, data: memoryview) -> _uvrpc.Buffer:
        """Call ``conformance.Conformance.echoBytes``."""

    @_abc.abstractmethod
    async def echo_string(self, *, text: str) -> str:
        """Call ``conformance.Conformance.echoString``."""

    @_abc.abstractmethod
    async def echo_double(self, *, value: float) -> float:
        """Call ``conformance.Conformance.echoDouble``."""

    @_abc.abstractmethod
    async def echo_float(self, *, value: float) -> float:
        """Call ``conformance.Conformance.echoFloat``."""

    @_abc.abstractmethod
    async def echo_i64(self, *, value: int) -> int:
        """Call ``conformance.Conformance.echoI64``."""

    @_abc.abstractmethod
    async def echo_well_known(self, *, value: WellKnown) -> WellKnown:
        """Call ``conformance.Conformance.echoWellKnown``."""

    @_abc.abstractmethod
    async def echo_uuid(self, *, value: _t.Uuid) -> _t.Uuid:
        """Call ``conformance.Conformance.echoUuid``."""

    @_abc.abstractmethod
    async def echo_decimal(self, *, value: _t.Decimal) -> _t.Decimal:
        """Call ``conformance.Conformance.echoDecimal``."""

    @_abc.abstractmethod
    async def echo_duration(self, *, value: _t.Duration) -> _t.Duration:
        """Call ``conformance.Conformance.echoDuration``."""

    @_abc.abstractmethod
    async def later(self, *, at: _t.Timestamp, by: _t.Duration) -> _t.Timestamp:
        """The instant `by` after `at`."""

    @_abc.abstractmethod
    def ticks(
        self,
        *,
        start: _t.Timestamp,
        step: _t.Duration,
        n: int,
    ) -> _typing.AsyncIterator[_t.Timestamp]:
        """Streams `n` instants `step` apart from `start`."""

    @_abc.abstractmethod
    async def fail(self, *, which: str) -> None:
        """Raises what `which` names: "not_found", "rejected", "overloaded", or an
        undeclared error for anything else.

        Raises:
            NotFound: No item of that key exists.
            Rejected: An argument was refused by the service's own rules.
            _shared.Overloaded: The server is too busy to take the call now.
        """

    @_abc.abstractmethod
    async def record(self, *, event: str) -> None:
        """Records an event; nothing is sent back."""

    @_abc.abstractmethod
    async def recorded(self) -> _typing.Sequence[str]:
        """The events recorded so far, in order."""

    @_abc.abstractmethod
    async def visits(self) -> int:
        """How many times it was called: safe to retry."""

    @_abc.abstractmethod
    async def echo_bounded(self, *, value: Bounded, keep: int) -> Bounded:
        """Returns its argument with its first `keep` tags.

        Args:
            keep: From 0 to 4.
        """

    @_abc.abstractmethod
    async def repeat(self, *, text: str, times: int) -> str:
        """Returns `text` repeated `times` times: a reply longer than ten characters
        is refused by the client.

        Args:
            times: At least 0.
        """

    @_abc.abstractmethod
    def count(self, *, start: int, n: int) -> _typing.AsyncIterator[int]:
        """Streams `n` numbers counting up from `start`."""

    @_abc.abstractmethod
    async def sum(self, *, values: _typing.AsyncIterator[int]) -> int:
        """Adds up a stream of numbers."""

    @_abc.abstractmethod
    async def echo_shape(self, *, shape: Shape, extra: Shape | None) -> Shape:
        """Returns its argument, and `extra` when given in place of it."""

    @_abc.abstractmethod
    async def echo_drawing(self, *, drawing: Drawing) -> Drawing:
        """Call ``conformance.Conformance.echoDrawing``."""

    @_abc.abstractmethod
    def shapes(self, *, shapes: list[Shape]) -> _typing.AsyncIterator[Shape]:
        """Streams each shape of `shapes` back, then a label counting them."""

    @_abc.abstractmethod
    def transform(
        self,
        *,
        values: _typing.AsyncIterator[Scalars],
        add: int,
    ) -> _typing.AsyncIterator[Scalars]:
        """Answers each message with itself, `large` increased by `add`.

        Raises:
            Rejected: An argument was refused by the service's own rules.
        """


class UnimplementedConformanceServer(ConformanceServer):
    """A partial server: each method answers UNIMPLEMENTED until overridden.

    Subclass it to serve some of the methods of ``conformance.Conformance``, say while a
    new method reaches the servers one by one. A class that must serve them all
    subclasses :class:`ConformanceServer`, whose abstract methods let a type checker
    find one left out.
    """

    async def ping(self) -> None:
        """Does nothing and returns nothing."""
        raise _uvrpc.unimplemented(_CONFORMANCE_PING)

    async def echo_scalars(self, *, value: Scalars) -> Scalars:
        """Returns its argument."""
        raise _uvrpc.unimplemented(_CONFORMANCE_ECHO_SCALARS)

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
        """Builds a message from parameters of every scalar type."""
        raise _uvrpc.unimplemented(_CONFORMANCE_MIXED)

    async def echo_containers(self, *, value: Containers) -> Containers:
        """Call ``conformance.Conformance.echoContainers``."""
        raise _uvrpc.unimplemented(_CONFORMANCE_ECHO_CONTAINERS)

    async def echo_nested(
        self,
        *,
        value: dict[int, dict[str, list[Scalars]]],
    ) -> _typing.Mapping[int, _typing.Mapping[str, _typing.Sequence[Scalars]]]:
        """Call ``conformance.Conformance.echoNested``."""
        raise _uvrpc.unimplemented(_CONFORMANCE_ECHO_NESTED)

    async def echo_colors(self, *, colors: set[Color]) -> _typing.AbstractSet[Color]:
        """Call ``conformance.Conformance.echoColors``."""
        raise _uvrpc.unimplemented(_CONFORMANCE_ECHO_COLORS)

    async def echo_matrix(
        self,
        *,
        matrix: list[list[int]],
    ) -> _typing.Sequence[_typing.Sequence[int]]:
        """Call ``conformance.Conformance.echoMatrix``."""
        raise _uvrpc.unimplemented(_CONFORMANCE_ECHO_MATRIX)

    async def echo_tree(self, *, root: Node) -> Node:
        """Call ``conformance.Conformance.echoTree``."""
        raise _uvrpc.unimplemented(_CONFORMANCE_ECHO_TREE)

    async def echo_bytes(self, *, data: memoryview) -> _uvrpc.Buffer:
        """Call ``conformance.Conformance.echoBytes``."""
        raise _uvrpc.unimplemented(_CONFORMANCE_ECHO_BYTES)

    async def echo_string(self, *, text: str) -> str:
        """Call ``conformance.Conformance.echoString``."""
        raise _uvrpc.unimplemented(_CONFORMANCE_ECHO_STRING)

    async def echo_double(self, *, value: float) -> float:
        """Call ``conformance.Conformance.echoDouble``."""
        raise _uvrpc.unimplemented(_CONFORMANCE_ECHO_DOUBLE)

    async def echo_float(self, *, value: float) -> float:
        """Call ``conformance.Conformance.echoFloat``."""
        raise _uvrpc.unimplemented(_CONFORMANCE_ECHO_FLOAT)

    async def echo_i64(self, *, value: int) -> int:
        """Call ``conformance.Conformance.echoI64``."""
        raise _uvrpc.unimplemented(_CONFORMANCE_ECHO_I64)

    async def echo_well_known(self, *, value: WellKnown) -> WellKnown:
        """Call ``conformance.Conformance.echoWellKnown``."""
        raise _uvrpc.unimplemented(_CONFORMANCE_ECHO_WELL_KNOWN)

    async def echo_uuid(self, *, value: _t.Uuid) -> _t.Uuid:
        """Call ``conformance.Conformance.echoUuid``."""
        raise _uvrpc.unimplemented(_CONFORMANCE_ECHO_UUID)

    async def echo_decimal(self, *, value: _t.Decimal) -> _t.Decimal:
        """Call ``conformance.Conformance.echoDecimal``."""
        raise _uvrpc.unimplemented(_CONFORMANCE_ECHO_DECIMAL)

    async def echo_duration(self, *, value: _t.Duration) -> _t.Duration:
        """Call ``conformance.Conformance.echoDuration``."""
        raise _uvrpc.unimplemented(_CONFORMANCE_ECHO_DURATION)

    async def later(self, *, at: _t.Timestamp, by: _t.Duration) -> _t.Timestamp:
        """The instant `by` after `at`."""
        raise _uvrpc.unimplemented(_CONFORMANCE_LATER)

    def ticks(
        self,
        *,
        start: _t.Timestamp,
        step: _t.Duration,
        n: int,
    ) -> _typing.AsyncIterator[_t.Timestamp]:
        """Streams `n` instants `step` apart from `start`."""
        raise _uvrpc.unimplemented(_CONFORMANCE_TICKS)

    async def fail(self, *, which: str) -> None:
        """Raises what `which` names: "not_found", "rejected", "overloaded", or an
        undeclared error for anything else.

        Raises:
            NotFound: No item of that key exists.
            Rejected: An argument was refused by the service's own rules.
            _shared.Overloaded: The server is too busy to take the call now.
        """
        raise _uvrpc.unimplemented(_CONFORMANCE_FAIL)

    async def record(self, *, event: str) -> None:
        """Records an event; nothing is sent back."""
        raise _uvrpc.unimplemented(_CONFORMANCE_RECORD)

    async def recorded(self) -> _typing.Sequence[str]:
        """The events recorded so far, in order."""
        raise _uvrpc.unimplemented(_CONFORMANCE_RECORDED)

    async def visits(self) -> int:
        """How many times it was called: safe to retry."""
        raise _uvrpc.unimplemented(_CONFORMANCE_VISITS)

    async def echo_bounded(self, *, value: Bounded, keep: int) -> Bounded:
        """Returns its argument with its first `keep` tags.

        Args:
            keep: From 0 to 4.
        """
        raise _uvrpc.unimplemented(_CONFORMANCE_ECHO_BOUNDED)

    async def repeat(self, *, text: str, times: int) -> str:
        """Returns `text` repeated `times` times: a reply longer than ten characters
        is refused by the client.

        Args:
            times: At least 0.
        """
        raise _uvrpc.unimplemented(_CONFORMANCE_REPEAT)

    def count(self, *, start: int, n: int) -> _typing.AsyncIterator[int]:
        """Streams `n` numbers counting up from `start`."""
        raise _uvrpc.unimplemented(_CONFORMANCE_COUNT)

    async def sum(self, *, values: _typing.AsyncIterator[int]) -> int:
        """Adds up a stream of numbers."""
        raise _uvrpc.unimplemented(_CONFORMANCE_SUM)

    async def echo_shape(self, *, shape: Shape, extra: Shape | None) -> Shape:
        """Returns its argument, and `extra` when given in place of it."""
        raise _uvrpc.unimplemented(_CONFORMANCE_ECHO_SHAPE)

    async def echo_drawing(self, *, drawing: Drawing) -> Drawing:
        """Call ``conformance.Conformance.echoDrawing``."""
        raise _uvrpc.unimplemented(_CONFORMANCE_ECHO_DRAWING)

    def shapes(self, *, shapes: list[Shape]) -> _typing.AsyncIterator[Shape]:
        """Streams each shape of `shapes` back, then a label counting them."""
        raise _uvrpc.unimplemented(_CONFORMANCE_SHAPES)

    def transform(
        self,
        *,
        values: _typing.AsyncIterator[Scalars],
        add: int,
    ) -> _typing.AsyncIterator[Scalars]:
        """Answers each message with itself, `large` increased by `add`.

        Raises:
            Rejected: An argument was refused by the service's own rules.
        """
        raise _uvrpc.unimplemented(_CONFORMANCE_TRANSFORM)
