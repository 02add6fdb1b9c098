"""Unknown fields: what a message keeps of the fields a newer schema added.

A message travels as a map keyed by field id (``{"1": ..., "4": ...}``). A reader
built from an older schema finds ids it has no field for; as protobuf does, it
keeps them, as they arrived, in the message's pydantic extras
(``__pydantic_extra__``), and sends them on unchanged when the message is encoded
again: as a result, a parameter, a stream item or a field of another message. A
value is kept as msgpack decoded it (a nested message is a plain ``dict`` keyed by
its ids, a binary value a ``memoryview`` of its attachment frame), so nothing is
copied, and nothing is validated: only the writer knows its type.

Only a wire id, a decimal string, is kept: any other name a message does not know,
whether a constructor's keyword (``Item(nmae="x")``) or a peer's key, is refused
with a validation error (:func:`wire_key`).

A kept binary value of an attachment is sent on as an attachment frame again, never
copied into the body (:data:`KEPT`).

People do not see them: ``model_dump()``, ``model_dump_json()`` and iterating a
message leave them out, and ``repr()`` shows them apart, by id. The wire form,
``model_dump(by_alias=True)``, has them. ``==`` ignores them: a writer sends every
field, defaults too, so nearly every message from a newer peer holds some.
:func:`unknown_fields` reads them and :func:`discard_unknown_fields` drops them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Annotated, Any, ForwardRef, TypeGuard, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticCustomError, SchemaValidator

__all__ = [
    "discard_unknown_fields",
    "HidesUnknownFields",
    "hidden",
    "ignoring_unknown",
    "is_wire_id",
    "KEPT",
    "kept_value",
    "MAX_ID",
    "merge_exclude",
    "unknown_fields",
    "wire_key",
]


MAX_ID = 2**29 - 1
"""The largest id of a field or a union's member the IDL allows."""


def is_wire_id(key: object) -> TypeGuard[str]:
    """Whether ``key`` is an id as the wire writes it: a decimal string without
    a leading zero, at most :data:`MAX_ID`."""
    return (
        type(key) is str
        and key.isdecimal()
        and key.isascii()
        and key[0] != "0"
        and len(key) <= 9
        and int(key) <= MAX_ID
    )


def wire_key(key: Any) -> str:
    """Check a key a message has no field for: a wire id (a decimal string without
    a leading zero, at most the largest field id) is kept as an unknown field;
    anything else is refused.

    A key beyond the id range is refused too: no schema declares it, and a long
    one would fail later, where :func:`unknown_fields` and ``repr()`` make it an
    ``int`` (Python refuses to convert more than 4,300 digits).

    Raises:
        PydanticCustomError: ``key`` is not a wire id (``unknown_field``).
    """
    if is_wire_id(key):
        return key
    raise PydanticCustomError("unknown_field", "not a field of this message")


class _Kept:
    """What this process has kept in unknown fields (:data:`KEPT`)."""

    __slots__ = ("views",)

    def __init__(self) -> None:
        self.views = False


KEPT = _Kept()
"""``KEPT.views`` turns true, for good, once an unknown field of any message has
kept a ``memoryview`` (an attachment received, or a buffer given): from then on
the encoder searches every body for binary values to send as attachment frames,
so that a kept view leaves as a frame again rather than copied into the body,
whatever the declared type. A process that never keeps one pays nothing."""


def kept_value(value: Any) -> Any:
    """Note in :data:`KEPT` whether the value of an unknown field holds a
    ``memoryview``; return it as it is."""
    if not KEPT.views and _holds_view(value):
        KEPT.views = True
    return value


def _holds_view(value: object) -> bool:
    if isinstance(value, memoryview):
        return True
    if isinstance(value, list | tuple):
        return any(_holds_view(item) for item in value)
    if isinstance(value, dict):
        return any(_holds_view(item) for item in value.values())
    return False


def ignoring_unknown(model: type[BaseModel]) -> Callable[[Any], Any]:
    """``model.model_validate`` for a request's parameters: an id the model does
    not know is dropped, not kept, while the messages inside keep theirs.

    The parameters model is never sent on, and its handler takes only the
    parameters it knows, so keeping a newer client's parameter would cost every
    request (pydantic's ``extra="allow"`` looks at every key) for nothing. A
    schema of another shape than a plain model is validated as it is.
    """
    schema: Any = model.__pydantic_core_schema__
    definitions = None  # the messages a model refers to, when there are some
    if schema.get("type") == "definitions":
        definitions, schema = schema, schema["schema"]
    if schema.get("type") != "model" or schema["schema"].get("type") != "model-fields":
        return model.model_validate
    fields = {**schema["schema"], "extra_behavior": "ignore"}
    for key in ("extras_schema", "extras_keys_schema"):
        fields.pop(key, None)
    config = {**schema.get("config", {}), "extra_fields_behavior": "ignore"}
    top = {**schema, "schema": fields, "config": config}
    if definitions is not None:
        top = {**definitions, "schema": top}
    try:
        # Without _use_prebuilt=False pydantic-core reuses the model's own
        # validator for a schema of the model, as pydantic does when it rebuilds.
        validator = SchemaValidator(top, _use_prebuilt=False)
    except TypeError:  # a pydantic-core without the option (older releases)
        return functools.partial(_validated_then_dropped, model)
    return validator.validate_python


