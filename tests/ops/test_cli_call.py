"""``uvrpc call``, ``list`` and ``describe`` against a live conformance server,
without its generated module."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from conformance_server import Conformance
from conftest import RunningServer, generate_modules, server_thread
from golden.conformance import Containers

import uvrpc
from uvrpc.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def running() -> Iterator[RunningServer]:
    with server_thread(Conformance()) as server:
        yield server


def run(
    capsys: pytest.CaptureFixture[str], *argv: str, stdin: str = ""
) -> tuple[int, str, str]:
    """Run the command in this process; return its status, stdout and stderr."""
    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        status = main(list(argv))
    finally:
        sys.stdin = old
    out, err = capsys.readouterr()
    return status, out, err


def test_unary_call(running: RunningServer, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(
        capsys, "call", running.endpoint, "conformance.Conformance.echoString",
        '{"text": "héllo"}',
    )  # fmt: skip
    assert (status, out, err) == (0, '"héllo"\n', "")


def test_message_enum_set_and_bytes(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    blob = base64.b64encode(b"\x00\xffuv").decode()
    args = {
        "flag": True, "tiny": -1, "small": 2, "medium": 3, "large": 2**62,
        "single": 1.5, "precise": 2.25, "text": "t", "blob": blob, "color": "BLUE",
    }  # fmt: skip
    status, out, _ = run(
        capsys, "call", running.endpoint, "conformance.Conformance.mixed",
        json.dumps(args),
    )  # fmt: skip
    assert status == 0
    assert json.loads(out) == {**args, "origin": "CLIENT"}
    status, out, _ = run(
        capsys, "call", running.endpoint, "conformance.Conformance.echoBytes",
        json.dumps({"data": blob}),
    )  # fmt: skip
    assert (status, json.loads(out)) == (0, blob)
    status, out, _ = run(
        capsys, "call", running.endpoint, "conformance.Conformance.echoColors",
        '{"colors": ["RED", 3]}',
    )  # fmt: skip
    assert (status, sorted(json.loads(out))) == (0, ["BLUE", "RED"])
    status, out, _ = run(
        capsys, "call", running.endpoint, "conformance.Conformance.echoNested",
        json.dumps({"value": {"7": {"k": []}}}),
    )  # fmt: skip
    assert (status, json.loads(out)) == (0, {"7": {"k": []}})


def test_bytes_are_read_from_a_messages_own_json(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A message's ``model_dump_json`` writes bytes as URL-safe base64 (``-`` and
    ``_``), which a user pastes into a call: read as the model reads it, either
    alphabet, padded or not, in a field, a map value and a union member alike."""
    blob = b"\xfb\xff\xbf\x00"
    standard = base64.b64encode(blob).decode()
    message = Containers(blobs={"k": blob}).model_dump_json()
    assert "-" in message and "_" in message
    status, out, err = run(
        capsys, "call", running.endpoint, "conformance.Conformance.echoContainers",
        json.dumps({"value": json.loads(message)}),
    )  # fmt: skip
    assert (status, err) == (0, "")
    assert json.loads(out)["blobs"] == {"k": standard}
    for text in (base64.urlsafe_b64encode(blob).decode(), standard.rstrip("=")):
        status, out, err = run(
            capsys, "call", running.endpoint, "conformance.Conformance.echoShape",
            json.dumps({"shape": {"blob": text}}),
        )  # fmt: skip
        assert (status, err, json.loads(out)) == (0, "", {"blob": standard})


