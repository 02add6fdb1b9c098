"""Edges of the IDL: names the generated code must survive or refuse, nesting
limits, a byte order mark, and optional values with defaults."""

from __future__ import annotations

import builtins
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from generated_modules import import_file

import uvrpc
import uvrpc.testing
from uvrpc_gen import check as checker
from uvrpc_gen.check import check
from uvrpc_gen.cli import main
from uvrpc_gen.diagnostics import IdlError, format_diagnostic
from uvrpc_gen.parse import MAX_NESTING, parse

ROOT = Path(__file__).resolve().parents[2]


def assert_mypy_strict(source: Path, usage: Path) -> None:
    """``mypy --strict`` passes on a generated module and code that uses it."""
    env = dict(os.environ, MYPYPATH=os.pathsep.join([str(ROOT / "runtime")]))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--follow-imports=silent",
            str(source),
            str(usage),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        cwd=source.parent,
        env=env,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr


NS = "namespace t;\n"


def errors(source: str) -> list[str]:
    """The first line of each diagnostic of ``source`` as ``t.idl``."""
    with pytest.raises(IdlError) as caught:
        check(parse(source, "t.idl"))
    return [
        format_diagnostic(d, source).splitlines()[0] for d in caught.value.diagnostics
    ]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "uvrpc_gen", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


# --- names --------------------------------------------------------------------

EDGE_NAMES = """\
namespace edges;

message Named {
    1: i32 self;
    2: string type;
    3: set<i32> default;
    4: i32 cls;
    5: i32 uvrpc;
    6: i32 typing;
    7: i32 metadata;
}

exception Odd {
    1: string type;
    2: i32 code;
    3: i32 cls;
}

service Edgy {
    i32 self(1: i32 type, 2: i32 cls, 3: i32 call, 4: i32 uvrpc) throws (Odd);
    void timeout(1: Named named);
    void wait_for_ready();
    stream<i32> call(1: i32 default);
    void typing(1: stream<i32> metadata);
}
"""
"""Names that shadow something in a generated module, a pydantic schema or a
client's signature, all of which the generated code must get right."""


