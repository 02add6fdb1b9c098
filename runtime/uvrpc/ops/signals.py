"""Stopping a process's main loop on SIGINT, SIGTERM or SIGHUP, for the commands
that run in a thread of their own rather than on an event loop (``uvrpc broker``,
the parent of ``uvrpc serve --workers``)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["on_ctrl_c", "stop_on_signals"]


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM while the block runs, and by SIGHUP
    unless it is ignored (``nohup``); the handlers they had before are put back
    after it.

    A hangup (its terminal or ssh session closed) killed the process outright,
    before it could remove what it made (the temporary directory of ``uvrpc
    serve --workers``) or stop its workers in order."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signums = [signal.SIGINT, signal.SIGTERM]
    if signal.getsignal(signal.SIGHUP) is signal.SIG_DFL:
        signums.append(signal.SIGHUP)
    previous = {signum: signal.signal(signum, on_signal) for signum in signums}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def on_ctrl_c() -> Iterator[threading.Event]:
    """An event set by SIGINT (a Ctrl-C) while the block runs, SIGTERM ignored: a
    grace that a second Ctrl-C cuts short. A terminal's Ctrl-C reaches every
    process of its group, and a supervisor's SIGTERM that follows must not."""
    again = threading.Event()

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        again.set()

    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, on_sigint),
        signal.SIGTERM: signal.signal(signal.SIGTERM, signal.SIG_IGN),
    }
    try:
        yield again
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
