"""Unions: a value that is exactly one of several members, as generated code
declares it.

The IDL's ``union Shape { 1: Circle circle; 2: string label; }`` becomes one small
model per member, each holding the member's value (``ShapeCircle(value=Circle(...))``),
and a type alias of their union with :class:`UnknownMember`::

    Shape: TypeAlias = Annotated[
        ShapeCircle | ShapeLabel | uvrpc.UnknownMember, uvrpc.WireUnion("Shape")
    ]

A type checker narrows a ``Shape`` with ``match`` or ``isinstance`` like any union of
classes; :class:`WireUnion` tells pydantic how a ``Shape`` travels.

On the wire a union is a msgpack map with exactly one entry, the member's id as a
decimal string and its value, as a message with one field set would be:
``{"1": {...}}``. A member id this side does not know (a member added by a newer
schema) decodes as :class:`UnknownMember` holding the raw decoded value, which is
encoded back unchanged, so a peer forwards what it cannot read. A map of zero or
several entries, or anything but a map, fails validation (``INVALID_ARGUMENT``, at
the union's field path); a member's value that fails validation is named through
the member, ``shape.circle.radius``.

In JSON (``model_dump_json``, ``uvrpc call``) the entry is keyed by the member's
name, ``{"circle": {...}}``; both keys are read back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Self, get_args, get_type_hints

import msgpack
from pydantic import (
    BaseModel,
    ConfigDict,
    GetCoreSchemaHandler,
    PydanticUndefinedAnnotation,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from .limits import echo
from .message import copy_views, fail_fast, pickled_views, readable
from .types import to_base64
from .unknown import HidesUnknownFields, is_wire_id
from .wellknown import to_json

__all__ = ["UnionMember", "UnknownMember", "WireUnion", "union_members"]


class UnionMember(HidesUnknownFields):
    """Base class of the member classes ``uvrpc-gen`` generates for a union.

    A member class holds one value, of the member's type: ``ShapeCircle(value=...)``
    validates it as a message field would, so a union value always has exactly one
    member set. ``uvrpc_id`` is the member's id (its key on the wire) and
    ``uvrpc_name`` its IDL name (its key in JSON). ``match shape: case
    ShapeCircle(circle): ...`` binds the value.
    """

    model_config = ConfigDict(
        extra="forbid",
        use_attribute_docstrings=True,
        ser_json_inf_nan="constants",  # NaN, Infinity in JSON, as a message writes
    )

    __match_args__ = ("value",)

    uvrpc_id: ClassVar[int] = 0
    """The member's id: its key on the wire."""
    uvrpc_name: ClassVar[str] = ""
    """The member's name in the IDL: its key in JSON."""

    value: Any
    """The member's value."""

    @model_serializer(mode="wrap")
    def _one_entry(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        # The value as its type serializes it, keyed by id on the wire and by name
        # elsewhere: ``{"1": ...}`` or ``{"circle": ...}``.
        fields = handler(self)
        cls = type(self)
        return {str(cls.uvrpc_id) if info.by_alias else cls.uvrpc_name: fields["value"]}

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield "value", readable(self.value)

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        """pydantic's deep copy, a binary value copied into bytes of its own
        (:func:`~uvrpc.wire.message.copy_views`)."""
        memo = {} if memo is None else memo
        copy_views(self.value, memo)
        return super().__deepcopy__(memo)

    def __getstate__(self) -> dict[Any, Any]:
        """pydantic's state for ``pickle``, a binary value made one that pickles
        (:func:`~uvrpc.wire.message.pickled_views`)."""
        state = super().__getstate__()
        state["__dict__"] = pickled_views(state["__dict__"])
        return state

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler, /
    ) -> CoreSchema:
        """pydantic's schema of the member, its containers failing fast as a
        message's do (:func:`~uvrpc.wire.message.fail_fast`)."""
        return fail_fast(handler(source))


