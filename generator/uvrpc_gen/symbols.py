"""The runtime names generated code uses, read from the runtime itself.

This is the one place the generator learns what the runtime calls things. Every
name is taken from the runtime object (``uvrpc.Message.__name__``), so renaming a
runtime class breaks generation loudly instead of producing code that fails at
import; ``tests/generator/test_symbols.py`` resolves every entry against the runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import uvrpc
from uvrpc import types as runtime_types

__all__ = [
    "CLIENT_ATTRIBUTES",
    "CONSTRAINTS",
    "DEFAULT",
    "CLASS_BODY_NAMES",
    "ENUM_ATTRIBUTES",
    "EXCEPTION_ATTRIBUTES",
    "GENERATED_ALIASES",
    "GENERATED_CODE_API",
    "GENERATOR_VERSION",
    "MESSAGE_ATTRIBUTES",
    "PROTOCOL_VERSION",
    "RUNTIME_ALIAS",
    "RUNTIME_MODULE",
    "SCALAR_TYPES",
    "SHADOWED_MODULES",
    "SYMBOLS",
    "TYPES_MODULE",
    "WELL_KNOWN_TYPES",
    "attributes_of",
]

RUNTIME_MODULE = uvrpc.__name__
"""The runtime package generated modules import (as ``_uvrpc``)."""

RUNTIME_ALIAS = "_uvrpc"
"""The name generated modules import the runtime as."""

TYPES_MODULE = runtime_types.__name__.rpartition(".")[2]
"""The submodule of scalar aliases generated modules import (as ``_t``)."""

GENERATOR_VERSION = uvrpc.__version__
"""The version written into generated headers and ``check_generated_code``."""

GENERATED_CODE_API = uvrpc.GENERATED_CODE_API
"""The generated-code API the generated modules are written against."""

PROTOCOL_VERSION = uvrpc.PROTOCOL_VERSION
"""The wire protocol version generated modules require."""

SYMBOLS: Mapping[str, str] = MappingProxyType(
    {
        "check_generated_code": uvrpc.check_generated_code.__name__,
        "Message": uvrpc.Message.__name__,
        "Enum": uvrpc.Enum.__name__,
        "field_ids": uvrpc.field_ids.__name__,
        "Unary": uvrpc.Unary.__name__,
        "ServiceSpec": uvrpc.ServiceSpec.__name__,
        "AsyncClient": uvrpc.AsyncClient.__name__,
        "SyncClient": uvrpc.SyncClient.__name__,
        "ServiceBase": uvrpc.ServiceBase.__name__,
        "unimplemented": uvrpc.unimplemented.__name__,
        "Call": uvrpc.Call.__name__,
        "DeclaredError": uvrpc.DeclaredError.__name__,
        "ServerStreaming": uvrpc.ServerStreaming.__name__,
        "ClientStreaming": uvrpc.ClientStreaming.__name__,
        "BidiStreaming": uvrpc.BidiStreaming.__name__,
        "ItemStream": uvrpc.ItemStream.__name__,
        "server_stream": "_server_stream",
        "client_stream": "_client_stream",
        "bidi_stream": "_bidi_stream",
        "Buffer": uvrpc.Buffer.__name__,
        "UnionMember": uvrpc.UnionMember.__name__,
        "UnknownMember": uvrpc.UnknownMember.__name__,
        "WireUnion": uvrpc.WireUnion.__name__,
        "call": "_call",
        "start": "_start",
        "uvrpc_service": "uvrpc_service",
    }
)
"""Runtime attribute names by role; each resolves on ``uvrpc`` or its classes.

``call`` is the method of both client base classes that generated methods delegate
to, ``start`` the async client's method that returns a call handle,
``server_stream``, ``client_stream`` and ``bidi_stream`` the methods of both
client base classes that streaming methods delegate to, ``Buffer`` the
type that accepts any buffer where bytes are sent, and ``uvrpc_service`` the class
attribute of ``ServiceBase`` naming the spec.
"""

CONSTRAINTS = next(n for n in runtime_types.__all__ if n == "Constraints")
"""The name of the factory in ``uvrpc.types`` generated code writes a type's
constraints with (``_t.Constraints(max_length=50)``)."""

BYTE_LENGTH = runtime_types.ByteLength.__name__
"""The name of the class in ``uvrpc.types`` generated code writes the length
bounds of ``bytes`` with (``_t.ByteLength(max_length=16)``): pydantic's errors
for them count bytes, where ``Constraints`` would count a list's items."""

