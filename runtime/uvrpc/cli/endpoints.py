"""What the command line refuses in an endpoint before it makes a socket of it."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["refuse_inproc"]


def refuse_inproc(endpoints: Iterable[str]) -> None:
    """Refuse an ``inproc://`` endpoint given to a command.

    Only sockets of the process that binds one reach it, and every ``uvrpc``
    command is a process of its own: a server bound there would serve nobody, and
    a client would wait for a server that cannot come.

    Raises:
        ValueError: one of ``endpoints`` is an ``inproc://`` endpoint.
    """
    for endpoint in endpoints:
        if endpoint.startswith("inproc://"):
            raise ValueError(
                f"{endpoint}: an inproc:// endpoint is reached only from inside the "
                "process that binds it, and each uvrpc command is a process of its "
                "own: use a tcp:// or ipc:// endpoint"
            )
