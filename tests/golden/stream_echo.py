# Generated from stream_echo.idl by uvrpc-gen 0.6.0 — do not edit.
"""The streams the benchmarks measure: items of one payload, one way or both."""

from __future__ import annotations

import abc as _abc
import typing as _typing

import uvrpc as _uvrpc
from uvrpc import types as _t

_uvrpc.check_generated_code(generator="0.6.0", api=9, protocol=3)

__uvrpc_namespace__ = "stream_echo"

__all__ = [
    "StreamEchoClient",
    "StreamEchoServer",
    "StreamEchoSyncClient",
    "Tally",
    "UnimplementedStreamEchoServer",
]


class Tally(_uvrpc.Message):
    """What the server of a client stream saw."""

    model_config = _uvrpc.field_ids(items=1, same=2, first=3)

    items: _t.I64
    """Items received."""
    same: _t.I64
    """Items identical to the first one."""
    first: _t.Bytes
    """The first item (empty if there was none)."""

    if _typing.TYPE_CHECKING:

        def __init__(self, *, items: int, same: int, first: _uvrpc.Buffer) -> None:
            """Where the IDL says ``bytes``, any buffer is taken, uncopied."""
            ...


class _StreamEchoRepeatParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(data=1, n=2)

    data: _t.Bytes
    n: _t.I32


class _StreamEchoTallyParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids()


class _StreamEchoEchoParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids()


_STREAM_ECHO_REPEAT: _uvrpc.ServerStreaming[_StreamEchoRepeatParams, memoryview] = (
    _uvrpc.ServerStreaming(
        route="stream_echo.StreamEcho.repeat",
        handler="repeat",
        params=_StreamEchoRepeatParams,
        reply_item=_t.Bytes,
    )
)
_STREAM_ECHO_TALLY: _uvrpc.ClientStreaming[
    _StreamEchoTallyParams, _uvrpc.Buffer, Tally
] = _uvrpc.ClientStreaming(
    route="stream_echo.StreamEcho.tally",
    handler="tally",
    params=_StreamEchoTallyParams,
    stream="items",
    stream_id=1,
    request_item=_t.Bytes,
    reply=Tally,
)
_STREAM_ECHO_ECHO: _uvrpc.BidiStreaming[
    _StreamEchoEchoParams, _uvrpc.Buffer, memoryview
] = _uvrpc.BidiStreaming(
    route="stream_echo.StreamEcho.echo",
    handler="echo",
    params=_StreamEchoEchoParams,
    stream="items",
    stream_id=1,
    request_item=_t.Bytes,
    reply_item=_t.Bytes,
)
_STREAM_ECHO = _uvrpc.ServiceSpec(
    name="stream_echo.StreamEcho",
    methods=(_STREAM_ECHO_REPEAT, _STREAM_ECHO_TALLY, _STREAM_ECHO_ECHO),
)


class StreamEchoClient(_uvrpc.AsyncClient):
    """Asynchronous client of ``stream_echo.StreamEcho``.

    Streams of bytes items, for the stream cases of `uvrpc bench`.
    """

    def repeat(
        self,
        *,
        data: _uvrpc.Buffer,
        n: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.ItemStream[memoryview]:
        """Sends `data` back `n` times."""
        return self._server_stream(
            _STREAM_ECHO_REPEAT,
            (data, n),
            timeout,
            wait_for_ready,
        )

    async def tally(
        self,
        *,
        items: _typing.AsyncIterable[_uvrpc.Buffer] | _typing.Iterable[_uvrpc.Buffer],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Tally:
        """Counts the items sent and checks each against the first."""
        return await self._client_stream(
            _STREAM_ECHO_TALLY,
            (),
            items,
            timeout,
            wait_for_ready,
        )

    def echo(
        self,
        *,
        items: _typing.AsyncIterable[_uvrpc.Buffer] | _typing.Iterable[_uvrpc.Buffer],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.ItemStream[memoryview]:
        """Sends each item back as it arrives."""
        return self._bidi_stream(_STREAM_ECHO_ECHO, (), items, timeout, wait_for_ready)


class StreamEchoSyncClient(_uvrpc.SyncClient):
    """Blocking client of ``stream_echo.StreamEcho``.

    Streams of bytes items, for the stream cases of `uvrpc bench`.
    """

    def repeat(
        self,
        *,
        data: _uvrpc.Buffer,
        n: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _typing.Generator[memoryview, None, None]:
        """Sends `data` back `n` times."""
        return self._server_stream(
            _STREAM_ECHO_REPEAT,
            (data, n),
            timeout,
            wait_for_ready,
        )

    def tally(
        self,
        *,
        items: _typing.Iterable[_uvrpc.Buffer],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Tally:
        """Counts the items sent and checks each against the first."""
        return self._client_stream(
            _STREAM_ECHO_TALLY,
            (),
            items,
            timeout,
            wait_for_ready,
        )

    def echo(
        self,
        *,
        items: _typing.Iterable[_uvrpc.Buffer],
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _typing.Generator[memoryview, None, None]:
        """Sends each item back as it arrives."""
        return self._bidi_stream(_STREAM_ECHO_ECHO, (), items, timeout, wait_for_ready)


class StreamEchoServer(_uvrpc.ServiceBase):
    """Base class of ``stream_echo.StreamEcho`` implementations.

    Streams of bytes items, for the stream cases of `uvrpc bench`.
    """

    uvrpc_service = _STREAM_ECHO

    @_abc.abstractmethod
    def repeat(
        self,
        *,
        data: memoryview,
        n: int,
    ) -> _typing.AsyncIterator[_uvrpc.Buffer]:
        """Sends `data` back `n` times."""

    @_abc.abstractmethod
    async def tally(self, *, items: _typing.AsyncIterator[memoryview]) -> Tally:
        """Counts the items sent and checks each against the first."""

    @_abc.abstractmethod
    def echo(
        self,
        *,
        items: _typing.AsyncIterator[memoryview],
    ) -> _typing.AsyncIterator[_uvrpc.Buffer]:
        """Sends each item back as it arrives."""


class UnimplementedStreamEchoServer(StreamEchoServer):
    """A partial server: each method answers UNIMPLEMENTED until overridden.

    Subclass it to serve some of the methods of ``stream_echo.StreamEcho``, say while a
    new method reaches the servers one by one. A class that must serve them all
    subclasses :class:`StreamEchoServer`, whose abstract methods let a type checker find
    one left out.
    """

    def repeat(
        self,
        *,
        data: memoryview,
        n: int,
    ) -> _typing.AsyncIterator[_uvrpc.Buffer]:
        """Sends `data` back `n` times."""
        raise _uvrpc.unimplemented(_STREAM_ECHO_REPEAT)

    async def tally(self, *, items: _typing.AsyncIterator[memoryview]) -> Tally:
        """Counts the items sent and checks each against the first."""
        raise _uvrpc.unimplemented(_STREAM_ECHO_TALLY)

    def echo(
        self,
        *,
        items: _typing.AsyncIterator[memoryview],
    ) -> _typing.AsyncIterator[_uvrpc.Buffer]:
        """Sends each item back as it arrives."""
        raise _uvrpc.unimplemented(_STREAM_ECHO_ECHO)
