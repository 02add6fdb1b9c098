"""What a generated method *is*: its route, its types and its cardinality.

Generated code keeps each RPC as data — a :class:`Unary`, :class:`ServerStreaming`,
:class:`ClientStreaming` or :class:`BidiStreaming` per method — and hands it to the
generic, typed machinery in :mod:`uvrpc.channel`, :mod:`uvrpc.sync_client`,
:mod:`uvrpc.dispatch` and :mod:`uvrpc.sessions`. The typing lives here once; the
generated module stays short. A descriptor also knows the wire ids of its
parameters, so a generated method passes their values in order
(``self._call(_CALCULATOR_ADD, (a, b), timeout)``) and never spells an id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar, cast, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import SchemaValidator

from .codec import DecodeError, unpack
from .errors import DeclaredError, InvalidArgument
from .flat import FlatCheck, flat_check
from .message import Message, fail_fast
from .protocol import RequestHeaders
from .types import Bytes, as_view
from .union import UnknownMember
from .unknown import ignoring_unknown
from .validation import invalid_argument

__all__ = [
    "AnyMethod",
    "BidiStreaming",
    "ClientStreaming",
    "In",
    "Out",
    "Params",
    "Reply",
    "ServerStreaming",
    "ServiceSpec",
    "StreamingMethod",
    "Unary",
]

Params = TypeVar("Params", bound=Message)
"""The generated model of a method's parameters."""
Reply = TypeVar("Reply")
"""The Python type a method returns."""
In = TypeVar("In")
"""The Python type of the items a client streams to the server."""
Out = TypeVar("Out")
"""The Python type of the items a server streams to the client."""