@pytest.fixture(scope="module")
def edges(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    directory = tmp_path_factory.mktemp("edges")
    idl = directory / "edges.idl"
    idl.write_text(EDGE_NAMES)
    assert main([str(idl), "-o", str(directory)]) == 0
    module = import_file(directory / "edges.py", "edges")
    try:
        yield module
    finally:
        del sys.modules["edges"]


def test_edge_names_round_trip_by_id_and_dump_by_name(edges: ModuleType) -> None:
    named = edges.Named(
        self=1, type="t", default={2}, cls=3, uvrpc=4, typing=5, metadata=6
    )
    wire = named.model_dump(by_alias=True)
    assert wire == {"1": 1, "2": "t", "3": {2}, "4": 3, "5": 4, "6": 5, "7": 6}
    assert edges.Named.model_validate(wire) == named
    assert named.model_dump()["self"] == 1 and named.model_dump()["type"] == "t"


def test_a_set_field_named_default_still_refuses_repeats(edges: ModuleType) -> None:
    # The schema walker once skipped a field named like a schema key.
    with pytest.raises(ValueError, match="set_duplicate|repeated"):
        edges.Named.model_validate(
            {"1": 1, "2": "t", "3": [7, 7], "4": 3, "5": 4, "6": 5, "7": 6}
        )


def test_exception_field_named_type_keeps_its_value(edges: ModuleType) -> None:
    error = edges.Odd(type="x", code=2, cls=3)
    assert (error.type, error.code, error.cls) == ("x", 2, 3)
    assert isinstance(error, uvrpc.DeclaredError)


def test_edge_names_pass_mypy_strict(edges: ModuleType, tmp_path: Path) -> None:
    usage = tmp_path / "use_edges.py"
    usage.write_text(
        "from edges import EdgySyncClient, Named, Odd\n"
        "n = Named(self=1, type='t', default={2}, cls=3, uvrpc=4, typing=5, "
        "metadata=6)\n"
        "x: int = n.self\n"
        "t: str = Odd(type='x', code=1, cls=2).type\n"
        "def use(c: EdgySyncClient) -> int:\n"
        "    c.timeout(named=n, timeout=1.0)\n"
        "    return c.self(type=1, cls=2, call=3, uvrpc=4, wait_for_ready=True)\n"
    )
    assert_mypy_strict(Path(edges.__file__ or ""), usage)


def test_a_field_named_self_beside_bytes_fields(tmp_path: Path) -> None:
    """A message with ``bytes`` gets a constructor typed for the type checker,
    which must not take the instance and a field both as ``self``."""
    idl = tmp_path / "selfish.idl"
    idl.write_text("namespace selfish;\nmessage M { 1: bytes self; 2: i32 n; }\n")
    assert main([str(idl), "-o", str(tmp_path)]) == 0
    module = import_file(tmp_path / "selfish.py", "selfish")
    try:
        message = module.M(self=b"x", n=1)
        assert (bytes(message.self), message.n) == (b"x", 1)
    finally:
        del sys.modules["selfish"]


BUILTIN_NAMES = """\
namespace shadows;

message Row {
    1: list<string> list;
    2: set<i32> set;
    3: map<string, bytes> int;
    4: optional float float;
    5: optional bytes bytes;
    6: bool bool = false;
}

exception Refused { 1: list<string> list; 2: string str; 3: bytes memoryview = ""; }

/// Defaults written with the built-ins its earlier fields hide.
message Defaults {
    1: i32 memoryview = 3;
    2: bytes data = "x";
    3: set<i32> set = [1];
    4: set<i32> tags = [];
}

/// A gRPC-shaped service whose methods are named like built-ins.
service Rows {
    list<Row> List(1: i32 limit, 2: list<string> list) throws (Refused);
    set<i32> set(1: Row row, 2: float bool);
    map<string, Row> dict();
    stream<Row> str(1: stream<bytes> bytes);
    bool bool(1: map<i32, i32> int);
    float float();
}
"""
"""Methods and fields named like the built-in types the generated annotations use:
inside their classes those annotations go through ``builtins``."""


@pytest.fixture(scope="module")
def shadows(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    directory = tmp_path_factory.mktemp("shadows")
    (directory / "shadows.idl").write_text(BUILTIN_NAMES)
    assert main([str(directory / "shadows.idl"), "-o", str(directory)]) == 0
    try:
        yield import_file(directory / "shadows.py", "shadows")
    finally:
        del sys.modules["shadows"]


def test_methods_and_fields_named_like_builtins_serve_calls(
    shadows: ModuleType,
) -> None:
    class Rows(shadows.RowsServer):  # type: ignore[misc,name-defined]
        async def list(self, *, limit: int, list: Any) -> Any:
            if not limit:
                raise shadows.Refused(list=list, str="no rows")
            return [shadows.Row(list=list, set={limit}, int={})] * limit

        async def set(self, *, row: Any, bool: float) -> Any:
            return {len(row.list), int(bool)}

        async def dict(self) -> Any:
            return {"k": shadows.Row(list=[], set=set(), int={"b": b"x"}, float=0.5)}

        async def str(self, *, bytes: Any) -> Any:
            async for item in bytes:
                yield shadows.Row(list=[item.tobytes().decode()], set=set(), int={})

        async def bool(self, *, int: builtins.dict[Any, Any]) -> builtins.bool:
            return int == {1: 2}

        async def float(self) -> float:
            return 2.5

    with uvrpc.testing.sync_memory_channel(Rows()) as channel:
        client = shadows.RowsSyncClient(channel)
        rows = client.list(limit=2, list=["a"], timeout=10)
        assert [(r.list, r.set) for r in rows] == [(["a"], {2})] * 2
        with pytest.raises(shadows.Refused) as refused:
            client.list(limit=0, list=["b"], timeout=10)
        assert (refused.value.list, refused.value.str) == (["b"], "no rows")
        assert bytes(refused.value.memoryview) == b""
        row = shadows.Row(list=["x", "y"], set=set(), int={})
        assert client.set(row=row, bool=3.0, timeout=10) == {2, 3}
        (only,) = client.dict(timeout=10).values()
        assert (bytes(only.int["b"]), only.float) == (b"x", 0.5)
        streamed = client.str(bytes=iter([b"p", b"q"]), timeout=10)
        assert [r.list for r in streamed] == [["p"], ["q"]]
        assert client.bool(int={1: 2}, timeout=10) is True
        assert client.float(timeout=10) == 2.5
    defaults = shadows.Defaults()
    assert (defaults.memoryview, bytes(defaults.data)) == (3, b"x")
    assert (defaults.set, defaults.tags) == ({1}, set())


def test_methods_and_fields_named_like_builtins_pass_mypy_strict(
    shadows: ModuleType, tmp_path: Path
) -> None:
    source = Path(shadows.__file__ or "")
    assert "import builtins as _builtins" in source.read_text()
    usage = tmp_path / "use_shadows.py"
    usage.write_text(
        "import builtins\n"
        "from shadows import Row, RowsServer, RowsSyncClient\n"
        "row = Row(list=['a'], set={1}, int={'k': b'v'}, float=None, bytes=b'')\n"
        "flag: bool = row.bool\n"
        "names: list[str] = row.list\n"
        "def use(c: RowsSyncClient) -> builtins.list[Row]:\n"
        "    assert c.bool(int={1: 2}) and c.float(timeout=1.0) > 0\n"
        "    return c.list(limit=1, list=names)\n"
        "class Rows(RowsServer):\n"
        "    async def float(self) -> builtins.float:\n"
        "        return 1.0\n"
    )
    assert_mypy_strict(source, usage)


XCEPTION = """namespace xc;
/// Thrift's test exception.
exception Xception { 1: i32 errorCode; 2: string message; }
exception Quiet { 1: i32 code; 2: string message = ""; }
service Thrower { i32 fail(1: string why) throws (Xception, Quiet); }
"""


@pytest.fixture(scope="module")
def xc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    out = tmp_path_factory.mktemp("xc")
    (out / "xc.idl").write_text(XCEPTION)
    assert main([str(out / "xc.idl"), "-o", str(out)]) == 0
    try:
        yield import_file(out / "xc.py", "xc")
    finally:
        del sys.modules["xc"]


def test_an_exception_field_named_message_is_its_message_text(xc: ModuleType) -> None:
    """Thrift's ``Xception { 1: i32 errorCode, 2: string message }``: the field
    is the message the error is raised with and shown by."""
    error = xc.Xception(errorCode=1001, message="This is an Xception")
    assert (error.errorCode, error.message) == (1001, "This is an Xception")
    assert error.fields.message == "This is an Xception"
    assert "This is an Xception" in str(error)
    # repr() names the fields, as a log line needs them; a message of its own
    # (not a field) comes first, as the constructor takes it.
    assert repr(error) == "Xception(errorCode=1001, message='This is an Xception')"
    assert repr(xc.Quiet(code=2)) == "Quiet(code=2, message='')"
    assert repr(xc.Xception.__new__(xc.Xception)) == "Xception()"  # no fields yet
    with pytest.raises(ValueError, match="message"):
        xc.Xception(errorCode=1)  # a required field, as any other
    with pytest.raises(ValueError, match="valid string"):
        xc.Quiet(code=1, message=None)  # a field: None is no string
    quiet = xc.Quiet(code=2)  # empty by default: the class and values say it
    assert quiet.fields.message == ""
    assert quiet.message == "Quiet(code=2, message='')"


def test_an_exception_field_named_message_reaches_the_caller(xc: ModuleType) -> None:
    class Thrower(xc.ThrowerServer):  # type: ignore[misc,name-defined]
        async def fail(self, *, why: str) -> int:
            if why == "quiet":
                raise xc.Quiet(code=3)
            raise xc.Xception(errorCode=1001, message=why)

    with uvrpc.testing.sync_memory_channel(Thrower()) as channel:
        client = xc.ThrowerSyncClient(channel)
        with pytest.raises(xc.Xception) as raised:
            client.fail(why="This is an Xception", timeout=10)
        assert raised.value.errorCode == 1001
        assert raised.value.message == raised.value.fields.message
        assert raised.value.message == "This is an Xception"
        with pytest.raises(xc.Quiet) as quiet:
            client.fail(why="quiet", timeout=10)
        assert (quiet.value.code, quiet.value.fields.message) == (3, "")


def test_an_exception_field_named_message_passes_mypy_strict(
    xc: ModuleType, tmp_path: Path
) -> None:
    usage = tmp_path / "use_xc.py"
    usage.write_text(
        "from xc import Quiet, Xception\n"
        "e = Xception(errorCode=1, message='m')\n"
        "m: str = e.message\n"
        "q = Quiet(code=1)\n"
    )
    assert_mypy_strict(Path(xc.__file__ or ""), usage)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "exception E { 1: i32 self; }",
            "t.idl:2:22: error: exception field name 'self' is taken: the generated "
            "exception's constructor takes each field as a keyword beside 'self'; "
            "rename the field",
        ),
        (
            "exception E { 1: i32 message; }",
            "t.idl:2:22: error: exception field 'message' is the exception's message "
            "text: declare it 'string' (not optional; give it a default instead), or "
            "rename the field",
        ),
        (
            "exception E { 1: optional string message; }",
            "t.idl:2:34: error: exception field 'message' is the exception's message "
            "text: declare it 'string' (not optional; give it a default instead), or "
            "rename the field",
        ),
        (
            "exception E { 1: string details; }",
            "t.idl:2:25: error: exception field name 'details' clashes with an "
            "attribute of uvrpc.DeclaredError; rename the field",
        ),
        (
            "service S { void f(1: i32 self); }",
            "t.idl:2:27: error: parameter name 'self' is taken by the generated "
            "methods; rename it (say 'self_'): parameters travel by id, so the wire "
            "stays the same",
        ),
        (
            "service S { void f(1: i32 timeout); }",
            "t.idl:2:27: error: parameter name 'timeout' is taken by the generated "
            "methods; rename it (say 'timeout_'): parameters travel by id, so the "
            "wire stays the same",
        ),
        (
            "service S { void f(1: i32 wait_for_ready); }",
            "t.idl:2:27: error: parameter name 'wait_for_ready' is taken by the "
            "generated methods; rename it (say 'wait_for_ready_'): parameters "
            "travel by id, so the wire stays the same",
        ),
        (
            "message M { 1: i32 model_config; }",
            "t.idl:2:20: error: field name 'model_config' clashes with an attribute "
            "of uvrpc.Message; rename it (say 'config'): fields travel by id, so "
            "the wire stays the same",
        ),
        (
            "message M { 1: i32 model_dump; }",
            "t.idl:2:20: error: field name 'model_dump' clashes with an attribute "
            "of uvrpc.Message; rename it (say 'dump'): fields travel by id, so "
            "the wire stays the same",
        ),
        (
            "message M { 1: i32 model_later; }",
            "t.idl:2:20: error: field name 'model_later' clashes with an attribute "
            "of uvrpc.Message; rename it (say 'later'): fields travel by id, so "
            "the wire stays the same",
        ),
        (
            "message M { 1: i32 _uvrpc; }",
            "t.idl:2:20: error: field name '_uvrpc' must not start with an underscore",
        ),
        (
            "service S { void f(1: i32 _typing); }",
            "t.idl:2:27: error: parameter name '_typing' must not start with an "
            "underscore",
        ),
        (
            "service S { void close(); }",
            "t.idl:2:18: error: method name 'close' clashes with attribute 'close' "
            "of the generated clients' or server's base class; rename the method "
            "(its route, which the wire carries, changes with it)",
        ),
    ],
)
def test_names_the_generated_code_cannot_use(source: str, expected: str) -> None:
    assert errors(NS + source) == [expected]


