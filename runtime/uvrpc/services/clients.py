"""Clients of the built-in services, :mod:`uvrpc.services.health` and
:mod:`uvrpc.services.reflection` (kept apart from them, so that a server, which
serves both, never imports a client).

A check, a watch or a description of one service names it in the request's
metadata too (:data:`~uvrpc.wire.protocol.ABOUT_SERVICE`): a broker shared by
servers of several services then sends it to a server of that service, not to
whichever server it would pick, which may serve another and know nothing of it."""

from __future__ import annotations

import builtins
from collections.abc import Generator
from typing import Any

from ..client.streams import ItemStream
from ..client.stubs import AsyncClient, SyncClient
from ..core.context import metadata
from ..wire.protocol import ABOUT_SERVICE
from .health import CHECK_METHOD, WATCH_METHOD, HealthStatus
from .reflection import DESCRIBE_METHOD, LIST_METHOD

__all__ = [
    "HealthClient",
    "HealthSyncClient",
    "ReflectionClient",
    "ReflectionSyncClient",
]


class HealthClient(AsyncClient):
    """Client of ``uvrpc.Health`` (asyncio)."""

    async def check(
        self, *, service: str = "", timeout: float | None = None
    ) -> HealthStatus:
        """Whether ``service`` (empty: the server as a whole) takes calls now."""
        with metadata(_about(service)):
            return await self._call(CHECK_METHOD, (service,), timeout)

    def watch(
        self, *, service: str = "", timeout: float | None = None
    ) -> ItemStream[HealthStatus]:
        """The answer of :meth:`check` now, then each time it changes, until the
        stream is closed (or ``timeout``, the client's if ``None``, passes).

        The stream ends after NOT_SERVING when the server closes with a grace.
        """
        # The stream takes the metadata of the block it is made in.
        with metadata(_about(service)):
            return self._server_stream(WATCH_METHOD, (service,), timeout)


class HealthSyncClient(SyncClient):
    """Blocking client of ``uvrpc.Health``."""

    def check(self, *, service: str = "", timeout: float | None = None) -> HealthStatus:
        """Whether ``service`` (empty: the server as a whole) takes calls now."""
        with metadata(_about(service)):
            return self._call(CHECK_METHOD, (service,), timeout)

    def watch(
        self, *, service: str = "", timeout: float | None = None
    ) -> Generator[HealthStatus, None, None]:
        """The answer of :meth:`check` now, then each time it changes, until the
        iterator is closed (or ``timeout``, the client's if ``None``, passes).

        The iteration ends after NOT_SERVING when the server closes with a grace.
        """
        # The iterator takes the metadata of the block it is made in.
        with metadata(_about(service)):
            return self._server_stream(WATCH_METHOD, (service,), timeout)


class ReflectionClient(AsyncClient):
    """Client of ``uvrpc.Reflection`` (asyncio)."""

    async def list(self, *, timeout: float | None = None) -> builtins.list[str]:
        """The names of the services the server serves, sorted."""
        return await self._call(LIST_METHOD, (), timeout)

    async def describe(
        self, *, name: str = "", timeout: float | None = None
    ) -> dict[str, Any]:
        """The description of service ``name``, or of them all.

        Raises:
            uvrpc.NotFound: the server serves no such service.
        """
        with metadata(_about(name)):
            return await self._call(DESCRIBE_METHOD, (name,), timeout)


class ReflectionSyncClient(SyncClient):
    """Blocking client of ``uvrpc.Reflection``."""

    def list(self, *, timeout: float | None = None) -> builtins.list[str]:
        """The names of the services the server serves, sorted."""
        return self._call(LIST_METHOD, (), timeout)

    def describe(
        self, *, name: str = "", timeout: float | None = None
    ) -> dict[str, Any]:
        """The description of service ``name``, or of them all.

        Raises:
            uvrpc.NotFound: the server serves no such service.
        """
        with metadata(_about(name)):
            return self._call(DESCRIBE_METHOD, (name,), timeout)


def _about(service: str) -> dict[str, str | bytes]:
    """The metadata of a call asking about ``service`` (none for the server as a
    whole), by which a broker picks a server of it."""
    return {ABOUT_SERVICE: service} if service else {}
