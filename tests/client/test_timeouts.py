"""A timeout is ``None``, a positive number of seconds or ``math.inf`` (no
deadline, over a client's default): anything else is refused where it is given
(a client's default, a call's, ``uvrpc call --timeout``), before a channel is
made or a request is sent, not turned into a deadline that passed already or an
``OverflowError`` from inside the client."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from calculator import CalculatorClient, CalculatorSyncClient
from calculator_server import Calculator
from conftest import server_thread
from feed import FeedClient, FeedSyncClient
from feed_server import Feed

import uvrpc

BAD_VALUES: list[tuple[Any, type[Exception], str]] = [
    (-1, ValueError, "not -1"),
    (0, ValueError, "not 0"),
    (0.0, ValueError, "not 0.0"),
    (-math.inf, ValueError, "not -inf"),
    (math.nan, ValueError, "not nan"),
    ("5", TypeError, "not str '5'"),
    (True, TypeError, "not bool True"),
    (-(10**400), ValueError, "not -1000"),
]


@pytest.mark.parametrize(("timeout", "error", "words"), BAD_VALUES)
def test_a_bad_timeout_is_refused_by_each_client_and_call(
    timeout: Any, error: type[Exception], words: str
) -> None:
    with server_thread(Calculator(), Feed()) as server:

        async def main() -> None:
            with pytest.raises(error, match=words):
                CalculatorClient(server.endpoint, timeout=timeout)
            async with CalculatorClient(server.endpoint) as client:
                with pytest.raises(error, match=words):
                    await client.add(a=1, b=2, timeout=timeout)
                assert await client.add(a=1, b=2, timeout=10) == 3
            async with FeedClient(server.endpoint) as feed:
                with pytest.raises(error, match=words):
                    feed.numbers(count=3, timeout=timeout)

        asyncio.run(asyncio.wait_for(main(), 30))
        with pytest.raises(error, match=words):
            CalculatorSyncClient(server.endpoint, timeout=timeout)
        with CalculatorSyncClient(server.endpoint) as sync:
            with pytest.raises(error, match=words):
                sync.add(a=1, b=2, timeout=timeout)
            assert sync.add(a=1, b=2, timeout=10) == 3
        with FeedSyncClient(server.endpoint) as sync_feed:
            with pytest.raises(error, match=words):
                list(sync_feed.numbers(count=3, timeout=timeout))


def test_the_message_says_what_a_timeout_may_be() -> None:
    with pytest.raises(ValueError) as raised:
        CalculatorSyncClient("tcp://127.0.0.1:1", timeout=-3)
    assert str(raised.value) == (
        "timeout must be a positive number of seconds (math.inf: no deadline), not -3"
    )


@pytest.mark.parametrize("forever", [math.inf, 10**400, np.float64("inf")])
def test_an_infinite_timeout_is_no_deadline_over_the_clients_default(
    forever: Any,
) -> None:
    """A call's ``timeout=None`` takes its client's default; ``math.inf`` (or a
    number beyond any float) gives it none, as ``timeout=None`` does in gRPC: a
    call, or a stream, that must outlast the default."""
    with server_thread(Feed()) as server:

        async def main() -> None:
            async with FeedClient(server.endpoint, timeout=0.2) as feed:
                with pytest.raises(uvrpc.DeadlineExceeded):
                    await feed.ping(n=-5)
                assert await feed.ping(n=-5, timeout=forever) == -5
            async with FeedClient(server.endpoint, timeout=forever) as feed:
                assert await feed.ping(n=-5) == -5

        asyncio.run(asyncio.wait_for(main(), 30))
        with FeedSyncClient(server.endpoint, timeout=0.2) as sync:
            with pytest.raises(uvrpc.DeadlineExceeded):
                sync.ping(n=-5)
            assert sync.ping(n=-5, timeout=forever) == -5
            numbers = sync.numbers(count=3, timeout=forever)
            assert [n for n in numbers] == [0, 1, 2]


@pytest.mark.parametrize("value", ["-1", "0", "inf", "nan", "soon"])
def test_the_cli_refuses_a_bad_timeout_as_a_usage_error(value: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "uvrpc", "call", "tcp://127.0.0.1:1", "a.B.c"]
        + [f"--timeout={value}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "error: argument --timeout: " in done.stderr
    assert "Traceback" not in done.stderr


def test_any_real_number_of_seconds_is_a_timeout() -> None:
    """A numpy float, a numpy integer or a Fraction is a number of seconds too."""
    with (
        server_thread(Calculator()) as server,
        CalculatorSyncClient(server.endpoint, timeout=np.float64(10)) as client,
    ):
        timeouts: list[Any] = [np.float64(5.5), np.int64(5), Fraction(11, 2), 5]
        for timeout in timeouts:
            assert client.add(a=1, b=2, timeout=timeout) == 3
