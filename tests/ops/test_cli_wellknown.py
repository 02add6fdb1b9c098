"""``uvrpc call`` and ``uvrpc describe`` with the well-known types: JSON in (uuid
text, RFC 3339, ISO 8601 durations or seconds, decimal text), JSON out, and the IDL
written back."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator

import pytest
from conformance_server import Conformance
from conftest import RunningServer, server_thread

from uvrpc.cli import main

ROUTE = "conformance.Conformance."


@pytest.fixture(scope="module")
def running() -> Iterator[RunningServer]:
    with server_thread(Conformance()) as server:
        yield server


def call(
    capsys: pytest.CaptureFixture[str], endpoint: str, method: str, args: object
) -> tuple[int, str, str]:
    """``uvrpc call`` in this process: its status, stdout and stderr."""
    old = sys.stdin
    sys.stdin = io.StringIO("")
    try:
        status = main(["call", endpoint, ROUTE + method, json.dumps(args)])
    finally:
        sys.stdin = old
    out, err = capsys.readouterr()
    return status, out, err


def test_a_message_of_well_known_types_as_json(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [
        "00000000-0000-0000-0000-000000000007",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
    ]
    value = {
        "id": ids[0],
        "at": "1969-12-31T23:59:59.999999Z",
        "took": "-P1DT0.5S",
        "amount": "-0.000",
        "expires": "9999-12-31T23:59:59.999999+00:00",
        "prices": ["1E+6144", "3.141592653589793238462643383279502884197", 12],
        "timings": {ids[0]: 1.5, ids[1]: "PT0S"},
        "moments": ["2024-02-29T12:00:00+01:00"],
    }
    status, out, err = call(capsys, running.endpoint, "echoWellKnown", {"value": value})
    assert (status, err) == (0, "")
    assert json.loads(out) == {
        "id": ids[0],
        "at": "1969-12-31T23:59:59.999999Z",
        "took": "-PT86400.5S",
        "amount": "-0.000",
        "expires": "9999-12-31T23:59:59.999999Z",
        "prices": ["1E+6144", "3.141592653589793238462643383279502884197", "12"],
        "timings": {ids[0]: "PT1.5S", ids[1]: "PT0S"},
        "moments": ["2024-02-29T11:00:00Z"],
    }


def test_parameters_results_and_stream_items(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    later = {"at": "2024-02-28T23:59:59Z", "by": 1}
    assert call(capsys, running.endpoint, "later", later)[1] == (
        '"2024-02-29T00:00:00Z"\n'
    )
    ticks = {"start": "0001-01-01T00:00:00Z", "step": "PT0.000001S", "n": 2}
    assert call(capsys, running.endpoint, "ticks", ticks)[1].split() == [
        '"0001-01-01T00:00:00Z"',
        '"0001-01-01T00:00:00.000001Z"',
    ]
    assert call(capsys, running.endpoint, "echoDuration", {"value": -0.000001})[1] == (
        '"-PT0.000001S"\n'
    )


@pytest.mark.parametrize(
    ("method", "args", "message"),
    [
        ("echoUuid", {"value": "nope"}, "value: not a uuid: 'nope'"),
        ("later", {"at": "2024-01-01T00:00:00", "by": 0}, "has no offset: it names no"),
        ("echoDuration", {"value": "P1M"}, "not an ISO 8601 duration: 'P1M'"),
        ("echoDecimal", {"value": 0.1}, "write a decimal as a JSON string"),
        ("echoDecimal", {"value": "1e999999999"}, "exponent is within ±6144"),
    ],
)
def test_bad_json_values_are_one_line_errors(
    running: RunningServer,
    capsys: pytest.CaptureFixture[str],
    method: str,
    args: object,
    message: str,
) -> None:
    status, out, err = call(capsys, running.endpoint, method, args)
    assert (status, out) == (2, "")
    assert message in err and len(err.splitlines()) == 1, err


def test_describe_writes_the_types_back(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["describe", running.endpoint, "conformance.Conformance"]) == 0
    idl = capsys.readouterr().out
    assert "    1: uuid id;\n    2: timestamp at;\n    3: duration took;\n" in idl
    assert "    7: map<uuid, duration> timings = {};\n" in idl
    assert "    timestamp later(1: timestamp at, 2: duration by);\n" in idl
    assert (
        "    stream<timestamp> ticks(1: timestamp start, 2: duration step, 3: i32 n)"
        in (idl)
    )
