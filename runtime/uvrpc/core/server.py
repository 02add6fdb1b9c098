"""The server half of a call: what a server makes of the frames it receives, and
the frames it answers with.

A :class:`ServerProtocol` holds the route table of the services it serves.
:meth:`~ServerProtocol.receive` classifies a received message — a request ready to
run, a message of a stream, a stream message over the size limit — or refuses it
with :class:`Rejected` (the error reply to send, or nothing: drop it and count it).
:meth:`~ServerProtocol.reply`, :meth:`~ServerProtocol.failed_reply`,
:meth:`~ServerProtocol.expired_reply` and :func:`error_reply` make the frames a call
ends with.

Running handlers, waiting and sending are the I/O shells' (:mod:`uvrpc.server`,
:mod:`uvrpc.testing`); a stream call's own protocol state is
:class:`uvrpc.core.server_streams.ServerStream`.
"""

from __future__ import annotations

import inspect
import logging
import sys
import time
import traceback
from collections import abc
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, get_origin

from pydantic import BaseModel

from ..wire.buffers import ATTACHMENT_MIN, BodyEncoder, BufferPool
from ..wire.codec import DecodeError, unpack
from ..wire.errors import (
    DeadlineExceeded,
    DeclaredError,
    FailedPrecondition,
    InternalError,
    InvalidArgument,
    ProtocolError,
    RemoteError,
    ResourceExhausted,
    RpcError,
    Unavailable,
    Unimplemented,
)
from ..wire.limits import MAX_MESSAGE_SIZE, echo
from ..wire.methods import StreamingMethod, Unary
from ..wire.protocol import (
    CANCEL_EXPIRED,
    KIND_CANCEL,
    KIND_REQUEST,
    ONEWAY_CALL_ID,
    STAMP_ORIGIN,
    MalformedHeader,
    RequestHeader,
    StreamHeader,
    encode_error_body,
    encode_reply_header,
    parse_request_header,
    parse_server_header,
    version_mismatch_message,
)
from ..wire.service import ServiceBase, service_spec
from ..wire.status import Status
from ..wire.types import Bytes
from ..wire.validation import first_problem
from ..wire.version import PROTOCOL_VERSION
from .calls import MethodInfo
from .clocks import QueueClock
from .context import MAX_METADATA, ServerCall, encode_metadata, validate_metadata
from .frames import measure, oversized

__all__ = [
    "Handler",
    "Rejected",
    "RefusedStreamMessage",
    "Request",
    "Route",
    "ServerProtocol",
    "StreamMessage",
    "awaiting",
    "caller_overloaded_error",
    "check_handlers",
    "closing_error",
    "duplicate_error",
    "encode_as_checked",
    "error_reply",
    "gives_up_expired",
    "overloaded_error",
    "refusal",
    "result_check",
]

_log = logging.getLogger("uvrpc.server")

_OK = int(Status.OK)
# A module constant: reading an enum member off its class costs a tenth of a
# small call's whole reply.

Handler = Callable[..., Awaitable[Any]]
"""A method's handler: called with the parameters as keyword arguments."""


def encode_as_checked(
    encode: Callable[[Any, bool], tuple[Any, Sequence[Any]]],
    check: Callable[[Any], Any],
    carries_bytes: bool,
    value: Any,
    exc: Exception,
) -> tuple[Any, Sequence[Any]] | str:
    """A handler's result or stream item that could not be encoded (``exc``),
    encoded again as ``check`` (its validation) makes it: a value of its type
    with no msgpack form as given (an int beyond 64 bits for a double) goes as
    the float. Else what is wrong with it: the declared type's own words when
    ``check`` refuses it (``Input should be less than or equal to
    9223372036854775807`` for an integer beyond 64 bits), else the encoder's.
    Run only once encoding failed, off the replies' path."""
    try:
        checked = check(value)
    except ValueError as invalid:  # pydantic's ValidationError is one
        return first_problem(invalid)
    except Exception:  # noqa: BLE001 - not the validator's to judge
        return str(exc) or type(exc).__name__
    try:
        return encode(checked, carries_bytes)
    except Exception:  # noqa: BLE001 - the first failure is the news
        return str(exc) or type(exc).__name__


def _envelope_key(envelope: list[Any]) -> tuple[bytes, ...]:
    """The key of the clock that stamps the requests of a caller routed through
    more than one hop (behind a broker): its whole envelope, ``envelope``'s
    routing frames as bytes. A broker's one connection carries many callers,
    each stamping from its own clock, so each is measured against its own
    requests: a caller whose clock runs ahead of the others' (or a hostile one's
    stamps) never charges them for its offset. A tuple never equals a direct
    caller's key, its routing frame's bytes."""
    return tuple([f if type(f) is bytes else f.bytes for f in envelope])


