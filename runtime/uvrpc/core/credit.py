"""Flow control of streams, by credit in items, the same rule on both sides.

The receiver of a stream grants its peer a window of items when the stream opens
(a client in its request; a server in a CREDIT as the call starts) and grants the
items taken so far once a quarter of the window was taken (:func:`grant_step`). It
holds the peer to what it granted: an item beyond it is a protocol violation, so
the items queued for a reader never exceed the window. The sender sends an item
only while it holds credit (``docs/protocol.md``, "Streams").

Granting at a quarter rather than at half the window keeps three quarters of it
on the way while a CREDIT travels back, so a sender that is faster than the
round trip rarely stops; with a window of 128 items a stream of N items costs
N // 32 CREDIT messages (measured in ``docs/performance.md``, "Streams"). The
default window grows for small items, up to 1,024 of them (256 per CREDIT), as a
window counted in bytes would ("A window of small items grows").
"""

from __future__ import annotations

from typing import overload

from ..wire.limits import STREAM_BYTES, STREAM_WINDOW, STREAM_WINDOW_MAX

__all__ = ["MAX_WINDOW", "ReceiveWindow", "SendCredit", "check_window", "grant_step"]

MAX_WINDOW = 2**32 - 1
"""The largest window a stream may have: a CREDIT carries its count as a 32-bit
unsigned integer (:func:`~uvrpc.wire.protocol.encode_stream_header`), and a
server grants its whole window in the CREDIT that opens a client's stream."""


class ReceiveWindow:
    """What a stream's receiver granted, and when it grants more.

    Args:
        window: the items the peer may send ahead (at least one), kept as it is;
            ``None`` for the default: :data:`~uvrpc.wire.limits.STREAM_WINDOW`
            items, grown while the items are small (:meth:`took`).

    Attributes:
        window: the most items granted and not yet taken, now.
        allowed: items the peer may still send: granted and not yet received.
    """

    __slots__ = (
        "_bytes",
        "_held",
        "_items",
        "adaptive",
        "allowed",
        "step",
        "taken",
        "window",
    )

    def __init__(self, window: int | None) -> None:
        self.adaptive = window is None
        self.window = STREAM_WINDOW if window is None else check_window(window)
        self.allowed = self.window
        self.taken = 0
        self.step = grant_step(self.window)
        """Items taken before they are granted again."""
        self._held = self.window  # granted and not taken, as of the last grant
        self._bytes = self._items = 0  # of the items arrived since then

    def arrived(self, size: int = 0) -> bool:
        """Count an item of ``size`` bytes received; False if the peer had no
        credit for it."""
        if self.allowed <= 0:
            return False
        self.allowed -= 1
        self._bytes += size
        self._items += 1
        return True

    def took(self) -> int:
        """Count an item the reader took; the items to grant now (0: none yet).

        Once a quarter of the window was taken, the window is granted again up to
        its size. The default window's size follows the items that arrived since
        the last grant: enough of them for :data:`~uvrpc.wire.limits.STREAM_BYTES`,
        from :data:`~uvrpc.wire.limits.STREAM_WINDOW` to
        :data:`~uvrpc.wire.limits.STREAM_WINDOW_MAX` items; a window that shrinks
        grants nothing until the items held fall below its new size.
        """
        self.taken += 1
        if self.taken < self.step:
            return 0
        held = self._held - self.taken
        self.taken = 0
        if self.adaptive and self._items:
            target = STREAM_BYTES * self._items // max(self._bytes, 1)
            self.window = min(max(target, STREAM_WINDOW), STREAM_WINDOW_MAX)
            self.step = grant_step(self.window)
            self._bytes = self._items = 0
        granted = self.window - held
        if granted <= 0:
            self._held = held
            return 0
        self._held = self.window
        self.allowed += granted
        return granted


class SendCredit:
    """The items a stream's sender may still send (granted by its peer)."""

    __slots__ = ("available",)

    def __init__(self, available: int = 0) -> None:
        self.available = available

    def grant(self, n: int) -> None:
        """The peer granted ``n`` more items (0: a probe, nothing granted)."""
        self.available += n

    def spend(self) -> bool:
        """Take the credit for one item; False if there is none."""
        if self.available <= 0:
            return False
        self.available -= 1
        return True


@overload
def check_window(window: int) -> int: ...
@overload
def check_window(window: None) -> None: ...
def check_window(window: int | None) -> int | None:
    """``window`` if it can be a stream's window: from one item to
    :data:`MAX_WINDOW`, or ``None`` (the default window, grown for small items).

    Raises:
        ValueError: it is not an integer, or is smaller or larger.
    """
    if window is not None:
        # A float or a bool would pass the bounds and be sent as the request's
        # window, which the server reads as none: every stream call would fail.
        if type(window) is not int:
            raise ValueError(f"a stream window must be an integer, not {window!r}")
        if window < 1:
            raise ValueError("a stream window must be at least 1")
        if window > MAX_WINDOW:
            raise ValueError(
                f"a stream window must be at most {MAX_WINDOW:,} items (2**32 - 1: "
                f"a CREDIT counts in 32 bits); got {window:,}"
            )
    return window


def grant_step(window: int) -> int:
    """The items a receiver lets its reader take before granting them again: a
    quarter of ``window``, at least one."""
    return max(1, window // 4)
