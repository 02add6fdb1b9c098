"""Moved to :mod:`uvrpc.client.streams`; this path keeps old imports working."""

from .client.streams import *  # noqa: F403
from .client.streams import __all__ as __all__