def test_error_status_and_exit_code(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(
        capsys, "call", running.endpoint, "conformance.Conformance.echoString",
        '{"text": 1}',
    )  # fmt: skip
    assert status == 1 and out == ""
    first = err.splitlines()[0]
    assert first.startswith("INVALID_ARGUMENT: invalid argument 'text'")
    assert first.endswith("(status 3)")
    assert "Traceback" not in err


def test_constrained_arguments_convert_by_their_type(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    key = base64.b64encode(b"k1").decode()
    value = {"name": "ann", "tags": ["a", "b"], "counts": {"x": 3}, "key": key}
    status, out, err = run(
        capsys, "call", running.endpoint, "conformance.Conformance.echoBounded",
        json.dumps({"value": value, "keep": 1}),
    )  # fmt: skip
    assert (status, err) == (0, "")
    echoed = json.loads(out)
    assert (echoed["tags"], echoed["counts"], echoed["key"]) == (["a"], {"x": 3}, key)
    status, out, err = run(
        capsys, "call", running.endpoint, "conformance.Conformance.echoBounded",
        json.dumps({"value": {**value, "tags": ["a", "B"]}}),
    )  # fmt: skip
    assert status == 1 and out == ""
    assert err.startswith("INVALID_ARGUMENT: invalid argument 'value.tags.1'")


class _Abort:
    async def intercept_server(self, call: uvrpc.ServerCallInfo, proceed: Any) -> Any:
        raise uvrpc.Aborted("lost the race", {"row": 7})


def test_a_late_grpc_status_prints_its_name_and_number(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with server_thread(Conformance(), interceptors=[_Abort()]) as server:
        status, out, err = run(
            capsys, "call", server.endpoint, "conformance.Conformance.echoString",
            '{"text": "x"}',
        )  # fmt: skip
    assert (status, out) == (1, "")
    head, details = err.splitlines()
    assert head == "ABORTED: lost the race (status 10)"
    assert json.loads(details) == {"row": 7}


def test_declared_error_prints_its_fields(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(
        capsys, "call", running.endpoint, "conformance.Conformance.fail",
        '{"which": "not_found"}',
    )  # fmt: skip
    assert status == 1
    head, details = err.splitlines()
    assert head.startswith("UNKNOWN: ") and head.endswith("(status 2)")
    assert json.loads(details) == {
        "error": "conformance.NotFound",
        "fields": {"key": "k"},
    }


def test_server_stream_prints_a_line_per_item(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(
        capsys, "call", running.endpoint, "conformance.Conformance.count",
        '{"start": 5, "n": 3}',
    )  # fmt: skip
    assert (status, out) == (0, "5\n6\n7\n")


def test_client_stream_reads_stdin(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(
        capsys, "call", running.endpoint, "conformance.Conformance.sum",
        stdin="1\n2\n\n39\n",
    )  # fmt: skip
    assert (status, out) == (0, "42\n")


class _Terminal(io.StringIO):
    """Input typed at a terminal."""

    def isatty(self) -> bool:
        return True


def test_a_client_stream_read_from_a_terminal_says_what_it_waits_for(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Items typed at a terminal are waited for: the command says so, where it
    would otherwise seem to hang until its deadline; piped items need no word."""
    old = sys.stdin
    sys.stdin = _Terminal("1\n41\n")
    try:
        status = main(["call", running.endpoint, "conformance.Conformance.sum"])
        sys.stdin = _Terminal("1\n41\n")
        route = "conformance.Conformance.sum"
        untimed = main(["call", "--timeout", "none", running.endpoint, route])
    finally:
        sys.stdin = old
    out, err = capsys.readouterr()
    assert (status, untimed, out) == (0, 0, "42\n42\n")
    assert err == (
        "uvrpc call: reading the items of 'values' (stream<i64>) from the terminal, "
        "one JSON value a line, within the call's 10 s (--timeout none: no "
        "deadline); Ctrl-D ends them\n"
        "uvrpc call: reading the items of 'values' (stream<i64>) from the terminal, "
        "one JSON value a line; Ctrl-D ends them\n"
    )
    status, out, err = run(
        capsys, "call", running.endpoint, "conformance.Conformance.sum",
        stdin="1\n41\n",
    )  # fmt: skip
    assert (status, out, err) == (0, "42\n", "")


def test_a_client_stream_given_in_the_json_object_is_told_to_come_on_stdin(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(
        capsys, "call", running.endpoint, "conformance.Conformance.sum",
        '{"values": [1, 2, 39]}',
    )  # fmt: skip
    assert (status, out) == (2, "")
    assert err == (
        "uvrpc: error: arguments: 'values' is the stream<i64> the method takes from "
        "its caller: give its items on stdin, one JSON value a line\n"
    )


def test_unknown_route_and_bad_arguments(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(
        capsys, "call", running.endpoint, "conformance.Conformance.nope"
    )
    assert (status, out) == (1, "")
    assert err == (
        "UNIMPLEMENTED: this server serves no method "
        "'conformance.Conformance.nope' (status 12)\n"
    )
    status, _, err = run(
        capsys, "call", running.endpoint, "conformance.Conformance.echo_string"
    )
    assert (status, err) == (
        1,
        "UNIMPLEMENTED: this server serves no method "
        "'conformance.Conformance.echo_string'; did you mean "
        "'conformance.Conformance.echoString'? (status 12)\n",
    )
    status, _, err = run(capsys, "call", running.endpoint, "other.Thing.do")
    assert status == 1 and err.startswith("UNIMPLEMENTED: this server serves no ")
    status, _, err = run(
        capsys, "call", running.endpoint, "conformance.Conformance.echoString",
        '{"txt": "a"}',
    )  # fmt: skip
    assert status == 2
    assert err == ("uvrpc: error: arguments: no field 'txt' (the fields are: text)\n")


KEYED = """
namespace keyed;
enum Level { LOW = 1; HIGH = 2; }
message Keyed {
    1: map<bool, string> flags = {};
    2: map<double, string> marks = {};
    3: map<Level, string> levels = {};
    4: map<i32(min = 0), string> counts = {};
}
service Keys { Keyed echo(1: Keyed value); }
"""


def test_map_keys_are_read_from_json_text_by_their_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A JSON object's keys are text: a map's keys are read as its key type
    (``true``, ``0.5``, an enum member's name or number, a constrained integer),
    and printed as pydantic's JSON writes them."""
    keyed = generate_modules(tmp_path, {"keyed.idl": KEYED})["keyed"]
    base: Any = keyed.KeysServer

    class Keys(base):  # type: ignore[misc]
        async def echo(self, *, value: object) -> object:
            return value

    value = {
        "flags": {"true": "t", "false": "f"},
        "marks": {"0.5": "half", "-1e3": "low"},
        "levels": {"HIGH": "h", "1": "l"},
        "counts": {"3": "three"},
    }
    with server_thread(Keys()) as server:
        status, out, err = run(
            capsys, "call", server.endpoint, "keyed.Keys.echo",
            json.dumps({"value": value}),
        )  # fmt: skip
        assert (status, err) == (0, "")
        assert json.loads(out) == {
            **value,
            "marks": {"0.5": "half", "-1000.0": "low"},
            "levels": {"HIGH": "h", "LOW": "l"},
        }
        for bad, message in (
            ({"flags": {"True": "t"}}, "map key 'True' is not true or false"),
            ({"marks": {"half": "x"}}, "map key 'half' is not a number"),
            ({"levels": {"MID": "x"}}, "'MID' is not a member of keyed.Level"),
            ({"counts": {str(2**70): "x"}}, f"map key: {2**70} is out of range"),
        ):
            status, out, err = run(
                capsys, "call", server.endpoint, "keyed.Keys.echo",
                json.dumps({"value": bad}),
            )  # fmt: skip
            assert (status, out) == (2, "") and message in err, err


def test_two_texts_of_one_map_key_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``{"LOW": ..., "1": ...}`` names one key of a ``map<Level, V>`` twice (a
    member by its name and its number), as ``"1"`` and ``"01"`` do of an integer
    key: the map was sent with one of the two entries, quietly."""
    keyed = generate_modules(tmp_path, {"keyed.idl": KEYED})["keyed"]
    base: Any = keyed.KeysServer

    class Keys(base):  # type: ignore[misc]
        async def echo(self, *, value: object) -> object:
            return value

    with server_thread(Keys()) as server:
        for bad, message in (
            ({"levels": {"LOW": "a", "1": "b"}}, "'LOW' and '1' are the same"),
            ({"counts": {"1": "a", "01": "b"}}, "'1' and '01' are the same i32"),
            ({"marks": {"1": "a", "1.0": "b"}}, "'1' and '1.0' are the same double"),
            ({"flags": {"true": "a"}, "counts": {"7": "x", "+7": "y"}}, "counts"),
        ):
            status, out, err = run(
                capsys, "call", server.endpoint, "keyed.Keys.echo",
                json.dumps({"value": bad}),
            )  # fmt: skip
            assert (status, out) == (2, "") and message in err, err
            assert "arguments.value." in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"value": 2**64}, f"arguments.value: {2**64} is out of range for i64"),
        ({"value": -(2**63) - 1}, "is out of range for i64 (-9223372036854775808 to"),
        ({"matrix": [[1], [2**70]]}, "arguments.matrix[1][0]: "),
    ],
    ids=["beyond-64-bits", "below-i64", "nested"],
)
def test_an_integer_out_of_its_type_s_range_is_one_line_naming_the_field(
    arguments: dict[str, Any],
    message: str,
    running: RunningServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Beyond 64 bits the request cannot be encoded: the command said "cannot
    send argument '1' ... cannot encode a value of type int", naming the
    field's number; it names the field and the type's range instead."""
    method = "echoI64" if "value" in arguments else "echoMatrix"
    status, out, err = run(
        capsys, "call", running.endpoint, f"conformance.Conformance.{method}",
        json.dumps(arguments),
    )  # fmt: skip
    assert (status, out) == (2, "")
    assert message in err and len(err.splitlines()) == 1, err


def test_an_integer_beyond_64_bits_is_sent_as_the_double_it_stands_for(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A JSON integer a double holds failed as INVALID_ARGUMENT naming the
    field's number, "cannot send argument '1' ... cannot encode a value of type
    int", status 1: it is sent as a double, and one beyond every double is
    refused naming its field."""
    status, out, err = run(
        capsys, "call", running.endpoint, "conformance.Conformance.echoDouble",
        json.dumps({"value": 10**23}),
    )  # fmt: skip
    assert (status, out, err) == (0, "1e+23\n", "")
    status, out, err = run(
        capsys, "call", running.endpoint, "conformance.Conformance.echoDouble",
        json.dumps({"value": 10**400}),
    )  # fmt: skip
    assert (status, out) == (2, "")
    assert (
        err == f"uvrpc: error: arguments.value: {10**400} is out of range for double\n"
    )


def test_list_and_describe(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "list", running.endpoint)
    assert (status, out.split()) == (
        0,
        ["conformance.Conformance", "uvrpc.Health", "uvrpc.Reflection"],
    )
    status, out, _ = run(
        capsys, "describe", running.endpoint, "conformance.Conformance"
    )
    assert status == 0
    assert "namespace conformance;" in out
    assert "service Conformance {" in out
    assert (
        "    void fail(1: string which) throws (NotFound, Rejected, "
        "shared.Overloaded);" in out
    )
    assert "    stream<i64> count(1: i64 start, 2: i32 n);" in out
    assert "    BLUE = 3;" in out
    status, out, _ = run(
        capsys, "describe", running.endpoint, "conformance.Color", "--json"
    )
    assert status == 0
    assert json.loads(out)["enums"]["conformance.Color"]["members"] == {
        "RED": 1,
        "GREEN": 2,
        "BLUE": 3,
    }
    status, _, err = run(capsys, "describe", running.endpoint, "nothing.Here")
    assert (status, err) == (
        2,
        "uvrpc: error: this server describes nothing named 'nothing.Here'\n",
    )
    status, _, err = run(capsys, "describe", running.endpoint, "Color")
    assert (status, err) == (
        2,
        "uvrpc: error: this server describes nothing named 'Color'; did you mean "
        "'conformance.Color'?\n",
    )
    status, _, err = run(capsys, "describe", running.endpoint, "Conformance.ping")
    assert (status, err) == (
        2,
        "uvrpc: error: this server describes nothing named 'Conformance.ping'; did "
        "you mean 'conformance.Conformance.ping'?\n",
    )


def test_describing_one_type_or_method_writes_defaults_of_enums_it_does_not_hold(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A narrowed description holds only the type (or method) asked for, not the
    enums its defaults name; those are written by their reference all the same."""
    status, out, err = run(capsys, "describe", running.endpoint, "conformance.Scalars")
    assert (status, err) == (0, "")
    assert "    11: shared.Origin origin = shared.Origin.CLIENT;" in out
    route = "conformance.Conformance.mixed"
    status, out, err = run(capsys, "describe", running.endpoint, route)
    assert (status, err) == (0, "")
    assert "        10: Color color = Color.RED," in out


def test_metadata_option(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(
        capsys, "call", running.endpoint, "conformance.Conformance.ping",
        "--metadata", "novalue",
    )  # fmt: skip
    assert (status, err) == (
        2,
        "uvrpc: error: --metadata takes KEY=VALUE, got 'novalue'\n",
    )
    status, out, _ = run(
        capsys, "call", running.endpoint, "conformance.Conformance.ping",
        "--metadata", "x-request-id=42",
    )  # fmt: skip
    assert (status, out) == (0, "null\n")


@pytest.mark.parametrize("command", ["call", "list", "describe"])
def test_a_metadata_key_the_protocol_refuses_is_a_usage_error(
    command: str, running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a failed call (INVALID_ARGUMENT, status 1), as if the server had
    refused it: the command line's own mistake, status 2."""
    route = ["conformance.Conformance.ping"] if command == "call" else []
    status, out, err = run(
        capsys, command, running.endpoint, *route, "--metadata", "X-Id=1"
    )
    assert (status, out) == (2, "")
    assert err == (
        "uvrpc: error: --metadata key 'X-Id' is not lowercase ASCII "
        "(letters, digits, '-', '_', '.')\n"
    )


def test_only_call_says_that_no_deadline_lets_a_stream_last(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """list and describe make no stream call."""
    for command, streams in (("call", True), ("list", False), ("describe", False)):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        help_text = " ".join(capsys.readouterr().out.split())
        assert ("for a stream that lasts" in help_text) is streams, command


def test_a_reader_that_stops_reading_ends_the_command_quietly(
    running: RunningServer,
) -> None:
    """``uvrpc call ... | head -1``: the reader's choice, not an error line
    ("uvrpc: error: [Errno 32] Broken pipe", status 1); 141, as a shell reports
    a command SIGPIPE ended."""
    command = [sys.executable, "-m", "uvrpc", "call", running.endpoint]
    command += ["conformance.Conformance.count", '{"start": 0, "n": 100000000}']
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline() == b"0\n"
        process.stdout.close()
        status = process.wait(60)
        err = process.stderr.read().decode()
    assert (status, err) == (141, "")


def test_text_utf8_cannot_encode_is_refused_naming_its_field(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """JSON's "\\ud800" failed as the call's INVALID_ARGUMENT naming the field's
    number: "cannot send argument '1' of ...echoString"."""
    status, out, err = run(
        capsys, "call", running.endpoint, "conformance.Conformance.echoString",
        '{"text": "a\\ud800"}',
    )  # fmt: skip
    assert (status, out) == (2, "")
    assert err == (
        "uvrpc: error: arguments.text: not UTF-8 text: '\\ud800' at 1 is a lone "
        "surrogate\n"
    )


def test_a_server_that_is_down(tmp_path: Path) -> None:
    """In a subprocess, as a user runs it: the deadline, a clear line, status 1."""
    endpoint = f"ipc://{tmp_path / 'nobody.sock'}"
    done = subprocess.run(
        [sys.executable, "-m", "uvrpc", "call", endpoint, "a.B.c", "--timeout", "0.3"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("DEADLINE_EXCEEDED: ")
    assert done.stderr.rstrip().endswith("(status 4)")
    assert "Traceback" not in done.stderr


def test_a_peer_that_never_answers_is_named_by_the_users_method(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A peer that connects and never replies (a broker no server is connected
    to): the deadline names the method the user called, and the describe call
    that waited for it, not reflection's method alone."""
    endpoint = f"ipc://{tmp_path / 'broker.sock'}"
    with zmq.Context() as context, context.socket(zmq.ROUTER) as silent:
        silent.bind(endpoint)
        status, out, err = run(
            capsys, "call", endpoint, "calculator.Calculator.add", '{"a": 1}',
            "--timeout", "1.5",
        )  # fmt: skip
        silent.setsockopt(zmq.LINGER, 0)
    assert (status, out) == (1, "")
    assert err == (
        "DEADLINE_EXCEEDED: calculator.Calculator.add was not called: nothing "
        "described its service 'calculator.Calculator' within 1.5 s "
        "(uvrpc.Reflection.describe got no reply; behind a broker, is a server "
        "connected to it?) (status 4)\n"
    )


@pytest.mark.parametrize("timeout", ["30", "1"])
@pytest.mark.parametrize(
    "command", [("call", "a.B.c", "{}"), ("list",), ("describe", "a.B")]
)
def test_no_server_at_the_endpoint_is_said_in_a_shell_users_words(
    command: tuple[str, ...],
    timeout: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Nothing connects within the channel's connect timeout (before the
    command's deadline, or at it): the line names the endpoint and what to
    check, not the client API's ``wait_for_ready=True``, which no command takes,
    nor the reflection call the command makes first."""
    endpoint = f"ipc://{tmp_path / 'nobody.sock'}"
    name, *rest = command
    status, out, err = run(capsys, name, endpoint, *rest, "--timeout", timeout)
    assert (status, out) == (1, "")
    assert err == (
        f"UNAVAILABLE: no server answered at {endpoint} within 1 s: is it "
        "running, and bound to that address? (status 14)\n"
    )


def test_a_server_that_goes_during_the_call_is_not_called_absent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The server closes while the call runs: the command says the connection
    dropped during the call (which may have run), not that no server answered."""
    entered = threading.Event()

    class Slow(Conformance):
        async def echo_string(self, *, text: str) -> str:
            entered.set()
            await asyncio.sleep(30)
            return text

    bound: list[str] = []

    async def serve() -> None:
        async with uvrpc.Server(Slow()) as server:
            bound.append(server.bind("tcp://127.0.0.1:*"))
            await asyncio.to_thread(entered.wait, 20)
            # The block ends with the call running: the server closes.

    serving = threading.Thread(target=asyncio.run, args=(serve(),))
    serving.start()
    try:
        deadline = time.monotonic() + 10
        while not bound and time.monotonic() < deadline:
            time.sleep(0.01)
        assert bound, "the server did not start"
        status, out, err = run(
            capsys, "call", bound[0], "conformance.Conformance.echoString",
            '{"text": "x"}', "--timeout", "30",
        )  # fmt: skip
    finally:
        entered.set()
        serving.join(30)
    assert (status, out) == (1, "")
    assert err == (
        "UNAVAILABLE: the connection dropped during "
        "conformance.Conformance.echoString (status 14)\n"
    )


def test_call_help_shows_bytes_and_client_stream_examples_that_work(
    running: RunningServer,
) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    helped = subprocess.run(
        [sys.executable, "-m", "uvrpc", "call", "--help"],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    text = helped.stdout
    assert "bytes are base64 text" in text
    assert "reads its items from\n  stdin, one JSON value" in text
    # The examples, each an indented command continued with backslashes.
    examples = re.findall(r"^    (\S.*?[^\\])$", text.replace("\\\n", " "), re.M)
    assert len(examples) == 2, text
    python_uvrpc = f"{shlex.quote(sys.executable)} -m uvrpc call"
    outputs = []
    for example in examples:
        command = example.replace("uvrpc call", python_uvrpc).replace(
            "tcp://127.0.0.1:5555", running.endpoint
        )
        result = subprocess.run(
            ["sh", "-c", command], capture_output=True, text=True, env=env,
            timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, (command, result.stderr)
        outputs.append(result.stdout)
    assert outputs == ['"AP91dg=="\n', "42\n"]


def test_call_list_and_describe_reach_a_server_with_an_allow_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server_keys = uvrpc.security.generate_keypair()
    server_keys.save(tmp_path, "server")
    client_keys = uvrpc.security.generate_keypair()
    client_keys.save(tmp_path, "client")
    security = uvrpc.security.ServerSecurity(server_keys, allow=[client_keys.public])
    keys = [
        "--curve-server-key", str(tmp_path / "server.key"),
        "--curve-secret", str(tmp_path / "client.key_secret"),
    ]  # fmt: skip
    with server_thread(Conformance(), security=security) as running:
        status, out, err = run(
            capsys, "call", running.endpoint, "conformance.Conformance.echoString",
            '{"text": "hi"}', *keys,
        )  # fmt: skip
        assert (status, out, err) == (0, '"hi"\n', "")
        status, out, err = run(capsys, "list", running.endpoint, *keys)
        assert (status, err) == (0, "")
        assert "conformance.Conformance" in out.splitlines()
        status, out, err = run(
            capsys, "describe", running.endpoint, "conformance.Conformance", *keys
        )
        assert (status, err) == (0, "")
        assert "service Conformance {" in out
        # Without the client's key pair the server refuses the one made up.
        status, out, err = run(
            capsys, "list", running.endpoint, "--timeout", "5", *keys[:2]
        )
        assert (status, out) == (1, "")
        assert err.startswith("UNAUTHENTICATED: the server refused this client's")
        # Without CURVE at all: the server's refusal, not "is it running?".
        for command in (["list"], ["call", "conformance.Conformance.echoString"]):
            argv = [command[0], running.endpoint, *command[1:], "--timeout", "5"]
            status, out, err = run(capsys, *argv)
            assert (status, out) == (1, ""), command
            assert err.startswith("UNAVAILABLE: the handshake failed: "), err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--curve-server-key", "short"], "40 characters"),
        (["--curve-server-key", "missing.key"], "missing.key"),
        (["--curve-secret", "x"], "--curve-secret needs --curve-server-key"),
        (["--curve-server-key", "keys/server.key_secret"], "secret file"),
    ],
)
def test_bad_curve_options_are_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "list", "tcp://127.0.0.1:1", *argv)
    assert (status, out) == (2, "")
    assert err.startswith("uvrpc: error: ") and message in err
    assert len(err.splitlines()) == 1


def test_a_server_key_that_names_several_keys_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "clients.key"  # a directory of public keys
    keys.mkdir()
    for name in ("alice", "bob"):
        assert main(["keygen", name, "--dir", str(keys)]) == 0
    capsys.readouterr()
    status, out, err = run(
        capsys, "list", "tcp://127.0.0.1:1", "--curve-server-key", str(keys)
    )
    assert (status, out) == (2, "")
    assert err == (
        f"uvrpc: error: --curve-server-key {keys} holds 2 public keys: give the "
        "server's own\n"
    )


def test_a_stream_of_the_callers_sends_each_stdin_line_as_it_arrives() -> None:
    """A bidirectional call answers the first line before the second is
    written, as grpcurl does (a chat, ``tail -f``), and ``--timeout none``
    gives a stream that lasts no deadline."""
    from feed_server import Feed

    with server_thread(Feed()) as server:
        command = [
            sys.executable, "-m", "uvrpc", "call", server.endpoint,
            "feed.Feed.echo", "--timeout", "none",
        ]  # fmt: skip
        with subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            assert process.stdin is not None and process.stdout is not None
            try:
                process.stdin.write('{"seq": 1}\n')
                process.stdin.flush()
                first = _line_within(process.stdout, 30)
                assert json.loads(first) == {"seq": 1, "data": ""}
                process.stdin.write('{"seq": 2}\n')
                process.stdin.close()
                assert process.wait(30) == 0, process.stderr.read()  # type: ignore[union-attr]
                assert json.loads(process.stdout.read()) == {"seq": 2, "data": ""}
            finally:
                process.kill()


def _line_within(stream: Any, seconds: float) -> str:
    """The next line of ``stream``, or a failure after ``seconds``."""
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(stream.readline()))
    reader.daemon = True
    reader.start()
    reader.join(seconds)
    assert line, f"no line within {seconds} s"
    return line[0]


def test_a_bad_stdin_line_fails_the_stream_after_the_lines_before_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from feed_server import Feed

    with server_thread(Feed()) as server:
        status, out, err = run(
            capsys, "call", server.endpoint, "feed.Feed.echo",
            stdin='{"seq": 1}\nnot json\n{"seq": 3}\n',
        )  # fmt: skip
    assert status == 2
    assert err == (
        "uvrpc: error: stdin line 2: not JSON: Expecting value: line 1 column 1 "
        "(char 0)\n"
    )


@pytest.mark.parametrize("text", ["none", "None", " NONE "])
def test_timeout_none_is_no_deadline(text: str) -> None:
    from uvrpc.cli.call import seconds_or_none

    assert seconds_or_none(text) is None
    assert seconds_or_none("2.5") == 2.5


@pytest.mark.parametrize(
    ("given", "printed"),
    [
        ('"NaN"', '"NaN"'),
        ('"Infinity"', '"Infinity"'),
        ('"-Infinity"', '"-Infinity"'),
        ("NaN", '"NaN"'),
        ("1e308", "1e+308"),
    ],
)
def test_floats_json_has_no_number_for_are_words_both_ways(
    running: RunningServer, capsys: pytest.CaptureFixture[str], given: str, printed: str
) -> None:
    """NaN and the infinities print as protobuf's JSON writes them, which any JSON
    reader takes (a bare ``NaN`` is not JSON), and are read back from those words."""
    for route in ("echoDouble", "echoFloat"):
        status, out, err = run(
            capsys, "call", running.endpoint, f"conformance.Conformance.{route}",
            f'{{"value": {given}}}',
        )  # fmt: skip
        if route == "echoFloat" and given == "1e308":
            assert status == 1 and "value" in err  # beyond a float's range
            continue
        assert (status, out, err) == (0, printed + "\n", "")
        json.loads(out, parse_constant=pytest.fail)


def test_a_float_given_as_other_text_is_one_line_naming_its_field(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(
        capsys, "call", running.endpoint, "conformance.Conformance.echoDouble",
        '{"value": "nan"}',
    )  # fmt: skip
    assert (status, out) == (2, "")
    assert err == (
        "uvrpc: error: arguments.value: 'nan' is not a number (a double is a JSON "
        'number, "NaN", "Infinity" or "-Infinity")\n'
    )
