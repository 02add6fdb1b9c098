"""Micro-benchmarks of the zero-copy data path, in ns per message.

``python -m uvrpc.bench.zerocopy [--markdown]`` prints three tables, which
``docs/memory.md`` reproduces and which chose two of the runtime's constants:

* **codec** — encoding an echo request ``{"1": payload}`` and decoding it as the
  server does (msgpack, then validation), for 64 B to 1 MiB payloads: pooled
  encode buffers against a fresh packer per message, the payload inline in the body
  against out of band as an attachment frame;
* **attachment** — the whole trip of a message over ``ipc://`` (encode, send,
  receive, decode), 32 in flight, with the payload inline or attached, which places
  :data:`uvrpc.buffers.ATTACHMENT_MIN`;
* **copy** — sending a frame with and without a copy, over ``ipc://`` and
  ``tcp://``, which places :data:`uvrpc.reactor.ZERO_COPY_MIN`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import msgpack
import zmq

from ..buffers import BodyEncoder, BufferPool
from ..codec import new_packer, outline, unpack
from ..reactor import recv_message, send_message
from .echo import _EchoEchoParams

__all__ = ["attachment_table", "codec_table", "copy_table", "main"]

CODEC_SIZES = (64, 4 * 1024, 64 * 1024, 1024 * 1024)
ROUND_SIZES = (1024, 4 * 1024, 8 * 1024, 16 * 1024, 32 * 1024, 64 * 1024, 256 * 1024)
COPY_SIZES = tuple(k * 1024 for k in (16, 64, 128, 192, 256, 1024))
_INLINE, _ATTACHED = 1 << 62, 1


def _ns(fn: Callable[[], object], size: int, repeat: int = 5) -> float:
    """Median ns per call of ``fn``, timed over about 20 ms a run."""
    number = max(20, min(50_000, 200_000_000 // max(size, 4096) // 10))
    runs = timeit.repeat(fn, number=number, repeat=repeat)
    return statistics.median(runs) / number * 1e9


def _pooled_encode(attachment_min: int, value: Any) -> Callable[[], object]:
    encoder = BodyEncoder(BufferPool(), attachment_min=attachment_min)

    def encode() -> object:
        body, attachments = encoder.encode(value, ("1",))
        encoder.settle(body, True)
        return attachments

    return encode


def _fresh_encode(attachment_min: int, value: Any) -> Callable[[], object]:
    def encode() -> object:
        attachments: list[Any] = []
        return new_packer().pack(outline(value, attachments, attachment_min))

    return encode


def _decode(attachment_min: int, value: Any) -> Callable[[], object]:
    attachments: list[Any] = []
    body = msgpack.packb(outline(value, attachments, attachment_min))
    frames = [zmq.Frame(a).buffer for a in attachments]

    def decode() -> object:
        return _EchoEchoParams.model_validate(unpack(body, frames))

    return decode


def codec_table() -> list[tuple[str, float, float, float, float, float, float]]:
    """Per size: ns to encode (pooled/fresh × inline/attached) and to decode."""
    rows = []
    for size in CODEC_SIZES:
        value = {"1": bytes(size)}
        rows.append(
            (
                _size(size),
                _ns(_pooled_encode(_INLINE, value), size),
                _ns(_fresh_encode(_INLINE, value), size),
                _ns(_pooled_encode(_ATTACHED, value), size),
                _ns(_fresh_encode(_ATTACHED, value), size),
                _ns(_decode(_INLINE, value), size),
                _ns(_decode(_ATTACHED, value), size),
            )
        )
    return rows


def _pair(endpoint: str) -> tuple[zmq.Socket[bytes], zmq.Socket[bytes]]:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    a: zmq.Socket[bytes] = context.socket(zmq.PAIR)
    b: zmq.Socket[bytes] = context.socket(zmq.PAIR)
    for sock in (a, b):
        sock.setsockopt(zmq.LINGER, 0)
    a.bind(endpoint)
    b.connect(cast(bytes, a.getsockopt(zmq.LAST_ENDPOINT)).decode())
    return a, b


def _trip(
    a: zmq.Socket[bytes],
    b: zmq.Socket[bytes],
    encoder: BodyEncoder,
    value: Any,
    count: int,
) -> float:
    """ns per message encoded at ``a`` and decoded at ``b``, 32 in flight."""
    started = time.perf_counter()
    sent = received = 0
    while received < count:
        while sent < count and sent - received < 32:
            body, attachments = encoder.encode(value, ("1",))
            send_message(a, [b"", *attachments, body])
            encoder.settle(body, True)
            sent += 1
        frames = recv_message(b)
        attached = [f.buffer for f in frames[1:-1]]
        _EchoEchoParams.model_validate(unpack(frames[-1].buffer, attached))
        received += 1
    return (time.perf_counter() - started) / count * 1e9


def attachment_table(directory: Path) -> list[tuple[str, float, float]]:
    """Per size: ns for one message's whole trip, payload inline or attached."""
    a, b = _pair(f"ipc://{directory}/attachment.sock")
    rows = []
    try:
        for size in ROUND_SIZES:
            value = {"1": bytes(size)}
            count = max(200, min(20_000, 100_000_000 // size // 10))
            figures = []
            for attachment_min in (_INLINE, _ATTACHED):
                encoder = BodyEncoder(BufferPool(), attachment_min=attachment_min)
                _trip(a, b, encoder, value, count // 4)
                runs = [_trip(a, b, encoder, value, count) for _ in range(5)]
                figures.append(statistics.median(runs))
            rows.append((_size(size), figures[0], figures[1]))
    finally:
        a.close()
        b.close()
    return rows


def _frames(
    a: zmq.Socket[bytes], b: zmq.Socket[bytes], data: bytes, copy: bool, count: int
) -> float:
    """ns per frame with up to 32 frames in flight from ``a`` to ``b``."""
    started = time.perf_counter()
    sent = received = 0
    while received < count:
        while sent < count and sent - received < 32:
            a.send(data, 0, copy=copy)
            sent += 1
        b.recv(copy=False)
        received += 1
    return (time.perf_counter() - started) / count * 1e9


def copy_table(directory: Path) -> list[tuple[str, str, float, float]]:
    """Per transport and size: ns per frame sent with a copy and without."""
    rows = []
    for transport in (f"ipc://{directory}/copy.sock", "tcp://127.0.0.1:*"):
        a, b = _pair(transport)
        try:
            for size in COPY_SIZES:
                data = bytes(size)
                count = max(200, min(20_000, 400_000_000 // size))
                figures = []
                for copy in (True, False):
                    _frames(a, b, data, copy, count // 4)
                    runs = [_frames(a, b, data, copy, count) for _ in range(5)]
                    figures.append(statistics.median(runs))
                rows.append((transport[:3], _size(size), figures[0], figures[1]))
        finally:
            a.close()
            b.close()
    return rows


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size // (1024 * 1024)} MiB"
    if size >= 1024:
        return f"{size // 1024} KiB"
    return f"{size} B"


def _print(
    title: str, header: Sequence[str], rows: Sequence[Sequence[Any]], markdown: bool
) -> None:
    def cell(value: Any) -> str:
        return f"{value:,.0f}" if isinstance(value, float) else str(value)

    print(f"\n{title}\n")
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" + "---:|" * (len(header) - 1))
        for row in rows:
            print("| " + " | ".join(cell(v) for v in row) + " |")
    else:
        print("  ".join(f"{h:>16}" for h in header))
        for row in rows:
            print("  ".join(f"{cell(v):>16}" for v in row))


def main(argv: Sequence[str] | None = None) -> int:
    """Print the three tables (Markdown with ``--markdown``)."""
    parser = argparse.ArgumentParser(prog="python -m uvrpc.bench.zerocopy")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument(
        "--tables", default="codec,attachment,copy", help="which tables to print"
    )
    args = parser.parse_args(argv)
    tables = set(args.tables.split(","))
    with tempfile.TemporaryDirectory(prefix="uvrpc-zerocopy-") as directory:
        if "codec" in tables:
            _print(
                "codec: ns per echo request, encode and decode",
                (
                    "payload",
                    "encode pooled inline",
                    "encode fresh inline",
                    "encode pooled attached",
                    "encode fresh attached",
                    "decode inline",
                    "decode attached",
                ),
                codec_table(),
                args.markdown,
            )
        if "attachment" in tables:
            _print(
                "attachment: ns per message, encode + send + receive + decode"
                " (ipc, 32 in flight)",
                ("payload", "inline", "attached"),
                attachment_table(Path(directory)),
                args.markdown,
            )
        if "copy" in tables:
            _print(
                "copy: ns per frame sent, 32 in flight",
                ("transport", "frame", "copied", "zero-copy"),
                copy_table(Path(directory)),
                args.markdown,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
