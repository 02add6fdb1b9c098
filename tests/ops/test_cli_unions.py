"""``uvrpc call`` and ``uvrpc describe`` with unions: a union argument is a JSON
object of one member keyed by its name, a union result is printed the same way,
and a union is described back as IDL."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from conformance_server import Conformance
from conftest import RunningServer, server_thread

from uvrpc.cli import main

ECHO_SHAPE = "conformance.Conformance.echoShape"


@pytest.fixture(scope="module")
def running() -> Iterator[RunningServer]:
    with server_thread(Conformance()) as server:
        yield server


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_a_union_argument_and_result_are_keyed_by_member_name(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    shape = {"circle": {"radius": 2.5}}
    status, out, err = run(
        capsys, "call", running.endpoint, ECHO_SHAPE, json.dumps({"shape": shape})
    )
    assert (status, json.loads(out), err) == (0, shape, "")
    blob = base64.b64encode(b"\x00\xff").decode()
    group = {"group": [{"label": "a"}, {"blob": blob}, {"group": []}]}
    status, out, _ = run(
        capsys, "call", running.endpoint, ECHO_SHAPE,
        json.dumps({"shape": {"square": 1}, "extra": group}),
    )  # fmt: skip
    assert (status, json.loads(out)) == (0, group)
    drawing = {
        "main": {"label": "m"},
        "overlay": None,
        "layers": [{"square": 2.0}],
        "named": {"c": {"circle": {"radius": 1.0}}},
    }
    status, out, _ = run(
        capsys, "call", running.endpoint, "conformance.Conformance.echoDrawing",
        json.dumps({"drawing": drawing}),
    )  # fmt: skip
    assert (status, json.loads(out)) == (0, drawing)
    status, out, _ = run(
        capsys, "call", running.endpoint, "conformance.Conformance.shapes",
        json.dumps({"shapes": [{"label": "x"}]}),
    )  # fmt: skip
    assert (status, out.splitlines()) == (
        0,
        ['{"label": "x"}', '{"label": "1 shapes"}'],
    )


@pytest.mark.parametrize(
    ("shape", "error"),
    [
        (
            {"circle": {"radius": 1.0}, "label": "x"},
            "arguments.shape: conformance.Shape, a union, is an object of exactly one "
            'member, like {"circle": ...} (the members are: circle, square, label, '
            "blob, group)",
        ),
        (
            {"triangle": 3},
            "arguments.shape: conformance.Shape has no member 'triangle' (the "
            "members are: circle, square, label, blob, group)",
        ),
        ({"blob": 5}, "arguments.shape.blob: expected base64 text for bytes"),
    ],
)
def test_a_union_argument_that_does_not_fit_is_one_line(
    running: RunningServer,
    capsys: pytest.CaptureFixture[str],
    shape: object,
    error: str,
) -> None:
    status, out, err = run(
        capsys, "call", running.endpoint, ECHO_SHAPE, json.dumps({"shape": shape})
    )
    assert (status, out, err) == (2, "", f"uvrpc: error: {error}\n")


def test_describe_prints_a_union_as_idl(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(
        capsys, "describe", running.endpoint, "conformance.Conformance"
    )
    assert status == 0
    assert (
        "/// A shape: exactly one of its members, for unions as values, fields, list\n"
        "/// elements, map values, parameters, results and stream items.\n"
        "union Shape {\n"
        "    /// A round shape.\n"
        "    1: Circle circle;\n"
        "    /// The side of a square.\n"
        "    2: double square;\n"
        "    3: string label;\n"
        "    4: bytes blob;\n"
        "    /// Shapes drawn together: a union that holds itself.\n"
        "    5: list<Shape> group;\n"
        "}\n"
    ) in out
    # Described alone, a union names the types it does not hold as the file does.
    status, out, _ = run(capsys, "describe", running.endpoint, "conformance.Shape")
    assert status == 0 and "union Shape {" in out
    assert "    1: Circle circle;\n" in out
