"""Moved to :mod:`uvrpc.client.deadlines`; this path keeps old imports working."""

from .client.deadlines import *  # noqa: F403
from .client.deadlines import __all__ as __all__