def awaiting(handler: Callable[..., Any], name: str) -> Handler:
    """``handler``, named ``name``, as a handler whose call can be awaited.

    A coroutine function is its own. Another callable (a decorator's wrapper that
    returns the coroutine, most often) has its result awaited; a result that cannot
    be, a plain ``def`` handler's value, fails its call with a ``TypeError`` that
    says so, where awaiting it would say only "object int can't be used in 'await'
    expression". A plain function is never refused for this up front (an async
    generator function is, by :func:`check_handlers`): a wrapper that returns a
    coroutine is a plain function too.
    """
    if inspect.iscoroutinefunction(handler):
        return handler

    async def awaited(**params: Any) -> Any:
        result = handler(**params)
        if inspect.isawaitable(result):
            return await result
        if inspect.isasyncgen(result):  # a wrapper of an async generator
            raise TypeError(
                f"{name} returned an async generator, but its method does not "
                "stream its result: return it instead of yielding it"
            )
        raise TypeError(
            f"{name} returned {type(result).__name__}, not an awaitable: "
            "declare it with 'async def'"
        )

    return awaited


def iterating(handler: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``handler``, named ``name``, as a server stream's handler whose call
    returns an async iterator of its items.

    An async generator function is its own. Another callable (a plain ``def``
    returning an async generator, or a decorator's wrapper) has its result
    checked: one that is not an async iterable (a list of the items, say) fails
    its call with a ``TypeError`` that names the handler and the fix, where
    iterating it would say only "'async for' requires an object with __aiter__
    method" from inside the server.
    """
    if inspect.isasyncgenfunction(handler):
        return handler

    def iterated(**params: Any) -> Any:
        result = handler(**params)
        if hasattr(result, "__aiter__"):
            return result
        if inspect.iscoroutine(result):
            result.close()  # no "never awaited" warning beside the error
        raise TypeError(
            f"{name} returned {type(result).__name__}, not an async iterator of "
            "its items: yield each item instead ('async def' with 'yield' in it, "
            "an async generator)"
        )

    return iterated


def check_handlers(service: ServiceBase) -> None:
    """Refuse a service whose handlers cannot take their methods' parameters, as
    a :class:`ServerProtocol` serving it would.

    Raises:
        TypeError: the first such handler, as :func:`_check_parameters` or
            :func:`_check_kind` words it.
    """
    for method in service_spec(service).methods:
        _check_parameters(service, method)
        _check_kind(service, method)


def _check_kind(
    service: ServiceBase, method: Unary[Any, Any] | StreamingMethod
) -> None:
    """Refuse a handler whose kind of function cannot serve its method: a plain
    ``async def`` (a coroutine function) for a method whose result is a stream,
    or an async generator for one whose result is not. Either would fail every
    call with an UNKNOWN ``TypeError`` and, for the first, a "never awaited"
    warning. Only functions that say what they are: a plain function (a
    decorator's wrapper) may return either, and is left to its calls.

    Raises:
        TypeError: naming the handler, the route and what to write instead.
    """
    handler = getattr(service, method.handler)
    name = f"{type(service).__name__}.{method.handler}"
    streams = isinstance(method, StreamingMethod) and method.server_sends
    if streams and inspect.iscoroutinefunction(handler):
        raise TypeError(
            f"{name} returns its result, but {method.route} streams it: yield "
            "each item instead ('async def' with 'yield' in it, an async generator)"
        )
    if not streams and inspect.isasyncgenfunction(handler):
        raise TypeError(
            f"{name} is an async generator, but {method.route} does not stream "
            "its result: return it instead of yielding it"
        )


def _check_parameters(
    service: ServiceBase, method: Unary[Any, Any] | StreamingMethod
) -> None:
    """Refuse a handler that cannot take the keyword arguments of its method's
    calls (a parameter renamed in the IDL and not in the handler, say), where
    serving it would fail every call with an UNKNOWN ``TypeError``.

    Raises:
        TypeError: naming the handler, the route, the parameters and the mismatch.
    """
    handler = getattr(service, method.handler)
    name = f"{type(service).__name__}.{method.handler}"
    names = list(method.params.model_fields)
    if isinstance(method, StreamingMethod) and method.stream is not None:
        names.append(method.stream)
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):  # no signature to read: its calls will tell
        return
    try:
        signature.bind(**dict.fromkeys(names))
    except TypeError as exc:
        if _wrapper_takes(handler, names):
            return
        raise TypeError(
            f"{name} cannot take the parameters of {method.route} "
            f"({', '.join(names) or 'none'}): {_mismatch(signature, names, exc)}"
        ) from None


def _wrapper_takes(handler: Callable[..., Any], names: list[str]) -> bool:
    """Whether a decorated handler's own signature takes the keywords ``names``.

    ``inspect.signature`` follows ``__wrapped__`` (``functools.wraps``) to the
    function inside, whose parameters its wrapper may supply itself (a database
    handle, say): a wrapper that takes the method's parameters is served.
    """
    try:
        inspect.signature(handler, follow_wrapped=False).bind(**dict.fromkeys(names))
    except (TypeError, ValueError):
        return False
    return True


def _mismatch(signature: inspect.Signature, names: list[str], exc: TypeError) -> str:
    """Why a handler's ``signature`` cannot be called with the keywords ``names``,
    in words of the IDL's side (not ``inspect``'s, which change with Python)."""
    params = signature.parameters.values()
    named = {
        p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        for unknown in (n for n in names if n not in named):
            return f"it has no parameter {unknown!r}"
    for param in params:
        if param.default is param.empty and param.name not in names:
            if param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                return f"its parameter {param.name!r} is none of the method's"
    return str(exc)


@dataclass(frozen=True, slots=True)
class Route:
    """A served method: its descriptor and the handler that serves it."""

    method: Unary[Any, Any]
    """The method, or for a stream the unary method of its last reply."""
    handler: Handler
    stream: StreamingMethod | None = None
    """The streaming method, if this is one."""


class Request(NamedTuple):
    """A request that decoded and validated: ready to run.

    A named tuple, because a frozen dataclass costs several times as much to build
    and one is built per request.
    """

    call_id: int
    route: Route
    params: dict[str, Any]
    timeout_ms: int | None
    window: int | None = None
    """The items the client lets the server send at first (streams only)."""
    call: ServerCall | None = None
    """What :func:`uvrpc.current_call` returns to the handler: the deadline (the
    timeout from when the client sent the request, see :mod:`uvrpc.core.clocks`),
    the metadata, the trailers to send."""


class StreamMessage(NamedTuple):
    """An ITEM, END, CANCEL or CREDIT message of a stream, not yet decoded."""

    header: StreamHeader
    body: Any
    attachments: Sequence[Any]

    @property
    def cancels(self) -> bool:
        """Whether this is a CANCEL: the client gives up its call (a unary call's
        too, which has no stream of its own to take it)."""
        return self.header.kind == KIND_CANCEL


def gives_up_expired(
    cancel: StreamHeader | None, deadline: float | None, now: float
) -> bool:
    """Whether a call whose client gave it up ends as expired (DEADLINE_EXCEEDED
    for the server's interceptors and stats), not as cancelled.

    ``cancel`` is the client's CANCEL (``None``: the caller was found gone). The
    call ran out of time if the CANCEL says the client's deadline passed
    (:data:`~uvrpc.wire.protocol.CANCEL_EXPIRED`), or if the server's own
    ``deadline`` for it (``time.monotonic()`` seconds) has passed by ``now``: a
    client of an earlier release does not say why, and sends its CANCEL about
    when the server's timer fires, which the server may read first.
    """
    if cancel is not None and cancel.n == CANCEL_EXPIRED:
        return True
    return deadline is not None and now >= deadline


class RefusedStreamMessage(NamedTuple):
    """A message of stream call ``call_id`` that the server will not take: it
    ends the call with ``error`` (its body was never decoded)."""

    call_id: int
    error: RpcError
    oversized: bool
    """Whether it was larger than the server takes; else its header named the
    call but was malformed (a CREDIT of -1)."""


class Rejected(Exception):
    """A message that cannot run.

    ``reply`` holds the error reply's frames ``[header, body]``, or is ``None``
    when nothing is to be sent: the message was too malformed to say which call it
    was, or was a oneway request (it is then dropped and counted).
    """

    def __init__(
        self, reason: str, reply: list[bytes] | None, *, oversized: bool = False
    ) -> None:
        super().__init__(reason)
        self.reply = reply
        self.oversized = oversized
        """Whether the message was refused for its size, its body unread."""
        self.end = -1
        """The index of the delimiter that ends the message's envelope, when
        :meth:`ServerProtocol.receive` refused it (-1: it has none)."""


def error_reply(
    call_id: int, error: RpcError, call: ServerCall | None = None
) -> list[bytes]:
    """The frames ``[header, body]`` of an error reply (with ``call``'s trailers).

    An error whose details or fields have no wire form (a handler's
    ``InvalidArgument("...", {"at": object()})``) is sent as ``INTERNAL``, its
    message kept, rather than not at all: its caller would wait out its deadline.
    """
    trailers = None
    if call is not None and call.trailers:
        trailers = encode_metadata(call.trailers)
    try:
        body = encode_error_body(error)
    except Exception as exc:
        problem = str(exc) or type(exc).__name__
        _log.error(
            "an error %s could not be sent (%s); its caller gets INTERNAL",
            type(error).__name__,
            problem,
        )
        error = InternalError(
            f"the error {type(error).__name__}({error.message!r}) could not be "
            f"sent: {problem}"
        )
        body = encode_error_body(error)
    return [encode_reply_header(call_id, error.status, trailers), body]


def refusal(call_id: int, error: RpcError, *, oversized: bool = False) -> Rejected:
    """Call ``call_id`` refused with ``error`` before it ran (nothing is ever sent
    back for a oneway request, errors included); ``oversized``: for its size."""
    reply = None if call_id == ONEWAY_CALL_ID else error_reply(call_id, error)
    return Rejected(error.message, reply, oversized=oversized)


def _unreadable(exc: ProtocolError) -> Rejected:
    """The refusal of a request whose header did not parse: one whose header
    names its call is answered INVALID_ARGUMENT (a caller, or a broker following
    the call, would wait for its reply forever); anything else is dropped."""
    if type(exc) is MalformedHeader:
        error = InvalidArgument(f"{exc}; the request did not run")
        return refusal(exc.call_id, error)
    return Rejected(str(exc), None)


def overloaded_error(max_in_flight: int) -> ResourceExhausted:
    """The error of a request that finds ``max_in_flight`` handlers running."""
    return ResourceExhausted(
        f"this server runs {max_in_flight:,} handlers at once (max_in_flight); "
        "try later"
    )


def duplicate_error(call_id: int) -> FailedPrecondition:
    """The error of a request whose call id its caller has in flight already: the
    first call goes on, and the second does not run beside it."""
    return FailedPrecondition(
        f"call id {call_id} is in flight already on this connection: a call id "
        "may be used again only once its call has ended; this request did not run"
    )


def caller_overloaded_error(max_in_flight_per_caller: int) -> ResourceExhausted:
    """The error of a request whose caller has ``max_in_flight_per_caller`` handlers
    running (or replies waiting for it to read) already."""
    return ResourceExhausted(
        f"this server runs {max_in_flight_per_caller:,} handlers of one caller at "
        "once (max_in_flight_per_caller); try later"
    )


def closing_error() -> Unavailable:
    """The error of a request that reaches a server closing with a grace: the
    call did not run, so it may be sent again."""
    return Unavailable(
        "this server is closing: the call did not run; send it again (to "
        "another server, or through a broker, which sends it to another)"
    )


def result_check(method: Unary[Any, Any]) -> Callable[[Any], bool]:
    """A test of a unary handler's result that costs a type test or two: whether it
    may be of ``method``'s declared result type.

    A message result is tested as an instance of its class, a ``list`` or ``map``
    result by its container's type alone (its elements are the caller's to check:
    testing each would cost as much as encoding them); any other type (scalars,
    enums, optional and union types) by the method's full check, which for them is
    as cheap. A result that fails is read back as its caller will read it before
    the server logs it (:meth:`ServerProtocol.reply`).
    """
    declared = method.reply
    outer = get_origin(declared) or declared
    if isinstance(outer, type) and issubclass(outer, BaseModel):
        return lambda value: isinstance(value, outer)
    if outer in (list, tuple, abc.Sequence):
        return lambda value: isinstance(value, list | tuple)
    if outer in (dict, abc.Mapping):
        return lambda value: isinstance(value, dict)

    def full(value: Any) -> bool:
        try:
            method.check_reply(value)
        except ValueError:
            return False
        return True

    if declared is Bytes:  # the common case, tested without a call
        return lambda value: type(value) in _BUFFERS or full(value)
    return full


_BUFFERS = frozenset({bytes, memoryview, bytearray})


class ServerProtocol:
    """The route table of a server's services, and every rule of the messages it
    receives and the replies it sends.

    Args:
        services: instances of generated ``<Service>Server`` subclasses. Two services
            with the same wire name are an error.
        pool: the pool of encode buffers for replies; the process-wide one by
            default.
        attachment_min: binary results at least this many bytes long travel as
            frames of their own.
        debug: send the server's traceback of an undeclared exception to the
            caller (in the error's ``details["traceback"]``).
        max_metadata: the most bytes a request's metadata may add up to; a
            request with more is refused with RESOURCE_EXHAUSTED.
        max_message_size: the largest message taken, in bytes; a larger one is
            refused before its body is decoded.
        wrap: called with each unary method and its handler, returns the handler
            to route to (the server wraps handlers in its interceptors); a stream's
            handler is routed as it is, and wrapped by whoever runs it.
    """

    def __init__(
        self,
        services: Sequence[ServiceBase],
        *,
        pool: BufferPool | None = None,
        attachment_min: int = ATTACHMENT_MIN,
        debug: bool = False,
        max_metadata: int = MAX_METADATA,
        max_message_size: int = MAX_MESSAGE_SIZE,
        wrap: Callable[[Unary[Any, Any], Handler], Handler] | None = None,
    ) -> None:
        self.debug = debug
        self.max_metadata = max_metadata
        self.max_message_size = max_message_size
        self._routes: dict[str, Route] = {}
        self._services: set[str] = set()
        for service in services:
            spec = service_spec(service)
            if spec.name in self._services:
                raise ValueError(f"service {spec.name} is served twice")
            self._services.add(spec.name)
            check_handlers(service)
            for method in spec.methods:
                handler = getattr(service, method.handler)
                name = f"{type(service).__name__}.{method.handler}"
                if isinstance(method, StreamingMethod):
                    if not method.server_sends:  # a client stream's is awaited
                        handler = awaiting(handler, name)
                    else:
                        handler = iterating(handler, name)
                    route = Route(method.final, handler, method)
                else:
                    handler = awaiting(handler, name)
                    if wrap is not None:
                        handler = wrap(method, handler)
                    route = Route(method, handler)
                self._routes[method.route] = route
        self._result_checks: dict[str, Callable[[Any], bool]] = {}
        """Per route, a cheap test of a handler's result (:func:`result_check`)."""
        self.queue_clock = QueueClock()
        """The baselines of the callers' send stamps (a connection's, or a
        client's behind a broker): how long each timed request waited on its
        way, which its deadline counts."""
        self._encoder = BodyEncoder(pool, attachment_min=attachment_min)
        self.encode: Callable[[Any, bool], tuple[Any, Sequence[Any]]] = (
            self._encoder.encode
        )
        """Encode a message body (a reply's, an item's) with the reply encoder:
        ``(body, attachments)``. The body must be passed to :attr:`settle` before
        the next encode. Raises EncodeError, ValueError or OverflowError for a
        value that cannot be encoded (and a value of a type of a handler's own,
        anything its buffer or serializer raises)."""
        self.settle: Callable[[Any, bool], None] = self._encoder.settle
        """Say whether the message with this body went out (see
        :meth:`uvrpc.wire.buffers.BodyEncoder.settle`)."""

    @property
    def services(self) -> frozenset[str]:
        """The wire names of the services served."""
        return frozenset(self._services)

    def route(self, name: str) -> Route | None:
        """The route of a method by its wire name, if it is served."""
        return self._routes.get(name)

    # --- what arrives -------------------------------------------------------

    def receive(
        self, frames: Sequence[Any], *, routed: bool = True
    ) -> tuple[int, Request | StreamMessage | RefusedStreamMessage]:
        """Classify a received message ``[routing…, b"", attachment…, header,
        body]`` (``routed=False``: it has no routing frames).

        Returns the index of the delimiter that ends its envelope, and the
        message: a request ready to run, a message of a stream (not yet decoded),
        or a message of a stream that ends its call (too large to take, or its
        header malformed).

        Raises:
            Rejected: the message is a request that cannot run, or is malformed;
                its ``end`` says where its envelope ends.
        """
        limit = self.max_message_size
        try:
            end, size = measure(frames, limit, routed=routed)
        except ProtocolError as exc:
            # Had it the shape of a message, it failed for its huge header.
            raise Rejected(
                str(exc), None, oversized=self._shaped(frames, routed)
            ) from None
        try:
            if size > limit:
                return end, self._oversized(frames[-2], size)
            # The routing frame names the caller whose send stamps are
            # comparable; behind a broker, its whole envelope does (its key is
            # made only for a stamped request).
            return end, self._classify(
                frames[-2],
                frames[-1],
                frames[end + 1 : -2],
                frames[0] if end == 1 else frames[:end] if end else None,
            )
        except Rejected as rejected:
            rejected.end = end
            raise

    def receive_batched(
        self, header: bytes, body: bytes, envelope: Sequence[Any]
    ) -> Request | StreamMessage | RefusedStreamMessage:
        """Classify a message taken from a batch (``wire.batch.split_batch``):
        its header and body (a batch carries no attachments), its envelope the
        batch's ``[routing…, b""]``. What :meth:`receive` does for a message that
        came alone, measured against the limit as if it came alone: a peer
        batches small messages without knowing this server's limit, so a batch
        may add up to more than it while each of its messages is within it.

        Raises:
            Rejected: as :meth:`receive`; its ``end`` is the envelope's.
        """
        end = len(envelope) - 1
        try:
            size = len(header) + len(body)
            if size > self.max_message_size:
                return self._oversized(header, size)
            return self._classify(
                header,
                body,
                (),
                envelope[0] if end == 1 else envelope[:end] if end else None,
            )
        except Rejected as rejected:
            rejected.end = end
            raise

    def _classify(
        self, header: Any, body: Any, attachments: Sequence[Any], peer: Any
    ) -> Request | StreamMessage | RefusedStreamMessage:
        """A message within the size limit by its header: a request decoded, or
        a message of a stream (its body not yet decoded)."""
        try:
            head = parse_server_header(header)
        except MalformedHeader as exc:
            if exc.kind != KIND_REQUEST:
                # A message of a stream that names its call: the call ends, its
                # client told why, rather than stall (a CREDIT of -1).
                error = InvalidArgument(f"{exc}; the call was ended")
                return RefusedStreamMessage(exc.call_id, error, False)
            raise _unreadable(exc) from None
        except ProtocolError as exc:
            raise _unreadable(exc) from None
        if type(head) is StreamHeader:
            return StreamMessage(head, body, attachments)
        assert type(head) is RequestHeader
        return self._request(head, body, attachments, peer)

    @staticmethod
    def _shaped(frames: Sequence[Any], routed: bool) -> bool:
        try:
            measure(frames, sys.maxsize, routed=routed)
        except ProtocolError:
            return False
        return True

    def _oversized(self, header: Any, size: int) -> RefusedStreamMessage:
        """Refuse a message larger than the limit without decoding its body."""
        try:
            head = parse_server_header(header)
        except ProtocolError as exc:
            raise Rejected(str(exc), None, oversized=True) from None
        limit = self.max_message_size
        if type(head) is RequestHeader:
            what = f"request of {echo(head.route or 'another protocol version')}"
            error = oversized(what, size, limit, "this server")
            raise refusal(head.call_id, error, oversized=True)
        what = f"a message of stream call {head.call_id}"
        return RefusedStreamMessage(
            head.call_id, oversized(what, size, limit, "this server"), True
        )

    def decode(
        self, header: Any, body: Any, attachments: Sequence[Any] = ()
    ) -> Request:
        """Decode and validate a request's header and body.

        A request with call id 0 (oneway) that cannot run is rejected with no reply.

        Raises:
            Rejected: the request cannot run; its ``reply`` (if any) says why.
        """
        try:
            head = parse_request_header(header)
        except ProtocolError as exc:
            raise _unreadable(exc) from None
        return self._request(head, body, attachments)

    def _request(
        self,
        head: RequestHeader,
        body: Any,
        attachments: Sequence[Any],
        peer: Any = None,
    ) -> Request:
        call_id = head.call_id
        if head.version != PROTOCOL_VERSION:
            raise refusal(
                call_id, Unimplemented(version_mismatch_message(head.version))
            )
        route = self._routes.get(head.route)
        if route is None:
            raise refusal(call_id, self._unknown(head.route))
        try:
            # The method's own reading, which a checking channel runs too, as the
            # handler's keyword arguments.
            params = route.method.read_kwargs(body, attachments)
        except InvalidArgument as exc:
            raise refusal(call_id, exc) from None
        if call_id == ONEWAY_CALL_ID and route.stream is not None:
            raise Rejected(f"{head.route} is a stream: it cannot be oneway", None)
        metadata = head.metadata
        if metadata is not None:
            metadata = self._metadata(head.route, call_id, metadata)
        timeout_ms = head.timeout_ms
        if timeout_ms is None:
            deadline = None
        else:
            # The deadline counts from now on this host's clock, less the time
            # the request waited in queues on its way (measured against its
            # caller's other requests: the peers' clocks need not agree).
            now = time.monotonic()
            deadline = now + timeout_ms / 1000
            sent_us = head.sent_us
            if sent_us is not None:
                # The routing frame's bytes (a zmq.Frame caches them), or a
                # routed caller's envelope, and the stamp's age inline
                # (stamp_age): every timed request's path.
                key: bytes | tuple[bytes, ...] | None
                if peer is None or type(peer) is bytes:
                    key = peer
                elif type(peer) is list:
                    key = _envelope_key(peer)
                else:
                    key = peer.bytes
                age = now + STAMP_ORIGIN - sent_us * 1e-6
                clock = self.queue_clock
                entry = clock.peers.get(key)
                if entry is not None and now < entry[1] and age >= entry[2]:
                    # QueueClock.queued, inline: the baseline stands.
                    if age > entry[0]:
                        deadline -= age - entry[0]
                else:
                    deadline -= clock.update(key, entry, age, now)
        return Request(
            call_id,
            route,
            params,
            timeout_ms,
            head.window,
            ServerCall(head.route, deadline, metadata),
        )

    def _metadata(self, route: str, call_id: int, metadata: Any) -> Any:
        """Check a request's metadata (a map of lowercase keys to str or bytes)."""
        if type(metadata) is not dict:
            error: RpcError = InvalidArgument(
                f"the metadata of a request of {route} is not a map"
            )
            raise refusal(call_id, error)
        try:
            return validate_metadata(metadata, "metadata", self.max_metadata)
        except RpcError as exc:
            raise refusal(call_id, exc) from None

    def _unknown(self, route: str) -> Unimplemented:
        service = route.rpartition(".")[0]
        if service not in self._services:
            return Unimplemented(
                f"unknown service '{echo(service)}' (method '{echo(route)}'); this "
                f"server serves {', '.join(sorted(self._services)) or 'nothing'}"
            )
        return Unimplemented(f"unknown method '{echo(route)}'")

    # --- what is sent back --------------------------------------------------

    def reply(self, request: Request, result: Any) -> list[Any]:
        """The reply ``[attachment..., header, body]`` of a call whose handler
        returned ``result``, with the call's trailers; an INTERNAL error reply if
        the result cannot be encoded or is found not of the declared type.

        The body, the last frame, may be a view of a pooled buffer: pass it to
        :attr:`settle` once the reply was sent (or could not be).
        """
        call = request.call
        try:
            body, attachments = self._encode_result(request.route.method, result)
        except InternalError as error:
            return error_reply(request.call_id, error, call)
        if call is not None and call.trailers:
            header = encode_reply_header(
                request.call_id, _OK, encode_metadata(call.trailers)
            )
        else:
            header = encode_reply_header(request.call_id, _OK)
        if attachments:
            return [*attachments, header, body]
        return [header, body]

    def _encode_result(
        self, method: Unary[Any, Any], result: Any
    ) -> tuple[Any, Sequence[Any]]:
        """A handler's result encoded as its reply's body and attachments.

        Raises:
            InternalError: the result cannot be encoded, or is not of the
                declared type (logged as a handler's exception is).
        """
        try:
            body, attachments = self.encode(result, method.reply_carries_bytes)
        except Exception as exc:
            # EncodeError, ValueError and OverflowError are the encoder's; a result
            # of a type of the handler's own may raise anything from its buffer or
            # serializer, which must not reach the reactor that delivered the call.
            encoded = encode_as_checked(
                self.encode, method.check_reply, method.reply_carries_bytes, result, exc
            )
            if not isinstance(encoded, str):
                return encoded
            problem = encoded
            _log.error(
                "handler of %s returned a value of type %s that cannot be sent; "
                "its caller gets INTERNAL: %s",
                method.route,
                type(result).__name__,
                problem,
            )
            raise InternalError(
                f"the reply of {method.route} failed: {problem}"
            ) from None
        check = self._result_checks.get(method.route)
        if check is None:
            check = self._result_checks[method.route] = result_check(method)
        if not check(result):
            wrong = self._wrong_reply(method, result, body, attachments)
            if wrong is not None:
                self.settle(body, False)
                raise InternalError(
                    f"the reply of {method.route} does not match its declared type: "
                    f"{wrong}"
                )
        return body, attachments

    def check_result(self, method: Unary[Any, Any], result: Any) -> None:
        """Raise the ``INTERNAL`` error :meth:`reply` would answer ``result`` with
        (a result that cannot be encoded, or not of the declared type).

        The server's interceptors run it on the handler's result, inside them:
        the reply is made after they have returned, so a metrics interceptor
        counted such a call OK while its caller got ``INTERNAL``.
        """
        check = self._result_checks.get(method.route)
        if check is None:
            check = self._result_checks[method.route] = result_check(method)
        if check(result):
            return  # the common case: the cheap test passes, nothing is encoded
        body, _ = self._encode_result(method, result)
        self.settle(body, False)

    @staticmethod
    def _wrong_reply(
        method: Unary[Any, Any], result: Any, body: Any, attachments: Sequence[Any]
    ) -> str | None:
        """What makes the encoded reply of a result that failed the cheap check
        not of the declared type, logged at the level of a handler's exception
        (the caller's ``INTERNAL`` error is the handler's fault, as an exception
        it raised is); ``None`` if it is of that type after all.

        The reply is read back as its caller would read it, so that only a reply
        the caller would refuse is refused (a tuple for a ``list`` result, say, is
        sent as one). Such a reply is answered with ``INTERNAL`` instead, as a
        stream's item is: a caller that does not check replies (``uvrpc call``,
        another implementation) gets the error too, not a value of another type.
        """
        try:
            method.check_reply(unpack(body, attachments))
        except DecodeError as exc:
            problem = str(exc)
        except ValueError as exc:  # pydantic's ValidationError is one
            problem = first_problem(exc)
        else:
            return None
        _log.error(
            "handler of %s returned a value of type %s that does not match the "
            "declared result type; its caller gets INTERNAL: %s",
            method.route,
            type(result).__name__,
            problem,
        )
        return problem

    def failed_reply(self, request: Request, exc: BaseException) -> list[bytes]:
        """The error reply of a call whose handler raised ``exc``
        (:meth:`handler_error`), with the call's trailers."""
        error = self.handler_error(request.route.method, exc)
        return error_reply(request.call_id, error, request.call)

    def expired_reply(self, request: Request, *, started: bool = True) -> list[bytes]:
        """The DEADLINE_EXCEEDED reply of a call whose deadline passed before its
        handler finished (or, not ``started``, before it started), with the
        call's trailers."""
        timeout_ms = request.timeout_ms
        route = request.route.method.route
        if timeout_ms is not None and timeout_ms <= 0:
            # A peer's own clock or arithmetic: nothing could finish within it.
            error = DeadlineExceeded(
                f"{route} was not run: its deadline had passed when it arrived "
                f"(a timeout of {timeout_ms / 1000:g} s)"
            )
            return error_reply(request.call_id, error, request.call)
        timeout = "its deadline" if timeout_ms is None else f"{timeout_ms / 1000:g} s"
        if started:
            why = f"did not finish within {timeout} (the server's deadline)"
        else:
            # Its time went in queues on its way (its send stamp says how long)
            # or waiting here for its task: the handler never ran.
            why = f"was not run: its deadline ({timeout}) passed before it started"
        error = DeadlineExceeded(f"{route} {why}")
        return error_reply(request.call_id, error, request.call)

    def handler_error(self, method: MethodInfo, exc: BaseException) -> RpcError:
        """The error a handler's exception is sent back as.

        An :class:`RpcError` is sent as it is, except an IDL-declared exception the
        method does not declare; that one, and every other exception, is an
        ``UNKNOWN`` :class:`RemoteError` naming the exception's type and message
        (and, with ``debug``, carrying the server's traceback in its details).
        """
        if isinstance(exc, DeclaredError):
            if method.errors_by_name.get(exc.uvrpc_name) is type(exc):
                return exc
            _log.error(
                "handler of %s raised %s, which the method does not declare "
                "(throws): its caller gets UNKNOWN",
                method.route,
                exc.uvrpc_name or type(exc).__name__,
                exc_info=exc,
            )
        elif isinstance(exc, RpcError):
            return exc
        else:
            _log.error("handler of %s raised", method.route, exc_info=exc)
        detail = exc.message if isinstance(exc, RpcError) else str(exc)
        details: dict[str, Any] = {}
        if self.debug:
            details["traceback"] = "".join(traceback.format_exception(exc))
        return RemoteError(f"{type(exc).__name__}: {detail}", details)

    def close(self) -> None:
        """Give the reply encoder's buffer back to its pool."""
        self._encoder.close()
