"""Moved to :mod:`uvrpc.ops.broker`; this path keeps old imports working."""

from .ops.broker import *  # noqa: F403
from .ops.broker import __all__ as __all__
