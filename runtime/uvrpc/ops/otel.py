"""OpenTelemetry tracing: a span per call, on the server and the client, with W3C
trace context carried in the call's metadata.

Needs ``opentelemetry-api`` (``pip install 'uvrpc[otel]'``); spans go nowhere
until the application sets up an SDK (``opentelemetry-sdk``) or passes a tracer
provider. Usage::

    tracing = OpenTelemetryInterceptor()
    server = uvrpc.Server(Calculator(), interceptors=[tracing])
    calc = CalculatorClient(endpoint, interceptors=[tracing])

The spans follow OpenTelemetry's semantic conventions for RPC, as gRPC's
instrumentations emit them, with ``uvrpc`` in place of ``grpc``: see
``docs/interceptors.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from contextvars import Token
from typing import Any

try:
    from opentelemetry import context as otel_context
    from opentelemetry import propagate, trace
    from opentelemetry.context import Context
    from opentelemetry.propagators.textmap import Getter, Setter
    from opentelemetry.trace import Span, SpanKind, StatusCode
    from opentelemetry.util.types import AttributeValue
except ImportError as exc:  # pragma: no cover - depends on what is installed
    raise ImportError(
        f"uvrpc.ops.otel needs the OpenTelemetry API: pip install 'uvrpc[otel]' ({exc})"
    ) from exc

from ..interceptors.base import (
    ClientCallInfo,
    Proceed,
    ServerCallInfo,
    SyncProceed,
    status_of,
)
from ..wire.errors import RpcError
from ..wire.status import Status
from ..wire.version import __version__

__all__ = ["SERVER_ERRORS", "OpenTelemetryInterceptor", "endpoint_attributes"]

SYSTEM = "uvrpc"
"""The value of ``rpc.system`` on every span."""

STATUS_CODE = "rpc.uvrpc.status_code"
"""The attribute holding a call's status number, as ``rpc.grpc.status_code``
holds gRPC's."""

SERVER_ERRORS = frozenset(
    {
        Status.UNKNOWN,
        Status.DEADLINE_EXCEEDED,
        Status.UNIMPLEMENTED,
        Status.INTERNAL,
        Status.UNAVAILABLE,
        Status.DATA_LOSS,
    }
)
"""The statuses that make a server span an error, as the conventions for gRPC
say: the others (NOT_FOUND, PERMISSION_DENIED, …) are the server answering a
caller's mistake, not failing. On a client span every status but OK is one."""


class _MetadataGetter(Getter[Mapping[str, str | bytes]]):
    """Reads propagation fields from a request's metadata (lowercase keys)."""

    def get(self, carrier: Mapping[str, str | bytes], key: str) -> list[str] | None:
        value = carrier.get(key.lower())
        if value is None:
            return None
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        return [value]

    def keys(self, carrier: Mapping[str, str | bytes]) -> list[str]:
        return list(carrier)


class _MetadataSetter(Setter[MutableMapping[str, str | bytes]]):
    """Writes propagation fields into a call's metadata, whose keys are lowercase
    (a propagator may spell its headers otherwise: ``X-B3-TraceId``)."""

    def set(
        self, carrier: MutableMapping[str, str | bytes], key: str, value: str
    ) -> None:
        carrier[key.lower()] = value


_GETTER = _MetadataGetter()
_SETTER = _MetadataSetter()


def endpoint_attributes(endpoint: str) -> dict[str, AttributeValue]:
    """``server.address``, ``server.port`` and ``network.transport`` of a ZeroMQ
    endpoint: ``tcp://host:port``, ``ipc://path`` or ``inproc://name``.

    Raises:
        ValueError: ``endpoint`` is none of those.
    """
    scheme, sep, rest = endpoint.partition("://")
    if not sep or not rest:
        raise ValueError(f"not a ZeroMQ endpoint: {endpoint!r}")
    if scheme == "tcp":
        host, colon, port = rest.rpartition(":")
        if not colon or not port.isdigit():
            raise ValueError(f"a tcp:// endpoint needs a port: {endpoint!r}")
        host = host.removeprefix("[").removesuffix("]")
        return {
            "server.address": host,
            "server.port": int(port),
            "network.transport": "tcp",
        }
    if scheme == "ipc":
        return {"server.address": rest, "network.transport": "unix"}
    if scheme == "inproc":
        return {"server.address": rest, "network.transport": "inproc"}
    raise ValueError(f"not a tcp://, ipc:// or inproc:// endpoint: {endpoint!r}")


