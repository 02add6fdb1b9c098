"""An echo service that answers with the id of the process that served the call:
``uvrpc serve pid_echo:PidEcho`` (from this directory) shows which worker took it."""

from __future__ import annotations

import os

from uvrpc.bench.echo import EchoServer


class PidEcho(EchoServer):
    """Replies with the payload, then the serving process's pid (8 bytes)."""

    async def echo(self, *, data: memoryview) -> bytes:
        return bytes(data) + os.getpid().to_bytes(8, "little")
