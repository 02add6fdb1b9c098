"""Moved to :mod:`uvrpc.services.reflection` (the clients to
:mod:`uvrpc.services.clients`); this path keeps old imports working."""

from .services.clients import ReflectionClient, ReflectionSyncClient
from .services.reflection import *  # noqa: F403
from .services.reflection import __all__ as _moved

__all__ = [*_moved, "ReflectionClient", "ReflectionSyncClient"]
