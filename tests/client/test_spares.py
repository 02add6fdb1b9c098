"""The pool of a blocking channel's spare connections (``client/spares.py``)."""

from __future__ import annotations

import itertools
import threading

import pytest

import uvrpc
from uvrpc.client.spares import Spares


def test_a_spare_is_lent_to_one_borrower_at_a_time_and_reused() -> None:
    made = itertools.count()
    spares = Spares(lambda: next(made), lambda _: True, print)
    first, second = spares.borrow(), spares.borrow()
    assert (first, second) == (0, 1)  # the first is lent: a second is made
    spares.give_back(first)
    assert spares.borrow() == 0  # given back, it is lent again, not made anew
    assert spares.made == [0, 1]


def test_closing_returns_every_spare_lent_or_idle_and_lends_no_more() -> None:
    spares = Spares(object, lambda _: True, print)
    lent = spares.borrow()
    idle = spares.borrow()
    spares.give_back(idle)
    closed = spares.close()  # the lent one too: its holder closes it as it leaves
    assert set(map(id, closed)) == {id(lent), id(idle)}
    with pytest.raises(uvrpc.ChannelClosed, match="closed"):
        spares.borrow()
    assert spares.close() == closed  # the same, again


def test_a_spare_that_fails_to_open_is_not_counted() -> None:
    def refuse() -> object:
        raise OSError("no more sockets")

    spares = Spares(refuse, lambda _: True, print)
    with pytest.raises(OSError, match="no more sockets"):
        spares.borrow()
    assert spares.close() == []


def test_a_spare_made_as_the_pool_closes_is_discarded() -> None:
    """It is in no list the close returned: the pool closes it itself, and its
    borrower's call fails as on a closed channel."""
    making, made = threading.Event(), threading.Event()
    spare = object()
    discarded: list[object] = []

    def slow() -> object:
        making.set()
        made.wait(10)
        return spare

    spares = Spares(slow, lambda _: True, discarded.append)
    errors: list[BaseException] = []

    def borrow() -> None:
        try:
            spares.borrow()
        except BaseException as exc:
            errors.append(exc)

    borrower = threading.Thread(target=borrow)
    borrower.start()
    try:
        assert making.wait(10)
        assert spares.close() == []
    finally:
        made.set()
        borrower.join(10)
    assert discarded == [spare]
    assert [type(error) for error in errors] == [uvrpc.ChannelClosed]
    assert spares.made == []
