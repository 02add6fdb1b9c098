"""Moved to :mod:`uvrpc.wire.methods`; this path keeps old imports working."""

from .wire.methods import *  # noqa: F403
from .wire.methods import __all__ as __all__
