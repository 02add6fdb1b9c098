"""Moved to :mod:`uvrpc.wire.codec`; this path keeps old imports working."""

from .wire.codec import *  # noqa: F403
from .wire.codec import __all__ as __all__
