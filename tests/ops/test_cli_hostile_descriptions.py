"""``uvrpc describe`` and ``uvrpc call`` read what a server says it serves as
untrusted input.

The description is ``any`` on the wire (``docs/protocol.md``, "Reflection and
health"): one of another shape ends the command with one line and status 1, as
a reply of the wrong type does, never a traceback; one of a later version is
refused, as the document says a reader does; and a definition's name, which
becomes a file name, must be one the IDL allows, so that ``describe --out DIR``
writes nothing outside ``DIR``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq

import uvrpc
from uvrpc.cli import main

V = uvrpc.PROTOCOL_VERSION


def described(*services: dict[str, Any], version: int = 1) -> dict[str, Any]:
    return {
        "version": version,
        "services": list(services),
        "messages": {},
        "enums": {},
        "exceptions": {},
        "unions": {},
    }


def service(name: str) -> dict[str, Any]:
    route = f"{name}.m"
    method = {
        "name": "m",
        "route": route,
        "kind": "unary",
        "oneway": False,
        "idempotent": False,
        "doc": "",
        "params": [],
        "stream": None,
        "returns": "i32",
        "items": None,
        "errors": [],
    }
    return {"name": name, "doc": "", "methods": [method]}


@contextmanager
def describing(description: Any) -> Iterator[str]:
    """A server that answers ``uvrpc.Reflection.describe`` with ``description``
    and any other call with 5; its endpoint."""
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind("tcp://127.0.0.1:*")
    endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            if not sock.poll(20, zmq.POLLIN):
                continue
            peer, *frames = sock.recv_multipart()
            header = msgpack.unpackb(frames[-2])
            if header[1] != 1:
                continue
            body = description if header[3] == "uvrpc.Reflection.describe" else 5
            reply = [b"", msgpack.packb([V, 2, header[2], 0]), msgpack.packb(body)]
            sock.send_multipart([peer, *reply])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        done.set()
        thread.join()
        sock.close()


def test_a_name_that_is_a_path_writes_nothing_outside_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside"
    out = tmp_path / "out"
    with describing(described(service(f"{outside}.Svc"))) as endpoint:
        assert main(["describe", endpoint, "--out", str(out)]) == 1
    assert not outside.with_suffix(".idl").exists()
    err = capsys.readouterr().err
    assert "does not match the shape of a description" in err
    assert "at 'services.0.name'" in err


def test_a_description_of_a_later_version_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with describing(described(service("ns.Svc"), version=2)) as endpoint:
        assert main(["describe", endpoint]) == 1
        assert main(["call", endpoint, "ns.Svc.m"]) == 1
    err = capsys.readouterr()
    assert err.out == ""
    assert err.err.count("describes its services in version 2 of the description") == 2


@pytest.mark.parametrize(
    ("description", "where"),
    [
        ({"version": 1, "services": "x"}, "'services'"),
        ({"version": 1, "services": [{"name": "ns.Svc"}]}, "'services.0.doc'"),
        (
            described({**service("ns.Svc"), "methods": [{"name": "m"}]}),
            "'services.0.methods.0.route'",
        ),
        (
            described(service("ns.Svc\n}\nservice X {")),
            "'services.0.name'",
        ),
    ],
    ids=["services-not-a-list", "no-methods", "method-of-a-name-alone", "newline"],
)
@pytest.mark.parametrize("command", ["describe", "call"])
def test_a_malformed_description_fails_in_one_line(
    capsys: pytest.CaptureFixture[str], description: Any, where: str, command: str
) -> None:
    argv = ["describe"] if command == "describe" else ["call"]
    with describing(description) as endpoint:
        argv.append(endpoint)
        if command == "call":
            argv.append("ns.Svc.m")
        assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Traceback" not in captured.err
    assert captured.err.startswith("INTERNAL: reply of uvrpc.Reflection.describe")
    assert f"at {where}" in captured.err
    assert captured.err.count("\n") == 1


def test_a_well_formed_description_is_still_read(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with describing(described(service("ns.Svc"))) as endpoint:
        assert main(["call", endpoint, "ns.Svc.m"]) == 0
        assert main(["describe", endpoint]) == 0
    out = capsys.readouterr().out
    assert out.startswith("5\nnamespace ns;")