def _validated_then_dropped(model: type[BaseModel], value: Any) -> Any:
    """``model.model_validate(value)`` with the top level's unknown ids dropped
    after it: the same result, at the cost of keeping them first."""
    params = model.model_validate(value)
    # None, as the validator that ignores them leaves it.
    object.__setattr__(params, "__pydantic_extra__", None)
    return params


def unknown_fields(message: BaseModel) -> Mapping[int, object]:
    """The fields of ``message`` its schema does not know, by id, read-only.

    Each value is as msgpack decoded it: a nested message is a ``dict`` keyed by
    its field ids as strings, a binary value ``bytes`` or a read-only
    ``memoryview``. Nested messages keep their own unknown fields; ask them.
    """
    extra = message.__pydantic_extra__
    return MappingProxyType({int(key): value for key, value in (extra or {}).items()})


def discard_unknown_fields(message: BaseModel) -> None:
    """Drop the unknown fields of ``message`` and of every message inside it, so
    that they are no longer sent on (protobuf's ``DiscardUnknownFields``)."""
    extra = message.__pydantic_extra__
    if extra:
        extra.clear()
    for name in _message_fields(type(message)):
        for inner in _messages_in(getattr(message, name, None)):
            discard_unknown_fields(inner)


def hidden(message: BaseModel) -> dict[Any, Any] | None:
    """The ``exclude`` argument of pydantic's dumps that leaves out every unknown
    field of ``message`` and of the messages inside it; ``None`` if there is none.
    """
    found: dict[Any, Any] = {}
    extra = message.__pydantic_extra__
    if extra:
        found.update(dict.fromkeys(extra, True))
    for name in _message_fields(type(message)):
        inside = _hidden_in(getattr(message, name, None))
        if inside:
            found[name] = inside
    return found or None


def _hidden_in(value: object) -> dict[Any, Any] | None:
    if isinstance(value, BaseModel):
        return hidden(value)
    items: Iterable[tuple[Any, Any]]
    if isinstance(value, list | tuple):
        items = enumerate(value)
    elif isinstance(value, dict):
        items = value.items()
    else:
        return None
    found = {key: inside for key, item in items if (inside := _hidden_in(item))}
    return found or None


def _messages_in(value: object) -> Iterator[BaseModel]:
    if isinstance(value, BaseModel):
        yield value
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _messages_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _messages_in(item)


def merge_exclude(mine: Any, theirs: dict[Any, Any]) -> Any:
    """A caller's ``exclude`` argument of a dump (``None``, a set or a nested
    dict) with the exclusions ``theirs`` added."""
    if mine is None:
        return theirs
    if mine is True:
        return True
    merged: dict[Any, Any] = (
        dict.fromkeys(mine, True) if isinstance(mine, set | frozenset) else dict(mine)
    )
    for key, value in theirs.items():
        if key not in merged:
            merged[key] = value
        elif value is True or merged[key] is True:
            merged[key] = True
        else:
            merged[key] = merge_exclude(merged[key], value)
    return merged


_FIELDS: dict[type[BaseModel], tuple[str, ...]] = {}


def _message_fields(cls: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``cls`` whose type can hold a message, worked out once per
    class: a dump walks only these, never a list of a million integers."""
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(
            name
            for name, field in cls.model_fields.items()
            if _holds_message(field.annotation)
        )
    return names


def _holds_message(annotation: Any) -> bool:
    """Whether a value of this type (as generated code spells types) can hold a
    message."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    if isinstance(annotation, str | ForwardRef):  # not resolved yet: may be one
        return True
    if get_origin(annotation) is Annotated:
        return _holds_message(get_args(annotation)[0])
    return any(_holds_message(arg) for arg in get_args(annotation))


class HidesUnknownFields(BaseModel):
    """A model whose dumps for people leave out the unknown fields of the messages
    in it: a message, or a union's member holding one. They are raw msgpack
    values, keyed by id, for the wire only; ``model_dump(by_alias=True)``, the
    wire form, keeps them."""

    def model_dump(
        self,
        *,
        by_alias: bool | None = None,
        exclude: Any = None,
        **options: Any,
    ) -> dict[str, Any]:
        """pydantic's ``model_dump``, without unknown fields unless ``by_alias``
        is true."""
        if not by_alias:
            unknown = hidden(self)
            if unknown is not None:
                exclude = merge_exclude(exclude, unknown)
        return super().model_dump(by_alias=by_alias, exclude=exclude, **options)

    def model_dump_json(self, *, exclude: Any = None, **options: Any) -> str:
        """pydantic's ``model_dump_json``, without unknown fields."""
        unknown = hidden(self)
        if unknown is not None:
            exclude = merge_exclude(exclude, unknown)
        return super().model_dump_json(exclude=exclude, **options)
