"""Thrift: thriftpy2's threaded server and client on plain TCP (``bench`` extra).

The cython binary protocol and buffered transport, its fastest combination. One
connection carries one call at a time, so thrift only runs the one-in-flight cases.
"""

from __future__ import annotations

import importlib
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ..measure import Meter, Result, same_payload
from ..spec import ClientSpec
from ._serving import make_payload, tcp_host_port

__all__ = ["run_client", "serve"]

IDL = "service Echo {\n    binary echo(1: binary data)\n}\n"


def _thriftpy2(module: str) -> Any:
    """A thriftpy2 module; untyped, so typed as ``Any`` in one place."""
    return importlib.import_module(f"thriftpy2{module}")


def _service() -> Any:
    thriftpy2 = _thriftpy2("")

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "bench_echo.thrift"
        path.write_text(IDL)
        return thriftpy2.load(str(path), module_name="bench_echo_thrift")


def _factories() -> tuple[Any, Any]:
    protocol, transport = _thriftpy2(".protocol"), _thriftpy2(".transport")
    return protocol.TCyBinaryProtocolFactory(), transport.TCyBufferedTransportFactory()


class _Handler:
    def echo(self, data: bytes) -> bytes:
        return data


def serve(bind: str, loop: str) -> None:
    """Serve the echo with a thread per connection until terminated."""
    server_module, thrift = _thriftpy2(".server"), _thriftpy2(".thrift")
    host, port = tcp_host_port(bind)
    protocol, transport = _factories()
    listener = _thriftpy2(".transport").TServerSocket(
        host=host, port=port, client_timeout=None
    )
    server = server_module.TThreadedServer(
        thrift.TProcessor(_service().Echo, _Handler()),
        listener,
        iprot_factory=protocol,
        itrans_factory=transport,
        daemon=True,
    )
    listener.listen()  # here rather than in serve(), to learn the port first
    assert listener.sock is not None
    print(f"tcp://{host}:{listener.sock.getsockname()[1]}", flush=True)
    while True:
        client = listener.accept()
        threading.Thread(target=server.handle, args=(client,), daemon=True).start()


def run_client(spec: ClientSpec, loop: str) -> Result:
    """Blocking calls on one connection."""
    make_client = _thriftpy2(".rpc").make_client
    host, port = tcp_host_port(spec.endpoint)
    protocol, transport = _factories()
    client = make_client(
        _service().Echo,
        host,
        port,
        proto_factory=protocol,
        trans_factory=transport,
        timeout=60_000,
    )
    payload = make_payload(spec.payload)
    meter = Meter.for_spec(spec)
    try:
        meter.wait_for_start()
        while True:
            sent = time.perf_counter()
            reply = client.echo(payload)
            if meter.record(sent, same_payload(reply, payload)):
                break
    finally:
        client.close()
    return meter.finish()
