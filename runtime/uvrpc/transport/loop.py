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
    Ctrl-C cancels ``main``, whose ``async with`` blocks close what they opened
    (a server, its calls), and ends the program with status 130 and no
    ``KeyboardInterrupt`` traceback, as the ``uvrpc`` commands end.

    Raises:
        RuntimeError: uvloop was asked for but is not installed.
        SystemExit: 130, after Ctrl-C (``SIGINT``).
    """
    factory = None
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            main.close()
            raise RuntimeError(
                "uvloop was asked for but is not installed: pip install 'uvrpc[uvloop]'"
            ) from None
        factory = uvloop.new_event_loop
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(main)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
