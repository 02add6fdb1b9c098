"""The systems ``uvrpc bench`` measures, and what each is compared with.

A :class:`System` is one row of the results: a server kind (started in its own
process by :mod:`uvrpc.bench.worker`) and a client function (run in client processes).
Both are named as ``module:function`` strings and imported only inside those
processes, so the optional peers (grpcio, thriftpy2) cost nothing unless measured.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

__all__ = ["SYSTEMS", "System", "systems_for"]


@dataclass(frozen=True)
class System:
    """One row of the benchmark."""

    name: str
    """Row name, e.g. ``uvrpc`` or ``zmq-raw-sync``."""
    server: str
    """``module:function`` serving the echo: ``(bind, loop) -> None``."""
    client: str
    """``module:function`` measuring: ``(ClientSpec, loop) -> Result``."""
    description: str
    """What the row is, for the table's legend."""
    loop: str = "asyncio"
    """``asyncio``, ``uvloop`` or ``none`` (blocking code)."""
    max_inflight: int = 1 << 30
    """Most calls the client can keep in flight (1 for blocking clients)."""
    raw_peer: str | None = None
    """The ``zmq-raw`` row of the same shape, for the ratio column."""
    grpc_peer: str | None = None
    """The ``grpc`` row of the same kind (async or blocking), for the ratio column."""
    requires: str | None = None
    """A module that must be importable (the ``bench`` extra)."""
    streams: str | None = None
    """The module serving and measuring the stream cases, if the row has them: its
    ``serve(bind, loop)`` and ``run_client(ClientSpec, loop) -> Result``."""

    @property
    def missing(self) -> str | None:
        """A module this system needs that is not installed, if any: its peer's
        (:attr:`requires`), or uvloop for a row on uvloop."""
        for module in (self.requires, "uvloop" if self.loop == "uvloop" else None):
            if module is not None and importlib.util.find_spec(module) is None:
                return module
        return None

    @property
    def available(self) -> bool:
        """Whether every module this system needs is installed."""
        return self.missing is None


_P = "uvrpc.bench.systems"

_BASE = (
    System(
        "uvrpc",
        f"{_P}.uvrpc_echo:serve",
        f"{_P}.uvrpc_echo:run_async_client",
        "generated EchoClient (asyncio), N tasks on one channel",
        raw_peer="zmq-raw",
        grpc_peer="grpc",
        streams=f"{_P}.uvrpc_streams",
    ),
    System(
        "uvrpc-sync",
        f"{_P}.uvrpc_echo:serve",
        f"{_P}.uvrpc_echo:run_sync_client",
        "generated EchoSyncClient (blocking)",
        max_inflight=1,
        raw_peer="zmq-raw-sync",
        grpc_peer="grpc-sync",
    ),
    System(
        "zmq-raw",
        f"{_P}.zmq_raw:serve_draining",
        f"{_P}.zmq_raw:run_task_client",
        "pyzmq + msgpack envelope: N tasks awaiting futures, batched receive",
        streams=f"{_P}.zmq_raw_streams",
    ),
    System(
        "zmq-raw-pipeline",
        f"{_P}.zmq_raw:serve_draining",
        f"{_P}.zmq_raw:run_pipeline_client",
        "pyzmq + msgpack envelope: one coroutine keeping N in flight, draining",
    ),
    System(
        "zmq-raw-sync",
        f"{_P}.zmq_raw:serve_blocking",
        f"{_P}.zmq_raw:run_blocking_client",
        "pyzmq + msgpack envelope, blocking on both ends",
        loop="none",
        max_inflight=1,
    ),
    System(
        "grpc",
        f"{_P}.grpc_echo:serve",
        f"{_P}.grpc_echo:run_async_client",
        "grpcio asyncio API, generic bytes handler, N concurrent calls",
        requires="grpc",
        streams=f"{_P}.grpc_streams",
    ),
    System(
        "grpc-sync",
        f"{_P}.grpc_echo:serve",
        f"{_P}.grpc_echo:run_sync_client",
        "grpcio blocking client against the same server",
        max_inflight=1,
        requires="grpc",
    ),
    System(
        "thrift",
        f"{_P}.thrift_echo:serve",
        f"{_P}.thrift_echo:run_client",
        "thriftpy2 threaded server, cython binary protocol, plain TCP",
        loop="none",
        max_inflight=1,
        requires="thriftpy2",
    ),
)

_UVLOOP_ROWS = ("uvrpc", "zmq-raw", "zmq-raw-pipeline", "grpc")


def _on_uvloop(system: System) -> System:
    def renamed(name: str | None) -> str | None:
        return None if name is None else f"{name}+uvloop"

    return System(
        name=f"{system.name}+uvloop",
        server=system.server,
        client=system.client,
        description=f"{system.description}, on uvloop",
        loop="uvloop",
        max_inflight=system.max_inflight,
        raw_peer=renamed(system.raw_peer),
        grpc_peer=renamed(system.grpc_peer),
        requires=system.requires,
        streams=system.streams,
    )


SYSTEMS: dict[str, System] = {
    s.name: s
    for s in (*_BASE, *(_on_uvloop(s) for s in _BASE if s.name in _UVLOOP_ROWS))
}
"""Every row, by name."""


def systems_for(uvloop: bool) -> list[System]:
    """The rows of a run, in table order."""
    return [s for s in SYSTEMS.values() if uvloop or s.loop != "uvloop"]
