"""A handler whose result is not of its method's declared type: its caller gets
INTERNAL, and the server logs it, naming the method and the problem, as it logs
a handler's exception (``core/server.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import generate_modules, server_thread

import uvrpc
from uvrpc.cli import main
from uvrpc.core.server import result_check

IDL = """namespace shop;
message Item {
    1: string sku;
    2: i32 count;
}
message Tree {
    1: list<Tree> kids = [];
    2: optional bytes data;
}
service Shop {
    Item get(1: string sku);
    i32 count();
    list<i32> counts();
    map<string, i32> table();
    string name();
    i64 total();
    stream<Item> items();
    stream<i64> totals();
    i64 sum(1: stream<i64> values);
    bytes blob();
    stream<bytes> blobs();
    Tree tree(1: i32 depth);
    double ratio();
    stream<double> ratios();
}
"""


@pytest.fixture
def shop(tmp_path: Path) -> ModuleType:
    return generate_modules(tmp_path, {"shop.idl": IDL})["shop"]


async def _not_called(*_: Any, **__: Any) -> Any:
    raise AssertionError("not called")


def _not_streamed(*_: Any, **__: Any) -> Any:
    """A stream's handler that is not called (a plain function: an ``async
    def`` returning a result is refused for a stream)."""
    raise AssertionError("not called")


class _Uncalled:
    """The methods a test of one kind of bad result does not call (typed ``Any``,
    so that a test overrides any of them)."""

    get: Any = _not_called
    count: Any = _not_called
    counts: Any = _not_called
    table: Any = _not_called
    name: Any = _not_called
    total: Any = _not_called
    items: Any = _not_streamed
    totals: Any = _not_streamed
    sum: Any = _not_called
    blob: Any = _not_called
    blobs: Any = _not_streamed
    tree: Any = _not_called
    ratio: Any = _not_called
    ratios: Any = _not_streamed


@contextlib.asynccontextmanager
async def _client(shop: ModuleType, service: Any) -> AsyncIterator[Any]:
    """A client of ``service``, served in this process over ``inproc://``."""
    async with uvrpc.Server(service) as server:
        endpoint = server.bind(f"inproc://shop-{uuid.uuid4().hex}")
        async with uvrpc.Channel(endpoint) as channel:
            yield shop.ShopClient(channel)


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "uvrpc.server" and r.levelno == logging.ERROR
    ]


