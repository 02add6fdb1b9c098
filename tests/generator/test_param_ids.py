"""A method's arguments reach the server under their wire ids, whatever the ids.

Generated client methods pass the values of their arguments in order and never
spell a wire id; the method's descriptor (:class:`uvrpc.Unary` and the streaming
kinds) knows the ids, read from its parameters model, and keys the values by them.
The service here numbers its parameters neither 1..n nor in ascending order, so a
value keyed by its position would reach another parameter.
"""

from __future__ import annotations

import ast
import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import RunningServer, generate_modules, server_thread

import uvrpc
from uvrpc_gen.cli import generate

ROOT = Path(__file__).resolve().parents[2]

IDL = """\
namespace scramble;

/// Parameters numbered out of order.
service Scramble {
    string join(
        3: string first, 1: string second, 7: i64 count, 2: optional bytes blob
    );
    string total(2: stream<i64> items, 5: string label, 1: i64 bias);
    stream<string> repeat(4: string word, 2: i32 times);
    stream<string> tag(3: stream<string> words, 1: string prefix, 2: string suffix);
    i64 nothing();
}
"""


@pytest.fixture(scope="module")
def scramble(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The generated module of :data:`IDL`."""
    directory = tmp_path_factory.mktemp("scramble")
    return generate_modules(directory, {"scramble.idl": IDL})["scramble"]


class Recorder:
    """A client interceptor keeping the arguments of each call as sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def intercept_client(self, call: uvrpc.ClientCallInfo, proceed: Any) -> Any:
        self.sent.append((call.route.rpartition(".")[2], dict(call.args)))
        return await proceed()

    def intercept_sync(self, call: uvrpc.ClientCallInfo, proceed: Any) -> Any:
        self.sent.append((call.route.rpartition(".")[2], dict(call.args)))
        return proceed()


def scramble_server(module: ModuleType) -> uvrpc.ServiceBase:
    """An implementation answering with what its handlers received, by name."""

    async def join(
        self: object, *, first: str, second: str, count: int, blob: Any
    ) -> str:
        sent = None if blob is None else bytes(blob)
        return f"first={first} second={second} count={count} blob={sent!r}"

    async def total(
        self: object, *, items: AsyncIterator[int], label: str, bias: int
    ) -> str:
        return f"{label}={sum([i async for i in items]) + bias}"

    async def repeat(self: object, *, word: str, times: int) -> AsyncIterator[str]:
        for _ in range(times):
            yield word

    async def tag(
        self: object, *, words: AsyncIterator[str], prefix: str, suffix: str
    ) -> AsyncIterator[str]:
        async for word in words:
            yield f"{prefix}{word}{suffix}"

    async def nothing(self: object) -> int:
        return 0

    handlers = {
        "join": join,
        "total": total,
        "repeat": repeat,
        "tag": tag,
        "nothing": nothing,
    }
    cls = type("Scramble", (module.ScrambleServer,), handlers)
    service: uvrpc.ServiceBase = cls()
    return service


@pytest.fixture(scope="module")
def served(scramble: ModuleType) -> Iterator[RunningServer]:
    with server_thread(scramble_server(scramble)) as running:
        yield running


def test_descriptors_carry_the_ids_of_the_parameters_in_order(
    scramble: ModuleType,
) -> None:
    assert scramble._SCRAMBLE_JOIN.param_ids == ("3", "1", "7", "2")
    # A stream's descriptor keys the parameters other than the stream.
    assert scramble._SCRAMBLE_TOTAL.param_ids == ("5", "1")
    assert scramble._SCRAMBLE_REPEAT.param_ids == ("4", "2")
    assert scramble._SCRAMBLE_TAG.param_ids == ("1", "2")
    assert scramble._SCRAMBLE_NOTHING.param_ids == ()
    assert scramble._SCRAMBLE_JOIN.wire_args(("a", "b", 3, None)) == {
        "3": "a",
        "1": "b",
        "7": 3,
        "2": None,
    }
    assert scramble._SCRAMBLE_TAG.wire_args(("<", ">")) == {"1": "<", "2": ">"}
    assert scramble._SCRAMBLE_NOTHING.wire_args(()) == {}


def client_methods(source: str) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    """The methods of the generated client classes of a module's source."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and node.name.endswith("Client"):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield item


@pytest.mark.parametrize(
    "idl",
    [*sorted((ROOT / "idl").glob("*.idl")), ROOT / "tests" / "feed.idl"],
    ids=lambda path: path.stem,
)
def test_generated_methods_spell_no_wire_id(idl: Path) -> None:
    source = generate(idl.read_text(encoding="utf-8"), str(idl), package="golden")
    methods = list(client_methods(source))
    for method in methods:
        assert not any(isinstance(n, ast.Dict) for n in ast.walk(method)), method.name


def test_generated_methods_pass_the_values_in_the_order_of_the_ids() -> None:
    source = generate(IDL, "scramble.idl")
    delegated = {}
    for method in client_methods(source):
        for node in ast.walk(method):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                values = node.args[1]
                assert isinstance(values, ast.Tuple)
                delegated[method.name] = [ast.unparse(v) for v in values.elts]
    assert delegated["join"] == ["first", "second", "count", "blob"]
    assert delegated["start_join"] == ["first", "second", "count", "blob"]
    assert delegated["total"] == ["label", "bias"]
    assert delegated["repeat"] == ["word", "times"]
    assert delegated["tag"] == ["prefix", "suffix"]
    assert delegated["nothing"] == []


def test_async_calls_send_each_value_under_its_id(
    scramble: ModuleType, served: RunningServer
) -> None:
    recorder = Recorder()

    async def items() -> AsyncIterator[int]:
        for i in (1, 2, 3):
            yield i

    async def words() -> AsyncIterator[str]:
        for word in ("a", "b"):
            yield word

    async def main() -> None:
        async with scramble.ScrambleClient(
            served.endpoint, timeout=10, interceptors=[recorder]
        ) as client:
            joined = await client.join(first="F", second="S", count=7, blob=b"x")
            assert joined == "first=F second=S count=7 blob=b'x'"
            started = await client.start_join(first="f", second="s", count=1)
            assert started == "first=f second=s count=1 blob=None"
            assert await client.total(items=items(), label="sum", bias=10) == "sum=16"
            repeated = [w async for w in client.repeat(word="w", times=2)]
            assert repeated == ["w", "w"]
            tagged = [
                w async for w in client.tag(words=words(), prefix="<", suffix=">")
            ]
            assert tagged == ["<a>", "<b>"]
            assert await client.nothing() == 0

    asyncio.run(asyncio.wait_for(main(), 10))
    assert recorder.sent == [
        ("join", {"3": "F", "1": "S", "7": 7, "2": b"x"}),
        ("join", {"3": "f", "1": "s", "7": 1, "2": None}),
        ("total", {"5": "sum", "1": 10}),
        ("repeat", {"4": "w", "2": 2}),
        ("tag", {"1": "<", "2": ">"}),
        ("nothing", {}),
    ]


def test_blocking_calls_send_each_value_under_its_id(
    scramble: ModuleType, served: RunningServer
) -> None:
    recorder = Recorder()
    with scramble.ScrambleSyncClient(
        served.endpoint, timeout=10, interceptors=[recorder]
    ) as client:
        assert client.join(first="F", second="S", count=7) == (
            "first=F second=S count=7 blob=None"
        )
        assert client.total(items=[4, 5], label="t", bias=1) == "t=10"
        assert list(client.repeat(word="r", times=3)) == ["r", "r", "r"]
    assert recorder.sent == [
        ("join", {"3": "F", "1": "S", "7": 7, "2": None}),
        ("total", {"5": "t", "1": 1}),
        ("repeat", {"4": "r", "2": 3}),
    ]
