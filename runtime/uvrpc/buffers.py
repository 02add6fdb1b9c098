"""Moved to :mod:`uvrpc.wire.buffers`; this path keeps old imports working."""

from .wire.buffers import *  # noqa: F403
from .wire.buffers import __all__ as __all__
