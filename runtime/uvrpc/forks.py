"""Moved to :mod:`uvrpc.transport.forks`; this path keeps old imports working."""

from .transport.forks import *  # noqa: F403
from .transport.forks import __all__ as __all__
