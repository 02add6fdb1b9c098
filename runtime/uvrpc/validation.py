"""Moved to :mod:`uvrpc.wire.validation`; this path keeps old imports working."""

from .wire.validation import *  # noqa: F403
from .wire.validation import __all__ as __all__
