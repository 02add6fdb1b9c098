"""The client half of a call's encoding, shared by the async and the blocking channel.

:func:`encode_request` and :func:`encode_stream_request` turn a method and its
arguments into request frames, :func:`encode_item` one item of the caller's stream
into an ITEM message, :func:`control_frames` builds END, CANCEL and CREDIT;
:func:`decode_reply` turns reply frames into the method's typed result or the
:class:`~uvrpc.RpcError` the reply carries, :func:`decode_item` an ITEM's body into
the item (the call table that uses them is :mod:`uvrpc.core.client`).
"""

from __future__ import annotations

import math
import numbers
import reprlib
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from pydantic import ValidationError
from typing_extensions import Buffer

from ..wire.buffers import BodyEncoder
from ..wire.codec import DecodeError, EncodeError, unpack, unsendable
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
from ..wire.methods import Reply, StreamingMethod, Unary
from ..wire.protocol import (
    DELIMITER,
    KIND_ITEM,
    NIL_BODY,
    STAMP_ORIGIN,
    ReplyHeader,
    encode_stream_header,
    send_stamp,
)
from ..wire.status import Status
from ..wire.validation import first_problem, invalid_argument
from ..wire.version import PROTOCOL_VERSION

__all__ = [
    "MethodInfo",
    "check_size",
    "checked_timeout",
    "control_frames",
    "decode_item",
    "decode_reply",
    "encode_item",
    "encode_request",
    "encode_stream_request",
    "error_from_body",
    "not_items",
    "refuse_text",
    "timeout_ms",
]


_monotonic = time.monotonic


class MethodInfo(Protocol):
    """What error decoding needs of a method descriptor, of any kind."""

    route: str
    errors_by_name: dict[str, type[DeclaredError]]


def checked_timeout(timeout: object) -> float | None:
    """``timeout``, a call's (or a client's default) deadline in seconds, once
    it is known to be one: ``None``, a positive number (any real number, a numpy
    float included, as a ``float``), or ``math.inf`` for no deadline, returned as
    ``None``: a call's ``timeout=None`` takes its client's default, so a call
    that must outlast it (a stream that follows changes) says ``math.inf``, as
    ``timeout=None`` says in gRPC.

    Raises:
        TypeError: not a number (``"5"``, ``True``).
        ValueError: zero, negative or NaN.
    """
    if timeout is None:
        return None
    # The two spellings of nearly every timeout, in a few comparisons; 1e300
    # keeps an int that no float can hold (and inf, and NaN) off this path.
    if (type(timeout) is float or type(timeout) is int) and 0 < timeout < 1e300:
        return float(timeout)
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
        raise TypeError(
            "timeout must be a number of seconds or None, "
            f"not {type(timeout).__name__} {reprlib.repr(timeout)}"
        )
    try:
        seconds = float(timeout)
    except OverflowError:  # an int too large for a float: as an infinity
        large: Any = timeout  # a numbers.Real, which typeshed does not compare
        seconds = math.inf if large > 0 else -math.inf
    if seconds == math.inf:
        return None
    if not 0 < seconds:  # NaN too
        raise ValueError(
            "timeout must be a positive number of seconds (math.inf: no "
            f"deadline), not {reprlib.repr(timeout)}"
        )
    return seconds


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
    # The helpers below, inline: this is every unary call's path.
    try:
        body, attachments = encoder.encode(args, method.payload_params)
    except (EncodeError, ValueError, OverflowError) as exc:
        body, attachments = _encode_validated(encoder, method, args, exc)
    if timeout is None:
        header = method.headers.encode(call_id, None, metadata)
    else:
        # timeout_ms() and send_stamp(), inline: the stamp makes the time the
        # request waits on its way count against its deadline (clocks.py).
        ms = max(1, int(timeout * 1000))
        sent_us = int((_monotonic() + STAMP_ORIGIN) * 1_000_000)
        header = method.headers.encode(call_id, ms, metadata, sent_us)
    if attachments:
        frames = [DELIMITER, *attachments, header, body]
        check_size(encoder, frames, f"the request of {method.route}", max_size)
        return frames
    if len(body) + len(header) > max_size:
        frames = [DELIMITER, header, body]
        check_size(encoder, frames, f"the request of {method.route}", max_size)
    return [DELIMITER, header, body]


