"""The base classes of generated messages and enums, and the mapping of fields to
wire ids."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Sized
from typing import TYPE_CHECKING, Annotated, Any, Self, TypeVar

from pydantic import (
    AliasGenerator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    PlainValidator,
)
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from .limits import echo
from .unknown import HidesUnknownFields, kept_value, wire_key

__all__ = [
    "REPR_BYTES",
    "Enum",
    "Message",
    "copy_views",
    "pickled_views",
    "fail_fast",
    "field_ids",
    "readable",
]

# Every kind of container schema pydantic-core validates element by element.
_CONTAINERS = frozenset({"list", "set", "frozenset", "dict", "tuple", "deque"})
_SETS = frozenset({"set", "frozenset"})
# Keys of a core schema whose values are data (defaults, enum members, literal
# values) or another schema's settings, never a schema to walk.
_NOT_SCHEMAS = frozenset(
    {"default", "expected", "members", "metadata", "serialization", "ref", "cls"}
)

_Schema = TypeVar("_Schema")


def fail_fast(schema: _Schema) -> _Schema:
    """Make every container of a pydantic core schema stop at its first bad element,
    and every set refuse an element given twice.

    pydantic collects every error of a list by default: a million bad elements are a
    million errors, built at a quarter of a gigabyte before anyone can look at the
    first. Failing fast costs nothing on the happy path; a message's other fields
    are still all checked, so a problem per field is still reported.

    A set arrives as a list (msgpack and JSON have no set type), and pydantic would
    quietly drop a repeated element: a peer's ``[1, 1]`` for a ``set<i32>`` is
    more likely a bug than a wish, so it is refused with one error at the set's
    path (``set_duplicate``). Changes ``schema`` in place and returns it.
    """
    _walk(schema)
    return schema


def _walk(node: object) -> None:
    if isinstance(node, dict) and not isinstance(node.get("type"), str):
        # Not a schema but a mapping of field names to field schemas: a field may
        # be named ``type`` or ``default``, so every value is walked.
        for value in node.values():
            _walk(value)
    elif isinstance(node, dict):
        schema: dict[str, Any] = node
        kind = schema["type"]
        if kind in _CONTAINERS:
            schema["fail_fast"] = True
            if kind in _SETS:
                schema = _unique(schema)
        elif kind == "function-wrap" and schema["function"]["function"] is _no_repeats:
            schema = schema["schema"]  # a set walked before: pydantic reuses schemas
        for key, value in schema.items():
            if key not in _NOT_SCHEMAS:
                _walk(value)
    elif isinstance(node, list):
        for value in node:
            _walk(value)


def _unique(node: dict[str, Any]) -> dict[str, Any]:
    """Turn the set schema ``node``, in place, into a check of its input's length
    around a copy of it, which it returns (to be walked on)."""
    inner = dict(node)
    outer = core_schema.no_info_wrap_validator_function(_no_repeats, inner)
    for key in ("ref", "metadata", "serialization"):
        if key in inner:
            outer[key] = inner.pop(key)
    node.clear()
    node.update(outer)
    return inner


def _no_repeats(value: Any, validate: Callable[[Any], Any]) -> Any:
    """Validate a set's input, and refuse it if it gave an element twice."""
    kind = type(value)
    if kind is list or kind is tuple or kind is set or kind is frozenset:
        result = validate(value)  # the usual input, checked without an ABC
        if len(result) == len(value):
            return result
    else:
        if isinstance(value, Iterator):
            value = tuple(value)  # a generator's length is known once it is read
        result = validate(value)
        if not isinstance(value, Sized) or len(result) == len(value):
            return result
    raise PydanticCustomError(
        "set_duplicate",
        "a set must not hold an element twice: {element} is repeated",
        {"element": _repeated(value)},
    )


def _repeated(items: Any) -> str:
    """The first element of ``items`` equal to an earlier one, as a peer's input is
    echoed (:func:`~uvrpc.wire.limits.echo`)."""
    seen: set[Any] = set()
    try:
        for item in items:
            if item in seen:
                return echo(repr(item))
            seen.add(item)
    except TypeError:  # unhashable as given, hashable once validated
        pass
    return "an element"  # equal only once validated (``1`` and ``1.0``)


_KeptFields = dict[
    Annotated[str, PlainValidator(wire_key)],
    Annotated[Any, PlainValidator(kept_value)],
]
"""The unknown fields a message keeps: wire ids, each with its value as received."""


