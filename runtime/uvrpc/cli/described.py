"""The description a server sends (``uvrpc.Reflection.describe``), checked before
``uvrpc call`` and ``uvrpc describe`` read it.

A description is ``any`` on the wire: without this check, one of another shape
ended a command with a Python traceback (a ``KeyError`` deep in the IDL writer),
one of a later version was read as if it were this one, and a definition's name
became a file name as it was, so that ``describe --out DIR`` of a service named
``/somewhere/x.Svc`` wrote ``/somewhere/x.idl``, outside ``DIR``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, cast

from pydantic import (
    ConfigDict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    with_config,
)
from typing_extensions import TypedDict  # pydantic reads typing's from 3.12 only

from ..services.reflection import DESCRIPTION_VERSION
from ..wire.errors import InternalError, Unimplemented
from ..wire.validation import first_problem

__all__ = ["checked_description"]

_Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
_Name = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$"),
]
"""A definition's full name, ``namespace.Name`` (or a method's route): only
identifiers, which is all the IDL allows, and what makes a file name of its
namespace stay in its directory."""

_STRICT = ConfigDict(strict=True)


@with_config(_STRICT)
class _Field(TypedDict):
    id: int
    name: _Identifier
    type: str
    optional: bool
    doc: str
    default: NotRequired[Any]


@with_config(_STRICT)
class _Stream(TypedDict):
    name: _Identifier
    type: str
    id: NotRequired[int]


@with_config(_STRICT)
class _Method(TypedDict):
    name: _Identifier
    route: _Name
    kind: Literal["unary", "server_stream", "client_stream", "bidi_stream"]
    oneway: bool
    idempotent: bool
    doc: str
    params: list[_Field]
    stream: _Stream | None
    returns: str
    items: str | None
    errors: list[_Name]


@with_config(_STRICT)
class _Service(TypedDict):
    name: _Name
    doc: str
    methods: list[_Method]


@with_config(_STRICT)
class _Record(TypedDict):
    name: _Name
    doc: str
    fields: list[_Field]


@with_config(_STRICT)
class _Enum(TypedDict):
    name: _Name
    doc: str
    members: dict[_Identifier, int]


@with_config(_STRICT)
class _Member(TypedDict):
    id: int
    name: _Identifier
    type: str
    doc: str


@with_config(_STRICT)
class _Union(TypedDict):
    name: _Name
    doc: str
    members: list[_Member]


@with_config(_STRICT)
class _Description(TypedDict):
    version: int
    services: list[_Service]
    messages: dict[_Name, _Record]
    enums: dict[_Name, _Enum]
    exceptions: dict[_Name, _Record]
    unions: NotRequired[dict[_Name, _Union]]  # not from a server older than unions


_SHAPE: TypeAdapter[_Description] = TypeAdapter(_Description)


def checked_description(description: Any) -> dict[str, Any]:
    """``description`` as it came, once it has the documented shape
    (``docs/protocol.md``, "Reflection and health") of the version this
    runtime reads; keys it does not know are kept, for ``--json``.

    Raises:
        Unimplemented: the description is of another version.
        InternalError: it is not of that shape (the message names where).
    """
    version = description.get("version") if type(description) is dict else None
    if type(version) is int and version != DESCRIPTION_VERSION:
        raise Unimplemented(
            f"the server describes its services in version {version} of the "
            f"description; this uvrpc reads version {DESCRIPTION_VERSION}"
        )
    try:
        _SHAPE.validate_python(description)
    except ValidationError as exc:
        raise InternalError(
            "reply of uvrpc.Reflection.describe does not match the shape of a "
            f"description: {first_problem(exc)}"
        ) from None
    return cast(dict[str, Any], description)
