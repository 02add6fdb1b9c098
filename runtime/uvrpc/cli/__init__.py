"""The ``uvrpc`` command: serve, call, list, describe, health, broker, keygen,
bench."""

from .main import main

__all__ = ["main"]
