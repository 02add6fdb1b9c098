"""Interceptors: code that runs around every call, on the server and the client.

The types an interceptor sees and implements live here, with the logging
interceptor; the chains that run them belong to each side
(:mod:`uvrpc.client.intercept`, :mod:`uvrpc.server.intercept`).
"""

from .base import (
    ClientCallInfo,
    ClientInterceptor,
    LoggingInterceptor,
    Proceed,
    ServerCallInfo,
    ServerInterceptor,
    SyncClientInterceptor,
    SyncProceed,
    status_of,
)

__all__ = [
    "ClientCallInfo",
    "ClientInterceptor",
    "LoggingInterceptor",
    "Proceed",
    "ServerCallInfo",
    "ServerInterceptor",
    "SyncClientInterceptor",
    "SyncProceed",
    "status_of",
]
