"""Retries of idempotent calls: bounded, jittered, inside the call's deadline.

A method the IDL marks ``idempotent`` does no more when called twice than once, so a
client may send it again when it failed with ``UNAVAILABLE`` (the server could not be
reached or is shutting down). Retrying is off unless a client is given a
:class:`Retry`; methods that are not idempotent are never retried, whatever the
policy. Each attempt waits a random time up to an exponentially growing cap ("full
jitter", so that many clients retrying at once spread out), and every attempt and
wait fits in the call's one deadline: the ``timeout`` covers the whole call. A call
on a closed channel (:class:`~uvrpc.ChannelClosed`) fails at once: every attempt
would meet the same closed channel.
"""

from __future__ import annotations

import asyncio
import math
import numbers
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from ..wire.errors import ChannelClosed, Unavailable
from ..wire.limits import check_seconds

__all__ = ["Retry", "checked_retry"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Retry:
    """How a client retries idempotent calls that fail with ``UNAVAILABLE``.

    Args:
        attempts: the most times a call is sent, the first included.
        backoff: the cap of the wait before the first retry, in seconds.
        max_backoff: the largest cap, in seconds.
        multiplier: how much the cap grows after each retry.

    Pass one to a client: ``CalculatorClient(endpoint, retry=uvrpc.Retry())``.
    """

    attempts: int = 4
    backoff: float = 0.05
    max_backoff: float = 1.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if type(self.attempts) is not int or self.attempts < 1:
            raise ValueError(
                "a call is sent at least once: attempts must be an integer of at "
                f"least 1, not {self.attempts!r}"
            )
        check_seconds("backoff", self.backoff, zero=True)
        check_seconds("max_backoff", self.max_backoff, zero=True)
        multiplier: object = self.multiplier
        if not (
            not isinstance(multiplier, bool)
            and isinstance(multiplier, numbers.Real)
            and 1 <= float(multiplier) < math.inf
        ):
            raise ValueError(
                f"multiplier must be a finite number of at least 1, not {multiplier!r}"
            )

    def delay(self, retry: int) -> float:
        """A random wait before retry number ``retry`` (0 for the first retry)."""
        cap = min(self.max_backoff, self.backoff * self.multiplier**retry)
        return random.uniform(0, cap)

    async def run(
        self, attempt: Callable[[float | None], Awaitable[_T]], timeout: float | None
    ) -> _T:
        """Run ``attempt(remaining_timeout)`` until it does not raise
        :class:`~uvrpc.Unavailable`, the attempts are spent or the next wait would
        pass the deadline; then its result, or its last error."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last: Unavailable | None = None
        for retry in range(self.attempts):
            remaining = _remaining(deadline, last)
            try:
                return await attempt(remaining)
            except ChannelClosed:
                raise
            except Unavailable as exc:
                wait = self._wait(retry, deadline)
                if wait is None:
                    raise
                last = exc
            await asyncio.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def run_sync(
        self, attempt: Callable[[float | None], _T], timeout: float | None
    ) -> _T:
        """:meth:`run` for a blocking client."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last: Unavailable | None = None
        for retry in range(self.attempts):
            remaining = _remaining(deadline, last)
            try:
                return attempt(remaining)
            except ChannelClosed:
                raise
            except Unavailable as exc:
                wait = self._wait(retry, deadline)
                if wait is None:
                    raise
                last = exc
            time.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _wait(self, retry: int, deadline: float | None) -> float | None:
        """The wait before the next attempt, or None if there is none to make."""
        if retry + 1 >= self.attempts:
            return None
        wait = self.delay(retry)
        # The next attempt needs some of the deadline too: give up rather than
        # start one that has no time left to be answered.
        if deadline is not None and time.monotonic() + wait >= deadline:
            return None
        return wait


def _remaining(deadline: float | None, last: Unavailable | None) -> float | None:
    """The time left for the next attempt (``None``: no deadline).

    Raises:
        Unavailable: ``last``, when a wait overslept the deadline: an attempt
            with no time left could only fail as DEADLINE_EXCEEDED.
    """
    if deadline is None:
        return None
    remaining = deadline - time.monotonic()
    if last is not None and remaining <= 0:
        raise last
    return remaining


def checked_retry(retry: object) -> Retry | None:
    """A client's ``retry=``, refused at once if it is no policy.

    Raises:
        TypeError: ``retry`` is neither a :class:`Retry` nor ``None`` (a number of
            attempts, say: the policy says how many, ``Retry(attempts=3)``).
    """
    if retry is None or isinstance(retry, Retry):
        return retry
    hint = ""
    if type(retry) is int:
        hint = f"; uvrpc.Retry(attempts={retry}) is {retry} attempts"
    raise TypeError(
        f"retry must be a uvrpc.Retry or None, not {type(retry).__name__} "
        f"{retry!r:.60}{hint}"
    )
