"""Moved to :mod:`uvrpc.server.sessions`; this path keeps old imports working."""

from .server.sessions import *  # noqa: F403
from .server.sessions import __all__ as __all__
