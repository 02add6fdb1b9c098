"""Moved to :mod:`uvrpc.core.context`; this path keeps old imports working."""

from .core.context import *  # noqa: F403
from .core.context import __all__ as __all__
