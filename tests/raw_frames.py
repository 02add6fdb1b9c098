"""Raw frames for the tests that speak the wire protocol (``docs/protocol.md``)."""

from __future__ import annotations

from typing import Any

import msgpack
import zmq

import uvrpc

ADD = "calculator.Calculator.add"
V = uvrpc.PROTOCOL_VERSION
CREDIT = 6


def is_probe(frames: list[bytes]) -> bool:
    """Whether a message a server sent is a probe: an empty CREDIT, which it sends
    the callers of its running unary handlers every ``probe_interval`` to learn
    whether they are still there (``docs/protocol.md``), and clients pass over."""
    header: list[Any] = msgpack.unpackb(frames[-2])
    return bool(header[1] == CREDIT and header[3] == 0)


def next_reply(sock: zmq.Socket[bytes], wait: float = 10.0) -> list[bytes]:
    """The next message ``sock`` receives that is not a probe (:func:`is_probe`):
    a test that reads replies off a raw socket meets probes whenever a handler
    of its runs longer than a probe interval, as on a loaded machine."""
    while True:
        assert sock.poll(int(wait * 1000), zmq.POLLIN), "no reply"
        frames = list(sock.recv_multipart())
        if not is_probe(frames):
            return frames


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
