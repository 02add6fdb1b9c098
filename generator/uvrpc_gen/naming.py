"""How IDL names become Python names.

Method names are snake_case in Python (``callCount`` → ``call_count``) while the
wire route keeps the IDL spelling; module constants are UPPER_SNAKE; generated
class names are built from the service and method names.
"""

from __future__ import annotations

import re

__all__ = [
    "METHOD_CONSTANT_MAX",
    "camel_case",
    "client_class",
    "fields_class",
    "method_constant",
    "params_class",
    "server_class",
    "service_constant",
    "snake_case",
    "start_method",
    "sync_client_class",
    "union_member_class",
    "unimplemented_server_class",
]

METHOD_CONSTANT_MAX = 63
"""The longest method constant whose declaration, annotated with the longest kind
of method (``NAME: _uvrpc.ServerStreaming[``), starts within a line of 88
columns: no formatter can break a line before that bracket."""

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    """``callCount`` → ``call_count``, ``HTTPServer`` → ``http_server``."""
    return _WORD_BOUNDARY.sub("_", name).lower()


def camel_case(name: str) -> str:
    """``callCount`` → ``CallCount``, ``call_count`` → ``CallCount``."""
    return "".join(part[:1].upper() + part[1:] for part in snake_case(name).split("_"))


def start_method(method: str) -> str:
    """The async client method returning a call handle: ``start_<method>``."""
    return f"start_{snake_case(method)}"


def client_class(service: str) -> str:
    """The asynchronous client class of a service: ``<Service>Client``."""
    return f"{service}Client"


def sync_client_class(service: str) -> str:
    """The blocking client class of a service: ``<Service>SyncClient``."""
    return f"{service}SyncClient"


def server_class(service: str) -> str:
    """The server base class of a service: ``<Service>Server``."""
    return f"{service}Server"


def unimplemented_server_class(service: str) -> str:
    """The server class of a service whose methods all answer UNIMPLEMENTED:
    ``Unimplemented<Service>Server`` (gRPC-Go's ``Unimplemented<Service>Server``)."""
    return f"Unimplemented{service}Server"


def params_class(service: str, method: str) -> str:
    """The private parameters model of a method: ``_<Service><Method>Params``."""
    return f"_{service}{camel_case(method)}Params"


def service_constant(service: str) -> str:
    """The module constant holding a service's spec: ``_<SERVICE>``."""
    return f"_{snake_case(service).upper()}"


def method_constant(service: str, method: str) -> str:
    """The module constant describing a method: ``_<SERVICE>_<METHOD>``, or, where
    that is longer than :data:`METHOD_CONSTANT_MAX`, ``_<S>_<METHOD>`` with the
    service's initials (``_NPS_WATCH_PREFERENCES`` for
    ``NotificationPreferencesService.watchPreferences``)."""
    method_part = snake_case(method).upper()
    name = f"{service_constant(service)}_{method_part}"
    if len(name) <= METHOD_CONSTANT_MAX:
        return name
    initials = "".join(word[0] for word in snake_case(service).split("_") if word)
    return f"_{initials.upper()}_{method_part}"


def fields_class(exception: str) -> str:
    """The private model of an exception's fields: ``_<Exception>Fields``."""
    return f"_{exception}Fields"


def union_member_class(union: str, member: str) -> str:
    """The class of one member of a union: ``<Union><Member>`` (``ShapeCircle``)."""
    return f"{union}{camel_case(member)}"
