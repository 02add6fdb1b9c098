"""glibc's heap keeps freed message buffers once a process opened a uvrpc socket."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

from uvrpc.transport.heap import HEAP_KEPT

pytestmark = pytest.mark.skipif(
    not hasattr(ctypes.CDLL(None), "gnu_get_libc_version"),
    reason="the rule kept is glibc's; another C library has its own",
)

BLOCK = 64 * 1024
"""A 64 KiB frame, as libzmq allocates one for each item of a stream."""

WINDOW = 64
"""Frames alive at once: 4 MiB, half of what the heap keeps."""

PAGES = WINDOW * BLOCK // os.sysconf("SC_PAGE_SIZE")
"""The pages one window touches."""

# A fresh process allocates a window of frames, writes them (as libzmq copies
# into them), frees them all, again and again, and prints the page faults of
# every window after the first. Its heap shrinks and regrows each time unless
# glibc keeps the freed memory.
WINDOWS = """
import ctypes, resource, sys

if sys.argv[1] == "socket":
    import zmq
    from uvrpc.transport.sockets import open_socket

    context = zmq.Context()
    open_socket(context, zmq.DEALER, max_message_size=1 << 20, hwm=16).close()
    context.term()
elif sys.argv[1] == "kept":  # what opening a socket does to the heap, alone
    from uvrpc.transport.heap import keep_message_buffers

    assert keep_message_buffers()

libc = ctypes.CDLL(None)
libc.malloc.argtypes = [ctypes.c_size_t]
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
block, window = int(sys.argv[2]), int(sys.argv[3])

def one_window():
    frames = [libc.malloc(block) for _ in range(window)]
    for frame in frames:
        ctypes.memset(frame, 1, block)
    for frame in frames:
        libc.free(frame)

one_window()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    one_window()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(mode: str, **env: str) -> int:
    """Page faults of 20 windows after the first, in a fresh process."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    clean.pop("GLIBC_TUNABLES", None)
    done = subprocess.run(
        [sys.executable, "-c", WINDOWS, mode, str(BLOCK), str(WINDOW)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return int(done.stdout)


def test_a_process_without_uvrpc_shrinks_and_regrows_its_heap() -> None:
    # The control: glibc's default gives the freed window back every time.
    assert faults("plain") > 10 * PAGES


def test_a_uvrpc_socket_makes_the_heap_keep_freed_frames() -> None:
    assert WINDOW * BLOCK <= HEAP_KEPT // 2  # the window fits, with room to spare
    assert faults("socket") < PAGES


@pytest.mark.parametrize("mode", ["socket", "kept"])
def test_thresholds_the_process_set_itself_stand(mode: str) -> None:
    """Setting a threshold turns glibc's rule off; uvrpc leaves the choice alone:
    the heap shrinks and regrows, where it kept every window above (no fault).

    How much of each window regrows depends on what the process's imports left
    at the top of its heap, which differs between environments of one Python
    (from every window, 19,860 faults, to some 5,500 in a venv made by uv, the
    same with ``keep_message_buffers`` alone): so a window's pages, not each
    window's, tell the heap was not kept."""
    assert faults(mode, MALLOC_TRIM_THRESHOLD_="131072") > PAGES
