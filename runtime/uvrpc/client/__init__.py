"""The client side: I/O shells over the protocol core.

:class:`~uvrpc.Channel` (asyncio) owns a socket and the waiting,
:class:`~uvrpc.SyncChannel` (blocking) a connection per thread calling at once;
:class:`AsyncClient` and :class:`SyncClient` are the bases of generated clients.
Nothing here imports the server.
"""

from .stubs import AsyncClient, SyncClient

__all__ = ["AsyncClient", "SyncClient"]
