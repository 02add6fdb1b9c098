"""A service written the way ``uvrpc-gen`` writes one, with oneway and streaming
methods: the tests of those method kinds use it.

It stands in for the generated module of this IDL::

    namespace feed

    struct Tick { 1: i32 seq, 2: bytes data = b"" }
    struct Total { 1: i64 count, 2: i64 bytes }

    service Feed {
        i32 ping(1: i32 n)
        oneway void notify(1: string text)
        stream<Tick> ticks(1: i32 count, 2: i32 size)
        Total upload(1: stream<Tick> ticks, 2: string label)
        stream<Tick> echo(1: stream<Tick> ticks)
        stream<i32> numbers(1: i32 count)
    }
"""

from __future__ import annotations

import abc as _abc
import typing as _typing

import uvrpc as _uvrpc
from uvrpc import types as _t


class Tick(_uvrpc.Message):
    """One item of a stream."""

    model_config = _uvrpc.field_ids(seq=1, data=2)

    seq: _t.I32
    data: _t.Bytes = memoryview(b"")


class Total(_uvrpc.Message):
    """What an upload counted."""

    model_config = _uvrpc.field_ids(count=1, bytes=2)

    count: _t.I64
    bytes: _t.I64


class _FeedPingParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(n=1)

    n: _t.I32


class _FeedNotifyParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(text=1)

    text: _t.String


class _FeedTicksParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(count=1, size=2)

    count: _t.I32
    size: _t.I32 = 0


class _FeedUploadParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(label=2)

    label: _t.String = ""


class _FeedEchoParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids()


class _FeedNumbersParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(count=1)

    count: _t.I32


_FEED_PING: _uvrpc.Unary[_FeedPingParams, int] = _uvrpc.Unary(
    route="feed.Feed.ping", handler="ping", params=_FeedPingParams, reply=_t.I32
)
_FEED_NOTIFY: _uvrpc.Unary[_FeedNotifyParams, None] = _uvrpc.Unary(
    route="feed.Feed.notify",
    handler="notify",
    params=_FeedNotifyParams,
    reply=None,
    oneway=True,
)
_FEED = _uvrpc.ServiceSpec(name="feed.Feed", methods=(_FEED_PING, _FEED_NOTIFY))


class FeedClient(_uvrpc.AsyncClient):
    """Asynchronous client of ``feed.Feed``."""

    async def ping(self, *, n: int, timeout: float | None = None) -> int:
        """Returns ``n``."""
        return await self._call(_FEED_PING, {"1": n}, timeout)

    async def notify(self, *, text: str, timeout: float | None = None) -> None:
        """Tells the server something; no reply."""
        await self._call(_FEED_NOTIFY, {"1": text}, timeout)


class FeedSyncClient(_uvrpc.SyncClient):
    """Blocking client of ``feed.Feed``."""

    def ping(self, *, n: int, timeout: float | None = None) -> int:
        """Returns ``n``."""
        return self._call(_FEED_PING, {"1": n}, timeout)

    def notify(self, *, text: str, timeout: float | None = None) -> None:
        """Tells the server something; no reply."""
        self._call(_FEED_NOTIFY, {"1": text}, timeout)


class FeedServer(_uvrpc.ServiceBase):
    """Base class of ``feed.Feed`` implementations."""

    uvrpc_service = _FEED

    @_abc.abstractmethod
    async def ping(self, *, n: int) -> int:
        """Returns ``n``."""

    @_abc.abstractmethod
    async def notify(self, *, text: str) -> None:
        """Tells the server something; no reply."""


__all__ = ["FeedClient", "FeedServer", "FeedSyncClient", "Tick", "Total"]
_ = _typing
