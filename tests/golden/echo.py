# Generated from echo.idl by uvrpc-gen 0.6.0 — do not edit.
"""The echo service: the payload the benchmarks send back and forth."""

from __future__ import annotations

import abc as _abc

import uvrpc as _uvrpc
from uvrpc import types as _t

_uvrpc.check_generated_code(generator="0.6.0", api=9, protocol=3)

__uvrpc_namespace__ = "echo"

__all__ = [
    "EchoClient",
    "EchoServer",
    "EchoSyncClient",
    "UnimplementedEchoServer",
]


class _EchoEchoParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(data=1)

    data: _t.Bytes


_ECHO_ECHO: _uvrpc.Unary[_EchoEchoParams, memoryview] = _uvrpc.Unary(
    route="echo.Echo.echo",
    handler="echo",
    params=_EchoEchoParams,
    reply=_t.Bytes,
)
_ECHO = _uvrpc.ServiceSpec(name="echo.Echo", methods=(_ECHO_ECHO,))


class EchoClient(_uvrpc.AsyncClient):
    """Asynchronous client of ``echo.Echo``.

    Returns what it is sent.
    """

    async def echo(
        self,
        *,
        data: _uvrpc.Buffer,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> memoryview:
        """Sends `data` back unchanged."""
        return await self._call(_ECHO_ECHO, (data,), timeout, wait_for_ready)

    def start_echo(
        self,
        *,
        data: _uvrpc.Buffer,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[memoryview]:
        """Start :meth:`echo` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_ECHO_ECHO, (data,), timeout, wait_for_ready)


class EchoSyncClient(_uvrpc.SyncClient):
    """Blocking client of ``echo.Echo``.

    Returns what it is sent.
    """

    def echo(
        self,
        *,
        data: _uvrpc.Buffer,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> memoryview:
        """Sends `data` back unchanged."""
        return self._call(_ECHO_ECHO, (data,), timeout, wait_for_ready)


class EchoServer(_uvrpc.ServiceBase):
    """Base class of ``echo.Echo`` implementations.

    Returns what it is sent.
    """

    uvrpc_service = _ECHO

    @_abc.abstractmethod
    async def echo(self, *, data: memoryview) -> _uvrpc.Buffer:
        """Sends `data` back unchanged."""


class UnimplementedEchoServer(EchoServer):
    """A partial server: each method answers UNIMPLEMENTED until overridden.

    Subclass it to serve some of the methods of ``echo.Echo``, say while a new method
    reaches the servers one by one. A class that must serve them all subclasses
    :class:`EchoServer`, whose abstract methods let a type checker find one left out.
    """

    async def echo(self, *, data: memoryview) -> _uvrpc.Buffer:
        """Sends `data` back unchanged."""
        raise _uvrpc.unimplemented(_ECHO_ECHO)
