"""Moved to :mod:`uvrpc.client.retry`; this path keeps old imports working."""

from .client.retry import *  # noqa: F403
from .client.retry import __all__ as __all__