class Message(HidesUnknownFields):
    """Base class of every message ``uvrpc-gen`` generates.

    A message is a pydantic v2 model. On the wire it is a msgpack map keyed by each
    field's id written as a decimal string (``{"1": ..., "2": ...}``), so renaming a
    field in the IDL does not change the wire format. The ids are the fields'
    aliases, and only the wire uses them (``model_dump(by_alias=True)``):
    ``model_dump()``, ``model_dump_json()`` and ``repr()`` name fields by their
    Python names, and ``model_validate`` takes either. Validation errors name fields
    by their Python names, e.g. ``steps.0.operand``; a list, set or map stops at its
    first bad element, and a set refuses an element given twice (:func:`fail_fast`).

    An id the message has no field for, written by a newer schema, is kept as an
    unknown field and sent on unchanged; any other name it does not know is refused,
    ``Item(nmae="x")`` as much as a peer's key (:mod:`uvrpc.wire.unknown`).
    """

    __pydantic_extra__: _KeptFields = Field(init=False)

    model_config = ConfigDict(
        extra="allow",
        validate_by_name=True,
        validate_by_alias=True,
        loc_by_alias=False,
        use_attribute_docstrings=True,
        # NaN and the infinities as JSON's usual extension (NaN, Infinity), which
        # model_validate_json reads back and uvrpc call writes; pydantic's default
        # writes null, which a double refuses.
        ser_json_inf_nan="constants",
    )

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """pydantic's fields of a repr, a binary value shown by its size and first
        bytes (:func:`readable`) rather than as ``<memory at 0x…>``, and the unknown
        fields last, by id: ``unknown_fields={4: 'shelf 2'}``."""
        extra = self.__pydantic_extra__
        for name, value in super().__repr_args__():
            if not extra or name not in extra:
                yield name, readable(value)
        if extra:
            yield "unknown_fields", {int(key): readable(v) for key, v in extra.items()}

    def __eq__(self, other: object) -> bool:
        """Whether ``other`` is a message of the same class with equal fields.

        Unknown fields are not compared: a writer sends every field, defaults too, so
        almost every message from a newer peer carries some, and an older reader's
        equality means what its own schema knows. Compare
        :func:`~uvrpc.wire.unknown.unknown_fields` as well to tell such messages
        apart.
        """
        if not isinstance(other, Message):
            return super().__eq__(other)
        return (
            type(self) is type(other)
            and self.__dict__ == other.__dict__
            and self.__pydantic_private__ == other.__pydantic_private__
        )

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        """pydantic's deep copy, each binary value in it copied into bytes of its
        own (:func:`copy_views`), where Python refuses to copy a ``memoryview``."""
        memo = {} if memo is None else memo
        copy_views(self.__dict__, memo)
        copy_views(self.__pydantic_extra__, memo)
        return super().__deepcopy__(memo)

    def __getstate__(self) -> dict[Any, Any]:
        """pydantic's state for ``pickle``, each binary value in it made one that
        pickles (:func:`pickled_views`), where Python refuses a ``memoryview``."""
        state = super().__getstate__()
        state["__dict__"] = pickled_views(state["__dict__"])
        state["__pydantic_extra__"] = pickled_views(state["__pydantic_extra__"])
        return state

    def __iter__(self) -> Iterator[tuple[str, Any]]:  # type: ignore[override]
        """The fields as ``(name, value)`` pairs, as pydantic's, without the
        unknown fields."""
        return iter([(k, v) for k, v in self.__dict__.items() if k[0] != "_"])

    if not TYPE_CHECKING:  # as pydantic's: type checkers know the field names

        def __setattr__(self, name: str, value: Any) -> None:
            """Set a field, as pydantic does; a name that is not a field is refused,
            rather than kept as an extra (pydantic's way with ``extra="allow"``)."""
            if name not in type(self).__pydantic_fields__ and name[0] != "_":
                raise ValueError(
                    f'"{type(self).__name__}" object has no field "{name}"'
                )
            super().__setattr__(name, value)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler, /
    ) -> CoreSchema:
        """pydantic's schema of the message, its containers made to fail fast (a
        peer's million bad elements must not become a million errors) and its sets
        to refuse a repeated element (:func:`fail_fast`)."""
        return fail_fast(handler(source))


# pydantic reads the declaration's annotation (the check of the extras' keys) but
# leaves its ``Field(init=False)``, there for type checkers, on the class, where it
# would hide the model's slot and put the extras in each instance's ``__dict__``.
del Message.__pydantic_extra__
# pydantic 2.11 evaluates a base class's ``__pydantic_extra__`` annotation, a string
# under ``from __future__ import annotations``, in each subclass's module, where
# these names are unknown: the base keeps it evaluated.
Message.__annotations__["__pydantic_extra__"] = _KeptFields


REPR_BYTES = 32
"""The most bytes of a binary value that ``repr()`` of a message shows."""


