"""Moved to :mod:`uvrpc.wire.status`; this path keeps old imports working."""

from .wire.status import *  # noqa: F403
from .wire.status import __all__ as __all__
