"""Moved to :mod:`uvrpc.cli.call`; this path keeps old imports working."""

from .cli.call import *  # noqa: F403
from .cli.call import __all__ as __all__
