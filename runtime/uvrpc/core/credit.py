"""Flow control of streams, by credit in items, the same rule on both sides.

The receiver of a stream grants its peer a window of items when the stream opens
(a client in its request; a server in a CREDIT as the call starts) and grants the
items taken so far once a quarter of the window was taken (:func:`grant_step`). It
holds the peer to what it granted: an item beyond it is a protocol violation, so
the items queued for a reader never exceed the window. The sender sends an item
only while it holds credit (``docs/protocol.md``, "Streams").

Granting at a quarter rather than at half the window keeps three quarters of it
on the way while a CREDIT travels back, so a sender that is faster than the
round trip rarely stops; with the default window of 128 items a stream of N items
costs N // 32 CREDIT messages (measured in ``docs/performance.md``, "Streams").
"""

from __future__ import annotations

__all__ = ["ReceiveWindow", "SendCredit", "check_window", "grant_step"]


class ReceiveWindow:
    """What a stream's receiver granted, and when it grants more.

    Args:
        window: the items granted when the stream opens (at least one).

    Attributes:
        allowed: items the peer may still send: granted and not yet received.
    """

    __slots__ = ("allowed", "step", "taken", "window")

    def __init__(self, window: int) -> None:
        self.window = check_window(window)
        self.allowed = window
        self.taken = 0
        self.step = grant_step(window)
        """Items taken before they are granted again."""

    def arrived(self) -> bool:
        """Count an item received; False if the peer had no credit for it."""
        if self.allowed <= 0:
            return False
        self.allowed -= 1
        return True

    def took(self) -> int:
        """Count an item the reader took; the items to grant now (0: none yet)."""
        self.taken += 1
        if self.taken < self.step:
            return 0
        granted, self.taken = self.taken, 0
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


def check_window(window: int) -> int:
    """``window`` if it can be a stream's window: at least one item.

    Raises:
        ValueError: it is smaller.
    """
    if window < 1:
        raise ValueError("a stream window must be at least 1")
    return window


def grant_step(window: int) -> int:
    """The items a receiver lets its reader take before granting them again: a
    quarter of ``window``, at least one."""
    return max(1, window // 4)
