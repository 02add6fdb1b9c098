"""Channels that check their requests (``check_requests=True``) refuse what the
server would refuse, with the server's own error, and never send the bad value.

Each bad value is sent twice: through a channel that does not check, so that the
server refuses it, and through one that does, which must raise the same
:class:`uvrpc.InvalidArgument` (status, text, field path, details) itself. A client
whose method descriptor is stricter than the server's then shows that a refused
value never reaches the server: the server would have taken it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from types import ModuleType
from typing import Any

import pytest
from conftest import RunningServer, generate_modules, server_thread

import uvrpc
import uvrpc.testing
from uvrpc import types as t
from uvrpc.message import Message, field_ids
from uvrpc.methods import ClientStreaming, StreamingMethod, Unary
from uvrpc.wire.codec import unpack

IDL = """
namespace checked;

enum Color {
    RED = 1;
    GREEN = 2;
}

message Point {
    1: i32 x;
    2: i32 y;
}

message Shape {
    1: string name;
    2: list<Point> points;
    3: Color color;
    4: float scale;
}

service Checked {
    i32 put(1: i32 n, 2: Color color, 3: set<i32> tags, 4: Shape shape);
    oneway void note(1: i32 n);
    stream<i32> down(1: i32 n, 2: Color color);
    i32 up(1: stream<Point> points, 2: i32 n);
    stream<i32> both(1: stream<Color> colors);
    i32 count(1: i32 n);
}
"""

TIMEOUT = 10.0

_MODULES: dict[str, ModuleType] = {}
SEEN: list[Any] = []
"""What the handlers of ``count`` and ``up`` received (the server took it)."""


def _gen() -> ModuleType:
    return _MODULES["checked"]


@pytest.fixture(scope="module", autouse=True)
def _generated(tmp_path_factory: pytest.TempPathFactory) -> None:
    directory = tmp_path_factory.mktemp("checked")
    _MODULES.update(generate_modules(directory, {"checked.idl": IDL}))


@pytest.fixture(autouse=True)
def _forget() -> None:
    SEEN.clear()


def _service() -> Any:
    gen = _gen()

    class Checked(gen.CheckedServer):  # type: ignore[misc, name-defined]
        async def put(self, *, n: int, color: Any, tags: set[int], shape: Any) -> int:
            return n

        async def note(self, *, n: int) -> None:
            pass

        async def down(self, *, n: int, color: Any) -> AsyncIterator[int]:
            for i in range(n):
                yield i

        async def up(self, *, points: AsyncIterator[Any], n: int) -> int:
            taken = 0
            async for point in points:
                SEEN.append(point.x)
                taken += 1
            return taken

        async def both(self, *, colors: AsyncIterator[Any]) -> AsyncIterator[int]:
            async for color in colors:
                yield int(color)

        async def count(self, *, n: int) -> int:
            SEEN.append(n)
            return n

    return Checked()


def _descriptor(route: str) -> Any:
    for value in vars(_gen()).values():
        if isinstance(value, Unary | StreamingMethod) and value.route == route:
            return value
    raise LookupError(route)


def _good() -> dict[str, Any]:
    gen = _gen()
    return {
        "n": 1,
        "color": gen.Color.RED,
        "tags": {1, 2},
        "shape": gen.Shape(
            name="s", points=[gen.Point(x=1, y=2)], color=gen.Color.GREEN, scale=1.5
        ),
    }


def _shape(**fields: Any) -> dict[str, Any]:
    """A shape as a dict (as a caller may pass one): good but for ``fields``."""
    shape = {"name": "s", "points": [{"x": 1, "y": 2}], "color": 1, "scale": 1.0}
    shape.update(fields)
    return shape


def _constructed_shape() -> Any:
    """A shape built without validation, holding a bool where an i32 belongs: a
    pydantic check of the caller's objects would take it as it is."""
    gen = _gen()
    bad = gen.Point.model_construct(x=True, y=2)
    return gen.Shape.model_construct(
        name="s", points=[gen.Point(x=1, y=2), bad], color=gen.Color.RED, scale=1.0
    )


