"""``python -m uvrpc.bench.threads``: blocking calls from a pool of threads on one
shared channel and on one channel a thread (``bench/threads.py``)."""

from __future__ import annotations

import argparse
import time

import pytest

import uvrpc
from uvrpc.bench import threads


def test_every_row_and_pool_size_is_measured_and_each_reply_checked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--threads", "1,3", "--duration", "0.2", "--warmup", "0.05"]
    assert threads.main([*argv, "--repeat", "1", "--no-grpc"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "| threads | client | calls/s | x uvrpc-shared |"
    rows = [line.split(" | ") for line in table[2:]]
    assert [(r[0], r[1]) for r in rows] == [
        ("| 1", "uvrpc-shared"),
        ("| 1", "uvrpc-own"),
        ("| 3", "uvrpc-shared"),
        ("| 3", "uvrpc-own"),
    ]
    assert all(int(r[2].replace(",", "")) > 0 for r in rows)
    assert [r[3] for r in rows if r[1] == "uvrpc-shared"] == ["1.00x |"] * 2


def test_every_reply_that_differs_from_its_request_is_counted() -> None:
    made = [0, 0]

    def losing(index: int) -> threads.Call:
        def call(data: bytes) -> bytes:
            made[index] += 1
            return data[:-1]  # an echo that loses a byte

        return call

    counted, seconds, wrong = threads._run([losing(0), losing(1)], 0.0, 0.3)
    assert wrong == counted > 0  # each counted call, and no other
    assert wrong <= sum(made) and seconds >= 0.3


def test_a_first_call_longer_than_the_whole_window_still_counts() -> None:
    """A loaded host can hold a thread's first call (its connection being made)
    past the warm-up and the measured window both: that call ended after the
    warm-up, so it counts, and the rate is never zero (or a division by it)."""
    made = [0]

    def slow_first(data: bytes) -> bytes:
        made[0] += 1
        if made[0] == 1:
            time.sleep(0.4)  # past 0.05 s of start, 0.05 of warm-up, 0.1 measured
        return data

    counted, seconds, wrong = threads._run([slow_first], 0.05, 0.1)
    assert (counted, wrong) == (1, 0) and made == [1]
    assert seconds > 0.1


def test_a_call_that_fails_in_a_pool_thread_fails_the_measurement() -> None:
    def failing(data: bytes) -> bytes:
        raise uvrpc.Unavailable("no server")

    with pytest.raises(uvrpc.Unavailable, match="no server"):
        threads._run([failing, failing], 0.0, 0.1)


@pytest.mark.parametrize("text", ["0", "", "a,2", "2,-1"])
def test_thread_counts_are_positive_integers(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        threads._counts(text)


@pytest.mark.parametrize("option", ["--repeat", "--duration"])
def test_rounds_and_durations_are_more_than_zero(option: str) -> None:
    with pytest.raises(SystemExit) as exited:
        threads.main([option, "0"])
    assert exited.value.code == 2
