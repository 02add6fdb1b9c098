"""The weak callbacks a channel hands its loop (``uvrpc.client.dropped``)."""

from __future__ import annotations

import gc

from uvrpc.client.dropped import weakly


class _Owner:
    def __init__(self) -> None:
        self.seen: list[object] = []

    def one(self, value: object) -> str:
        self.seen.append(value)
        return "one"

    def none(self) -> str:
        self.seen.append(None)
        return "none"


def test_a_weak_callback_calls_its_method_while_its_object_lives() -> None:
    owner = _Owner()
    assert (weakly(owner.one)(7), weakly(owner.none)()) == ("one", "none")
    assert owner.seen == [7, None]


def test_a_weak_callback_lets_its_object_go_and_then_does_nothing() -> None:
    """What the loop holds does not keep the channel: once it is collected, a
    reader's or timer's callback that fires still is a no-op."""
    owner = _Owner()
    one, none = weakly(owner.one), weakly(owner.none)
    del owner
    gc.collect()
    assert (one(7), none()) == (None, None)
