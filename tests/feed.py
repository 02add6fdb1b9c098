# Generated from feed.idl by uvrpc-gen 0.6.0 — do not edit.
"""The service the tests of oneway and streaming calls use."""

from __future__ import annotations

import abc as _abc
import typing as _typing

import uvrpc as _uvrpc
from uvrpc import types as _t

_uvrpc.check_generated_code(generator="0.6.0", api=9, protocol=3)

__uvrpc_namespace__ = "feed"

__all__ = [
    "FeedClient",
    "FeedServer",
    "FeedSyncClient",
    "Tick",
    "Total",
    "UnimplementedFeedServer",
]


class Tick(_uvrpc.Message):
    """One item of a stream."""

    model_config = _uvrpc.field_ids(seq=1, data=2)

    seq: _t.I32
    data: _t.Bytes = memoryview(b"")

    if _typing.TYPE_CHECKING:

        def __init__(self, *, seq: int, data: _uvrpc.Buffer = ...) -> None:
            """Where the IDL says ``bytes``, any buffer is taken, uncopied."""
            ...


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
    route="feed.Feed.ping",
    handler="ping",
    params=_FeedPingParams,
    reply=_t.I32,
)
_FEED_NOTIFY: _uvrpc.Unary[_FeedNotifyParams, None] = _uvrpc.Unary(
    route="feed.Feed.notify",
    handler="notify",
    params=_FeedNotifyParams,
    reply=None,
    oneway=True,
)
_FEED_TICKS: _uvrpc.ServerStreaming[_FeedTicksParams, Tick] = _uvrpc.ServerStreaming(
    route="feed.Feed.ticks",
    handler="ticks",
    params=_FeedTicksParams,
    reply_item=Tick,
)
_FEED_UPLOAD: _uvrpc.ClientStreaming[_FeedUploadParams, Tick, Total] = (
    _uvrpc.ClientStreaming(
        route="feed.Feed.upload",
        handler="upload",
        params=_FeedUploadParams,
        stream="ticks",
        stream_id=1,
        request_item=Tick,
        reply=Total,
    )
)
_FEED_ECHO: _uvrpc.BidiStreaming[_FeedEchoParams, Tick, Tick] = _uvrpc.BidiStreaming(
    route="feed.Feed.echo",
    handler="echo",
    params=_FeedEchoParams,
    stream="ticks",
    stream_id=1,
    request_item=Tick,
    reply_item=Tick,
)
_FEED_NUMBERS: _uvrpc.ServerStreaming[_FeedNumbersParams, int] = _uvrpc.ServerStreaming(
    route="feed.Feed.numbers",
    handler="numbers",
    params=_FeedNumbersParams,
    reply_item=_t.I32,
)
_FEED = _uvrpc.ServiceSpec(
    name="feed.Feed",
    methods=(
        _FEED_PING,
        _FEED_NOTIFY,
        _FEED_TICKS,
        _FEED_UPLOAD,
        _FEED_ECHO,
        _FEED_NUMBERS,
    ),
)


