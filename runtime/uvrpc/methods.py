"""What a generated method *is*: its route, its types and its cardinality.

Generated code keeps each RPC as data, one :class:`Unary` per method, and hands it to
the generic, typed machinery in :mod:`uvrpc.channel`, :mod:`uvrpc.sync_client` and
:mod:`uvrpc.dispatch`. The typing lives here once; the generated module stays short.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar, get_args, get_origin

from pydantic import BaseModel, TypeAdapter

from .message import Message
from .protocol import encode_route

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
    """

    kind = "unary"
    __slots__ = (
        "_carries_bytes",
        "_reply_adapter",
        "encoded_route",
        "handler",
        "params",
        "reply",
        "route",
    )

    def __init__(
        self, *, route: str, handler: str, params: type[Params], reply: Any
    ) -> None:
        self.route = route
        self.encoded_route = encode_route(route)
        """The route as request headers carry it, encoded once."""
        self.handler = handler
        self.params = params
        self.reply = reply
        self._reply_adapter: TypeAdapter[Reply] | None = None
        self._carries_bytes: tuple[tuple[str, ...], bool] | None = None

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

    @property
    def payload_params(self) -> tuple[str, ...]:
        """The wire keys of the parameters that can hold a binary value."""
        return self._bytes_carried()[0]

    @property
    def reply_carries_bytes(self) -> bool:
        """Whether the result can hold a binary value anywhere inside."""
        return self._bytes_carried()[1]

    def _bytes_carried(self) -> tuple[tuple[str, ...], bool]:
        # Worked out once, on first use: only values whose type can hold a binary
        # value are searched for payloads to send as attachments.
        carried = self._carries_bytes
        if carried is None:
            self.params.model_rebuild()  # resolves fields naming later messages
            keys = tuple(
                field.serialization_alias or name
                for name, field in self.params.model_fields.items()
                if carries_bytes(field.annotation)
            )
            carried = self._carries_bytes = (keys, carries_bytes(self.reply))
        return carried

    def __repr__(self) -> str:
        return f"Unary({self.route!r})"


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
