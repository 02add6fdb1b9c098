"""The base class of generated server classes."""

from __future__ import annotations

import abc
from typing import ClassVar

from .methods import ServiceSpec

__all__ = ["ServiceBase"]


class ServiceBase(abc.ABC):
    """Base class of the ``<Service>Server`` classes that ``uvrpc-gen`` generates.

    Subclass the generated class, implement each of its ``async def`` methods, and
    pass an instance to :class:`uvrpc.Server`. Every method receives its parameters
    as keyword arguments, already validated against the IDL's types, and returns the
    declared type. Raising an :class:`uvrpc.RpcError` replies with its status; any
    other exception replies ``UNKNOWN`` with the exception's type and message.
    """

    uvrpc_service: ClassVar[ServiceSpec]
    """The service this class implements: its wire name and method table."""