def _names(route: str) -> tuple[str, str]:
    """The service and the method of a route (``calculator.Calculator.add``)."""
    service, _, method = route.rpartition(".")
    return service, method


class OpenTelemetryInterceptor:
    """Makes a span of every call: a CLIENT span on a channel, a SERVER span on a
    server; one span covers a whole stream call.

    Usable on a server, an asyncio channel and a blocking channel alike. The
    client injects the current trace context (W3C ``traceparent`` and
    ``tracestate``, and ``baggage``, with the global propagator) into the call's
    metadata; the server extracts it, so its span is the child of the client's,
    and runs the handler with its span current: spans the handler starts, and
    calls it makes through an instrumented channel, nest under it.

    Args:
        tracer_provider: where the spans go; OpenTelemetry's global provider by
            default (set with ``trace.set_tracer_provider``).
        endpoint: the server's endpoint, when known: the one a channel connects
            to, or the one a server binds. Its host and port become
            ``server.address`` and ``server.port`` (a path for ``ipc://``).
    """

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        *,
        endpoint: str | None = None,
    ) -> None:
        self.tracer = trace.get_tracer(
            "uvrpc", __version__, tracer_provider=tracer_provider
        )
        self._endpoint: dict[str, AttributeValue] = (
            endpoint_attributes(endpoint) if endpoint is not None else {}
        )

    def _attributes(self, route: str) -> dict[str, AttributeValue]:
        service, method = _names(route)
        return {
            "rpc.system": SYSTEM,
            "rpc.service": service,
            "rpc.method": method,
            **self._endpoint,
        }

    def _client_span(self, call: ClientCallInfo) -> tuple[Span, Token[Context]]:
        """Start a client span, make it current and put its context in the
        call's metadata; the span and the token to detach."""
        service, method = _names(call.route)
        span = self.tracer.start_span(
            f"{service}/{method}",
            kind=SpanKind.CLIENT,
            attributes=self._attributes(call.route),
        )
        context = trace.set_span_in_context(span)
        propagate.inject(call.metadata, context=context, setter=_SETTER)
        return span, otel_context.attach(context)

    async def intercept_server(self, call: ServerCallInfo, proceed: Proceed) -> Any:
        """Serve the call inside a server span, the child of the caller's."""
        parent = propagate.extract(call.metadata, getter=_GETTER)
        service, method = _names(call.route)
        span = self.tracer.start_span(
            f"{service}/{method}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes=self._attributes(call.route),
        )
        # The extracted context keeps its baggage: calls the handler makes send
        # it on.
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            result = await proceed()
        except BaseException as exc:
            _end(span, status_of(exc, call.call), exc, SERVER_ERRORS)
            raise
        finally:
            otel_context.detach(token)
        _end(span, Status.OK, None, SERVER_ERRORS)
        return result

    async def intercept_client(self, call: ClientCallInfo, proceed: Proceed) -> Any:
        """Make the call inside a client span, carrying its context."""
        span, token = self._client_span(call)
        try:
            result = await proceed()
        except BaseException as exc:
            _end(span, status_of(exc), exc)
            raise
        finally:
            otel_context.detach(token)
        _end(span, Status.OK, None)
        return result

    def intercept_sync(self, call: ClientCallInfo, proceed: SyncProceed) -> Any:
        """Make the blocking call inside a client span, carrying its context."""
        span, token = self._client_span(call)
        try:
            result = proceed()
        except BaseException as exc:
            _end(span, status_of(exc), exc)
            raise
        finally:
            otel_context.detach(token)
        _end(span, Status.OK, None)
        return result


def _end(
    span: Span,
    status: Status,
    error: BaseException | None,
    errors: frozenset[Status] | None = None,
) -> None:
    """Record how the call ended on ``span`` and end it.

    ``errors`` are the statuses that make the span an error (every one but OK
    when ``None``, as on a client).
    """
    span.set_attribute(STATUS_CODE, int(status))
    if error is not None:
        span.record_exception(error)
        failed = status is not Status.OK and (errors is None or status in errors)
        if failed:
            span.set_attribute("error.type", status.name)
            message = (
                error.message
                if isinstance(error, RpcError)
                else f"{type(error).__name__}: {error}"  # as the caller reads it
            )
            span.set_status(trace.Status(StatusCode.ERROR, f"{status.name}: {message}"))
    span.end()
