"""Moved to :mod:`uvrpc.server.eager`; this path keeps old imports working."""

from .server.eager import *  # noqa: F403
from .server.eager import __all__ as __all__
