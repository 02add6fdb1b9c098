"""The exceptions uvrpc raises.

:class:`RpcError` and its subclasses are the *expected* failures of a call: each carries
a :class:`~uvrpc.Status`, a message and optional details, and a handler may raise any of
them to reply with that status. :class:`ProtocolError` is a different kind: a peer broke
the wire protocol (or speaks another version of it).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from .message import Message, readable
from .status import Status

__all__ = [
    "Aborted",
    "AlreadyExists",
    "Cancelled",
    "ChannelClosed",
    "DataLoss",
    "DeadlineExceeded",
    "DeclaredError",
    "FailedPrecondition",
    "InternalError",
    "InvalidArgument",
    "NotFound",
    "OutOfRange",
    "PermissionDenied",
    "ProtocolError",
    "RemoteError",
    "ResourceExhausted",
    "RpcError",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "error_for_status",
]


class RpcError(Exception):
    """A call failed with a status other than OK.

    Raised by a client when the reply carries an error status, or locally when the
    call cannot complete (deadline, closed client). Raised by a handler, it becomes
    the reply: the caller receives the same class with the same status, message and
    details.

    Attributes:
        status: why the call failed.
        message: a human-readable explanation.
        details: structured extras (for ``INVALID_ARGUMENT``: ``field_path`` and
            ``errors``); msgpack-serialisable values only.
    """

    status_code: ClassVar[Status] = Status.UNKNOWN
    trailers: Mapping[str, str | bytes] = MappingProxyType({})
    """The trailers of the error reply, as a client received them (empty for an
    error raised locally, or a reply without trailers)."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    @property
    def status(self) -> Status:
        """The status this error carries on the wire."""
        return self.status_code

    def __str__(self) -> str:
        return f"{self.status.name}: {self.message}"


class Cancelled(RpcError):
    """The call was cancelled before it completed."""

    status_code = Status.CANCELLED


class RemoteError(RpcError):
    """The handler raised an exception that is not an :class:`RpcError`.

    The message names the exception's type and text; the server's traceback stays in
    the server's log.
    """

    status_code = Status.UNKNOWN


class InvalidArgument(RpcError):
    """The request did not match the method's declared types.

    ``details["field_path"]`` names the first offending field (``"program.steps.0.op"``)
    and ``details["errors"]`` lists the problems found, the first
    :data:`~uvrpc.wire.limits.MAX_PROBLEMS` (ten) of them; ``details["more"]``
    counts the rest, if any (``docs/limits.md``).
    """

    status_code = Status.INVALID_ARGUMENT

    @property
    def field_path(self) -> str | None:
        """The dotted path of the first field that failed validation, if any."""
        path = self.details.get("field_path")
        return path if isinstance(path, str) else None


class DeadlineExceeded(RpcError):
    """No reply arrived before the call's deadline; raised by the client itself."""

    status_code = Status.DEADLINE_EXCEEDED


class NotFound(RpcError):
    """A handler reported that what the call names does not exist."""

    status_code = Status.NOT_FOUND


class AlreadyExists(RpcError):
    """A handler reported that what the call would create exists already."""

    status_code = Status.ALREADY_EXISTS


class PermissionDenied(RpcError):
    """The caller is not allowed to make this call."""

    status_code = Status.PERMISSION_DENIED


class ResourceExhausted(RpcError):
    """A limit was reached (size, calls in flight, queue length)."""

    status_code = Status.RESOURCE_EXHAUSTED


class FailedPrecondition(RpcError):
    """The system is not in a state in which the call can run."""

    status_code = Status.FAILED_PRECONDITION


class Aborted(RpcError):
    """A handler gave up the call because of a conflict, such as a transaction
    that lost a race; the caller may retry the whole operation (a :class:`~uvrpc.Retry`
    does not: it retries ``UNAVAILABLE`` only)."""

    status_code = Status.ABORTED


class OutOfRange(RpcError):
    """A handler reported that an argument is past the valid range, such as a
    read past the end of a file (a range that could become valid, unlike
    ``INVALID_ARGUMENT``)."""

    status_code = Status.OUT_OF_RANGE


class Unimplemented(RpcError):
    """The server does not serve the method (or service) the request names."""

    status_code = Status.UNIMPLEMENTED


class InternalError(RpcError):
    """An invariant broke: a reply that does not match its declared type, for one."""

    status_code = Status.INTERNAL


class Unavailable(RpcError):
    """The server cannot be reached, or the client was closed with the call pending."""

    status_code = Status.UNAVAILABLE


class ChannelClosed(Unavailable):
    """The call's channel (or client) is closed: the call was not sent, or its
    reply can no longer arrive.

    An :class:`Unavailable`, so a caller that handles one handles this; a
    :class:`~uvrpc.Retry` does not retry it, since every attempt would meet the same
    closed channel.
    """