class Unary(Generic[Params, Reply]):
    """A request/reply method: one set of parameters in, one value (or nothing) out.

    Args:
        route: the method's name on the wire, ``namespace.Service.method`` as the IDL
            spells it.
        handler: the name of the Python method implementing it on a server class.
        params: the generated model of the parameters, keyed by parameter id. Its
            fields, in order, are the values a client passes to :attr:`wire_args`.
        reply: the type of the result as pydantic validates it (``None`` for void).
        errors: the exception classes the method declares (``throws``); a handler
            raising one of them makes the caller raise the same class.
        oneway: the caller sends the request and expects no reply at all.
        idempotent: calling twice does no more than calling once, so a client may
            retry the call (only when asked to; see :class:`uvrpc.Retry`).
    """

    kind = "unary"
    __slots__ = (
        "_check_params",
        "_check_reply",
        "_flat_check",
        "_reply_adapter",
        "errors",
        "errors_by_name",
        "handler",
        "headers",
        "idempotent",
        "oneway",
        "param_ids",
        "params",
        "payload_params",
        "read_kwargs",
        "reply",
        "reply_carries_bytes",
        "route",
        "wire_args",
    )

    def __init__(
        self,
        *,
        route: str,
        handler: str,
        params: type[Params],
        reply: Any,
        errors: tuple[type[DeclaredError], ...] = (),
        oneway: bool = False,
        idempotent: bool = False,
    ) -> None:
        self.route = route
        self.errors = errors
        self.errors_by_name: dict[str, type[DeclaredError]] = {
            error.uvrpc_name: error for error in errors
        }
        """The declared exception classes by wire name."""
        self.oneway = oneway
        self.idempotent = idempotent
        self.headers = RequestHeaders(route)
        """Encodes the headers of this method's requests."""
        self.handler = handler
        self.params = params
        self.reply = reply
        self._reply_adapter: TypeAdapter[Reply] | None = None
        self._check_reply: Callable[[Any], Reply] | None = None
        self._check_params: Callable[[Any], Params] | None = None
        self._flat_check: FlatCheck = _not_checked
        self.read_kwargs: Callable[[Any, Sequence[Any]], dict[str, Any]] = (
            self._first_read_kwargs
        )
        """:meth:`read_params`, as the handler's keyword arguments (the model's
        ``__dict__``): what a server does with every request. For parameters that
        are all flat it checks them without building the model
        (:mod:`uvrpc.wire.flat`), and refuses a value with the same error."""
        # Only values whose type can hold a binary value are searched for payloads
        # to send as attachments. Generated modules define every message before
        # their methods, so the types resolve here.
        params.model_rebuild()
        self.param_ids: tuple[str, ...] = tuple(
            field.serialization_alias or name
            for name, field in params.model_fields.items()
        )
        """The wire keys of the parameters, in the order of the fields of ``params``."""
        self.wire_args: Callable[[tuple[Any, ...]], dict[str, Any]] = _keyed_by(
            self.param_ids
        )
        """Key the values of a call's parameters, given in the order of
        :attr:`param_ids`, by their wire ids: ``(a, b)`` becomes
        ``{"1": a, "2": b}``, the arguments the channel sends."""
        self.payload_params: tuple[str, ...] = tuple(
            field.serialization_alias or name
            for name, field in params.model_fields.items()
            if carries_bytes(field.annotation)
        )
        """The wire keys of the parameters that can hold a binary value."""
        self.reply_carries_bytes = carries_bytes(reply)
        """Whether the result can hold a binary value anywhere inside."""

    @property
    def reply_adapter(self) -> TypeAdapter[Reply]:
        """The validator of replies, built on first use.

        Built lazily because a reply type may refer to messages that are defined
        further down the generated module.
        """
        adapter = self._reply_adapter
        if adapter is None:
            adapter = self._reply_adapter = TypeAdapter(self.reply)
        return adapter

    def check_params(self, value: Any) -> Params:
        """Validate a request's decoded parameters as :attr:`params`.

        A parameter the model does not know (a newer client's) is dropped: unlike
        a message, a parameters model is never sent on
        (:func:`~uvrpc.wire.unknown.ignoring_unknown`).

        Raises:
            pydantic.ValidationError: the parameters do not match their types.
        """
        check = self._check_params
        if check is None:
            check = self._check_params = ignoring_unknown(self.params)
        return check(value)

    def check_reply(self, value: Any) -> Reply:
        """Validate a decoded reply value as the declared result type.

        ``bytes`` and ``void`` results, the common scalar cases, are checked
        directly rather than through pydantic, which costs a microsecond more.

        Raises:
            ValueError: the value is not of the declared type (pydantic's
                ``ValidationError`` is one).
        """
        check = self._check_reply
        if check is None:
            if self.reply is Bytes:
                check = cast(Callable[[Any], Reply], as_view)
            elif self.reply is None:
                check = cast(Callable[[Any], Reply], _check_void)
            else:
                check = _fail_fast_check(self.reply_adapter)
            self._check_reply = check
        return check(value)

    def read_params(self, body: Any, attachments: Sequence[Any] = ()) -> Params:
        """Decode and validate a request's body (and its attachment frames) as the
        method's parameters: what a server does with every request, and a
        channel that checks its requests (``check_requests=True``) with each
        request it is about to send, so the two refuse the same values with the
        same words.

        Raises:
            InvalidArgument: the body is not valid msgpack (``request of … is
                malformed``), or a parameter is not of its declared type (its
                field path and the problem, as
                :func:`~uvrpc.wire.validation.invalid_argument` words them).
        """
        try:
            args = unpack(body, attachments)
        except DecodeError as exc:
            raise self._malformed(exc) from None
        try:
            return self.check_params(args)
        except ValidationError as exc:
            raise invalid_argument(self.route, exc) from None

    def _first_read_kwargs(
        self, body: Any, attachments: Sequence[Any] = ()
    ) -> dict[str, Any]:
        """Choose the way :attr:`read_kwargs` reads (at first use, when every
        message the parameters refer to is defined), then read."""
        check = flat_check(self.params)
        if check is None:
            self.read_kwargs = self.read_kwargs_by_model
        else:
            self._flat_check = check
            self.read_kwargs = self._read_flat_kwargs
        return self.read_kwargs(body, attachments)

    def read_kwargs_by_model(
        self, body: Any, attachments: Sequence[Any] = ()
    ) -> dict[str, Any]:
        """``read_params(body, attachments).__dict__``: what :attr:`read_kwargs`
        does for parameters that are not flat, and for flat ones it does not
        accept at once.

        Raises:
            InvalidArgument: as :meth:`read_params` does.
        """
        try:
            args = unpack(body, attachments)
        except DecodeError as exc:
            raise self._malformed(exc) from None
        try:
            return self.check_params(args).__dict__
        except ValidationError as exc:
            raise invalid_argument(self.route, exc) from None

    def _read_flat_kwargs(
        self, body: Any, attachments: Sequence[Any] = ()
    ) -> dict[str, Any]:
        try:
            args = unpack(body, attachments)
        except DecodeError as exc:
            raise self._malformed(exc) from None
        kwargs = self._flat_check(args)
        if kwargs is not None:
            return kwargs
        try:
            return self.check_params(args).__dict__
        except ValidationError as exc:
            raise invalid_argument(self.route, exc) from None

    def _malformed(self, exc: DecodeError) -> InvalidArgument:
        return InvalidArgument(f"request of {self.route} is malformed: {exc}")

    def __repr__(self) -> str:
        return f"Unary({self.route!r})"


