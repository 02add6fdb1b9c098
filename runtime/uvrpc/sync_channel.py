"""Moved to :mod:`uvrpc.client.sync_channel`; this path keeps old imports working."""

from .client.sync_channel import *  # noqa: F403
from .client.sync_channel import __all__ as __all__
