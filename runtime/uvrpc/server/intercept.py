"""The server's interceptor chain: a handler wrapped in the interceptors it runs
within (:class:`~uvrpc.ServerInterceptor`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

from ..core.context import CURRENT_CALL
from ..interceptors.base import Proceed, ServerCallInfo, ServerInterceptor
from ..wire.methods import StreamingMethod, Unary

__all__ = ["intercept_handler"]


def intercept_handler(
    interceptors: Sequence[ServerInterceptor],
    method: Unary[Any, Any] | StreamingMethod,
    handler: Callable[..., Awaitable[Any]],
    check_result: Callable[[Any], None] | None = None,
) -> Callable[..., Awaitable[Any]]:
    """``handler`` wrapped in ``interceptors`` (itself when there are none).

    ``check_result``, given, runs on the handler's result inside the
    interceptors and raises the error the caller will get for it, so that they
    see the call end as its caller does.

    The wrapped handler must run where :func:`uvrpc.current_call` answers, as the
    dispatcher runs handlers.
    """
    if not interceptors:
        return handler
    chain = tuple(reversed(interceptors))
    if check_result is not None:
        handler = _checked(handler, check_result)

    async def intercepted(**args: Any) -> Any:
        call = CURRENT_CALL.get()
        assert call is not None, "handlers run with their call set"
        info = ServerCallInfo(method, call, args)
        proceed: Proceed = partial(handler, **args)
        for interceptor in chain:
            proceed = partial(interceptor.intercept_server, info, proceed)
        return await proceed()

    return intercepted


def _checked(
    handler: Callable[..., Awaitable[Any]], check_result: Callable[[Any], None]
) -> Callable[..., Awaitable[Any]]:
    """``handler``, raising what ``check_result`` raises for its result, and
    ``CancelledError`` if it returned from a cancellation it swallowed."""

    async def checked(**args: Any) -> Any:
        result = await handler(**args)
        call = CURRENT_CALL.get()
        if call is not None and call.cancelled():
            # Its call ended for its caller (cancelled, at its deadline, or by
            # its server's close), and ends so for the interceptors too, not
            # OK: the dispatcher then answers as for a handler that let its
            # cancellation through. The call's flag, marked before its task is
            # cancelled, not the task's count: asyncio.current_task() costs
            # about 1 µs a call on 3.11.
            raise asyncio.CancelledError
        check_result(result)
        return result

    return checked
