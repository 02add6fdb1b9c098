"""The server side: an I/O shell over the protocol core.

:class:`Server` owns a ROUTER socket and the handlers' tasks; the dispatcher and the
stream sessions run handlers. Nothing here imports the client.
"""

from .server import Server, ServerStats

__all__ = ["Server", "ServerStats"]
