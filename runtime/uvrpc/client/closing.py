"""The signal a blocking channel's close sends to the threads inside its calls.

A thread closing a :class:`~uvrpc.SyncChannel` may not touch the sockets other
threads are waiting on (a ZeroMQ socket is one thread's at a time), yet their calls
should end at once, as a gRPC channel's close terminates the calls active on it.
So the channel has a pipe that every long wait polls beside its socket: closing
writes one byte to it, which wakes them all, and stays unread, so any wait begun
later returns at once too.
"""

from __future__ import annotations

import os
import weakref

__all__ = ["Closing"]


class Closing:
    """A channel's closing signal: a flag, and a pipe that is readable once it is
    set. Set once; any thread may read it."""

    def __init__(self) -> None:
        read_fd, write_fd = os.pipe()
        self.fd = read_fd
        """The pipe's read end, to poll (``zmq.Poller`` takes a file descriptor):
        readable once the channel closes."""
        self._write_fd = write_fd
        self._pid = os.getpid()
        self.is_set = False
        """Whether the channel was closed."""
        # Its connections poll ``fd`` until their last wait has ended, which may
        # come after the channel's close: the pipe lives as long as they do.
        weakref.finalize(self, _close_pipe, read_fd, write_fd)

    def set(self) -> None:
        """Say the channel is closed, waking every wait polling :attr:`fd`."""
        if self.is_set:
            return
        self.is_set = True
        # A child process's copy shares the pipe with its parent, whose waits
        # would wake, find their channel open, and poll the readable pipe again
        # and again: a child closes its copy without a word to them.
        if os.getpid() == self._pid:
            os.write(self._write_fd, b"\x01")


def _close_pipe(read_fd: int, write_fd: int) -> None:
    os.close(read_fd)
    os.close(write_fd)
