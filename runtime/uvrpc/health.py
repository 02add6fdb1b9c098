"""Moved to :mod:`uvrpc.services.health` (the clients to
:mod:`uvrpc.services.clients`); this path keeps old imports working."""

from .services.clients import HealthClient, HealthSyncClient
from .services.health import *  # noqa: F403
from .services.health import __all__ as _moved

__all__ = [*_moved, "HealthClient", "HealthSyncClient"]
