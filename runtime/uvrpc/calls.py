"""Moved to :mod:`uvrpc.core.calls`; this path keeps old imports working."""

from .core.calls import *  # noqa: F403
from .core.calls import __all__ as __all__
