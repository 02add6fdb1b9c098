"""Moved to :mod:`uvrpc.transport.security`; this path keeps old imports working."""

from .transport.security import *  # noqa: F403
from .transport.security import __all__ as __all__
