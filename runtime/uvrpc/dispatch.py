"""Moved to :mod:`uvrpc.server.dispatch`; this path keeps old imports working."""

from .server.dispatch import *  # noqa: F403
from .server.dispatch import __all__ as __all__