DEFAULT = runtime_types.default.__name__
"""The name of the function in ``uvrpc.types`` generated code writes the default
of a list, set or map field with (``_t.default([2, 3])``)."""

SCALAR_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "bool": "Bool",
        "i8": "I8",
        "i16": "I16",
        "i32": "I32",
        "i64": "I64",
        "float": "Float",
        "double": "Double",
        "string": "String",
        "bytes": "Bytes",
        "uuid": "Uuid",
        "timestamp": "Timestamp",
        "duration": "Duration",
        "decimal": "Decimal",
    }
)
"""IDL scalar → name of its alias in ``uvrpc.types``. The last four are the
well-known types (:mod:`uvrpc.wire.wellknown`), which take no default."""

WELL_KNOWN_TYPES = frozenset({"uuid", "timestamp", "duration", "decimal"})
"""The scalars that stand for standard Python types rather than literals: no
default or constant can be written for them."""


def attributes_of(*classes: type, metaclass: bool = False) -> frozenset[str]:
    """Every attribute name of the classes and their bases, annotated fields too.

    Walks the ``vars()`` of each class of the MRO rather than trusting ``dir()``,
    which classes may customise (``dir(IntEnum)`` hides ``name`` and ``value``).
    With ``metaclass``, the attributes of the classes' metaclasses count too (an
    enum member is looked up on the class, where ``mro`` is the metaclass's).
    """
    names: set[str] = set()
    for cls in classes:
        for base in cls.__mro__:
            names.update(vars(base))
            names.update(vars(base).get("__annotations__", {}))
        if metaclass:
            names.update(dir(type(cls)))
    return frozenset(names)


MESSAGE_ATTRIBUTES = attributes_of(uvrpc.Message, metaclass=True)
"""Names a message field cannot take: they would shadow ``uvrpc.Message``'s, or
its metaclass's (``register``, ``mro``), which pydantic would take for the field's
default (a bound method) and so make a required field optional."""

CLIENT_ATTRIBUTES = attributes_of(
    uvrpc.AsyncClient, uvrpc.SyncClient, uvrpc.ServiceBase
)
"""Names a method cannot take: they would shadow the clients' or servers' bases."""

EXCEPTION_ATTRIBUTES = attributes_of(uvrpc.DeclaredError) | {
    "message",
    "details",
    "args",
}
"""Names an exception field cannot take: ``uvrpc.DeclaredError``'s attributes,
those its ``__init__`` sets (``message``, ``details``) and its keyword ``message``;
but a ``string`` field ``message`` is its message text (the checker lets it be)."""

GENERATED_ALIASES = frozenset({RUNTIME_ALIAS, "_t", "_abc", "_typing"})
"""The names generated modules import their dependencies as."""

CLASS_BODY_NAMES = frozenset(
    {"model_config", "uvrpc_name", "uvrpc_fields", "uvrpc_id", "uvrpc_service"}
)
"""Names the generated classes bind in their bodies (a message's ``model_config``,
an exception's ``uvrpc_name`` and ``uvrpc_fields``, a union member's ``uvrpc_id``
and ``uvrpc_name``, a server's ``uvrpc_service``): there they hide a definition of
the module of that name from the annotations and defaults that follow."""

ENUM_ATTRIBUTES = attributes_of(uvrpc.Enum, metaclass=True)
"""Names an enum member cannot take: they would shadow ``uvrpc.Enum``'s (an
``enum.IntEnum``) or its metaclass's."""

SHADOWED_MODULES = frozenset(
    {
        RUNTIME_MODULE,
        "pydantic",
        "pydantic_core",
        "annotated_types",
        "typing_extensions",
        "msgpack",
        "zmq",
        "uvloop",
    }
)
"""Top-level modules generated code imports, directly or through the runtime; a
generated module of the same name would shadow them (besides the standard
library's)."""
