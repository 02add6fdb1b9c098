"""What ``uvrpc bench`` measures."""

from __future__ import annotations

from dataclasses import dataclass

from ..wire.limits import STREAM_WINDOW

__all__ = ["CASES", "Case"]


@dataclass(frozen=True)
class Case:
    """One workload: payload sizes, calls in flight per process, client processes."""

    name: str
    payloads: tuple[int, ...]
    inflight: int
    processes: int
    description: str
    stream: str = ""
    """``""`` for the unary echo; else the stream measured: ``server``, ``client``
    or ``bidi`` (:mod:`uvrpc.bench.systems`; ``inflight`` is then the window)."""


CASES: dict[str, Case] = {
    case.name: case
    for case in (
        Case("pingpong", (64,), 1, 1, "64 B, one call in flight: latency"),
        Case("pipelined", (64,), 64, 1, "64 B, 64 in flight from one process"),
        Case("pipelined-8", (64,), 8, 1, "64 B, 8 in flight from one process"),
        Case("concurrent", (64,), 64, 4, "64 B, 4 processes x 64 in flight"),
        Case("large", (1 << 20,), 1, 1, "1 MiB, one call in flight"),
        Case(
            "sweep",
            tuple(64 * 4**n for n in range(9)),
            1,
            1,
            "64 B to 4 MiB in powers of 4, one in flight",
        ),
        *(
            Case(
                f"{kind}-stream",
                (64, 64 << 10),
                STREAM_WINDOW,
                1,
                f"{what}, 64 B and 64 KiB items, window of {STREAM_WINDOW}",
                stream=kind,
            )
            for kind, what in (
                ("server", "items from the server"),
                ("client", "items to the server"),
                ("bidi", "items to the server and each one back"),
            )
        ),
    )
}
"""Every case, in the order they run."""
