"""The client half of a call, shared by the async and the blocking channel.

:func:`encode_request` turns a method and its arguments into request frames;
:func:`decode_reply` turns reply frames into the method's typed result or the
:class:`~uvrpc.RpcError` the reply carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import ValidationError
from typing_extensions import Buffer

from ..wire.buffers import BodyEncoder
from ..wire.codec import DecodeError, EncodeError, unpack
from ..wire.errors import (
    DeclaredError,
    InternalError,
    InvalidArgument,
    ResourceExhausted,
    RpcError,
    Unimplemented,
    error_for_status,
)
from ..wire.limits import MAX_MESSAGE_SIZE, message_size, too_large
from ..wire.methods import Reply, Unary
from ..wire.protocol import DELIMITER, ReplyHeader
from ..wire.status import Status
from ..wire.validation import first_problem
from ..wire.version import PROTOCOL_VERSION

__all__ = [
    "MethodInfo",
    "check_size",
    "decode_reply",
    "encode_request",
    "error_from_body",
    "timeout_ms",
]


class MethodInfo(Protocol):
    """What error decoding needs of a method descriptor, of any kind."""

    route: str
    errors_by_name: dict[str, type[DeclaredError]]


def timeout_ms(timeout: float | None) -> int | None:
    """The timeout a request header carries: whole milliseconds, rounded down (so
    a deadline passed on to a server is never later than the caller's), at least 1.
    """
    if timeout is None:
        return None
    return max(1, int(timeout * 1000))


def encode_request(
    encoder: BodyEncoder,
    call_id: int,
    method: Unary[Any, Any],
    args: dict[str, Any],
    timeout: float | None,
    metadata: bytes | None = None,
    *,
    max_size: int = MAX_MESSAGE_SIZE,
) -> list[Any]:
    """Encode a request as ``[delimiter, attachment..., header, body]``, with
    ``metadata`` (an encoded map) in its header if given.

    The body, the last frame, is a view of a pooled buffer: pass it to
    ``encoder.settle`` once the frames were sent (or could not be).

    Raises:
        InvalidArgument: an argument has a type that cannot be encoded.
        ResourceExhausted: the request is larger than ``max_size`` bytes.
    """
    try:
        body, attachments = encoder.encode(args, method.payload_params)
    except (EncodeError, ValueError, OverflowError) as exc:
        raise InvalidArgument(
            f"cannot send the arguments of {method.route}: {exc}"
        ) from None
    header = method.headers.encode(call_id, timeout_ms(timeout), metadata)
    if attachments:
        frames = [DELIMITER, *attachments, header, body]
        check_size(encoder, frames, f"the request of {method.route}", max_size)
        return frames
    if len(body) + len(header) > max_size:
        frames = [DELIMITER, header, body]
        check_size(encoder, frames, f"the request of {method.route}", max_size)
    return [DELIMITER, header, body]


def check_size(
    encoder: BodyEncoder, frames: list[Any], what: str, max_size: int
) -> None:
    """Refuse to send ``frames`` (``what``: "the request of …") if they are
    larger than ``max_size`` bytes.

    Raises:
        ResourceExhausted: they are; the body was given back to ``encoder``.
    """
    if len(frames) == 3 and len(frames[2]) + len(frames[1]) <= max_size:
        return  # the usual case: no attachments, small
    size = message_size(frames, 1)
    if size > max_size:
        encoder.settle(frames[-1], False)
        raise ResourceExhausted(
            too_large(what, size, max_size, "this channel") + "; not sent"
        )


def decode_reply(
    method: Unary[Any, Reply],
    header: ReplyHeader,
    body: Buffer,
    attachments: Sequence[Buffer],
    views: list[memoryview] | None = None,
) -> Reply:
    """Return the result a reply carries, or raise the error it carries.

    Each view of an attachment frame in the result is appended to ``views`` if
    given (a call handle releases them).

    Raises:
        RpcError: the reply has an error status (the subclass matches the status).
        Unimplemented: the reply succeeded in another protocol version, whose
            result this client cannot read.
        InternalError: the reply does not decode or does not match the method's
            declared result type.
    """
    if header.version != PROTOCOL_VERSION and header.status == Status.OK:
        raise Unimplemented(
            f"the server replied to {method.route} in protocol version "
            f"{header.version}; this client speaks version {PROTOCOL_VERSION}"
        )
    try:
        value = unpack(body, attachments, views)
    except DecodeError as exc:
        raise InternalError(f"reply of {method.route} is malformed: {exc}") from None
    if header.status != Status.OK:
        error = error_from_body(method, header.status, value)
        if header.trailers:
            error.trailers = header.trailers
        raise error
    try:
        return method.check_reply(value)
    except ValidationError as exc:
        problem = first_problem(exc)
    except ValueError as exc:
        problem = str(exc)
    raise InternalError(
        f"reply of {method.route} does not match its declared type: {problem}"
    )


def error_from_body(method: MethodInfo, status: int, value: object) -> RpcError:
    """The exception an error reply's decoded body stands for.

    An exception the method declares comes back as its generated class with the
    fields it was raised with; one this client does not know (a newer server's)
    as the error of its status, message kept.
    """
    if not isinstance(value, dict):
        return error_for_status(status, f"(malformed error reply: {value!r:.200})")
    message, details = value.get("message"), value.get("details")
    if not (isinstance(message, str) and isinstance(details, dict | None)):
        return error_for_status(status, f"(malformed error reply: {value!r:.200})")
    name = value.get("error")
    declared = method.errors_by_name.get(name) if isinstance(name, str) else None
    if declared is None:
        return error_for_status(status, message, details)
    try:
        fields = declared.uvrpc_fields.model_validate(value.get("fields") or {})
    except ValidationError as exc:
        return InternalError(
            f"{method.route} raised {declared.uvrpc_name} with fields that do not "
            f"match its declaration: {first_problem(exc)}"
        )
    return declared.from_fields(fields, message)
