"""What the orchestrator asks a client process to measure."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["ClientSpec"]


@dataclass(frozen=True)
class ClientSpec:
    """One measurement by one client process."""

    endpoint: str
    """Where the system's server listens."""
    payload: int
    """Bytes echoed per call."""
    inflight: int
    """Calls kept in flight at once."""
    warmup: float
    """Seconds of calls before the window, not counted."""
    duration: float
    """Seconds of the measured window."""
    start_at: float | None = None
    """Wall-clock start, shared by the processes of one concurrent case."""
    stream: str = ""
    """The stream measured (``server``, ``client``, ``bidi``); ``""``: the echo."""
    calls: int | None = None
    """Calls (stream items) after which the window closes, if its time has not run
    out first; ``None``: the window is its duration alone. Checks of a client's
    counting use it, so that the calls they look at do not depend on the host's
    speed."""

    @property
    def latencies(self) -> bool:
        """Whether per-call latencies mean anything: one call in flight."""
        return self.inflight == 1

    def to_json(self) -> dict[str, Any]:
        """The spec as JSON-ready data."""
        return asdict(self)
