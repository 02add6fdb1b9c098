"""The client side: I/O shells over the protocol core.

:class:`~uvrpc.Channel` (asyncio) and :class:`~uvrpc.SyncChannel` (blocking) own a
socket and the waiting; :class:`AsyncClient` and :class:`SyncClient` are the bases
of generated clients. Nothing here imports the server.
"""

from .stubs import AsyncClient, SyncClient

__all__ = ["AsyncClient", "SyncClient"]