class UnknownMember(BaseModel):
    """A member of a union that this side's schema does not have: one added in a
    newer schema, received from a peer that has it.

    ``id`` (and ``uvrpc_id``, as a known member has) is the member's id and
    ``value`` its value as msgpack decoded it (maps, lists, scalars, binary values
    as views), unchecked. Encoded again, it is the
    same entry, ``{"<id>": value}``, so a peer that forwards it loses nothing.
    """

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="constants")

    __match_args__ = ("id", "value")

    id: int
    """The member's id."""
    value: Any
    """The member's value, as decoded."""

    @property
    def uvrpc_id(self) -> int:
        """The member's id, as a known member's class has it: any member of a
        union reads the same way."""
        return self.id

    @property
    def uvrpc_name(self) -> str:
        """Its key in JSON, as a known member's ``uvrpc_name`` is: the id, as
        text, since this side has no name for it."""
        return str(self.id)

    @model_serializer(mode="plain")
    def _one_entry(self, info: SerializationInfo) -> dict[str, Any]:
        if info.mode_is_json():
            return {str(self.id): _json_safe(self.value)}
        return {str(self.id): self.value}  # the raw value itself: no copy

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield "id", self.id
        yield "value", readable(self.value)

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        """pydantic's deep copy, each binary value in the raw value copied into
        bytes of its own (:func:`~uvrpc.wire.message.copy_views`)."""
        memo = {} if memo is None else memo
        copy_views(self.value, memo)
        return super().__deepcopy__(memo)

    def __getstate__(self) -> dict[Any, Any]:
        """pydantic's state for ``pickle``, each binary value in the raw value made
        one that pickles (:func:`~uvrpc.wire.message.pickled_views`)."""
        state = super().__getstate__()
        state["__dict__"] = pickled_views(state["__dict__"])
        return state


