"""Which way each message, union and exception of a module travels: in requests, in
replies, or both.

A method's parameters and the items a client streams are requests (the client
writes them, the server reads them); its result, the items a server streams and
the exceptions it declares are replies. A message travels the ways of every
method that reaches it, through any number of fields. ``uvrpc-gen --compat`` needs
this for constraints: a tighter constraint breaks the readers of old writers, so
it is safe on a reply and breaks a request, and a looser one the other way round.
"""

from __future__ import annotations

from collections.abc import Mapping

from .check import CheckedModule
from .model import Definition, ExceptionType, Message, Service, TypeRef, UnionType

__all__ = ["BOTH", "REPLY", "REQUEST", "directions"]

REQUEST = "request"
"""Written by clients, read by servers."""

REPLY = "reply"
"""Written by servers, read by clients."""

BOTH = frozenset({REQUEST, REPLY})
"""Both ways; also what a definition no method of its file reaches is taken to
travel, since files that import it may send it either way."""


def directions(*modules: CheckedModule) -> Mapping[str, frozenset[str]]:
    """The ways each message, union and exception of ``modules`` (by local name)
    travels through the services of the same module; the union over them all (the
    old and new versions of one file, say). A definition no method reaches is
    missing: take it to travel :data:`BOTH` ways."""
    found: dict[str, set[str]] = {}
    for checked in modules:
        local = {d.name: d for d in checked.module.definitions}
        for service in checked.module.definitions:
            if not isinstance(service, Service):
                continue
            for method in service.methods:
                for param in method.params:
                    _reach(param.type, REQUEST, local, found)
                if method.returns is not None:
                    _reach(method.returns, REPLY, local, found)
                for error in method.throws:
                    _reach(error, REPLY, local, found)
    return {name: frozenset(ways) for name, ways in found.items()}


def _reach(
    ref: TypeRef,
    way: str,
    local: Mapping[str, Definition],
    found: dict[str, set[str]],
) -> None:
    """Record that ``ref``, and what its fields reach, travels ``way``."""
    for argument in ref.arguments:
        _reach(argument, way, local, found)
    definition = local.get(ref.name)
    if not isinstance(definition, Message | ExceptionType | UnionType):
        return
    ways = found.setdefault(definition.name, set())
    if way in ways:
        return
    ways.add(way)
    fields = (
        definition.members if isinstance(definition, UnionType) else definition.fields
    )
    for field in fields:
        _reach(field.type, way, local, found)
