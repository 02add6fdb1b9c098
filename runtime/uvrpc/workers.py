"""Moved to :mod:`uvrpc.ops.workers`; this path keeps old imports working."""

from .ops.workers import *  # noqa: F403
from .ops.workers import __all__ as __all__
