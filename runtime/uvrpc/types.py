"""Moved to :mod:`uvrpc.wire.types`; this path keeps old imports working."""

from .wire.types import *  # noqa: F403
from .wire.types import __all__ as __all__