def encode_stream_request(
    encoder: BodyEncoder,
    call_id: int,
    method: StreamingMethod,
    args: dict[str, Any],
    timeout: float | None,
    window: int | None,
    metadata: bytes | None = None,
    *,
    max_size: int = MAX_MESSAGE_SIZE,
) -> list[Any]:
    """Encode the request that opens a stream call, granting the server
    ``window`` items if it streams (``None``: it does not); as
    :func:`encode_request` otherwise."""
    body, attachments = _encode_args(encoder, method, args)
    try:
        header = method.headers.encode_stream(
            call_id,
            timeout_ms(timeout),
            window,
            metadata,
            None if timeout is None else send_stamp(),
        )
    except BaseException:
        # The body holds the pooled buffer: given back, or the next call's
        # body would be written after it.
        encoder.settle(body, False)
        raise
    return _request_frames(encoder, method.route, header, body, attachments, max_size)


def _encode_args(
    encoder: BodyEncoder, method: StreamingMethod, args: dict[str, Any]
) -> tuple[Any, Sequence[Any]]:
    try:
        return encoder.encode(args, method.payload_params)
    except (EncodeError, ValueError, OverflowError) as exc:
        return _encode_validated(encoder, method, args, exc)


def _encode_validated(
    encoder: BodyEncoder,
    method: Unary[Any, Any] | StreamingMethod,
    args: dict[str, Any],
    exc: Exception,
) -> tuple[Any, Sequence[Any]]:
    """Encode ``args``, which failed to encode as given (``exc``), as validation
    makes them, if they are valid: an integer beyond 64 bits given for a
    ``float`` or ``double`` (a value of the type, which the server would read as
    that float) has no msgpack form until it is one. Off the calls' path.

    Raises:
        InvalidArgument: they are not valid, or have no wire form even so
            (:func:`_cannot_send`).
    """
    try:
        params = method.check_params(args)
    except (TypeError, ValueError):  # pydantic's ValidationError is one
        raise _cannot_send(method, args, exc) from None
    names = {
        field.serialization_alias or name: name
        for name, field in method.params.model_fields.items()
    }
    validated = {key: getattr(params, names.get(key, key)) for key in args}
    try:
        return encoder.encode(validated, method.payload_params)
    except (EncodeError, ValueError, OverflowError):
        raise _cannot_send(method, args, exc) from None


_BOUNDS = frozenset(
    {"less_than_equal", "greater_than_equal", "less_than", "greater_than"}
)
"""The validation errors of a number out of its type's range: an integer msgpack
cannot encode breaks one of them (any other cause keeps the encoder's words)."""


_PATH_ENDS = 8
"""Steps kept at each end of a field path too long to read whole."""


def _cannot_send(
    method: Unary[Any, Any] | StreamingMethod, args: dict[str, Any], exc: Exception
) -> InvalidArgument:
    """The error of arguments that have no wire form (a naive ``datetime`` where a
    ``timestamp`` is declared), naming the parameter and the path inside it, as
    validation would, when one alone is the cause.

    An integer beyond 64 bits, which msgpack cannot encode, is refused as the
    server would refuse it, with the bound it breaks (``Input should be less than
    or equal to …``), as one just beyond an ``i64`` is. Checked here alone, off
    the calls' path.
    """
    bound = _bound_error(method.check_params, args, method.route)
    if bound is not None:
        return bound
    path = unsendable(args)
    if path is None:
        return InvalidArgument(f"cannot send the arguments of {method.route}: {exc}")
    names = {
        field.serialization_alias or name: name
        for name, field in method.params.model_fields.items()
    }
    parts = [names.get(path[0], path[0]), *path[1:]]
    if len(parts) > 2 * _PATH_ENDS:
        # A value nested a thousand levels deep: its ends say where it is.
        left = len(parts) - 2 * _PATH_ENDS
        parts = [*parts[:_PATH_ENDS], f"<{left} more>", *parts[-_PATH_ENDS:]]
    name = ".".join(parts)
    return InvalidArgument(
        f"cannot send argument '{name}' of {method.route}: {exc}",
        {"field_path": name},
    )


def _request_frames(
    encoder: BodyEncoder,
    route: str,
    header: bytes,
    body: Any,
    attachments: Sequence[Any],
    max_size: int,
) -> list[Any]:
    if attachments:
        frames = [DELIMITER, *attachments, header, body]
        check_size(encoder, frames, f"the request of {route}", max_size)
        return frames
    if len(body) + len(header) > max_size:
        frames = [DELIMITER, header, body]
        check_size(encoder, frames, f"the request of {route}", max_size)
    return [DELIMITER, header, body]


