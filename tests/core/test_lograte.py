"""A warning a peer's messages cause is logged at a bounded rate: the first at
once, then a line at most each interval, counting the ones left unlogged."""

from __future__ import annotations

import logging

import pytest

from uvrpc.core.lograte import RateLimitedWarning


def test_a_warning_repeated_within_its_interval_is_counted_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    warn = RateLimitedWarning(
        logging.getLogger("uvrpc.test"), "dropped a thing", 10.0, lambda: now[0]
    )
    with caplog.at_level(logging.WARNING, logger="uvrpc.test"):
        for n in range(1000):
            warn(f"reason {n}")
        now[0] += 9.9
        warn("still within")
        now[0] += 0.1
        warn("the next")
        now[0] += 60
        warn("after a quiet while")
    assert [r.getMessage() for r in caplog.records] == [
        "dropped a thing: reason 0",
        "dropped a thing: the next (and 1000 more since the last warning)",
        "dropped a thing: after a quiet while",
    ]
    assert all(r.levelno == logging.WARNING for r in caplog.records)
