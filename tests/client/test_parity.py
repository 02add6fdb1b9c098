"""The asyncio and the blocking client behave alike: every call kind, every fault.

One server; each case runs through :class:`uvrpc.Channel` and
:class:`uvrpc.SyncChannel` and the two outcomes — the result, or the exception's
type, status and message, and the trailers both in the metadata block and on the
error — must be equal.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import Any

import pytest
from conftest import RunningServer, generate_modules, server_thread

import uvrpc
from uvrpc import types as t
from uvrpc.methods import BidiStreaming, ServerStreaming, StreamingMethod, Unary

IDL = """
namespace parity;

/// Refused by the handler.
exception Refused {
    1: string reason;
}

service Parity {
    i64 unary(1: string mode, 2: i64 n) throws (Refused);
    stream<i64> down(1: string mode, 2: i32 n) throws (Refused);
    i64 up(1: stream<i64> values, 2: string mode) throws (Refused);
    stream<i64> both(1: stream<i64> values, 2: string mode) throws (Refused);
    bytes big(1: i32 size);
}
"""

TIMEOUT = 5.0
SHORT = 0.3


def _behave(mode: str) -> None:
    """What each mode does before the handler's result: set a trailer, fail."""
    uvrpc.current_call().set_trailer("x-mode", mode)
    if mode == "declared":
        raise _module().Refused(reason="no")
    if mode == "undeclared":
        raise RuntimeError("boom")


_MODULES: dict[str, ModuleType] = {}


def _module() -> ModuleType:
    return _MODULES["parity"]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("parity")
    _MODULES.update(generate_modules(directory, {"parity.idl": IDL}))
    parity = _module()

    class Parity(parity.ParityServer):  # type: ignore[misc, name-defined]
        async def unary(self, *, mode: str, n: int) -> int:
            if mode == "slow":
                await asyncio.sleep(30)
            _behave(mode)
            return n + 1

        async def down(self, *, mode: str, n: int) -> AsyncIterator[int]:
            if mode == "slow":
                await asyncio.sleep(30)
            for i in range(n):
                yield i
            _behave(mode)

        async def up(self, *, values: AsyncIterator[int], mode: str) -> int:
            total = sum([value async for value in values])
            if mode == "slow":
                await asyncio.sleep(30)
            _behave(mode)
            return total

        async def both(
            self, *, values: AsyncIterator[int], mode: str
        ) -> AsyncIterator[int]:
            async for value in values:
                yield value * 2
            if mode == "slow":
                await asyncio.sleep(30)
            _behave(mode)

        async def big(self, *, size: int) -> bytes:
            return bytes(size)

    bind = f"ipc://{directory / 'parity.sock'}"
    with server_thread(Parity(), bind=bind) as server:
        yield server


def _descriptor(route: str) -> Any:
    for value in vars(_module()).values():
        if isinstance(value, Unary | StreamingMethod) and value.route == route:
            return value
    raise LookupError(route)


def _bad_items(method: Any) -> Any:
    """``method`` as a client that expects strings where the server sends ints."""
    kind = BidiStreaming if isinstance(method, BidiStreaming) else ServerStreaming
    options: dict[str, Any] = {"reply_item": t.String}
    if kind is BidiStreaming:
        options.update(stream=method.stream, request_item=method.request_item)
    return kind(
        route=method.route,
        handler=method.handler,
        params=method.params,
        errors=method.errors,
        **options,
    )


KINDS = ("unary", "started", "server", "client", "bidi")
ROUTES = {
    "unary": "parity.Parity.unary",
    "started": "parity.Parity.unary",
    "server": "parity.Parity.down",
    "client": "parity.Parity.up",
    "bidi": "parity.Parity.both",
}
FAULTS = (
    "ok",
    "declared",
    "undeclared",
    "invalid_argument",
    "bad_item",
    "deadline",
    "unimplemented",
    "oversized",
    "closed",
)
APPLIES = {
    "bad_item": {"server", "bidi"},
    "oversized": {"unary", "started"},
}


def _case(kind: str, fault: str) -> tuple[Any, dict[str, Any], list[int], float]:
    """The method, arguments, items and timeout of one case."""
    method = _descriptor(ROUTES[kind])
    mode = {"declared": "declared", "undeclared": "undeclared", "deadline": "slow"}
    mode_arg = mode.get(fault, "ok")
    every: dict[str, dict[str, Any]] = {
        "unary": {"1": mode_arg, "2": 41},
        "started": {"1": mode_arg, "2": 41},
        "server": {"1": mode_arg, "2": 3},
        "client": {"2": mode_arg},
        "bidi": {"2": mode_arg},
    }
    args = every[kind]
    if fault == "invalid_argument":
        args = {**args, "2": "not a number"} if "2" in args else args
        if kind in ("client", "bidi"):
            args = {"2": 7}
    if fault == "bad_item":
        method = _bad_items(method)
    if fault == "unimplemented":
        if isinstance(method, Unary):
            method = Unary(
                route="parity.Parity.missing",
                handler="missing",
                params=method.params,
                reply=t.I64,
            )
        else:
            method = _renamed(method)
    if fault == "oversized":
        method = _descriptor("parity.Parity.big")
        args = {"1": 1536}  # over the limit, under what ZeroMQ refuses
    timeout = SHORT if fault == "deadline" else TIMEOUT
    return method, args, [1, 2, 3], timeout


