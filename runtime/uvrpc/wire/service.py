"""The base class of generated server classes, and the error of a method a server
leaves out."""

from __future__ import annotations

import abc
from typing import ClassVar

from .errors import Unimplemented
from .methods import AnyMethod, ServiceSpec

__all__ = ["ServiceBase", "service_spec", "unimplemented"]


class ServiceBase(abc.ABC):
    """Base class of the ``<Service>Server`` classes that ``uvrpc-gen`` generates.

    Subclass the generated class, implement each of its ``async def`` methods, and
    pass an instance to :class:`uvrpc.Server`. Every method receives its parameters
    as keyword arguments, already validated against the IDL's types, and returns the
    declared type. Raising an :class:`uvrpc.RpcError` replies with its status; any
    other exception replies ``UNKNOWN`` with the exception's type and message.

    The generated ``Unimplemented<Service>Server`` subclass implements every method
    with :func:`unimplemented`, for a server that serves only some of them.
    """

    uvrpc_service: ClassVar[ServiceSpec]
    """The service this class implements: its wire name and method table."""


def service_spec(service: object) -> ServiceSpec:
    """The service that ``service``, given to a server, implements.

    Raises:
        TypeError: ``service`` is not an instance of a generated ``<Service>Server``
            subclass (a class itself, say, where its instance was meant), or its
            class derives from the server classes of several services.
    """
    spec = getattr(type(service), "uvrpc_service", None)
    if isinstance(service, ServiceBase) and isinstance(spec, ServiceSpec):
        # A class deriving from two generated server classes would otherwise be
        # served as the first of them alone, the other's calls UNIMPLEMENTED.
        names = {
            each.name
            for base in type(service).__mro__
            if isinstance(each := base.__dict__.get("uvrpc_service"), ServiceSpec)
        }
        if len(names) > 1:
            raise TypeError(
                f"{type(service).__name__} derives from the server classes of "
                f"several services ({', '.join(sorted(names))}), and a server "
                "serves one per object: implement each in a class of its own and "
                "give the server one instance of each: Server(a, b), or "
                "uvrpc serve MODULE:A MODULE:B"
            )
        return spec
    if isinstance(service, type):
        given = f"the class {service.__name__} (pass an instance of it)"
    elif isinstance(service, (list, tuple)):
        kind = type(service).__name__
        given = f"a {kind} (pass each service as an argument of its own)"
    else:
        given = f"{service!r:.60} ({type(service).__name__})"
    raise TypeError(
        f"a server serves instances of generated <Service>Server subclasses, "
        f"not {given}"
    )


def unimplemented(method: AnyMethod) -> Unimplemented:
    """The error a method raises that its server does not implement: status
    ``UNIMPLEMENTED``, naming the method's route.

    The methods of a generated ``Unimplemented<Service>Server`` raise it, so that a
    server implementing only some methods answers the others this way and goes on
    serving: ``raise _uvrpc.unimplemented(_CALCULATOR_ADD)``.
    """
    return Unimplemented(f"method {method.route!r} is not implemented by this server")
