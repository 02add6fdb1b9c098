"""Command-line argument types shared by the benchmarks' commands."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

__all__ = ["at_least_zero", "positive"]


def positive(kind: Callable[[str], float]) -> Callable[[str], Any]:
    """An argparse ``type``: a number of ``kind`` (``int``, ``float``) above 0."""

    def parse(text: str) -> float:
        value = _number(kind, text)
        if not 0 < value < math.inf:
            raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
        return value

    return parse


def at_least_zero(text: str) -> float:
    """An argparse ``type``: seconds, 0 or more."""
    value = _number(float, text)
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return value


def _number(kind: Callable[[str], float], text: str) -> float:
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