def _json_safe(value: Any) -> Any:
    """A raw decoded value as JSON can hold it: binary values as base64 text, as
    ``bytes`` fields are written, a msgpack timestamp (only a ``timestamp`` travels
    as one) as a ``timestamp`` field is written, and map keys as text."""
    if isinstance(value, bytes | bytearray | memoryview):
        return to_base64(value)
    if isinstance(value, msgpack.Timestamp):
        return to_json("timestamp", value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def union_members(annotation: Any) -> tuple[type[UnionMember], ...]:
    """The member classes of a union alias (``Annotated[A | B | UnknownMember,
    WireUnion(...)]``), in the order written; empty for any other type."""
    args = get_args(annotation)
    if not args or not any(isinstance(a, WireUnion) for a in args[1:]):
        return ()
    return tuple(
        m
        for m in get_args(args[0])
        if isinstance(m, type) and issubclass(m, UnionMember)
    )


_UNKNOWN = "\x00unknown"  # the tag of an unknown member: no IDL name holds a NUL
_building = threading.local()


class WireUnion:
    """The pydantic schema of a union alias: what travels, and what is checked.

    ``name`` is the union's IDL name (``Shape``), for errors and for describing it.
    Generated code puts one in the alias's ``Annotated``; the members are the
    classes of the union it annotates.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"WireUnion({self.name!r})"

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler, /
    ) -> CoreSchema:
        members = tuple(
            m
            for m in get_args(source)
            if isinstance(m, type) and issubclass(m, UnionMember)
        )
        ref = f"uvrpc.union:{id(self)}"
        building: set[str] = _building.__dict__.setdefault("refs", set())
        if ref in building:  # a union that holds itself, through a member
            return core_schema.definition_reference_schema(ref)
        building.add(ref)
        try:
            values = {m: _value_schema(m, handler) for m in members}
        finally:
            building.discard(ref)
        choices: dict[str, CoreSchema] = {
            m.uvrpc_name: _member_schema(m, value) for m, value in values.items()
        }
        choices[_UNKNOWN] = core_schema.no_info_plain_validator_function(_unknown)
        tags: dict[str, str] = {}
        for m in members:
            tags[str(m.uvrpc_id)] = tags[m.uvrpc_name] = m.uvrpc_name
        classes = {m: m.uvrpc_name for m in members}
        union = core_schema.tagged_union_schema(
            choices,
            _discriminator(tags, classes),
            custom_error_type="union_member",
            custom_error_message=f"expected a member of union {self.name}, keyed by "
            "a member's id or name",
        )
        # JSON text is read by a schema of its own: a Python function between the
        # text and a member's value (the checks of the Python schema) would hand
        # that value on as Python objects, and pydantic checks Python objects
        # strictly, so a map's keys, which JSON writes as text ({"7": ...} for a
        # map<i32, V>), were refused where a message's field reads them back.
        return core_schema.json_or_python_schema(
            json_schema=_json_schema(self.name, values),
            python_schema=core_schema.no_info_wrap_validator_function(
                _one_entry(self.name, [m.__name__ for m in members]), union
            ),
            serialization=core_schema.wrap_serializer_function_ser_schema(
                _itself,
                info_arg=True,
                schema=core_schema.any_schema(),
                return_schema=core_schema.any_schema(),
            ),
            ref=ref,
        )


def _itself(
    value: Any, handler: SerializerFunctionWrapHandler, info: SerializationInfo
) -> Any:
    # A member serializes itself (its model serializer): as {id: value} by alias.
    # A dump that leaves something out (the unknown fields of the messages in the
    # value, which people's views hide, or the caller's own exclude) goes through
    # the handler, which hands the member those exclusions; returned as it is,
    # the member would be dumped whole.
    if info.exclude is None and info.include is None:
        return value
    return handler(value)


def _value_schema(
    member: type[UnionMember], handler: GetCoreSchemaHandler
) -> CoreSchema:
    """The schema of a member's value: that of its type."""
    try:
        hint = get_type_hints(member, include_extras=True)["value"]
    except NameError as exc:
        # A type defined further down the module (a union whose members name
        # each other): pydantic builds the model that uses this union later.
        raise PydanticUndefinedAnnotation.from_name_error(exc) from exc
    return handler.generate_schema(hint)


def _member_schema(member: type[UnionMember], value: CoreSchema) -> CoreSchema:
    """A member's value checked as its type, from its wire entry or an instance,
    and held in a new instance of the member class."""
    return core_schema.no_info_after_validator_function(
        _wrap(member), core_schema.no_info_before_validator_function(_unwrap, value)
    )


def _json_schema(union: str, values: dict[type[UnionMember], CoreSchema]) -> CoreSchema:
    """A union read from JSON: an object whose entries are checked as the fields
    of a message would be (a member's by its name or its id), then found to be
    exactly one member, known or not, as the Python schema finds them."""
    fields: dict[str, core_schema.TypedDictField] = {}
    for m, value in values.items():
        keys: list[list[str | int]] = [[m.uvrpc_name], [str(m.uvrpc_id)]]
        fields[m.uvrpc_name] = core_schema.typed_dict_field(
            value, required=False, validation_alias=keys
        )
    classes = {m.uvrpc_name: m for m in values}
    entries = core_schema.typed_dict_schema(fields, extra_behavior="allow", total=False)

    def member(entries: dict[str, Any]) -> UnionMember | UnknownMember:
        if len(entries) != 1:
            raise _not_one_entry(union, len(entries))
        ((key, value),) = entries.items()
        if key in classes:
            return classes[key].model_construct(value=value)
        if is_wire_id(key):
            return UnknownMember.model_construct(id=int(key), value=value)
        raise PydanticCustomError(
            "union_member",
            "expected a member of union {union}, keyed by a member's id or name",
            {"union": union},
        )

    return core_schema.no_info_after_validator_function(member, entries)


def _not_one_entry(union: str, count: int) -> PydanticCustomError:
    """The error of a union's value that is a map of ``count`` entries, not one:
    from the wire or a Python caller, and from JSON text alike."""
    return PydanticCustomError(
        "union_entries",
        "a union {union} holds exactly one member, as a map of one entry "
        "{id: value}; got {count} entries",
        {"union": union, "count": count},
    )


def _unwrap(value: Any) -> Any:
    if isinstance(value, UnionMember):
        return value.value
    return next(iter(value.values()))  # one entry: checked before


def _wrap(member: type[UnionMember]) -> Callable[[Any], UnionMember]:
    def wrap(value: Any) -> UnionMember:
        return member.model_construct(value=value)

    return wrap


def _unknown(value: Any) -> UnknownMember:
    if isinstance(value, UnknownMember):
        return value
    ((key, item),) = value.items()
    return UnknownMember.model_construct(id=int(key), value=item)


def _discriminator(
    tags: dict[str, str], classes: dict[type[UnionMember], str]
) -> Callable[[Any], str | None]:
    def discriminate(value: Any) -> str | None:
        if isinstance(value, dict):
            key = next(iter(value))
            tag = tags.get(key) if isinstance(key, str) else None
            if tag is None and is_wire_id(key):
                return _UNKNOWN
            return tag
        if isinstance(value, UnknownMember):
            return _UNKNOWN if str(value.id) not in tags else None
        return classes.get(type(value))

    return discriminate


def _one_entry(
    union: str, classes: list[str]
) -> Callable[[Any, Callable[[Any], Any]], Any]:
    # What a Python caller passes (ShapeCircle(value=...)), then what a peer sends.
    members = "".join(classes)
    if len(classes) > 1:
        members = f"{', '.join(classes[:-1])} or {classes[-1]}"

    def check(value: Any, validate: Callable[[Any], Any]) -> Any:
        if isinstance(value, dict):
            if len(value) != 1:
                raise _not_one_entry(union, len(value))
            key = next(iter(value))
            if not isinstance(key, str):
                raise PydanticCustomError(
                    "union_key",
                    "a member of union {union} is keyed by its id as text, got {key}",
                    {"union": union, "key": echo(repr(key))},
                )
        elif not isinstance(value, UnionMember | UnknownMember):
            raise PydanticCustomError(
                "union_type",
                "expected a member of union {union}: {members} (on the wire, a map "
                "of one entry {id: value}), got {kind}",
                {"union": union, "members": members, "kind": type(value).__name__},
            )
        return validate(value)

    return check