def _checker(annotation: Any) -> Callable[[Any], Any]:
    """The validator of values of ``annotation`` (as generated code spells types)."""
    if annotation is Bytes:
        return as_view
    if annotation is None:
        return _check_void
    return _fail_fast_check(TypeAdapter(annotation))


def _fail_fast_check(adapter: TypeAdapter[Any]) -> Callable[[Any], Any]:
    """``adapter``'s validation with every container failing at its first bad
    element, as a message's do (a ``list<i32>`` result is not a message)."""
    return SchemaValidator(fail_fast(adapter.core_schema)).validate_python


class StreamingMethod:
    """What the three streaming kinds share; see their classes.

    A streaming call ends with one reply, as a unary call does: :attr:`final` is
    the :class:`Unary` that describes that reply (the method's route, parameters
    and declared errors, and the result of a client stream, or nothing), so the
    machinery of unary calls decodes, checks and raises it.
    """

    kind = "stream"
    client_sends = False
    """Whether the client sends a stream of items."""
    server_sends = False
    """Whether the server sends a stream of items."""

    def __init__(
        self,
        *,
        route: str,
        handler: str,
        params: type[Message],
        stream: str | None,
        request_item: Any,
        reply_item: Any,
        reply: Any,
        errors: tuple[type[DeclaredError], ...],
        stream_id: int | None = None,
    ) -> None:
        self.route = route
        self.handler = handler
        self.params = params
        self.stream = stream
        """The Python name of the handler's stream parameter (client streams)."""
        self.stream_id = stream_id
        """The stream parameter's id in the IDL (client streams), for describing
        the method; ``None`` in modules generated before API 6, which omit it."""
        self.request_item = request_item
        self.reply_item = reply_item
        self.errors = errors
        self.final: Unary[Any, Any] = Unary(
            route=route, handler=handler, params=params, reply=reply, errors=errors
        )
        """The call's last reply, as a unary method."""
        self.errors_by_name = self.final.errors_by_name
        self.headers = self.final.headers
        self.param_ids = self.final.param_ids
        """The wire keys of the parameters other than the stream, in order."""
        self.wire_args = self.final.wire_args
        """Key the values of the parameters other than the stream by wire id (see
        :attr:`Unary.wire_args`)."""
        self.payload_params = self.final.payload_params
        self.read_params = self.final.read_params
        """Decode and validate the request's body (see :meth:`Unary.read_params`)."""
        self.check_params = self.final.check_params
        """Validate a request's decoded parameters (:meth:`Unary.check_params`)."""
        self.request_item_carries_bytes = self.client_sends and carries_bytes(
            request_item
        )
        """Whether an item the client sends can hold a binary value."""
        self.reply_item_carries_bytes = self.server_sends and carries_bytes(reply_item)
        """Whether an item the server sends can hold a binary value."""
        self._check_request_item: Callable[[Any], Any] | None = None
        self._check_reply_item: Callable[[Any], Any] | None = None

    def check_request_item(self, value: Any) -> Any:
        """Validate an item of the client's stream.

        Raises:
            ValueError: the value is not of the declared item type.
        """
        check = self._check_request_item
        if check is None:
            check = self._check_request_item = _checker(self.request_item)
        return check(value)

    def read_request_item(
        self, body: Any, attachments: Sequence[Any], index: int
    ) -> Any:
        """Decode and validate item ``index`` of the client's stream from its
        body and attachment frames: what a server does with every item it
        receives, and a channel that checks its requests with each item it is
        about to send. Problems are named at ``<stream>.<index>``.

        Raises:
            InvalidArgument: the body is not valid msgpack, or the item is not
                of the declared type.
        """
        try:
            value = unpack(body, attachments)
        except DecodeError as exc:
            raise InvalidArgument(
                f"item {index} of {self.stream} of {self.route} is malformed: {exc}",
                {"field_path": f"{self.stream}.{index}"},
            ) from None
        try:
            return self.check_request_item(value)
        except ValidationError as exc:
            path = f"{self.stream}.{index}"
            raise invalid_argument(self.route, exc, path) from None
        except ValueError as exc:
            path = f"{self.stream}.{index}"
            raise InvalidArgument(
                f"invalid argument '{path}' of {self.route}: {exc}",
                {"field_path": path},
            ) from None

    def check_reply_item(self, value: Any) -> Any:
        """Validate an item of the server's stream.

        Raises:
            ValueError: the value is not of the declared item type.
        """
        check = self._check_reply_item
        if check is None:
            check = self._check_reply_item = _checker(self.reply_item)
        return check(value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.route!r})"


