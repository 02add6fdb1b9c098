"""Moved to :mod:`uvrpc.wire.service`; this path keeps old imports working."""

from .wire.service import *  # noqa: F403
from .wire.service import __all__ as __all__
