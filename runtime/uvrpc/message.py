"""Moved to :mod:`uvrpc.wire.message`; this path keeps old imports working."""

from .wire.message import *  # noqa: F403
from .wire.message import __all__ as __all__