def encode_item(
    encoder: BodyEncoder,
    call_id: int,
    method: StreamingMethod,
    item: Any,
    index: int,
    max_size: int,
) -> list[Any]:
    """Encode item ``index`` of the caller's stream as an ITEM message; its body,
    the last frame, goes back to ``encoder.settle`` as a request's does.

    Raises:
        InvalidArgument: the item cannot be encoded.
        ResourceExhausted: the message is larger than ``max_size`` bytes.
    """
    try:
        body, attachments = encoder.encode(item, method.request_item_carries_bytes)
    except (EncodeError, ValueError, OverflowError) as exc:
        # As _encode_validated does for arguments: a valid item (a float
        # given as an integer beyond 64 bits) is sent as validation makes it.
        try:
            checked = method.check_request_item(item)
            body, attachments = encoder.encode(
                checked, method.request_item_carries_bytes
            )
        except (EncodeError, TypeError, ValueError, OverflowError):
            raise _cannot_send_item(method, item, index, exc) from None
    header = encode_stream_header(KIND_ITEM, call_id)
    if attachments:
        frames = [DELIMITER, *attachments, header, body]
    else:
        frames = [DELIMITER, header, body]
    check_size(encoder, frames, f"an item of {method.route}", max_size)
    return frames


def _bound_error(
    check: Callable[[Any], Any], value: Any, route: str, prefix: str | None = None
) -> InvalidArgument | None:
    """The error of ``value`` (arguments, an item named ``prefix``) that could
    not be encoded when what ``check`` (its validation) finds wrong with it is a
    bound alone (an integer beyond 64 bits): worded as the server would word it.
    ``None`` when validation finds something else, or nothing."""
    try:
        check(value)
    except ValidationError as invalid:
        if all(error["type"] in _BOUNDS for error in invalid.errors()):
            return invalid_argument(route, invalid, prefix)
    except (TypeError, ValueError):  # not the validator's to judge
        pass
    return None


def _cannot_send_item(
    method: StreamingMethod, item: Any, index: int, exc: Exception
) -> InvalidArgument:
    """The error of item ``index`` of the caller's stream that has no wire form,
    named at ``<stream>.<index>`` and inside, as a server names an item; one that
    breaks a bound of its type (an integer beyond 64 bits) with that bound, as
    :func:`_cannot_send` words arguments."""
    path = f"{method.stream}.{index}"
    bound = _bound_error(method.check_request_item, item, method.route, path)
    if bound is not None:
        return bound
    inside = (unsendable({"": item}) or [""])[1:]
    return InvalidArgument(
        f"cannot send item {index} of {method.route}: {exc}",
        {"field_path": ".".join([path, *inside])},
    )


def not_items(method: StreamingMethod, items: object, expected: str) -> TypeError:
    """The error of a client- or bidirectional-streaming call given ``items``
    that are not ``expected`` (``"an iterable of items"``), naming the method and
    its stream parameter: what either client raises at the call."""
    name = method.stream or "items"
    return TypeError(
        f"{method.route}: {name} must be {expected}, not {type(items).__name__}"
    )


def refuse_text(method: StreamingMethod, items: object) -> None:
    """Refuse a ``str`` or binary value given as a stream's items: iterable,
    and so taken by a type checker for an ``Iterable[str]`` (or of ints), it
    would be sent a character (a byte) an item.

    Raises:
        TypeError: it is one; the message says how to send it as one item.
    """
    if isinstance(items, str | bytes | bytearray | memoryview):
        name = method.stream or "items"
        raise TypeError(
            f"{method.route}: {name} must be an iterable of items, not "
            f"{type(items).__name__}, which would be sent a "
            f"{'character' if isinstance(items, str) else 'byte'} an item; to "
            "send it as one item, put it in a list"
        )


def control_frames(kind: int, call_id: int, n: int = 0) -> list[Any]:
    """The frames of an END, CANCEL or CREDIT (of ``n`` items) of a call."""
    return [DELIMITER, encode_stream_header(kind, call_id, n), NIL_BODY]


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


def decode_item(
    method: StreamingMethod, body: Buffer, attachments: Sequence[Buffer]
) -> Any:
    """The item an ITEM message from the server carries, validated.

    Raises:
        InternalError: the body does not decode or does not match the method's
            declared item type (the message names the first problem).
    """
    try:
        return method.check_reply_item(unpack(body, attachments))
    except DecodeError as exc:
        problem = str(exc)
    except ValueError as exc:  # pydantic's ValidationError is one
        problem = first_problem(exc)
    raise InternalError(
        f"an item of {method.route} does not match its declared type: {problem}"
    )