def _renamed(method: Any) -> Any:
    kind = type(method)
    options: dict[str, Any] = {}
    if method.server_sends:
        options["reply_item"] = method.reply_item
    if method.client_sends:
        options.update(stream=method.stream, request_item=method.request_item)
    if not method.server_sends:
        options["reply"] = method.final.reply
    return kind(
        route=method.route + "Missing",
        handler=method.handler,
        params=method.params,
        errors=method.errors,
        **options,
    )


Outcome = tuple[Any, ...]


def _outcome(result: Any, error: BaseException | None, trailers: Any) -> Outcome:
    if error is None:
        return ("ok", result, dict(trailers))
    status = getattr(error, "status", None)
    return (
        type(error).__name__,
        status,
        str(error),
        dict(trailers),
        dict(getattr(error, "trailers", {})),
    )


def _options(fault: str) -> dict[str, Any]:
    return {"max_message_size": 1024} if fault == "oversized" else {}


def run_async(endpoint: str, kind: str, fault: str) -> Outcome:
    method, args, items, timeout = _case(kind, fault)

    async def values() -> AsyncIterator[int]:
        for item in items:
            yield item

    async def call(channel: uvrpc.Channel, md: Any) -> Any:
        if kind == "unary":
            return await channel.call(method, args, timeout)
        if kind == "started":
            # A started call's trailers are its handle's, not the block's.
            handle = channel.start(method, args, timeout)
            try:
                return await handle
            finally:
                with contextlib.suppress(uvrpc.RpcError):
                    md.trailers = dict(handle.trailers)
        if kind == "server":
            return [item async for item in channel.server_stream(method, args, timeout)]
        if kind == "client":
            return await channel.client_stream(method, args, values(), timeout)
        stream = channel.bidi_stream(method, args, values(), timeout)
        return [item async for item in stream]

    async def main() -> Outcome:
        async with uvrpc.Channel(endpoint, **_options(fault)) as channel:
            await channel.call(
                _descriptor("parity.Parity.unary"), {"1": "ok", "2": 0}, 5
            )
            if fault == "closed":
                await channel.close()
            with uvrpc.metadata({"x-case": fault}) as md:
                try:
                    result = await call(channel, md)
                except uvrpc.RpcError as exc:
                    return _outcome(None, exc, md.trailers)
            return _outcome(result, None, md.trailers)

    return asyncio.run(main())


def run_sync(endpoint: str, kind: str, fault: str) -> Outcome:
    method, args, items, timeout = _case(kind, fault)

    def call(channel: uvrpc.SyncChannel) -> Any:
        if kind in ("unary", "started"):
            return channel.call(method, args, timeout)
        if kind == "server":
            return list(channel.server_stream(method, args, timeout))
        if kind == "client":
            return channel.client_stream(method, args, iter(items), timeout)
        return list(channel.bidi_stream(method, args, iter(items), timeout))

    with uvrpc.SyncChannel(endpoint, **_options(fault)) as channel:
        channel.call(_descriptor("parity.Parity.unary"), {"1": "ok", "2": 0}, 5)
        if fault == "closed":
            channel.close()
        with uvrpc.metadata({"x-case": fault}) as md:
            try:
                result = call(channel)
            except uvrpc.RpcError as exc:
                return _outcome(None, exc, md.trailers)
        return _outcome(result, None, md.trailers)


CASES = [
    (kind, fault)
    for fault in FAULTS
    for kind in KINDS
    if kind in APPLIES.get(fault, set(KINDS))
]


@pytest.mark.parametrize(("kind", "fault"), CASES)
def test_both_clients_agree(running: RunningServer, kind: str, fault: str) -> None:
    async_outcome = run_async(running.endpoint, kind, fault)
    sync_outcome = run_sync(running.endpoint, kind, fault)
    if fault == "deadline":
        # The server's deadline and the client's race: either may end the call.
        async_outcome = _either_deadline(async_outcome)
        sync_outcome = _either_deadline(sync_outcome)
    assert async_outcome == sync_outcome
    expected = EXPECTED[fault]
    assert async_outcome[0] == expected, async_outcome
    if fault in ("ok", "declared", "undeclared"):
        # The handler's trailers reach the metadata block, and the error.
        assert async_outcome[-1] == {"x-mode": _mode(fault)}
        if fault != "ok":
            assert async_outcome[-2] == {"x-mode": _mode(fault)}


def _either_deadline(outcome: Outcome) -> Outcome:
    """A deadline's outcome, whichever side's deadline ended the call."""
    name, status, message, *trailers = outcome
    route = message.split(": ", 1)[1].split(" ", 1)[0]
    assert message in {
        f"DEADLINE_EXCEEDED: {route} did not finish within {SHORT:g} s",
        f"DEADLINE_EXCEEDED: {route} got no reply within {SHORT:g} s",
        f"DEADLINE_EXCEEDED: {route} did not finish within {SHORT:g} s "
        "(the server's deadline)",
    }, message
    return (name, status, route, *trailers)


def _mode(fault: str) -> str:
    return "ok" if fault == "ok" else fault


EXPECTED = {
    "ok": "ok",
    "declared": "Refused",
    "undeclared": "RemoteError",
    "invalid_argument": "InvalidArgument",
    "bad_item": "InternalError",
    "deadline": "DeadlineExceeded",
    "unimplemented": "Unimplemented",
    "oversized": "ResourceExhausted",
    "closed": "ChannelClosed",
}


def test_the_cases_cover_every_kind_and_fault() -> None:
    assert {kind for kind, _ in CASES} == set(KINDS)
    assert {fault for _, fault in CASES} == set(FAULTS)
