"""Moved to :mod:`uvrpc.transport.reactor`; this path keeps old imports working."""

from .transport.reactor import *  # noqa: F403
from .transport.reactor import __all__ as __all__
