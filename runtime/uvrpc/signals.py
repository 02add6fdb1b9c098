"""Moved to :mod:`uvrpc.ops.signals`; this path keeps old imports working."""

from .ops.signals import *  # noqa: F403
from .ops.signals import __all__ as __all__