# --- nesting ------------------------------------------------------------------


def nested_type(depth: int) -> str:
    return "list<" * depth + "i32" + ">" * depth


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        (f"message M {{ 1: {nested_type(1000)} x; }}", "type"),
        (
            "message M { 1: " + "map<string, " * 1000 + "i32" + ">" * 1000 + " x; }",
            "type",
        ),
        ("const list<i32> X = " + "[" * 1000 + "]" * 1000 + ";", "value"),
        ("const i32 X = " + "{1: " * 1000 + "1" + "}" * 1000 + ";", "value"),
    ],
)
def test_deep_nesting_is_one_positioned_error_through_the_cli(
    tmp_path: Path, declaration: str, message: str
) -> None:
    idl = tmp_path / "deep.idl"
    idl.write_text(NS + declaration + "\n")
    result = run_cli(str(idl), "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    headers = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert len(headers) == 1
    assert headers[0].startswith(f"{idl}:2:")
    assert headers[0].endswith(
        f": error: {message} nests deeper than {MAX_NESTING} levels; the IDL "
        f"allows at most {MAX_NESTING}"
    )


def test_nesting_error_points_at_the_level_past_the_limit() -> None:
    source = NS + f"message M {{ 1: {nested_type(MAX_NESTING + 1)} x; }}"
    column = len("message M { 1: ") + 5 * MAX_NESTING + 5
    assert errors(source) == [
        f"t.idl:2:{column}: error: type nests deeper than {MAX_NESTING} levels; "
        f"the IDL allows at most {MAX_NESTING}"
    ]


def test_typedefs_nesting_deeper_than_the_limit_once_expanded() -> None:
    """Each typedef nests within the limit as written; expanded, twenty of them
    nested past Python's recursion limit in the checker (RecursionError)."""
    half = MAX_NESTING // 2
    # Up to the limit, as a field's type may be written: accepted.
    check(parse(NS + f"typedef {nested_type(MAX_NESTING)} A;", "t.idl"))
    check(parse(NS + f"typedef {nested_type(half)} A;\ntypedef list<A> B;", "t.idl"))
    written = [f"typedef {nested_type(half)} T0;"] + [
        f"typedef {nested_type(half).replace('i32', f'T{i}')} T{i + 1};"
        for i in range(20)
    ]
    check(parse(NS + "\n".join(written[:2]), "t.idl"))  # T1: the limit
    source = NS + "\n".join([*written, "message M { 1: T20 x; }"])
    column = len(written[2]) - 2
    assert errors(source) == [
        f"t.idl:4:{column}: error: typedef 'T2' nests deeper than {MAX_NESTING} "
        "levels once the typedefs it names are expanded; the IDL allows at most "
        f"{MAX_NESTING}"
    ]
    # One level past it, across two typedefs: refused.
    outer = nested_type(half + 1).replace("i32", "A")
    past = errors(NS + f"typedef {nested_type(half)} A;\ntypedef {outer} B;")
    assert len(past) == 1
    assert f"error: typedef 'B' nests deeper than {MAX_NESTING} levels" in past[0]


def test_map_keys_that_double_at_each_typedef_are_refused_without_walking_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``typedef map<A0, A0> A1; typedef map<A1, A1> A2; ...``: each expanded
    typedef names the one before twice, 2^30 nodes at the thirtieth, which the
    checker walked (minutes at twenty levels). A container key is refused before
    its arguments are walked, and its text is cut short."""
    levels = 30
    lines = ["typedef list<i32> A0;"] + [
        f"typedef map<A{i}, A{i}> A{i + 1};" for i in range(levels)
    ]
    source = NS + "\n".join([*lines, f"message M {{ 1: A{levels} x; }}"])
    walked = 0
    checker_class = checker._Checker  # noqa: SLF001 (counting its walk)
    resolve = checker_class.resolve

    def counting(self: Any, ref: Any, **kwargs: Any) -> bool:
        nonlocal walked
        walked += 1
        resolved: bool = resolve(self, ref, **kwargs)
        return resolved

    monkeypatch.setattr(checker_class, "resolve", counting)
    found = errors(source)
    assert walked < 50 * levels
    assert len(found) == levels  # one for each typedef, at its key
    assert found[0] == (
        "t.idl:3:13: error: map key type must be a scalar or an enum, not 'list<i32>'"
    )
    assert found[-1].startswith(
        f"t.idl:{levels + 2}:13: error: map key type must be a scalar or an enum, "
        "not 'map<map<map<"
    )
    assert found[-1].endswith("…'") and len(found[-1]) < 200


def test_a_chain_of_typedefs_longer_than_the_limit() -> None:
    """A typedef naming a typedef naming a typedef, and so on, 1000 deep, was a
    RecursionError."""

    def chain(count: int) -> str:
        lines = [f"typedef T{i + 1} T{i};" for i in range(count)]
        return NS + "\n".join([*lines, f"typedef i32 T{count};"])

    check(parse(chain(MAX_NESTING), "t.idl"))
    assert errors(chain(1000))[0] == (
        f"t.idl:2:12: error: typedef 'T0' names typedefs more than {MAX_NESTING} "
        f"deep (T0 -> T1 -> ... -> T{MAX_NESTING + 1}); the IDL allows at most "
        f"{MAX_NESTING}"
    )


def test_nesting_up_to_the_limit_generates_a_module(tmp_path: Path) -> None:
    depth = MAX_NESTING
    default = "[" * (depth - 1) + "{}" + "]" * (depth - 1)
    field_type = "list<" * (depth - 1) + "map<string, i32" + ">" * depth
    idl = tmp_path / "deep.idl"
    idl.write_text(
        "namespace deep;\n"
        f"message M {{ 1: {field_type} x = {default}; }}\n"
        f"service S {{ {nested_type(depth)} f(1: {nested_type(depth)} a); }}\n"
    )
    assert main([str(idl), "-o", str(tmp_path)]) == 0
    result = subprocess.run(
        [sys.executable, "-c", "import deep; print(deep.M().x)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[" * (depth - 1) + "{}" + "]" * (depth - 1)


# --- byte order mark ------------------------------------------------------------


def test_a_byte_order_mark_is_not_part_of_the_text() -> None:
    module = parse("\ufeffnamespace t; message M { 1: i32 x; }", "t.idl")
    assert module.namespace == "t"


def test_columns_on_the_first_line_skip_a_byte_order_mark(tmp_path: Path) -> None:
    idl = tmp_path / "bom.idl"
    idl.write_bytes("namespace t; message M { 1: Strng x; }\n".encode("utf-8-sig"))
    result = run_cli(str(idl), "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == (
        f"{idl}:1:29: error: unknown type 'Strng'; did you mean 'string'?"
    )
    assert lines[1] == "namespace t; message M { 1: Strng x; }"
    assert lines[2] == " " * 28 + "^~~~~"


# --- optional values with defaults ----------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "message M { 1: optional i32 x = 3; }",
            "t.idl:2:33: error: optional field 'x' cannot have a default: an absent "
            "optional value is None; drop 'optional' or the default",
        ),
        (
            'exception E { 1: optional string why = "no"; }',
            "t.idl:2:40: error: optional field 'why' cannot have a default: an "
            "absent optional value is None; drop 'optional' or the default",
        ),
        (
            "service S { void f(1: optional i32 y = 4); }",
            "t.idl:2:40: error: optional parameter 'y' cannot have a default: an "
            "absent optional value is None; drop 'optional' or the default",
        ),
    ],
)
def test_an_optional_value_cannot_have_a_default(source: str, expected: str) -> None:
    assert errors(NS + source) == [expected]
