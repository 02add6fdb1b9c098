"""Moved to :mod:`uvrpc.wire.version`; this path keeps old imports working."""

from .wire.version import *  # noqa: F403
from .wire.version import __all__ as __all__
