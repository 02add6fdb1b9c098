"""Sockets and contexts never cross a fork.

A ZeroMQ socket or context inherited by a child process shares libzmq's state (its
I/O threads are not there any more) with the parent: using it corrupts both. Each
channel and server records the process that created it and refuses to be used in
another. pyzmq's process-wide ``zmq.Context.instance()`` is itself fork-aware: in a
child it is a new context, so channels and servers created in the child work.
"""

from __future__ import annotations

import os

__all__ = ["check_process"]


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
