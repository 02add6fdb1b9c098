"""Moved to :mod:`uvrpc.transport.liveness`; this path keeps old imports working."""

from .transport.liveness import *  # noqa: F403
from .transport.liveness import __all__ as __all__
