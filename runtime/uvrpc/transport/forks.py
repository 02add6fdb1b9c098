"""Sockets and contexts never cross a fork.

A ZeroMQ socket or context inherited by a child process shares libzmq's state (its
I/O threads are not there any more) with the parent: using it corrupts both. Each
channel and server records the process that created it and refuses to be used in
another. pyzmq's process-wide ``zmq.Context.instance()`` is itself fork-aware: in a
child it is a new context, so channels and servers created in the child work.
"""

from __future__ import annotations

import os
from typing import NoReturn

__all__ = ["FORKS", "check_process", "not_picklable"]


def check_process(kind: str, pid: int) -> None:
    """Raise unless this is process ``pid``, where the ``kind`` was created.

    Raises:
        RuntimeError: called in another process (a child after ``fork``).
    """
    here = os.getpid()
    if here != pid:
        raise RuntimeError(
            f"this {kind} was created in process {pid}; create a new one in process "
            f"{here}: ZeroMQ sockets and contexts cannot be used across a fork"
        )


def not_picklable(kind: str) -> NoReturn:
    """Refuse to pickle a ``kind`` (its ``__reduce__``): multiprocessing's spawn
    pickles a child's arguments, and the socket's own objects would fail it
    naming a lock or a poller, not what to do.

    Raises:
        TypeError: always.
    """
    raise TypeError(
        f"a {kind} cannot be pickled or sent to another process: create one "
        "in that process instead"
    )


class _Forks:
    """How many times this process is a fork's child, counted as it happens."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def forked(self) -> None:
        """Count one more fork (``os.register_at_fork``'s ``after_in_child``)."""
        self.count += 1


FORKS = _Forks()
"""``FORKS.count`` changes in a child process after ``os.fork`` (and whatever forks
through it, ``multiprocessing`` included): a channel that kept the count at its
creation knows it is in its own process without a ``getpid`` system call on every
call, and calls :func:`check_process` only once the count moved."""

os.register_at_fork(after_in_child=FORKS.forked)
