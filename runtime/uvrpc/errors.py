"""Moved to :mod:`uvrpc.wire.errors`; this path keeps old imports working."""

from .wire.errors import *  # noqa: F403
from .wire.errors import __all__ as __all__