def test_a_reply_not_of_its_declared_type_is_logged(
    shop: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    class Shop(_Uncalled, shop.ShopServer):  # type: ignore[name-defined,misc]
        async def get(self, *, sku: str) -> Any:
            return {"sku": sku, "count": "many"}  # a count that is no i32

        async def count(self) -> Any:
            return 2**40  # encodes, but is no i32

        async def counts(self) -> Any:
            return (1, 2)  # sent as a list: fine

        async def table(self) -> Any:
            return [("a", 1)]  # a list where a map is declared

        async def name(self) -> Any:
            return "shop"

    async def main() -> None:
        async with _client(shop, Shop()) as client:
            with pytest.raises(uvrpc.InternalError, match="declared type"):
                await client.get(sku="a", timeout=10)
            with pytest.raises(uvrpc.InternalError, match="declared type"):
                await client.count(timeout=10)
            assert await client.counts(timeout=10) == [1, 2]
            with pytest.raises(uvrpc.InternalError, match="declared type"):
                await client.table(timeout=10)
            assert await client.name(timeout=10) == "shop"

    caplog.set_level(logging.ERROR, logger="uvrpc.server")
    asyncio.run(main())
    errors = _errors(caplog)
    assert len(errors) == 3, errors
    assert errors[0].startswith(
        "handler of shop.Shop.get returned a value of type dict that does not"
    )
    assert "Input should be a valid integer" in errors[0]
    assert "at 'count'" in errors[0]
    assert errors[1].startswith(
        "handler of shop.Shop.count returned a value of type int"
    )
    assert "less than or equal to 2147483647" in errors[1]
    assert errors[2].startswith(
        "handler of shop.Shop.table returned a value of type list"
    )


def test_a_caller_that_does_not_check_replies_gets_internal_too(
    shop: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the server logs as its caller's INTERNAL is what it sends, as for a
    stream's item: ``uvrpc call``, which reads replies by their description and
    checks no type, is not handed the wrong value to print with exit 0."""

    class Shop(_Uncalled, shop.ShopServer):  # type: ignore[name-defined,misc]
        async def count(self) -> Any:
            return "many"

        async def get(self, *, sku: str) -> Any:
            return {"sku": sku}  # no count

    with server_thread(Shop()) as running:
        for route, arguments, problem in (
            ("shop.Shop.count", "{}", "Input should be a valid integer"),
            ("shop.Shop.get", '{"sku": "a"}', "Field required at 'count'"),
        ):
            assert main(["call", running.endpoint, route, arguments]) == 1
            out, err = capsys.readouterr()
            assert (out, err) == (
                "",
                f"INTERNAL: the reply of {route} does not match its declared type: "
                f"{problem} (status 13)\n",
            )


def test_a_handler_that_cannot_take_its_parameters_is_refused_as_it_is_served(
    shop: ModuleType,
) -> None:
    """A parameter renamed in the IDL (names may change: the wire keys them by
    id) and not in the handler, say: refused when the server is made, not with
    an UNKNOWN TypeError at every call. Wrappers taking ``**kwargs`` pass."""

    class Renamed(_Uncalled, shop.ShopServer):  # type: ignore[name-defined,misc]
        async def get(self, *, id: str) -> Any:  # the IDL says 'sku'
            return None

    class Extra(_Uncalled, shop.ShopServer):  # type: ignore[name-defined,misc]
        async def sum(self, *, values: Any, scale: int) -> Any:
            return 0

    class Wrapped(_Uncalled, shop.ShopServer):  # type: ignore[name-defined,misc]
        async def get(self, **params: Any) -> Any:
            return None

    def with_store(handler: Callable[..., Any]) -> Callable[..., Any]:
        """A decorator that supplies an argument of its own: the wrapper's
        signature is the one a call meets, not the function's inside."""

        @functools.wraps(handler)
        async def wrapper(self: Any, **params: Any) -> Any:
            return await handler(self, {}, **params)

        return wrapper

    class Decorated(_Uncalled, shop.ShopServer):  # type: ignore[name-defined,misc]
        @with_store
        async def get(self, store: dict[str, Any], *, sku: str) -> Any:
            return store.get(sku)

    for service, message in (
        (
            Renamed(),
            "Renamed.get cannot take the parameters of shop.Shop.get (sku): it has "
            "no parameter 'sku'",
        ),
        (
            Extra(),
            "Extra.sum cannot take the parameters of shop.Shop.sum (values): its "
            "parameter 'scale' is none of the method's",
        ),
    ):
        with pytest.raises(TypeError) as refused:
            uvrpc.Server(service)
        assert str(refused.value) == message
    asyncio.run(uvrpc.Server(Wrapped()).close())
    asyncio.run(uvrpc.Server(Decorated()).close())


def test_a_container_result_is_tested_by_its_outer_type_alone(
    shop: ModuleType,
) -> None:
    """The server's test of each result costs a type test or two: a list or a
    map is not walked (the caller checks its elements), a message is tested as
    an instance of its class, a scalar by the method's own check."""
    methods = {
        m.route.rsplit(".", 1)[1]: m for m in shop.ShopServer.uvrpc_service.methods
    }
    counts = result_check(methods["counts"])
    assert counts([1, 2]) and counts((1, 2))
    assert counts(["not", "checked"])  # elements: the caller's to refuse
    assert not counts({"a": 1})
    table = result_check(methods["table"])
    assert table({"a": 1}) and not table([("a", 1)])
    get = result_check(methods["get"])
    assert get(shop.Item(sku="a", count=1)) and not get({"sku": "a", "count": 1})
    count = result_check(methods["count"])
    assert count(1) and not count(2**40) and not count("1")


def test_a_plain_def_handler_fails_its_call_saying_how_to_fix_it(
    shop: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    """A handler written ``def`` where its base class says ``async def``: each
    call fails with a TypeError naming the handler and the fix (awaiting its
    value would say only "object int can't be used in 'await' expression"); a
    decorator's plain wrapper that returns the coroutine is served as it is."""

    def passing_on(handler: Any) -> Any:
        def wrapper(self: Any, **params: Any) -> Any:
            return handler(self, **params)  # the coroutine, not awaited

        return wrapper

    class Shop(_Uncalled, shop.ShopServer):  # type: ignore[name-defined,misc]
        def count(self) -> int:
            return 7

        @passing_on
        async def name(self) -> str:
            return "shop"

    async def main() -> None:
        async with _client(shop, Shop()) as client:
            with pytest.raises(uvrpc.RpcError) as raised:
                await client.count(timeout=10)
            assert raised.value.status == uvrpc.Status.UNKNOWN
            assert str(raised.value.message) == (
                "TypeError: Shop.count returned int, not an awaitable: "
                "declare it with 'async def'"
            )
            assert await client.name(timeout=10) == "shop"
            # The server goes on serving it, failing each call the same way.
            with pytest.raises(uvrpc.RpcError, match="Shop.count returned int"):
                await client.count(timeout=10)

    caplog.set_level(logging.ERROR, logger="uvrpc.server")
    asyncio.run(main())
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [TypeError] * 2


def test_a_result_beyond_its_type_is_refused_with_its_bound(
    shop: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    """An integer beyond 64 bits cannot be encoded: its caller and the server's
    log get the bound it breaks, as a value just beyond ``i64`` does, not the
    encoder's "cannot encode a value of type int"."""

    class Shop(_Uncalled, shop.ShopServer):  # type: ignore[name-defined,misc]
        async def total(self) -> Any:
            return 2**70

    async def main() -> None:
        async with _client(shop, Shop()) as client:
            with pytest.raises(uvrpc.InternalError) as raised:
                await client.total(timeout=10)
            assert str(raised.value.message) == (
                "the reply of shop.Shop.total failed: Input should be less than "
                "or equal to 9223372036854775807"
            )

    caplog.set_level(logging.ERROR, logger="uvrpc.server")
    asyncio.run(main())
    assert _errors(caplog) == [
        "handler of shop.Shop.total returned a value of type int that cannot be "
        "sent; its caller gets INTERNAL: Input should be less than or equal to "
        "9223372036854775807"
    ]


def test_an_integer_beyond_64_bits_for_a_double_is_sent_as_that_double(
    shop: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    """An int is a value of a ``double`` (to mypy too), however large: 2**70
    failed its call with INTERNAL, "cannot encode a value of type int", having
    no msgpack form until it is the float its caller reads it as."""

    class Shop(_Uncalled, shop.ShopServer):  # type: ignore[name-defined,misc]
        async def ratio(self) -> Any:
            return 2**70

        async def ratios(self) -> Any:
            yield 1
            yield 2**70

    async def main() -> None:
        async with _client(shop, Shop()) as client:
            assert await client.ratio(timeout=10) == float(2**70)
            async with client.ratios(timeout=10) as items:
                assert [item async for item in items] == [1.0, float(2**70)]

    caplog.set_level(logging.ERROR, logger="uvrpc.server")
    asyncio.run(main())
    assert _errors(caplog) == []


def test_a_result_that_cannot_be_encoded_fails_its_call_alone(
    shop: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    """Results of the declared type that have no wire form (a strided view,
    which msgpack refuses with a BufferError; a tree deeper than the encoder
    can walk; an error whose details cannot be encoded) fail their own call
    with INTERNAL, and the connection serves the next call at once: the handler
    finished as the request was read, and an exception out of that read left
    the rest of the socket unread."""
    strided = memoryview(b"0123456789")[::2]

    class Shop(_Uncalled, shop.ShopServer):  # type: ignore[name-defined,misc]
        async def count(self) -> int:
            return 7

        async def blob(self) -> Any:
            return strided

        async def blobs(self) -> Any:
            yield b"fine"
            yield strided

        async def tree(self, *, depth: int) -> Any:
            tree = shop.Tree(data=b"leaf")
            for _ in range(depth):
                tree = shop.Tree(kids=[tree])
            return tree

        async def name(self) -> str:
            raise uvrpc.InvalidArgument("no name", {"at": object()})

    async def main() -> None:
        async with _client(shop, Shop()) as client:
            with pytest.raises(uvrpc.InternalError, match="must be contiguous"):
                await client.blob(timeout=10)
            assert await client.count(timeout=10) == 7
            seen: list[Any] = []
            with pytest.raises(uvrpc.InternalError, match="must be contiguous"):
                async for item in client.blobs(timeout=10):
                    seen.append(bytes(item))
            assert seen == [b"fine"]
            assert await client.count(timeout=10) == 7
            assert len((await client.tree(depth=3, timeout=10)).kids) == 1
            with pytest.raises(uvrpc.InternalError, match="reply of shop.Shop.tree"):
                await client.tree(depth=3000, timeout=10)
            assert await client.count(timeout=10) == 7
            with pytest.raises(uvrpc.InternalError) as raised:
                await client.name(timeout=10)
            assert raised.value.message == (
                "the error InvalidArgument('no name') could not be sent: cannot "
                "encode a value of type object"
            )
            assert await client.count(timeout=10) == 7

    caplog.set_level(logging.ERROR, logger="uvrpc.server")
    asyncio.run(main())
    errors = _errors(caplog)
    assert len(errors) == 4, errors
    assert errors[0] == (
        "handler of shop.Shop.blob returned a value of type memoryview that cannot "
        "be sent; its caller gets INTERNAL: a buffer must be contiguous in row (C) "
        "order to be sent; bytes(buffer) is a copy that is"
    )
    assert errors[1].startswith("handler of shop.Shop.blobs yielded item 1 of type")
    assert errors[2].startswith("handler of shop.Shop.tree returned a value of type")
    assert errors[3] == (
        "an error InvalidArgument could not be sent (cannot encode a value of type "
        "object); its caller gets INTERNAL"
    )


def test_a_stream_item_not_of_its_declared_type_is_logged(
    shop: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    """A server stream's item of the wrong type (an integer beyond 64 bits
    included) fails its caller with INTERNAL, and the server logs it as it logs a unary
    result of the wrong type: the handler's fault, which only the operator can
    mend."""

    class Shop(_Uncalled, shop.ShopServer):  # type: ignore[name-defined,misc]
        async def items(self) -> Any:
            yield shop.Item(sku="a", count=1)
            yield 42

        async def totals(self) -> Any:
            yield 1
            yield 2**70

    async def main() -> None:
        async with _client(shop, Shop()) as client:
            seen: list[Any] = []
            with pytest.raises(uvrpc.InternalError, match="item 1 of the stream"):
                async for item in client.items(timeout=10):
                    seen.append(item)
            assert seen == [shop.Item(sku="a", count=1)]
            with pytest.raises(uvrpc.InternalError, match="less than or equal"):
                async for _ in client.totals(timeout=10):
                    pass

    caplog.set_level(logging.ERROR, logger="uvrpc.server")
    asyncio.run(main())
    errors = _errors(caplog)
    assert len(errors) == 2, errors
    assert errors[0].startswith(
        "handler of shop.Shop.items yielded item 1 of type int that does not match "
        "the declared item type; its caller gets INTERNAL: "
    )
    assert errors[1] == (
        "handler of shop.Shop.totals yielded item 1 of type int that does not match "
        "the declared item type; its caller gets INTERNAL: Input should be less "
        "than or equal to 9223372036854775807"
    )


def test_a_client_stream_handler_written_def_fails_as_a_unary_one_does(
    shop: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    class Shop(_Uncalled, shop.ShopServer):  # type: ignore[name-defined,misc]
        def sum(self, *, values: Any) -> int:
            return 0

    async def main() -> None:
        async with _client(shop, Shop()) as client:
            with pytest.raises(uvrpc.RpcError) as raised:
                await client.sum(values=[1, 2], timeout=10)
            assert str(raised.value.message) == (
                "TypeError: Shop.sum returned int, not an awaitable: "
                "declare it with 'async def'"
            )

    caplog.set_level(logging.ERROR, logger="uvrpc.server")
    asyncio.run(main())


def test_a_wrapper_returning_an_async_generator_fails_its_unary_calls_saying_so(
    shop: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    """A plain wrapper may return anything, so it is served; what it returned
    for a method that does not stream is named at each call."""

    def passing_on(handler: Any) -> Any:
        def wrapper(self: Any, **params: Any) -> Any:
            return handler(self, **params)

        return wrapper

    class Shop(_Uncalled, shop.ShopServer):  # type: ignore[name-defined,misc]
        @passing_on
        async def total(self) -> Any:
            yield 1

    async def main() -> None:
        async with _client(shop, Shop()) as client:
            with pytest.raises(uvrpc.RpcError) as raised:
                await client.total(timeout=10)
            assert str(raised.value.message) == (
                "TypeError: Shop.total returned an async generator, but its method "
                "does not stream its result: return it instead of yielding it"
            )

    caplog.set_level(logging.ERROR, logger="uvrpc.server")
    asyncio.run(main())


def test_a_stream_handler_returning_no_async_iterator_fails_its_calls_saying_so(
    shop: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    """A server stream's handler written ``def`` returning a list of its items
    (or a wrapper returning a coroutine): each call fails with a TypeError
    naming the handler and the fix, not "'async for' requires an object with
    __aiter__ method" from inside the server. A plain function returning an
    async generator is served."""

    def passing_on(handler: Any) -> Any:
        def wrapper(self: Any, **params: Any) -> Any:
            return handler(self, **params)

        return wrapper

    class Shop(_Uncalled, shop.ShopServer):  # type: ignore[name-defined,misc]
        def items(self) -> Any:
            return [shop.Item(sku="a", count=1)]

        @passing_on
        async def blobs(self) -> Any:
            return [b"x"]

        def totals(self) -> Any:
            async def gen() -> AsyncIterator[int]:
                yield 1

            return gen()

    async def main() -> None:
        async with _client(shop, Shop()) as client:
            for method, returned in (("items", "list"), ("blobs", "coroutine")):
                with pytest.raises(uvrpc.RpcError) as raised:
                    async for _ in getattr(client, method)(timeout=10):
                        pass
                assert raised.value.status == uvrpc.Status.UNKNOWN
                assert str(raised.value.message) == (
                    f"TypeError: Shop.{method} returned {returned}, not an async "
                    "iterator of its items: yield each item instead ('async def' "
                    "with 'yield' in it, an async generator)"
                )
            assert [t async for t in client.totals(timeout=10)] == [1]

    caplog.set_level(logging.ERROR, logger="uvrpc.server")
    asyncio.run(main())
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [TypeError] * 2


def test_a_handler_of_the_wrong_kind_of_function_is_refused_as_it_is_served(
    shop: ModuleType,
) -> None:
    """A stream's handler written to return its items (a plain ``async def``),
    or a unary one written as an async generator: the server is not made, and
    says which and what to write, where each call would fail UNKNOWN ("'async
    for' requires an object with __aiter__ method, got coroutine", and a
    "never awaited" warning). A plain wrapper, which may return either, is
    served and left to its calls (the test above)."""

    class Returning(_Uncalled, shop.ShopServer):  # type: ignore[name-defined,misc]
        async def items(self) -> Any:
            return [shop.Item(sku="a", count=1)]

    class Yielding(_Uncalled, shop.ShopServer):  # type: ignore[name-defined,misc]
        async def total(self) -> Any:
            yield 1

    with pytest.raises(TypeError) as refused:
        uvrpc.Server(Returning())
    assert str(refused.value) == (
        "Returning.items returns its result, but shop.Shop.items streams it: "
        "yield each item instead ('async def' with 'yield' in it, an async "
        "generator)"
    )
    with pytest.raises(TypeError) as refused:
        uvrpc.Server(Yielding())
    assert str(refused.value) == (
        "Yielding.total is an async generator, but shop.Shop.total does not "
        "stream its result: return it instead of yielding it"
    )


@pytest.mark.parametrize(
    ("error", "problem"),
    [
        (uvrpc.NotFound(404), "its message is int, not str"),  # type: ignore[arg-type]
        (uvrpc.NotFound("no", ["a"]), "its details are list, not dict"),  # type: ignore[arg-type]
    ],
)
def test_an_error_of_the_wrong_shape_is_sent_as_internal_and_logged(
    shop: ModuleType,
    caplog: pytest.LogCaptureFixture,
    error: uvrpc.RpcError,
    problem: str,
) -> None:
    """``raise NotFound(404)`` reached its caller as "(malformed error reply
    ...)", which blamed the server's peer, and the server logged nothing."""

    class Shop(_Uncalled, shop.ShopServer):  # type: ignore[name-defined,misc]
        async def name(self) -> str:
            raise error

    async def main() -> None:
        async with _client(shop, Shop()) as client:
            with pytest.raises(uvrpc.InternalError) as raised:
                await client.name(timeout=10)
            assert raised.value.message == (
                f"the error NotFound({error.message!r}) could not be sent: {problem}"
            )

    caplog.set_level(logging.ERROR, logger="uvrpc.server")
    asyncio.run(main())
    assert _errors(caplog) == [
        f"an error NotFound could not be sent ({problem}); its caller gets INTERNAL"
    ]