# (case, the arguments that differ from _good, the field path refused)
BAD_PUTS: list[tuple[str, Callable[[], dict[str, Any]], str]] = [
    ("bool_for_i32", lambda: {"n": True}, "n"),
    ("i32_too_wide", lambda: {"n": 2**31}, "n"),
    ("float_for_i32", lambda: {"n": 1.0}, "n"),
    ("bool_for_enum", lambda: {"color": True}, "color"),
    ("float_for_enum", lambda: {"color": 1.0}, "color"),
    ("not_a_member", lambda: {"color": 9}, "color"),
    ("set_duplicate", lambda: {"tags": [3, 3]}, "tags"),
    ("bytes_for_string", lambda: {"shape": _shape(name=b"s")}, "shape.name"),
    (
        "float32_range",
        lambda: {"shape": _shape(scale=3.5e38)},
        "shape.scale",
    ),
    (
        "nested_list_item",
        lambda: {"shape": _shape(points=[{"x": 1, "y": 2}, {"x": 1, "y": "2"}])},
        "shape.points.1.y",
    ),
    (
        "unvalidated_message",
        lambda: {"shape": _constructed_shape()},
        "shape.points.1.x",
    ),
]


def _same(local: uvrpc.RpcError, served: uvrpc.RpcError) -> None:
    """The error a checking channel raised is the one the server sent."""
    assert type(local) is type(served) is uvrpc.InvalidArgument
    assert local.status == served.status == uvrpc.Status.INVALID_ARGUMENT
    assert local.message == served.message
    assert local.details == served.details


# --- asyncio ---------------------------------------------------------------


class _Spy(uvrpc.testing.MemoryTransport):
    """A memory transport that keeps the body of every message handed to it."""

    def __init__(self) -> None:
        super().__init__(_service())
        self.bodies: list[Any] = []

    def try_send(self, frames: Any) -> bool:
        self.bodies.append(unpack(frames[-1], frames[1:-2]))
        return super().try_send(frames)


async def _async_error(
    check: bool, run: Callable[[Any], Any]
) -> tuple[uvrpc.RpcError, list[Any]]:
    """The error of ``run(client)``, and the bodies of the messages sent."""
    spy = _Spy()
    async with uvrpc.Channel(spy, check_requests=check) as channel:
        client = _gen().CheckedClient(channel, timeout=TIMEOUT)
        with pytest.raises(uvrpc.InvalidArgument) as caught:
            await run(client)
    return caught.value, spy.bodies


@pytest.mark.parametrize(
    ("case", "bad", "path"), BAD_PUTS, ids=[c[0] for c in BAD_PUTS]
)
def test_async_unary_refusal_is_the_servers(
    case: str, bad: Callable[[], dict[str, Any]], path: str
) -> None:
    args = {**_good(), **bad()}
    served, sent = asyncio.run(_async_error(False, lambda c: c.put(**args)))
    local, unsent = asyncio.run(_async_error(True, lambda c: c.put(**args)))
    _same(local, served)
    assert local.details["field_path"] == path
    assert f"invalid argument '{path}' of checked.Checked.put" in local.message
    assert len(sent) == 1 and unsent == []


def test_good_arguments_pass_the_check() -> None:
    async def body() -> None:
        gen = _gen()
        async with uvrpc.testing.memory_channel(
            _service(), check_requests=True
        ) as channel:
            assert channel.check_requests
            client = gen.CheckedClient(channel, timeout=TIMEOUT)
            assert await client.put(**_good()) == 1
            assert await client.start_put(**_good()) == 1
            assert [i async for i in client.down(n=3, color=gen.Color.RED)] == [0, 1, 2]
            assert await client.up(points=_points([(1, 2), (3, 4)]), n=0) == 2
            both = client.both(colors=_async([gen.Color.RED, gen.Color.GREEN]))
            assert [i async for i in both] == [1, 2]
            await client.note(n=1)

    asyncio.run(body())


