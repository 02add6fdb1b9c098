"""Moved to :mod:`uvrpc.wire.limits`; this path keeps old imports working."""

from .wire.limits import *  # noqa: F403
from .wire.limits import __all__ as __all__