class _Shown:
    """Stands in for a binary value in a repr: its text is what ``repr`` gives."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _show(view: memoryview) -> _Shown:
    try:
        size = view.nbytes
        flat = view if view.ndim == 1 and view.format == "B" else view.cast("B")
        head = repr(flat[:REPR_BYTES].tobytes())
    except (ValueError, TypeError):  # released, or not contiguous
        return _Shown(repr(view))
    if size <= REPR_BYTES:
        return _Shown(head)
    # The ellipsis inside the quotes: b'\x00\x01...'
    return _Shown(f"<memoryview {size} bytes: {head[:-1]}...{head[-1]}>")


def readable(value: object) -> object:
    """``value`` to be shown by ``repr``: each ``memoryview`` in it, inside lists,
    tuples, sets and maps too, shown as ``b'abc'`` when it is short, or else by its
    size and first :data:`REPR_BYTES` bytes,
    ``<memoryview 1048576 bytes: b'\\x00\\x01...'>``. Anything else, and a
    container holding no binary value, is returned as it is."""
    if isinstance(value, memoryview):
        return _show(value)
    if isinstance(value, list | tuple | set | frozenset):
        items = [readable(item) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        if isinstance(value, list):
            return items
        if isinstance(value, tuple):
            return tuple(items)
        return _Shown("{" + ", ".join(map(repr, items)) + "}")
    if isinstance(value, dict):
        # Keys too: a map<bytes, ...> is keyed by received views. Each shown key is
        # an object of its own, so no two keys merge.
        pairs = [(readable(key), readable(item)) for key, item in value.items()]
        if all(
            shown is key and new is item
            for (shown, new), (key, item) in zip(pairs, value.items(), strict=True)
        ):
            return value
        return dict(pairs)
    return value


def copy_views(value: object, memo: dict[int, Any]) -> None:
    """Enter in ``memo``, the memo of a ``copy.deepcopy`` about to copy ``value``,
    a read-only copy of each ``memoryview`` in it, inside lists, tuples, sets and
    maps (their keys too): ``deepcopy`` takes what the memo has for an object, and
    cannot copy a ``memoryview`` itself, which refuses to be pickled. A deep copy
    owns its bytes, so it copies them, rather than keep a view of a caller's
    buffer or a received frame. Messages in ``value`` enter their own views as
    they are copied."""
    if isinstance(value, memoryview):
        if id(value) not in memo:
            memo[id(value)] = memoryview(value.tobytes())
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            copy_views(item, memo)
    elif isinstance(value, dict):
        for key, item in value.items():
            copy_views(key, memo)
            copy_views(item, memo)


class _PickledView(bytes):
    """A binary value's bytes, unpickled as a read-only ``memoryview`` of them,
    which is what a message holds for a ``bytes`` value."""

    __slots__ = ()

    def __reduce__(self) -> tuple[type[memoryview], tuple[bytes]]:
        return memoryview, (bytes(self),)


def pickled_views(value: Any) -> Any:
    """``value`` with each ``memoryview`` in it, inside lists, tuples, sets and maps
    (their keys too), replaced by its bytes, unpickled as a view again: a
    ``memoryview`` refuses to be pickled. A container holding no binary value is
    returned as it is; messages in ``value`` pickle their own views."""
    if isinstance(value, memoryview):
        return _PickledView(value.tobytes())
    if isinstance(value, list | tuple | set | frozenset):
        items = [pickled_views(item) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return type(value)(items) if type(value) is not list else items
    if isinstance(value, dict):
        pairs = [
            (pickled_views(key), pickled_views(item)) for key, item in value.items()
        ]
        if all(
            new_key is key and new is item
            for (new_key, new), (key, item) in zip(pairs, value.items(), strict=True)
        ):
            return value
        return dict(pairs)
    return value


class Enum(enum.IntEnum):
    """Base class of every enum ``uvrpc-gen`` generates: an :class:`enum.IntEnum`
    whose members travel as their integer values.

    A field of an enum type takes a member, or an integer that is a member's value,
    and nothing else: not ``True`` (a ``bool`` is an ``int`` to Python, and
    ``True == 1``) and not ``4.0`` (equal to ``4``), which pydantic would take as
    members. The error names the field's path, as every validation error does.
    """

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler, /
    ) -> CoreSchema:
        """A strict integer (``bool`` and ``float`` refused), then pydantic's check
        that it is a member."""
        return core_schema.chain_schema(
            [core_schema.int_schema(strict=True), handler(source)]
        )


def field_ids(**ids: int) -> ConfigDict:
    """Return the model config of a message whose fields carry these wire ids.

    Generated code writes ``model_config = field_ids(name=1, other=2)``; every field of
    the class must be named, and each id is what the field is keyed by on the wire.
    """
    keys = {name: str(number) for name, number in ids.items()}

    def wire_key(name: str) -> str:
        return keys[name]

    config = Message.model_config.copy()
    config["alias_generator"] = AliasGenerator(
        validation_alias=wire_key, serialization_alias=wire_key
    )
    return config