class ServerStreaming(StreamingMethod, Generic[Params, Out]):
    """A method whose server answers with a stream: ``stream<Out> m(params...)``.

    Args:
        route: the method's name on the wire.
        handler: the name of the Python method implementing it, an async generator
            of the items.
        params: the generated model of the parameters.
        reply_item: the type of each item as pydantic validates it.
        errors: the exception classes the method declares.
    """

    kind = "server_stream"
    server_sends = True

    def __init__(
        self,
        *,
        route: str,
        handler: str,
        params: type[Params],
        reply_item: Any,
        errors: tuple[type[DeclaredError], ...] = (),
    ) -> None:
        super().__init__(
            route=route,
            handler=handler,
            params=params,
            stream=None,
            request_item=None,
            reply_item=reply_item,
            reply=None,
            errors=errors,
        )


class ClientStreaming(StreamingMethod, Generic[Params, In, Reply]):
    """A method whose client sends a stream: ``Reply m(1: stream<In> items, ...)``.

    Args:
        route: the method's name on the wire.
        handler: the name of the Python method implementing it.
        params: the generated model of the parameters other than the stream.
        stream: the Python name of the stream parameter: the handler receives the
            items, an async iterator, as this keyword argument.
        request_item: the type of each item as pydantic validates it.
        reply: the type of the result (``None`` for void).
        errors: the exception classes the method declares.
        stream_id: the stream parameter's id in the IDL (API 6 modules give it).
    """

    kind = "client_stream"
    client_sends = True

    def __init__(
        self,
        *,
        route: str,
        handler: str,
        params: type[Params],
        stream: str,
        request_item: Any,
        reply: Any,
        errors: tuple[type[DeclaredError], ...] = (),
        stream_id: int | None = None,
    ) -> None:
        super().__init__(
            route=route,
            handler=handler,
            params=params,
            stream=stream,
            request_item=request_item,
            reply_item=None,
            reply=reply,
            errors=errors,
            stream_id=stream_id,
        )


