"""The built-in reflection and health services: what a server says about itself
matches the IDL it was generated from, and its health follows its state."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import pytest
from conformance_server import Conformance
from conftest import generate_modules, server_thread
from golden import conformance

import uvrpc
from uvrpc.health import HealthClient, HealthStatus, HealthSyncClient
from uvrpc.reflection import ReflectionClient, ReflectionSyncClient, describe

S = "conformance.Scalars"
NESTED = f"map<i32, map<string, list<{S}>>>"
SHAPE = "conformance.Shape"
DRAWING = "conformance.Drawing"

# idl/conformance.idl, method by method: (name, kind, oneway, idempotent,
# params as (id, name, type, optional[, default]), stream item, returns, items,
# errors, doc)
METHODS: list[tuple[Any, ...]] = [
    ("ping", "unary", False, False, [], None, "void", None, [],
     "Does nothing and returns nothing."),
    ("echoScalars", "unary", False, False, [(1, "value", S, False)], None, S, None,
     [], "Returns its argument."),
    ("mixed", "unary", False, False, [
        (1, "flag", "bool", False), (2, "tiny", "i8", False),
        (3, "small", "i16", False), (4, "medium", "i32", False),
        (5, "large", "i64", False), (6, "single", "float", False),
        (7, "precise", "double", False), (8, "text", "string", False),
        (9, "blob", "bytes", False), (10, "color", "conformance.Color", False, "RED"),
        (11, "note", "string", True)], None, S, None, [],
     "Builds a message from parameters of every scalar type."),
    ("echoContainers", "unary", False, False,
     [(1, "value", "conformance.Containers", False)], None,
     "conformance.Containers", None, [], ""),
    ("echoNested", "unary", False, False, [(1, "value", NESTED, False)], None,
     NESTED, None, [], ""),
    ("echoColors", "unary", False, False,
     [(1, "colors", "set<conformance.Color>", False)], None,
     "set<conformance.Color>", None, [], ""),
    ("echoMatrix", "unary", False, False, [(1, "matrix", "list<list<i64>>", False)],
     None, "list<list<i64>>", None, [], ""),
    ("echoTree", "unary", False, False, [(1, "root", "conformance.Node", False)],
     None, "conformance.Node", None, [], ""),
    ("echoBytes", "unary", False, False, [(1, "data", "bytes", False)], None,
     "bytes", None, [], ""),
    ("echoString", "unary", False, False, [(1, "text", "string", False)], None,
     "string", None, [], ""),
    ("echoDouble", "unary", False, False, [(1, "value", "double", False)], None,
     "double", None, [], ""),
    ("echoFloat", "unary", False, False, [(1, "value", "float", False)], None,
     "float", None, [], ""),
    ("echoI64", "unary", False, False,
     [(1, "value", "i64", False, 0x7FFFFFFFFFFFFFFF)], None, "i64", None, [], ""),
    ("echoWellKnown", "unary", False, False,
     [(1, "value", "conformance.WellKnown", False)], None, "conformance.WellKnown",
     None, [], ""),
    ("echoUuid", "unary", False, False, [(1, "value", "uuid", False)], None,
     "uuid", None, [], ""),
    ("echoDecimal", "unary", False, False, [(1, "value", "decimal", False)], None,
     "decimal", None, [], ""),
    ("echoDuration", "unary", False, False, [(1, "value", "duration", False)], None,
     "duration", None, [], ""),
    ("later", "unary", False, False,
     [(1, "at", "timestamp", False), (2, "by", "duration", False)], None,
     "timestamp", None, [], "The instant `by` after `at`."),
    ("ticks", "server_stream", False, False,
     [(1, "start", "timestamp", False), (2, "step", "duration", False),
      (3, "n", "i32", False)], None, "void", "timestamp", [],
     "Streams `n` instants `step` apart from `start`."),
    ("fail", "unary", False, False, [(1, "which", "string", False)], None, "void",
     None, ["conformance.NotFound", "conformance.Rejected", "shared.Overloaded"],
     'Raises what `which` names: "not_found", "rejected", "overloaded", or an\n'
     "undeclared error for anything else."),
    ("record", "unary", True, False, [(1, "event", "string", False)], None, "void",
     None, [], "Records an event; nothing is sent back."),
    ("recorded", "unary", False, False, [], None, "list<string>", None, [],
     "The events recorded so far, in order."),
    ("visits", "unary", False, True, [], None, "i64", None, [],
     "How many times it was called: safe to retry."),
    ("echoBounded", "unary", False, False, [(1, "value", "conformance.Bounded",
     False), (2, "keep", "i8(min = 0, max = 4)", False, 4)], None,
     "conformance.Bounded", None, [],
     "Returns its argument with its first `keep` tags."),
    ("repeat", "unary", False, False, [(1, "text", "string", False),
     (2, "times", "i32(min = 0)", False)], None, "string(max_len = 10)", None, [],
     "Returns `text` repeated `times` times: a reply longer than ten characters\n"
     "is refused by the client."),
    ("count", "server_stream", False, False,
     [(1, "start", "i64", False), (2, "n", "i32", False)], None, "void", "i64", [],
     "Streams `n` numbers counting up from `start`."),
    ("sum", "client_stream", False, False, [], "i64", "i64", None, [],
     "Adds up a stream of numbers."),
    ("echoShape", "unary", False, False,
     [(1, "shape", SHAPE, False), (2, "extra", SHAPE, True)], None, SHAPE, None, [],
     "Returns its argument, and `extra` when given in place of it."),
    ("echoDrawing", "unary", False, False, [(1, "drawing", DRAWING, False)], None,
     DRAWING, None, [], ""),
    ("shapes", "server_stream", False, False,
     [(1, "shapes", f"list<{SHAPE}>", False)], None, "void", SHAPE, [],
     "Streams each shape of `shapes` back, then a label counting them."),
    ("transform", "bidi_stream", False, False, [(2, "add", "i64", False)], S, "void",
     S, ["conformance.Rejected"],
     "Answers each message with itself, `large` increased by `add`."),
]  # fmt: skip


def _field(spec: tuple[Any, ...]) -> dict[str, Any]:
    field = {"id": spec[0], "name": spec[1], "type": spec[2], "optional": spec[3]}
    if len(spec) > 4:
        field["default"] = spec[4]
    return field


def _strip_docs(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in f.items() if k != "doc"} for f in fields]


def check_conformance(description: dict[str, Any]) -> None:
    """Assert that ``description`` says what idl/conformance.idl says."""
    assert description["version"] == 1
    (service,) = [
        s for s in description["services"] if s["name"] == "conformance.Conformance"
    ]
    assert service["doc"] == "Every construct of the IDL, as methods."
    assert [m["name"] for m in service["methods"]] == [m[0] for m in METHODS]
    for got, want in zip(service["methods"], METHODS, strict=True):
        name, kind, oneway, idempotent, params, stream, returns, items, errors, doc = (
            want
        )
        assert got["route"] == f"conformance.Conformance.{name}"
        assert (got["kind"], got["oneway"], got["idempotent"]) == (
            kind,
            oneway,
            idempotent,
        ), name
        assert _strip_docs(got["params"]) == [_field(p) for p in params], name
        assert (got["stream"] or {}).get("type") == stream, name
        assert (got["returns"], got["items"]) == (returns, items), name
        assert got["errors"] == errors, name
        assert got["doc"] == doc, name
    assert description["enums"]["conformance.Color"] == {
        "name": "conformance.Color",
        "doc": "A colour, for enums as values, set elements and defaults.",
        "members": {"RED": 1, "GREEN": 2, "BLUE": 3},
    }
    assert description["enums"]["shared.Origin"]["members"] == {
        "CLIENT": 1,
        "SERVER": 2,
    }
    messages = description["messages"]
    assert set(messages) == {
        S,
        "conformance.Node",
        "conformance.Containers",
        "conformance.Bounded",
        "conformance.Circle",
        DRAWING,
        "conformance.WellKnown",
    }
    assert _strip_docs(messages[DRAWING]["fields"]) == [
        _field((1, "main", SHAPE, False)),
        _field((2, "overlay", SHAPE, True)),
        _field((3, "layers", f"list<{SHAPE}>", False, [])),
        _field((4, "named", f"map<string, {SHAPE}>", False, {})),
    ]
    assert description["unions"] == {
        SHAPE: {
            "name": SHAPE,
            "doc": "A shape: exactly one of its members, for unions as values, "
            "fields, list\nelements, map values, parameters, results and stream "
            "items.",
            "members": [
                {"id": 1, "name": "circle", "type": "conformance.Circle",
                 "doc": "A round shape."},
                {"id": 2, "name": "square", "type": "double",
                 "doc": "The side of a square."},
                {"id": 3, "name": "label", "type": "string", "doc": ""},
                {"id": 4, "name": "blob", "type": "bytes", "doc": ""},
                {"id": 5, "name": "group", "type": f"list<{SHAPE}>",
                 "doc": "Shapes drawn together: a union that holds itself."},
            ],
        }
    }  # fmt: skip
    # Constraints are written back as the IDL spells them (a typedef's included),
    # and the sentence generated docs add about them is left out.
    tag = 'string(min_len = 1, max_len = 8, pattern = "^[a-z]+$")'
    assert messages["conformance.Bounded"]["fields"] == [
        {"id": 1, "name": "name", "type": "string(max_len = 5)",
         "optional": False, "doc": ""},
        {"id": 2, "name": "tags", "type": f"list<{tag}>(max_len = 4)",
         "optional": False, "doc": "", "default": []},
        {"id": 3, "name": "counts", "type": "map<string, i32(min = 0)>(max_len = 3)",
         "optional": False, "doc": "", "default": {}},
        {"id": 4, "name": "percent", "type": "i32(min = 0, max = 100)",
         "optional": False, "doc": "", "default": 50},
        {"id": 5, "name": "weight", "type": "double(min = 0.0)",
         "optional": False, "doc": "", "default": 0.0},
        {"id": 6, "name": "key", "type": "bytes(min_len = 1, max_len = 16)",
         "optional": False, "doc": "", "default": "aw=="},
        {"id": 7, "name": "signs", "type": "set<i64(min = -1, max = 1)>",
         "optional": False, "doc": "", "default": []},
    ]  # fmt: skip
    assert _strip_docs(messages["conformance.WellKnown"]["fields"]) == [
        _field((1, "id", "uuid", False)),
        _field((2, "at", "timestamp", False)),
        _field((3, "took", "duration", False)),
        _field((4, "amount", "decimal", False)),
        _field((5, "expires", "timestamp", True)),
        _field((6, "prices", "list<decimal>", False, [])),
        _field((7, "timings", "map<uuid, duration>", False, {})),
        _field((8, "moments", "set<timestamp>", False, [])),
    ]
    assert messages[S]["doc"] == "Every scalar type once."
    assert _strip_docs(messages[S]["fields"])[9:] == [
        _field((10, "color", "conformance.Color", False, "GREEN")),
        _field((11, "origin", "shared.Origin", False, "CLIENT")),
    ]
    assert _strip_docs(messages["conformance.Node"]["fields"]) == [
        _field((1, "label", "string", False)),
        _field((2, "next", "conformance.Node", True)),
        _field((3, "children", "list<conformance.Node>", False, [])),
    ]
    containers = _strip_docs(messages["conformance.Containers"]["fields"])
    assert containers[0] == _field((1, "nested", NESTED, False, {}))
    assert containers[5] == _field(
        (6, "weights", "map<i64, double>", False, {str(-(2**63)): 0.5})
    )
    rejected = description["exceptions"]["conformance.Rejected"]
    assert rejected["doc"] == "An argument was refused by the service's own rules."
    assert rejected["fields"] == [
        {"id": 1, "name": "argument", "type": "string", "optional": False,
         "doc": "Which argument."},
        {"id": 2, "name": "code", "type": "i32", "optional": False, "doc": "",
         "default": 0},
        {"id": 3, "name": "evidence", "type": "bytes", "optional": True, "doc": ""},
    ]  # fmt: skip
    assert set(description["exceptions"]) == {
        "conformance.NotFound",
        "conformance.Rejected",
        "shared.Overloaded",
    }


def test_description_matches_the_idl() -> None:
    check_conformance(describe(conformance.ConformanceServer))


def test_a_served_description_matches_the_idl() -> None:
    with (
        server_thread(Conformance()) as running,
        ReflectionSyncClient(running.endpoint, timeout=10) as client,
    ):
        assert client.list() == [
            "conformance.Conformance",
            "uvrpc.Health",
            "uvrpc.Reflection",
        ]
        whole = client.describe()
        check_conformance(whole)
        check_conformance(client.describe(name="conformance.Conformance"))
        assert [s["name"] for s in whole["services"]] == [
            "conformance.Conformance",
            "uvrpc.Health",
            "uvrpc.Reflection",
        ]
        health = client.describe(name="uvrpc.Health")
        check, watch = health["services"][0]["methods"]
        assert (check["name"], watch["name"]) == ("check", "watch")
        assert watch["kind"] == "server_stream"
        assert watch["params"] == check["params"]
        assert check["params"] == [
            {"id": 1, "name": "service", "type": "string", "optional": False,
             "doc": "", "default": ""}
        ]  # fmt: skip
        assert check["returns"] == "uvrpc.HealthStatus"
        assert health["enums"]["uvrpc.HealthStatus"]["members"]["SERVING"] == 1
        with pytest.raises(uvrpc.NotFound, match="no service 'nope'"):
            client.describe(name="nope")


def test_descriptions_are_built_once() -> None:
    async def body() -> None:
        async with (
            uvrpc.Server(Conformance()) as server,
            ReflectionClient(server.bind("tcp://127.0.0.1:*"), timeout=10) as c,
        ):
            first = await c.describe()
            route = server._dispatcher.protocol.route("uvrpc.Reflection.describe")
            assert route is not None
            reflection: Any = getattr(route.handler, "__self__")  # noqa: B009
            kept = reflection._descriptions[""]
            assert await c.describe() == first
            assert reflection._descriptions[""] is kept

    asyncio.run(body())


def test_health_follows_set_serving_and_close() -> None:
    async def body() -> None:
        server = uvrpc.Server(Conformance())
        await server.start()
        endpoint = server.bind("tcp://127.0.0.1:*")
        async with HealthClient(endpoint, timeout=10) as client:
            assert await client.check() is HealthStatus.SERVING
            assert (
                await client.check(service="conformance.Conformance")
                is HealthStatus.SERVING
            )
            assert await client.check(service="nope") is HealthStatus.SERVICE_UNKNOWN
            server.set_serving("conformance.Conformance", False)
            assert (
                await client.check(service="conformance.Conformance")
                is HealthStatus.NOT_SERVING
            )
            assert await client.check() is HealthStatus.SERVING
            server.set_serving("conformance.Conformance", True)
            server.set_serving("", False)
            assert (
                await client.check(service="conformance.Conformance")
                is HealthStatus.NOT_SERVING
            )
            server.set_serving("", True)
            with pytest.raises(ValueError, match="no service"):
                server.set_serving("nope", False)
            # A graceful close turns the server NOT_SERVING while calls finish.
            closing = asyncio.ensure_future(server.close(grace=5))
            await asyncio.sleep(0)
            assert server.health.status() is HealthStatus.NOT_SERVING
            await closing

    asyncio.run(body())


def test_health_sync_client() -> None:
    with (
        server_thread(Conformance()) as running,
        HealthSyncClient(running.endpoint, timeout=10) as client,
    ):
        assert client.check() is HealthStatus.SERVING


def test_undocumented_definitions_are_described_without_a_doc(
    tmp_path: Path,
) -> None:
    """uvrpc-gen gives an undocumented message, enum, exception or union a
    placeholder docstring (``The ``inv.Item`` message.``); described, it would be
    a doc comment the IDL never had. A documented one keeps its doc."""
    inv = generate_modules(
        tmp_path,
        {
            "inv.idl": "namespace inv;\n"
            "enum Kind { A = 1; }\n"
            "message Item { 1: Kind kind; }\n"
            "/// Said of a missing item.\n"
            "exception Missing { 1: string sku; }\n"
            "exception Gone { 1: string sku; }\n"
            "union Either { 1: Item item; 2: string name; }\n"
            "service Inv {\n"
            "    Item get(1: Either which) throws (Missing, Gone);\n"
            "}\n"
        },
    )["inv"]
    described = describe(inv.InvServer)
    assert described["messages"]["inv.Item"]["doc"] == ""
    assert described["enums"]["inv.Kind"]["doc"] == ""
    assert described["exceptions"]["inv.Gone"]["doc"] == ""
    assert described["unions"]["inv.Either"]["doc"] == ""
    assert described["exceptions"]["inv.Missing"]["doc"] == "Said of a missing item."


def test_placeholders_wrapped_over_lines_are_described_without_a_doc(
    tmp_path: Path,
) -> None:
    """A placeholder docstring too long for one line is wrapped over two (a long
    namespace, as Java's packages make); described, it is still no doc."""
    hive = generate_modules(
        tmp_path,
        {
            "hive.idl": "namespace org.apache.hadoop.hive.metastore.api;\n"
            "enum PrincipalTypeOfTheOwnerOfTheDatabase { USER = 1; }\n"
            "message StorageDescriptorOfTheTableAndPartition { 1: string a; }\n"
            "exception InvalidOperationException { 1: string message; }\n"
            "union PartitionSpecificationWithSharedDescriptor {\n"
            "    1: StorageDescriptorOfTheTableAndPartition sd;\n"
            "}\n"
            "service ThriftHiveMetastore {\n"
            "    void create_database(\n"
            "        1: PartitionSpecificationWithSharedDescriptor spec,\n"
            "        2: PrincipalTypeOfTheOwnerOfTheDatabase owner\n"
            "    ) throws (InvalidOperationException);\n"
            "    void drop_database_if_it_exists_and_is_empty();\n"
            "}\n"
        },
    )["hive"]
    ns = "org.apache.hadoop.hive.metastore.api"
    described = describe(hive.ThriftHiveMetastoreServer)
    assert "\n" in (inspect.getdoc(hive.InvalidOperationException) or "")  # wrapped
    assert (
        described["messages"][f"{ns}.StorageDescriptorOfTheTableAndPartition"]["doc"]
        == ""
    )
    assert described["enums"][f"{ns}.PrincipalTypeOfTheOwnerOfTheDatabase"]["doc"] == ""
    assert described["exceptions"][f"{ns}.InvalidOperationException"]["doc"] == ""
    assert (
        described["unions"][f"{ns}.PartitionSpecificationWithSharedDescriptor"]["doc"]
        == ""
    )
    methods = described["services"][0]["methods"]
    assert [m["doc"] for m in methods] == ["", ""]


def test_types_only_modules_are_named_by_their_namespace(tmp_path: Path) -> None:
    """A module holding only types (no service, no exception) is described by
    its IDL namespace, not its Python module's stem: two ``common.idl`` of
    different namespaces, each defining ``TransactionOptions``, stay apart, and
    their undocumented types get no doc (the placeholder names the namespace)."""
    (tmp_path / "fs").mkdir()
    (tmp_path / "sp").mkdir()
    firestore = generate_modules(
        tmp_path / "fs",
        {
            "common.idl": "namespace google.firestore.v1;\n"
            "message TransactionOptions { 1: bool read_only; }\n"
            "enum Mode { A = 1; }\n",
            "firestore.idl": 'namespace google.firestore.v1;\nimport "common.idl";\n'
            "service Firestore {\n"
            "    void begin(1: common.TransactionOptions options, 2: common.Mode m);\n"
            "}\n",
        },
        package="gfs",
    )["firestore"]
    spanner = generate_modules(
        tmp_path / "sp",
        {
            "common.idl": "namespace google.spanner.v1;\n"
            "message TransactionOptions { 1: string isolation; }\n",
            "spanner.idl": 'namespace google.spanner.v1;\nimport "common.idl";\n'
            "service Spanner {\n"
            "    void begin(1: common.TransactionOptions options);\n"
            "}\n",
        },
        package="gsp",
    )["spanner"]
    described = describe(firestore.FirestoreServer, spanner.SpannerServer)
    assert sorted(described["messages"]) == [
        "google.firestore.v1.TransactionOptions",
        "google.spanner.v1.TransactionOptions",
    ]
    assert list(described["enums"]) == ["google.firestore.v1.Mode"]
    params = [m["params"] for s in described["services"] for m in s["methods"]]
    assert [p["type"] for p in params[0]] == [
        "google.firestore.v1.TransactionOptions",
        "google.firestore.v1.Mode",
    ]
    assert [p["type"] for p in params[1]] == ["google.spanner.v1.TransactionOptions"]
    for entry in [*described["messages"].values(), *described["enums"].values()]:
        assert entry["doc"] == ""
