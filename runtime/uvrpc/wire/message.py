"""The base class of generated messages and the mapping of fields to wire ids."""

from __future__ import annotations

from pydantic import AliasGenerator, BaseModel, ConfigDict

__all__ = ["Message", "field_ids"]


class Message(BaseModel):
    """Base class of every message ``uvrpc-gen`` generates.

    A message is a pydantic v2 model. On the wire it is a msgpack map keyed by each
    field's id written as a decimal string (``{"1": ..., "2": ...}``), so renaming a
    field in the IDL does not change the wire format; fields a reader does not know are
    ignored, which lets a schema grow. Validation errors name fields by their Python
    names, e.g. ``steps.0.operand``.
    """

    model_config = ConfigDict(
        extra="ignore",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        loc_by_alias=False,
        use_attribute_docstrings=True,
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
