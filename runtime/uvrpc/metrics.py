"""Moved to :mod:`uvrpc.ops.metrics`; this path keeps old imports working."""

from .ops.metrics import *  # noqa: F403
from .ops.metrics import __all__ as __all__