class BidiStreaming(StreamingMethod, Generic[Params, In, Out]):
    """A method streaming both ways: ``stream<Out> m(1: stream<In> items, ...)``.

    Args:
        route: the method's name on the wire.
        handler: the name of the Python method implementing it, an async generator
            of the items it sends, receiving the client's items as the keyword
            argument ``stream``.
        params: the generated model of the parameters other than the stream.
        stream: the Python name of the stream parameter.
        request_item: the type of each item the client sends.
        reply_item: the type of each item the server sends.
        errors: the exception classes the method declares.
        stream_id: the stream parameter's id in the IDL (API 6 modules give it).
    """

    kind = "bidi_stream"
    client_sends = True
    server_sends = True

    def __init__(
        self,
        *,
        route: str,
        handler: str,
        params: type[Params],
        stream: str,
        request_item: Any,
        reply_item: Any,
        errors: tuple[type[DeclaredError], ...] = (),
        stream_id: int | None = None,
    ) -> None:
        super().__init__(
            route=route,
            handler=handler,
            params=params,
            stream=stream,
            request_item=request_item,
            reply_item=reply_item,
            reply=None,
            errors=errors,
            stream_id=stream_id,
        )


AnyMethod = (
    Unary[Any, Any]
    | ServerStreaming[Any, Any]
    | ClientStreaming[Any, Any, Any]
    | BidiStreaming[Any, Any, Any]
)
"""A method of any kind, as a :class:`ServiceSpec` holds them."""


def _not_checked(value: object) -> None:
    """The quick check of a method before its first request: none."""
    return None


def _check_void(value: object) -> None:
    if value is not None:
        raise ValueError(f"expected nil, got {type(value).__name__}")


def _keyed_by(keys: tuple[str, ...]) -> Callable[[tuple[Any, ...]], dict[str, Any]]:
    """A function making ``{keys[0]: values[0], keys[1]: values[1], ...}`` of a
    tuple of ``values``, one item per key.

    It is compiled from a dict display with the keys as constants, which builds the
    dict as fast as the same display written inline; calling it takes a third of
    the time ``dict(zip(keys, values))`` does, and it runs on every call.
    """
    items = ", ".join(f"{key!r}: values[{index}]" for index, key in enumerate(keys))
    # The keys are string literals (repr) and the rest is fixed text: no name or
    # value of the caller's reaches the compiled source.
    return cast(
        Callable[[tuple[Any, ...]], dict[str, Any]],
        eval(f"lambda values: {{{items}}}", {"__builtins__": {}}),
    )


def carries_bytes(annotation: Any, seen: set[type] | None = None) -> bool:
    """Whether a value of this type (as generated code spells types) can hold a
    binary value (:data:`uvrpc.types.Bytes`) anywhere inside."""
    if annotation is memoryview:
        return True
    if isinstance(annotation, type) and issubclass(annotation, UnknownMember):
        return True  # a member of a newer schema: its raw value may hold bytes
    seen = set() if seen is None else seen
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return False
        seen.add(annotation)
        annotation.model_rebuild()  # resolves fields that refer to later messages
        return any(
            carries_bytes(f.annotation, seen) for f in annotation.model_fields.values()
        )
    if get_origin(annotation) is Annotated:
        return carries_bytes(get_args(annotation)[0], seen)
    return any(carries_bytes(a, seen) for a in get_args(annotation))


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """A service as generated code declares it: its wire name and its methods."""

    name: str
    methods: tuple[AnyMethod, ...]
    by_route: dict[str, AnyMethod] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_route", {m.route: m for m in self.methods})
