"""Status codes carried by every reply.

The numbers are gRPC's, so operators who know gRPC read them without a table.
"""

from __future__ import annotations

import enum

__all__ = ["Status"]


class Status(enum.IntEnum):
    """The outcome of a call, as the reply header carries it."""

    OK = 0
    """The call succeeded."""
    CANCELLED = 1
    """The caller cancelled the call."""
    UNKNOWN = 2
    """The handler raised an exception that is not an :class:`~uvrpc.RpcError`."""
    INVALID_ARGUMENT = 3
    """The request did not decode or did not validate against the method's types."""
    DEADLINE_EXCEEDED = 4
    """The call's deadline passed before a reply arrived."""
    NOT_FOUND = 5
    """A handler reported that what the call names does not exist."""
    ALREADY_EXISTS = 6
    """A handler reported that what the call would create exists already."""
    RESOURCE_EXHAUSTED = 8
    """A limit was reached: message size, calls in flight, queue length."""
    FAILED_PRECONDITION = 9
    """The system is not in a state in which the call can run."""
    ABORTED = 10
    """A handler gave up the call because of a conflict (a transaction that lost
    a race); the caller may retry the whole operation."""
    OUT_OF_RANGE = 11
    """A handler reported that an argument is past the valid range (a read past
    the end of a file)."""
    UNIMPLEMENTED = 12
    """The server does not serve the method the request names."""
    INTERNAL = 13
    """A bug: an invariant of the protocol or of generated code broke."""
    UNAVAILABLE = 14
    """The server could not be reached, or is shutting down."""
    DATA_LOSS = 15
    """A handler reported that data was lost or corrupted beyond recovery."""
    UNAUTHENTICATED = 16
    """The caller's identity could not be established."""
    PERMISSION_DENIED = 7
    """The caller is known but not allowed to make this call."""
