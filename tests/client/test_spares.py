"""The pool of a blocking channel's spare connections (``client/spares.py``)."""

from __future__ import annotations

import itertools
import threading

import pytest

import uvrpc
from uvrpc.client.spares import Spares


def test_a_spare_is_lent_to_one_borrower_at_a_time_and_reused() -> None:
    made = itertools.count()
    spares = Spares(lambda: next(made), lambda _: True)
    first, second = spares.borrow(), spares.borrow()
    assert (first, second) == (0, 1)  # the first is lent: a second is made
    spares.give_back(first)
    assert spares.borrow() == 0  # given back, it is lent again, not made anew
    assert spares.made == [0, 1]


def test_closing_with_a_spare_lent_closes_nothing() -> None:
    in_use: set[int] = set()
    spares = Spares(object, lambda spare: id(spare) not in in_use)
    lent = spares.borrow()
    idle = spares.borrow()
    spares.give_back(idle)
    in_use.add(id(lent))
    released: list[object] = []
    with pytest.raises(RuntimeError, match="busy"):
        spares.close(released.append, lambda: RuntimeError("busy"))
    assert released in ([], [idle])  # what it claimed before the refusal
    assert spares.borrow() is idle  # still open
    spares.give_back(idle)
    in_use.clear()  # the lent one is free now (its borrower's own stream)
    closed = spares.close(released.append, lambda: RuntimeError("busy"))
    assert set(map(id, closed)) == {id(lent), id(idle)}
    with pytest.raises(uvrpc.Unavailable, match="closed"):
        spares.borrow()


def test_a_spare_that_fails_to_open_does_not_hold_the_close() -> None:
    def refuse() -> object:
        raise OSError("no more sockets")

    spares = Spares(refuse, lambda _: True)
    with pytest.raises(OSError, match="no more sockets"):
        spares.borrow()
    assert spares.close(print, lambda: RuntimeError("busy")) == []


def test_closing_while_a_spare_is_made_closes_nothing() -> None:
    """A spare being made is lent already: a close then would leave its socket
    open on a closed channel."""
    making, made = threading.Event(), threading.Event()

    def slow() -> object:
        making.set()
        made.wait(10)
        return object()

    spares = Spares(slow, lambda _: True)
    borrower = threading.Thread(target=spares.borrow)
    borrower.start()
    try:
        assert making.wait(10)
        with pytest.raises(RuntimeError, match="busy"):
            spares.close(print, lambda: RuntimeError("busy"))
    finally:
        made.set()
        borrower.join(10)
