"""Moved to :mod:`uvrpc.client.handle`; this path keeps old imports working."""

from .client.handle import *  # noqa: F403
from .client.handle import __all__ as __all__
