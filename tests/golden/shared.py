# Generated from shared.idl by uvrpc-gen 0.6.0 — do not edit.
"""Definitions shared between services: imported by `conformance.idl`."""

from __future__ import annotations

import typing as _typing

import uvrpc as _uvrpc
from uvrpc import types as _t

_uvrpc.check_generated_code(generator="0.6.0", api=9, protocol=3)

__uvrpc_namespace__ = "shared"

__all__ = [
    "WINDOW",
    "Origin",
    "Overloaded",
]


class Origin(_uvrpc.Enum):
    """Where an event came from."""

    CLIENT = 1
    SERVER = 2


WINDOW: _typing.Final[int] = 8
"""How many items a stream may have in flight, by convention of these services."""


class _OverloadedFields(_uvrpc.Message):
    model_config = _uvrpc.field_ids(retry_after=1)

    retry_after: _t.Double


class Overloaded(_uvrpc.DeclaredError):
    """The server is too busy to take the call now."""

    uvrpc_name = "shared.Overloaded"
    uvrpc_fields = _OverloadedFields

    retry_after: float
    """Seconds after which a retry may succeed."""

    if _typing.TYPE_CHECKING:

        def __init__(self, *, retry_after: float, message: str = "") -> None:
            """Raise it from a handler of a method that declares it.

            ``message`` defaults to the class name and field values.
            """
            ...
