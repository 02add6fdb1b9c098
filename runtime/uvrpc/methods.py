"""What a generated method *is*: its route, its types and its cardinality.

Generated code keeps each RPC as data, one :class:`Unary` per method, and hands it to
the generic, typed machinery in :mod:`uvrpc.channel`, :mod:`uvrpc.sync_client` and
:mod:`uvrpc.dispatch`. The typing lives here once; the generated module stays short.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar, cast, get_args, get_origin

from pydantic import BaseModel, TypeAdapter

from .errors import DeclaredError
from .message import Message
from .protocol import RequestHeaders
from .types import Bytes, as_view

__all__ = ["Params", "Reply", "ServiceSpec", "Unary"]

Params = TypeVar("Params", bound=Message)
"""The generated model of a method's parameters."""
Reply = TypeVar("Reply")
"""The Python type a method returns."""


class Unary(Generic[Params, Reply]):
    """A request/reply method: one set of parameters in, one value (or nothing) out.

    Args:
        route: the method's name on the wire, ``namespace.Service.method`` as the IDL
            spells it.
        handler: the name of the Python method implementing it on a server class.
        params: the generated model of the parameters, keyed by parameter id.
        reply: the type of the result as pydantic validates it (``None`` for void).
        errors: the exception classes the method declares (``throws``); a handler
            raising one of them makes the caller raise the same class.
        oneway: the caller sends the request and expects no reply at all.
        idempotent: calling twice does no more than calling once, so a client may
            retry the call (only when asked to; see :class:`uvrpc.Retry`).
    """

    kind = "unary"
    __slots__ = (
        "_check_reply",
        "_reply_adapter",
        "errors",
        "errors_by_name",
        "handler",
        "headers",
        "idempotent",
        "oneway",
        "params",
        "payload_params",
        "reply",
        "reply_carries_bytes",
        "route",
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
        # Only values whose type can hold a binary value are searched for payloads
        # to send as attachments. Generated modules define every message before
        # their methods, so the types resolve here.
        params.model_rebuild()
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
                check = self.reply_adapter.validate_python
            self._check_reply = check
        return check(value)

    def __repr__(self) -> str:
        return f"Unary({self.route!r})"


def _check_void(value: object) -> None:
    if value is not None:
        raise ValueError(f"expected nil, got {type(value).__name__}")


def carries_bytes(annotation: Any, seen: set[type] | None = None) -> bool:
    """Whether a value of this type (as generated code spells types) can hold a
    binary value (:data:`uvrpc.types.Bytes`) anywhere inside."""
    if annotation is memoryview:
        return True
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
    methods: tuple[Unary[Any, Any], ...]
    by_route: dict[str, Unary[Any, Any]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_route", {m.route: m for m in self.methods})
