"""Raw frames for the tests that speak the wire protocol (``docs/protocol.md``)."""

from __future__ import annotations

from typing import Any

import msgpack
import zmq

import uvrpc

ADD = "calculator.Calculator.add"
V = uvrpc.PROTOCOL_VERSION


def exchange(
    endpoint: str, frames: list[bytes], wait: float = 2.0
) -> list[bytes] | None:
    """Send one raw message from a fresh DEALER; return the reply, or None."""
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(endpoint)
        sock.send_multipart(frames)
        if not sock.poll(int(wait * 1000), zmq.POLLIN):
            return None
        return list(sock.recv_multipart())
    finally:
        sock.close()


def request(call_id: int, route: str, body: Any, version: int = V) -> list[bytes]:
    header = msgpack.packb([version, 1, call_id, route, None])
    return [b"", header, msgpack.packb(body, use_bin_type=True)]


def decode(reply: list[bytes]) -> tuple[list[Any], Any]:
    assert reply[0] == b""
    return msgpack.unpackb(reply[1]), msgpack.unpackb(reply[2], raw=False)
