"""Moved to :mod:`uvrpc.client.channel`; this path keeps old imports working."""

from .client.channel import *  # noqa: F403
from .client.channel import __all__ as __all__
