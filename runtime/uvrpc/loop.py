"""Moved to :mod:`uvrpc.transport.loop`; this path keeps old imports working."""

from .transport.loop import *  # noqa: F403
from .transport.loop import __all__ as __all__
