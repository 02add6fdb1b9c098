"""Running a coroutine on asyncio's loop or, when asked for, on uvloop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run"]

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T], *, use_uvloop: bool = False) -> T:
    """Run ``main`` to completion on a new event loop and return its result.

    With ``use_uvloop=True`` the loop is uvloop's (``pip install 'uvrpc[uvloop]'``).

    Raises:
        RuntimeError: uvloop was asked for but is not installed.
    """
    if not use_uvloop:
        return asyncio.run(main)
    try:
        import uvloop
    except ImportError:
        main.close()
        raise RuntimeError(
            "uvloop was asked for but is not installed: pip install 'uvrpc[uvloop]'"
        ) from None
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
