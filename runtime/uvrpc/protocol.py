"""Moved to :mod:`uvrpc.wire.protocol`; this path keeps old imports working."""

from .wire.protocol import *  # noqa: F403
from .wire.protocol import __all__ as __all__