async def _async(items: Iterable[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


def _points(xy: Iterable[tuple[Any, Any]]) -> AsyncIterator[Any]:
    gen = _gen()
    return _async(gen.Point.model_construct(x=x, y=y) for x, y in xy)


async def _drain(stream: AsyncIterator[Any]) -> None:
    async for _ in stream:
        pass


NOTHING = object()
"""No message at all was sent: the request itself was refused."""

# (case, the call, the field path refused, the body of the refused item)
ASYNC_STREAMS: list[tuple[str, Callable[[Any], Any], str, Any]] = [
    ("started", lambda c: c.start_put(**{**_good(), "n": True}), "n", NOTHING),
    ("server_params", lambda c: _drain(c.down(n=True, color=1)), "n", NOTHING),
    ("server_enum", lambda c: _drain(c.down(n=1, color=4.0)), "color", NOTHING),
    ("client_params", lambda c: c.up(points=_points([(1, 2)]), n=2**40), "n", NOTHING),
    (
        "client_item",
        lambda c: c.up(points=_points([(1, 2), (True, 2)]), n=0),
        "points.1.x",
        {"1": True, "2": 2},
    ),
    (
        "bidi_item",
        lambda c: _drain(c.both(colors=_async([1, 2, True]))),
        "colors.2",
        True,
    ),
]


def _typed(value: Any) -> Any:
    """``value`` with the type of each scalar in it, so that ``True`` and ``1``
    differ."""
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    return (type(value), value)


@pytest.mark.parametrize(
    ("case", "run", "path", "item"), ASYNC_STREAMS, ids=[c[0] for c in ASYNC_STREAMS]
)
def test_async_stream_refusal_is_the_servers(
    case: str, run: Callable[[Any], Any], path: str, item: Any
) -> None:
    served, sent = asyncio.run(_async_error(False, run))
    local, unsent = asyncio.run(_async_error(True, run))
    _same(local, served)
    assert local.details["field_path"] == path
    if item is NOTHING:
        assert len(sent) == 1 and unsent == []
    else:  # the call went, and its good items, but never the bad one
        assert _typed(item) in [_typed(body) for body in sent]
        assert _typed(item) not in [_typed(body) for body in unsent]
        assert len(unsent) > 1


def test_a_oneway_call_is_refused_at_the_caller() -> None:
    async def body(check: bool) -> None:
        async with uvrpc.testing.memory_channel(
            _service(), check_requests=check
        ) as channel:
            client = _gen().CheckedClient(channel, timeout=TIMEOUT)
            await client.note(n=True)  # no reply: the server drops it silently

    asyncio.run(body(False))
    with pytest.raises(uvrpc.InvalidArgument, match="'n' of checked.Checked.note"):
        asyncio.run(body(True))


# --- nothing is sent ---------------------------------------------------------


class _StrictCountParams(Message):
    model_config = field_ids(n=1)
    n: t.I8


class _StrictPoint(Message):
    model_config = field_ids(x=1, y=2)
    x: t.I8
    y: t.I8


def _strict_count() -> Unary[Any, int]:
    """``count`` as a client that takes only an i8 sees it; its server takes any
    i32, so a value the client refuses would reach the handler if it were sent."""
    return Unary(
        route="checked.Checked.count",
        handler="count",
        params=_StrictCountParams,
        reply=t.I32,
    )


def _strict_up() -> ClientStreaming[Any, Any, int]:
    """``up`` with points of i8 coordinates (the server's are i32)."""
    up = _descriptor("checked.Checked.up")
    return ClientStreaming(
        route=up.route,
        handler=up.handler,
        params=up.params,
        stream=up.stream,
        request_item=_StrictPoint,
        reply=t.I32,
    )


def test_async_a_refused_request_never_reaches_the_server() -> None:
    async def body(check: bool) -> Any:
        async with uvrpc.testing.memory_channel(
            _service(), check_requests=check
        ) as channel:
            return await channel.call(_strict_count(), {"1": 300}, TIMEOUT)

    assert asyncio.run(body(False)) == 300  # the server takes it...
    assert SEEN == [300]
    SEEN.clear()
    with pytest.raises(uvrpc.InvalidArgument, match="'n' of checked.Checked.count"):
        asyncio.run(body(True))
    assert SEEN == []  # ...so it was never sent


def test_async_a_refused_item_never_reaches_the_server() -> None:
    async def body(check: bool) -> Any:
        points = _async([{"x": 1, "y": 1}, {"x": 300, "y": 1}])
        async with uvrpc.testing.memory_channel(
            _service(), check_requests=check
        ) as channel:
            return await channel.client_stream(_strict_up(), {"2": 0}, points, TIMEOUT)

    assert asyncio.run(body(False)) == 2
    assert SEEN == [1, 300]
    SEEN.clear()
    with pytest.raises(uvrpc.InvalidArgument) as caught:
        asyncio.run(body(True))
    assert caught.value.details["field_path"] == "points.1.x"
    assert 300 not in SEEN


def test_checking_runs_after_the_client_interceptors() -> None:
    seen: list[BaseException] = []

    class Fix:
        """Turns the bool the caller gave into an int, and records errors."""

        async def intercept_client(self, call: Any, proceed: Any) -> Any:
            if call.method.route == "checked.Checked.count":
                call.args = {"1": int(call.args["1"])}
            try:
                return await proceed()
            except uvrpc.RpcError as error:
                seen.append(error)
                raise

    async def body() -> None:
        async with uvrpc.testing.memory_channel(
            _service(), interceptors=[Fix()], check_requests=True
        ) as channel:
            client = _gen().CheckedClient(channel, timeout=TIMEOUT)
            assert await client.count(n=True) == 1  # checked as the interceptor left it
            with pytest.raises(uvrpc.InvalidArgument):
                await client.put(**{**_good(), "n": True})

    asyncio.run(body())
    assert [type(error) for error in seen] == [uvrpc.InvalidArgument]


# --- blocking ----------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The service on a server of its own (whose counters the tests read)."""
    bind = f"ipc://{tmp_path_factory.mktemp('checked-sync') / 'checked.sock'}"
    with server_thread(_service(), bind=bind) as server:
        yield server


@pytest.fixture(scope="module")
def sync_channels(served: RunningServer) -> Iterator[dict[bool, uvrpc.SyncChannel]]:
    """A blocking channel that checks and one that does not, to the server."""
    plain = uvrpc.SyncChannel(served.endpoint)
    checking = uvrpc.SyncChannel(served.endpoint, check_requests=True)
    with plain, checking:
        yield {False: plain, True: checking}


def _sync_error(
    served: RunningServer, channel: uvrpc.SyncChannel, run: Callable[[Any], Any]
) -> tuple[Any, int]:
    """The error of ``run(client)``, and how many messages the server received
    for it.

    A good call follows on the same connection: its reply comes once the server
    has received it, and everything sent before it, so the count is exact.
    """
    client = _gen().CheckedSyncClient(channel, timeout=TIMEOUT)
    before = served.stats.received
    with pytest.raises(uvrpc.InvalidArgument) as caught:
        run(client)
    assert client.put(**_good()) == 1
    return caught.value, served.stats.received - before - 1


@pytest.mark.parametrize(
    ("case", "bad", "path"), BAD_PUTS, ids=[c[0] for c in BAD_PUTS]
)
def test_sync_unary_refusal_is_the_servers(
    served: RunningServer,
    sync_channels: dict[bool, uvrpc.SyncChannel],
    case: str,
    bad: Callable[[], dict[str, Any]],
    path: str,
) -> None:
    args = {**_good(), **bad()}
    refused, sent = _sync_error(served, sync_channels[False], lambda c: c.put(**args))
    local, unsent = _sync_error(served, sync_channels[True], lambda c: c.put(**args))
    _same(local, refused)
    assert local.details["field_path"] == path
    assert (sent, unsent) == (1, 0)


def _points_sync(xy: Iterable[tuple[Any, Any]]) -> list[Any]:
    gen = _gen()
    return [gen.Point.model_construct(x=x, y=y) for x, y in xy]


# (case, the call, the field path refused); the server of a refused item's
# call gets its request and good items, a refused request's nothing.
SYNC_STREAMS: list[tuple[str, Callable[[Any], Any], str]] = [
    ("server_params", lambda c: list(c.down(n=True, color=1)), "n"),
    ("server_enum", lambda c: list(c.down(n=1, color=True)), "color"),
    ("client_params", lambda c: c.up(points=[], n=2**31), "n"),
    (
        "client_item",
        lambda c: c.up(points=_points_sync([(1, 2), (2**31, 2)]), n=0),
        "points.1.x",
    ),
    ("bidi_item", lambda c: list(c.both(colors=[1, 4.0])), "colors.1"),
]


@pytest.mark.parametrize(
    ("case", "run", "path"), SYNC_STREAMS, ids=[c[0] for c in SYNC_STREAMS]
)
def test_sync_stream_refusal_is_the_servers(
    served: RunningServer,
    sync_channels: dict[bool, uvrpc.SyncChannel],
    case: str,
    run: Callable[[Any], Any],
    path: str,
) -> None:
    refused, sent = _sync_error(served, sync_channels[False], run)
    local, unsent = _sync_error(served, sync_channels[True], run)
    _same(local, refused)
    assert local.details["field_path"] == path
    if not case.endswith("_item"):  # a client stream's END may follow its request
        assert sent >= 1 and unsent == 0


def test_sync_a_refused_request_never_reaches_the_server(
    sync_channels: dict[bool, uvrpc.SyncChannel],
) -> None:
    assert sync_channels[False].call(_strict_count(), {"1": 300}, TIMEOUT) == 300
    assert SEEN == [300]
    SEEN.clear()
    with pytest.raises(uvrpc.InvalidArgument, match="'n' of checked.Checked.count"):
        sync_channels[True].call(_strict_count(), {"1": 300}, TIMEOUT)
    # A call after it is answered after anything sent before it would have been.
    assert sync_channels[True].call(_strict_count(), {"1": 5}, TIMEOUT) == 5
    assert SEEN == [5]


def test_sync_a_refused_item_never_reaches_the_server(
    sync_channels: dict[bool, uvrpc.SyncChannel],
) -> None:
    def items() -> list[dict[str, int]]:
        return [{"x": 1, "y": 1}, {"x": 300, "y": 1}]

    up = _strict_up()
    assert sync_channels[False].client_stream(up, {"2": 0}, items(), TIMEOUT) == 2
    assert SEEN == [1, 300]
    SEEN.clear()
    with pytest.raises(uvrpc.InvalidArgument) as caught:
        sync_channels[True].client_stream(up, {"2": 0}, items(), TIMEOUT)
    assert caught.value.details["field_path"] == "points.1.x"
    assert _gen().CheckedSyncClient(sync_channels[True]).put(**_good()) == 1
    assert 300 not in SEEN


def test_a_string_that_is_not_utf8_never_leaves_either_channel(
    sync_channels: dict[bool, uvrpc.SyncChannel],
) -> None:
    for channel in sync_channels.values():
        client = _gen().CheckedSyncClient(channel, timeout=TIMEOUT)
        bad = {**_good(), "shape": _shape(name="\ud800")}
        with pytest.raises(
            uvrpc.InvalidArgument, match="cannot send argument 'shape.name'"
        ):
            client.put(**bad)


# --- the pytest plugin -------------------------------------------------------


def test_the_plugin_fixtures_check_when_asked(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest
        from calculator_server import Calculator

        @pytest.fixture
        def uvrpc_service():
            return Calculator()

        @pytest.fixture
        def uvrpc_check_requests():
            return True
        """
    )
    pytester.makepyfile(
        """
        def test_channels_check(uvrpc_channel, uvrpc_sync_channel):
            assert uvrpc_channel.check_requests
            assert uvrpc_sync_channel.check_requests
        """
    )
    result = pytester.runpytest("-p", "no:uvrpc", "-p", "uvrpc.pytest_plugin")
    result.assert_outcomes(passed=1)


def test_a_client_made_for_an_endpoint_takes_the_option(served: RunningServer) -> None:
    gen = _gen()
    with gen.CheckedSyncClient(
        served.endpoint, timeout=TIMEOUT, check_requests=True
    ) as client:
        assert client.channel.check_requests
        before = served.stats.received
        with pytest.raises(uvrpc.InvalidArgument, match="'color' of checked"):
            client.put(**{**_good(), "color": True})
        assert client.put(**_good()) == 1
        assert served.stats.received - before == 1

    async def body() -> None:
        async with gen.CheckedClient(
            served.endpoint, timeout=TIMEOUT, check_requests=True
        ) as client:
            assert client.channel.check_requests
            with pytest.raises(uvrpc.InvalidArgument, match="'n' of checked"):
                await client.put(**{**_good(), "n": True})

    asyncio.run(body())


def test_a_given_channel_keeps_its_own_setting() -> None:
    gen = _gen()
    channel = uvrpc.testing.memory_channel(_service())
    with pytest.raises(ValueError, match="check_requests= are for an endpoint"):
        gen.CheckedClient(channel, check_requests=True)


def test_the_path_to_what_a_deep_argument_cannot_send_is_cut_short() -> None:
    """A chain of 2,000 messages nests deeper than a body may: its caller is
    told where, by the path's two ends, not by a thousand steps."""
    from conformance_server import Conformance
    from golden.conformance import ConformanceClient, Node

    root = Node(label="leaf")
    for n in range(2000):
        root = Node(label=str(n), children=[root])

    async def main() -> None:
        async with uvrpc.testing.memory_channel(Conformance()) as channel:
            with pytest.raises(uvrpc.InvalidArgument) as refused:
                await ConformanceClient(channel).echo_tree(root=root, timeout=10)
        path = refused.value.details["field_path"]
        assert path.startswith("root.children.0.children.0.")
        assert " more>." in path and len(path) < 200

    asyncio.run(main())