class FeedClient(_uvrpc.AsyncClient):
    """Asynchronous client of ``feed.Feed``."""

    async def ping(
        self,
        *,
        n: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> int:
        """Answers `n`."""
        return await self._call(_FEED_PING, (n,), timeout, wait_for_ready)

    def start_ping(
        self,
        *,
        n: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[int]:
        """Start :meth:`ping` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_FEED_PING, (n,), timeout, wait_for_ready)

    async def notify(
        self,
        *,
        text: str,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> None:
        """Hands `text` to the server; nothing comes back."""
        await self._call(_FEED_NOTIFY, (text,), timeout, wait_for_ready)

    def ticks(
        self,
        *,
        count: int,
        size: int = 0,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.ItemStream[Tick]:
        """Streams `count` ticks carrying `size` bytes each."""
        return self._server_stream(_FEED_TICKS, (count, size), timeout, wait_for_ready)

    async def upload(
        self,
        *,
        ticks: _typing.AsyncIterable[Tick] | _typing.Iterable[Tick],
        label: str = "",
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Total:
        """Counts the ticks sent to it."""
        return await self._client_stream(
            _FEED_UPLOAD,
            (label,),
            ticks,
            timeout,
            wait_for_ready,
        )

    def echo(
        self,
        *,
        ticks: _typing.AsyncIterable[Tick] | _typing.Iterable[Tick],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.ItemStream[Tick]:
        """Streams every tick back as it arrives."""
        return self._bidi_stream(_FEED_ECHO, (), ticks, timeout, wait_for_ready)

    def numbers(
        self,
        *,
        count: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.ItemStream[int]:
        """Streams the numbers from 0 to `count` - 1."""
        return self._server_stream(_FEED_NUMBERS, (count,), timeout, wait_for_ready)


class FeedSyncClient(_uvrpc.SyncClient):
    """Blocking client of ``feed.Feed``."""

    def ping(
        self,
        *,
        n: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> int:
        """Answers `n`."""
        return self._call(_FEED_PING, (n,), timeout, wait_for_ready)

    def notify(
        self,
        *,
        text: str,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> None:
        """Hands `text` to the server; nothing comes back."""
        self._call(_FEED_NOTIFY, (text,), timeout, wait_for_ready)

    def ticks(
        self,
        *,
        count: int,
        size: int = 0,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _typing.Generator[Tick, None, None]:
        """Streams `count` ticks carrying `size` bytes each."""
        return self._server_stream(_FEED_TICKS, (count, size), timeout, wait_for_ready)

    def upload(
        self,
        *,
        ticks: _typing.Iterable[Tick],
        label: str = "",
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Total:
        """Counts the ticks sent to it."""
        return self._client_stream(
            _FEED_UPLOAD,
            (label,),
            ticks,
            timeout,
            wait_for_ready,
        )

    def echo(
        self,
        *,
        ticks: _typing.Iterable[Tick],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _typing.Generator[Tick, None, None]:
        """Streams every tick back as it arrives."""
        return self._bidi_stream(_FEED_ECHO, (), ticks, timeout, wait_for_ready)

    def numbers(
        self,
        *,
        count: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _typing.Generator[int, None, None]:
        """Streams the numbers from 0 to `count` - 1."""
        return self._server_stream(_FEED_NUMBERS, (count,), timeout, wait_for_ready)


class FeedServer(_uvrpc.ServiceBase):
    """Base class of ``feed.Feed`` implementations."""

    uvrpc_service = _FEED

    @_abc.abstractmethod
    async def ping(self, *, n: int) -> int:
        """Answers `n`."""

    @_abc.abstractmethod
    async def notify(self, *, text: str) -> None:
        """Hands `text` to the server; nothing comes back."""

    @_abc.abstractmethod
    def ticks(self, *, count: int, size: int) -> _typing.AsyncIterator[Tick]:
        """Streams `count` ticks carrying `size` bytes each."""

    @_abc.abstractmethod
    async def upload(self, *, ticks: _typing.AsyncIterator[Tick], label: str) -> Total:
        """Counts the ticks sent to it."""

    @_abc.abstractmethod
    def echo(
        self,
        *,
        ticks: _typing.AsyncIterator[Tick],
    ) -> _typing.AsyncIterator[Tick]:
        """Streams every tick back as it arrives."""

    @_abc.abstractmethod
    def numbers(self, *, count: int) -> _typing.AsyncIterator[int]:
        """Streams the numbers from 0 to `count` - 1."""


class UnimplementedFeedServer(FeedServer):
    """A partial server: each method answers UNIMPLEMENTED until overridden.

    Subclass it to serve some of the methods of ``feed.Feed``, say while a new method
    reaches the servers one by one. A class that must serve them all subclasses
    :class:`FeedServer`, whose abstract methods let a type checker find one left out.
    """

    async def ping(self, *, n: int) -> int:
        """Answers `n`."""
        raise _uvrpc.unimplemented(_FEED_PING)

    async def notify(self, *, text: str) -> None:
        """Hands `text` to the server; nothing comes back."""
        raise _uvrpc.unimplemented(_FEED_NOTIFY)

    def ticks(self, *, count: int, size: int) -> _typing.AsyncIterator[Tick]:
        """Streams `count` ticks carrying `size` bytes each."""
        raise _uvrpc.unimplemented(_FEED_TICKS)

    async def upload(self, *, ticks: _typing.AsyncIterator[Tick], label: str) -> Total:
        """Counts the ticks sent to it."""
        raise _uvrpc.unimplemented(_FEED_UPLOAD)

    def echo(
        self,
        *,
        ticks: _typing.AsyncIterator[Tick],
    ) -> _typing.AsyncIterator[Tick]:
        """Streams every tick back as it arrives."""
        raise _uvrpc.unimplemented(_FEED_ECHO)

    def numbers(self, *, count: int) -> _typing.AsyncIterator[int]:
        """Streams the numbers from 0 to `count` - 1."""
        raise _uvrpc.unimplemented(_FEED_NUMBERS)
