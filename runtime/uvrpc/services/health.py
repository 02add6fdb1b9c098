"""The health check every server answers: the built-in ``uvrpc.Health`` service.

``uvrpc.Health.check(service)`` answers whether the server serves ``service`` now
(``""``: the server as a whole), as gRPC's ``grpc.health.v1`` does: SERVING,
NOT_SERVING, or SERVICE_UNKNOWN for a service it does not serve. A server starts
SERVING everything; :meth:`uvrpc.Server.set_serving` changes a service's answer (a
load balancer then stops sending it calls), and :meth:`uvrpc.Server.close` turns
everything NOT_SERVING as it begins (see :class:`HealthState`).

``uvrpc.Health.watch(service)`` streams the same answer: the current one at once,
then each change, as gRPC's ``Health.Watch`` does, until the caller cancels. A
service the server does not serve streams SERVICE_UNKNOWN and stays open. When the
server closes, a watch sends NOT_SERVING and ends. Each watch is a stream call, so
``max_streams`` and ``max_streams_per_caller`` bound how many run
(``docs/health.md``).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator, Callable, Iterable
from typing import ClassVar

from ..wire import types as _t
from ..wire.message import Message, field_ids
from ..wire.methods import ServerStreaming, ServiceSpec, Unary
from ..wire.service import ServiceBase

__all__ = [
    "CHECK_METHOD",
    "HEALTH_SERVICE",
    "WATCH_METHOD",
    "Health",
    "HealthState",
    "HealthStatus",
]

HEALTH_SERVICE = "uvrpc.Health"
"""The wire name of the built-in health service."""


class HealthStatus(enum.IntEnum):
    """The answer of a health check (the numbers are gRPC's)."""

    UNKNOWN = 0
    """Not an answer a server gives; what a reader makes of a number it does not
    know."""
    SERVING = 1
    """The service takes calls."""
    NOT_SERVING = 2
    """The service is served but takes no calls now, or the server is closing."""
    SERVICE_UNKNOWN = 3
    """The server does not serve a service of that name."""


class HealthState:
    """The serving state of a server's services, which the health check reports.

    Args:
        services: the names of the services served.
    """

    def __init__(self, services: Iterable[str]) -> None:
        self._serving: dict[str, bool] = dict.fromkeys(services, True)
        self._serving[""] = True
        self._closing = False
        self._listeners: set[Callable[[], None]] = set()

    def set_serving(self, service: str, serving: bool) -> None:
        """Report ``service`` (``""``: the whole server) as serving or not.

        Raises:
            ValueError: the server does not serve ``service``.
        """
        if service not in self._serving:
            raise ValueError(f"this server serves no service {service!r}")
        self._serving[service] = serving
        self._changed()

    def closing(self) -> None:
        """Report every service NOT_SERVING from now on: the server is closing."""
        self._closing = True
        self._changed()

    @property
    def is_closing(self) -> bool:
        """Whether :meth:`closing` was called: the answers no longer change."""
        return self._closing

    @property
    def watchers(self) -> int:
        """How many listeners (one per running ``watch`` call) there are now."""
        return len(self._listeners)

    def listen(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` (with no arguments) after each change of any answer,
        until the function returned is called."""
        self._listeners.add(listener)
        return lambda: self._listeners.discard(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def status(self, service: str = "") -> HealthStatus:
        """The answer to a health check of ``service`` (``""``: the server)."""
        serving = self._serving.get(service)
        if serving is None:
            return HealthStatus.SERVICE_UNKNOWN
        if self._closing or not serving or not self._serving[""]:
            return HealthStatus.NOT_SERVING
        return HealthStatus.SERVING


# --- the service, as uvrpc-gen would write it --------------------------------


class _CheckParams(Message):
    model_config = field_ids(service=1)

    service: _t.String = ""


CHECK_METHOD: Unary[_CheckParams, HealthStatus] = Unary(
    route="uvrpc.Health.check",
    handler="check",
    params=_CheckParams,
    reply=HealthStatus,
    idempotent=True,
)
WATCH_METHOD: ServerStreaming[_CheckParams, HealthStatus] = ServerStreaming(
    route="uvrpc.Health.watch",
    handler="watch",
    params=_CheckParams,
    reply_item=HealthStatus,
)
_HEALTH = ServiceSpec(name=HEALTH_SERVICE, methods=(CHECK_METHOD, WATCH_METHOD))


class HealthServer(ServiceBase):
    """Base class of ``uvrpc.Health`` implementations.

    Whether a server takes calls, for load balancers and orchestrators.
    """

    uvrpc_service: ClassVar[ServiceSpec] = _HEALTH

    async def check(self, *, service: str) -> HealthStatus:
        """Whether ``service`` (empty: the server as a whole) takes calls now."""
        raise NotImplementedError

    def watch(self, *, service: str) -> AsyncIterator[HealthStatus]:
        """The answer of :meth:`check` now, then each time it changes, until the
        caller cancels."""
        raise NotImplementedError


class Health(HealthServer):
    """The health service answering from ``state``."""

    def __init__(self, state: HealthState) -> None:
        self._state = state

    async def check(self, *, service: str) -> HealthStatus:
        return self._state.status(service)

    async def watch(self, *, service: str) -> AsyncIterator[HealthStatus]:
        changed = asyncio.Event()
        stop_listening = self._state.listen(changed.set)
        try:
            sent: HealthStatus | None = None
            while True:
                # Cleared before reading, so that a change made from here on wakes
                # the wait below: only the latest answer goes out.
                changed.clear()
                status = self._state.status(service)
                if status is not sent:
                    yield status
                    sent = status
                    continue  # it may have changed while the item went out
                if self._state.is_closing:
                    return  # the last answer was sent: nothing changes any more
                await changed.wait()
        finally:
            stop_listening()
