"""Hand memory that libzmq freed back to the system.

libzmq allocates every frame it receives with ``malloc``, on its I/O thread. A
peer that sends the frames of a message and never its last one (``docs/limits.md``,
"An unfinished message") makes libzmq hold them all; when the peer disconnects,
libzmq frees them, but glibc keeps most of that memory in its arenas for later
``malloc`` calls: small frames always, and large ones too once a freed large block
has raised glibc's threshold for mapping blocks of their own. The process keeps the
resident size of the largest such message it ever held.

:class:`HeapTrimmer` looks at the process's resident size once a second, and while
it is :data:`TRIM_GROWTH` or more above the lowest it has seen, asks glibc to return
its free memory (``malloc_trim``) on a worker thread. Freeing memory does not
lower the resident size, so no figure says when there is something to return:
a trim that returns little doubles the wait before the next one, up to
:data:`TRIM_WAIT_MAX` seconds, and one that returns much brings it back to a
second. A process whose heap grows for good thus trims every few seconds at
most, for a few milliseconds of a worker thread. Where there is no glibc or no
``/proc`` (macOS, musl) it does nothing.

The opposite fault costs time, not memory. Every frame libzmq receives, and every
frame uvrpc hands it by copy (below ``ZERO_COPY_MIN``), is a ``malloc`` and a
``free``. glibc gives the top of its heap back to the system as soon as 128 KiB
of it are free, so a stream of 64 KiB items shrank and regrew the heap hundreds
of times a second, and every regrown page faulted on first touch.
:func:`keep_message_buffers` makes glibc keep up to :data:`HEAP_KEPT` bytes for
the next frames instead: the heap becomes the pool of libzmq's message buffers.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import logging
import os
from collections.abc import Callable

__all__ = [
    "HEAP_KEPT",
    "TRIM_GROWTH",
    "TRIM_INTERVAL",
    "TRIM_WAIT_MAX",
    "HeapTrimmer",
    "keep_message_buffers",
    "resident_size",
]

TRIM_INTERVAL = 1.0
"""Seconds between two looks at the resident size."""

TRIM_GROWTH = 8 * 1024 * 1024
"""Bytes above the lowest resident size seen that make a look trim."""

TRIM_WAIT_MAX = 8.0
"""The longest wait, in seconds, after a trim that returned little."""

HEAP_KEPT = 8 * 1024 * 1024
"""Free bytes glibc keeps at the top of a heap once :func:`keep_message_buffers`
ran (twice the 4 MiB block it frees): a stream's window of 128 items of 64 KiB.
A larger block freed later raises it further, as glibc always does."""

_log = logging.getLogger("uvrpc.transport")


def resident_size() -> int | None:
    """The process's resident set size in bytes, or None where ``/proc`` has none."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library the process already runs on, if it is glibc (whose rules
    this module relies on); CDLL releases the GIL for each call."""
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") else None


@functools.cache
def _malloc_trim() -> Callable[[], object] | None:
    """glibc's ``malloc_trim(0)``, or None without glibc."""
    libc = _glibc()
    if libc is None:
        return None
    # Called on a worker thread: the GIL is released, so the loop stays free.
    trim = libc.malloc_trim
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


@functools.cache
def keep_message_buffers() -> bool:
    """Make glibc keep freed message buffers for the next ones, once a process;
    return whether it could (glibc only).

    glibc documents its rule (``mallopt(3)``, ``M_MMAP_THRESHOLD``): when a block
    it had mapped on its own is freed, blocks up to that size come from the heap
    from then on, and the heap keeps twice that size free before it shrinks.
    Freeing one mapped block of ``HEAP_KEPT // 2`` bytes applies the rule at
    once, where a process would otherwise shrink and regrow its heap until its
    first large message. Nothing else changes: larger blocks still raise the
    thresholds, :class:`HeapTrimmer` still returns what a server holds too long,
    and a process that set glibc's thresholds itself (``MALLOC_MMAP_THRESHOLD_``,
    ``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_TOP_PAD_``, their ``GLIBC_TUNABLES`` or
    ``mallopt``) has turned the rule off, so its choice stands.
    """
    libc = _glibc()
    if libc is None:
        return False  # glibc's rule, not another C library's
    malloc, free = libc.malloc, libc.free
    malloc.argtypes = [ctypes.c_size_t]
    malloc.restype = ctypes.c_void_p
    free.argtypes = [ctypes.c_void_p]
    free.restype = None
    # Mapped on its own, and unmapped by the free: glibc writes only its header.
    block = malloc(HEAP_KEPT // 2)
    if block is None:
        return False
    free(block)
    return True


class HeapTrimmer:
    """Return freed heap memory to the system while the resident size is high.

    Args:
        loop: the loop whose timer looks at the resident size.
        interval: seconds between two looks.
        growth: bytes above the lowest resident size seen that make a look trim.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        interval: float = TRIM_INTERVAL,
        growth: int = TRIM_GROWTH,
    ) -> None:
        self._loop = loop
        self._interval = interval
        self._growth = growth
        self._trim = _malloc_trim()
        self._low = resident_size()
        self._wait = interval
        self._next = 0.0
        self._before = 0
        self._timer: asyncio.TimerHandle | None = None
        self._trimming: asyncio.Future[object] | None = None
        self.trims = 0
        """Trims run so far."""
        if self._trim is not None and self._low is not None:
            self._timer = loop.call_later(interval, self._look)

    def _look(self) -> None:
        loop = self._loop
        self._timer = loop.call_later(self._interval, self._look)
        if self._trimming is not None or loop.time() < self._next:
            return
        size = resident_size()
        if size is None or self._low is None or self._trim is None:
            return
        if size < self._low:
            self._low = size
        if size - self._low < self._growth:
            return
        self.trims += 1
        self._before = size
        self._trimming = loop.run_in_executor(None, self._trim)
        self._trimming.add_done_callback(self._trimmed)

    def _trimmed(self, done: asyncio.Future[object]) -> None:
        self._trimming = None
        if not done.cancelled() and done.exception() is not None:
            _log.warning("malloc_trim failed: %s", done.exception())
        after = resident_size()
        if after is not None and self._before - after >= self._growth // 2:
            self._wait = self._interval  # there was memory to return: look soon
        else:
            # What is resident is in use: look less often while it stays so.
            self._wait = min(self._wait * 2, TRIM_WAIT_MAX)
        self._next = self._loop.time() + self._wait

    def close(self) -> None:
        """Stop looking."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