class DataLoss(RpcError):
    """A handler reported that data was lost or corrupted beyond recovery."""

    status_code = Status.DATA_LOSS


class Unauthenticated(RpcError):
    """The caller's identity could not be established."""

    status_code = Status.UNAUTHENTICATED


_NO_MESSAGE: Any = object()
"""The default of :class:`DeclaredError`'s ``message``: none given."""


class DeclaredError(RpcError):
    """Base of the exception classes generated from the IDL's ``exception`` types.

    A generated subclass has one attribute per field of the IDL declaration. Raised
    by a handler whose method declares it (``throws (...)``), it reaches the caller
    as the same class with the same field values; its status on the wire is
    ``UNKNOWN``, as for any application error, and its wire name and fields travel
    in the error reply's body. Raised by a method that does not declare it, it is
    an undeclared exception like any other (:class:`RemoteError`).

    Args:
        message: a human-readable explanation; by default the class name and
            field values, ``KeyMissing(key='a')``. An exception that declares a
            ``string message`` field (as Thrift's do) takes it as that field,
            whose value is then its message text too.
        fields: the field values, validated against the declaration at once (a
            wrong type raises pydantic's ``ValidationError`` where it is made).
    """

    uvrpc_name: ClassVar[str] = ""
    """The exception's wire name, ``namespace.Name``."""
    uvrpc_fields: ClassVar[type[Message]]
    """The generated model of the exception's fields."""
    fields: Message
    """The validated field values, as a message."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        model = cls.__dict__.get("uvrpc_fields")
        if model is not None and model.model_config.get("title") is None:
            # The fields' model is private (``_NotFoundFields``): a wrong value
            # given to ``NotFound(...)`` is reported "1 validation error for
            # NotFound", the class its caller wrote. A model already titled (by
            # another exception sharing it) keeps its title; one naming a class
            # not defined yet is built when first used, as pydantic does.
            model.model_config = {**model.model_config, "title": cls.__name__}
            model.model_rebuild(force=True, raise_errors=False)

    def __init__(self, message: str = _NO_MESSAGE, **fields: Any) -> None:
        declared = "message" in self.uvrpc_fields.model_fields
        if declared and message is not _NO_MESSAGE:
            fields["message"] = message  # a field: validated as one
        self.fields = self.uvrpc_fields(**fields)
        for name in type(self.fields).model_fields:
            setattr(self, name, getattr(self.fields, name))
        if declared:
            text = self.fields.message  # type: ignore[attr-defined]
        else:
            text = "" if message is _NO_MESSAGE else message
        super().__init__(text or self.summary())

    def __repr__(self) -> str:
        # The class and its fields (a message field among them), as logs that
        # use repr() need them: Exception's repr shows the message text alone.
        if getattr(self, "fields", None) is None:
            return super().__repr__()  # made without __init__: no fields yet
        summary = self.summary()
        message = self.message
        if message == summary or "message" in type(self.fields).model_fields:
            return summary
        # A message of its own, first, as the constructor takes it.
        head, _, rest = summary.partition("(")
        return f"{head}({message!r}, {rest}" if rest != ")" else f"{head}({message!r})"

    def summary(self) -> str:
        """The class name and the field values, ``KeyMissing(key='a')``."""
        values = ", ".join(
            f"{name}={readable(getattr(self.fields, name))!r}"
            for name in type(self.fields).model_fields
        )
        return f"{type(self).__name__}({values})"

    @classmethod
    def from_fields(cls, fields: Message, message: str) -> DeclaredError:
        """Rebuild the exception from fields a reply carried (already validated)."""
        error = cls.__new__(cls)
        error.fields = fields
        for name in type(fields).model_fields:
            setattr(error, name, getattr(fields, name))
        RpcError.__init__(error, message or error.summary())
        return error


class ProtocolError(Exception):
    """A peer sent frames that break the wire protocol, or speaks another version."""


_BY_STATUS: dict[Status, type[RpcError]] = {
    cls.status_code: cls
    for cls in (
        Cancelled,
        RemoteError,
        InvalidArgument,
        DeadlineExceeded,
        NotFound,
        AlreadyExists,
        PermissionDenied,
        ResourceExhausted,
        FailedPrecondition,
        Aborted,
        OutOfRange,
        Unimplemented,
        InternalError,
        Unavailable,
        DataLoss,
        Unauthenticated,
    )
}


def error_for_status(
    status: int, message: str, details: dict[str, Any] | None = None
) -> RpcError:
    """Build the exception a client raises for an error reply.

    An unknown status number (from a newer peer) becomes a :class:`RemoteError` whose
    message keeps the number.
    """
    try:
        cls = _BY_STATUS[Status(status)]
    except (ValueError, KeyError):
        return RemoteError(f"status {status}: {message}", details)
    return cls(message, details)
