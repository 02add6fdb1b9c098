"""The health check every server answers: the built-in ``uvrpc.Health`` service.

``uvrpc.Health.check(service)`` answers whether the server serves ``service`` now
(``""``: the server as a whole), as gRPC's ``grpc.health.v1`` does: SERVING,
NOT_SERVING, or SERVICE_UNKNOWN for a service it does not serve. A server starts
SERVING everything; :meth:`uvrpc.Server.set_serving` changes a service's answer (a
load balancer then stops sending it calls), and :meth:`uvrpc.Server.close` turns
everything NOT_SERVING as it begins (see :class:`HealthState`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import ClassVar

from . import types as _t
from .client import AsyncClient, SyncClient
from .message import Message, field_ids
from .methods import ServiceSpec, Unary
from .service import ServiceBase

__all__ = [
    "HEALTH_SERVICE",
    "Health",
    "HealthClient",
    "HealthState",
    "HealthStatus",
    "HealthSyncClient",
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

    def set_serving(self, service: str, serving: bool) -> None:
        """Report ``service`` (``""``: the whole server) as serving or not.

        Raises:
            ValueError: the server does not serve ``service``.
        """
        if service not in self._serving:
            raise ValueError(f"this server serves no service {service!r}")
        self._serving[service] = serving

    def closing(self) -> None:
        """Report every service NOT_SERVING from now on: the server is closing."""
        self._closing = True

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


_CHECK: Unary[_CheckParams, HealthStatus] = Unary(
    route="uvrpc.Health.check",
    handler="check",
    params=_CheckParams,
    reply=HealthStatus,
    idempotent=True,
)
_HEALTH = ServiceSpec(name=HEALTH_SERVICE, methods=(_CHECK,))


class HealthServer(ServiceBase):
    """Base class of ``uvrpc.Health`` implementations.

    Whether a server takes calls, for load balancers and orchestrators.
    """

    uvrpc_service: ClassVar[ServiceSpec] = _HEALTH

    async def check(self, *, service: str) -> HealthStatus:
        """Whether ``service`` (empty: the server as a whole) takes calls now."""
        raise NotImplementedError


class Health(HealthServer):
    """The health service answering from ``state``."""

    def __init__(self, state: HealthState) -> None:
        self._state = state

    async def check(self, *, service: str) -> HealthStatus:
        return self._state.status(service)


class HealthClient(AsyncClient):
    """Client of ``uvrpc.Health`` (asyncio)."""

    async def check(
        self, *, service: str = "", timeout: float | None = None
    ) -> HealthStatus:
        """Whether ``service`` (empty: the server as a whole) takes calls now."""
        return await self._call(_CHECK, (service,), timeout)


class HealthSyncClient(SyncClient):
    """Blocking client of ``uvrpc.Health``."""

    def check(self, *, service: str = "", timeout: float | None = None) -> HealthStatus:
        """Whether ``service`` (empty: the server as a whole) takes calls now."""
        return self._call(_CHECK, (service,), timeout)
