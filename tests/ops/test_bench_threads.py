"""``python -m uvrpc.bench.threads``: blocking calls from a pool of threads on one
shared channel and on one channel a thread (``bench/threads.py``)."""

from __future__ import annotations

import argparse

import pytest

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


def test_a_reply_that_differs_from_its_request_fails_the_measurement() -> None:
    calls = [lambda data: data[:-1]] * 2  # an echo that loses a byte
    rate, wrong = threads._rate(calls, 0.0, 0.05)
    assert rate > 0 and wrong == round(rate * 0.05)


@pytest.mark.parametrize("text", ["0", "", "a,2", "2,-1"])
def test_thread_counts_are_positive_integers(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        threads._counts(text)
