"""Schema evolution over a real server: peers built from two versions of one file.

``tests/evolution/v1/inventory.idl`` and ``v2/inventory.idl`` are the same service
before and after growing the way ``docs/evolution.md`` says is safe: an optional
field, a field with a default, a parameter with a default, a new method and a new
enum value. Both are generated into modules of their own (``inventory_v1`` and
``inventory_v2``) and served by a real :class:`uvrpc.Server`; each test puts an old
client in front of a new server or a new client in front of an old one.
``v3/inventory.idl`` removes a field and renumbers another, which ``--compat``
must refuse.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import server_thread
from generated_modules import import_file

import uvrpc
from uvrpc_gen.cli import main

EVOLUTION = Path(__file__).resolve().parents[1] / "evolution"
V1, V2, V3 = (EVOLUTION / v / "inventory.idl" for v in ("v1", "v2", "v3"))


def generate_and_import(idl: Path, directory: Path, name: str) -> ModuleType:
    """Generate ``idl`` into ``directory`` and import it as the module ``name``.

    Both versions generate ``inventory.py``; importing each under its own name
    lets one process hold both. The module is registered in ``sys.modules``
    before it runs, as pydantic resolves the messages' annotations there.
    """
    assert main([str(idl), "-o", str(directory)]) == 0
    return import_file(directory / "inventory.py", name)


@pytest.fixture(scope="module")
def versions(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ModuleType, ModuleType]]:
    """The generated modules of version 1 and version 2."""
    root = tmp_path_factory.mktemp("evolution")
    old = generate_and_import(V1, root / "v1", "inventory_v1")
    try:
        new = generate_and_import(V2, root / "v2", "inventory_v2")
    except BaseException:
        del sys.modules["inventory_v1"]
        raise
    yield old, new
    del sys.modules["inventory_v1"], sys.modules["inventory_v2"]


@pytest.fixture
def v1(versions: tuple[ModuleType, ModuleType]) -> ModuleType:
    return versions[0]


@pytest.fixture
def v2(versions: tuple[ModuleType, ModuleType]) -> ModuleType:
    return versions[1]


class Stock:
    """What a server of either version holds, and the parameters each of its
    handlers received, for the test to look at."""

    def __init__(self) -> None:
        self.items: dict[str, Any] = {}
        self.received: list[tuple[str, dict[str, Any]]] = []


def inventory_server(module: ModuleType, stock: Stock) -> uvrpc.ServiceBase:
    """An implementation of the ``InventoryServer`` of ``module`` (either version).

    Handlers take ``**params`` so that ``stock.received`` shows exactly what the
    server decoded: a parameter it does not know is not there.
    """

    async def put(self: object, **params: Any) -> None:
        stock.received.append(("put", params))
        item = params["item"]
        stock.items[item.sku] = item

    async def get(self: object, **params: Any) -> Any:
        stock.received.append(("get", params))
        try:
            return stock.items[params["sku"]]
        except KeyError:
            raise uvrpc.NotFound(f"no item {params['sku']!r}") from None

    async def search(self: object, **params: Any) -> list[Any]:
        stock.received.append(("search", params))
        found = [i for i in stock.items.values() if i.category == params["category"]]
        return sorted(found, key=lambda item: item.sku)[: params.get("limit")]

    async def total(self: object, **params: Any) -> int:
        stock.received.append(("total", params))
        return sum(
            i.count for i in stock.items.values() if i.category == params["category"]
        )

    handlers: dict[str, Any] = {"put": put, "get": get, "search": search}
    if "total" in module.InventoryServer.__abstractmethods__:
        handlers["total"] = total
    cls = type(f"Inventory_{module.__name__}", (module.InventoryServer,), handlers)
    service: uvrpc.ServiceBase = cls()
    return service


@pytest.fixture
def old_server(v1: ModuleType, tmp_path: Path) -> Iterator[tuple[str, Stock]]:
    """A server built from version 1, on an ipc socket of this test."""
    stock = Stock()
    bind = f"ipc://{tmp_path / 'old.sock'}"
    with server_thread(inventory_server(v1, stock), bind=bind) as running:
        yield running.endpoint, stock


@pytest.fixture
def new_server(v2: ModuleType) -> Iterator[tuple[str, Stock]]:
    """A server built from version 2, on a loopback TCP port of the system's
    choosing."""
    stock = Stock()
    with server_thread(inventory_server(v2, stock)) as running:
        yield running.endpoint, stock


def sync_client(module: ModuleType, endpoint: str) -> Any:
    return module.InventorySyncClient(endpoint, timeout=10)


# --- an old client, a new server --------------------------------------------


def test_old_client_new_server_fields_take_their_defaults(
    v1: ModuleType, v2: ModuleType, new_server: tuple[str, Stock]
) -> None:
    endpoint, stock = new_server
    with sync_client(v1, endpoint) as client:
        client.put(item=v1.Item(sku="a-1", category=v1.Category.TOOL, count=3))
        stored = stock.items["a-1"]
        assert type(stored) is v2.Item
        assert stored.location is None  # optional: None when not sent
        assert stored.unit == "piece"  # its default when not sent
        back = client.get(sku="a-1")
        assert type(back) is v1.Item
        assert back == v1.Item(sku="a-1", category=v1.Category.TOOL, count=3)


def test_old_client_ignores_the_fields_it_does_not_know(
    v1: ModuleType, v2: ModuleType, new_server: tuple[str, Stock]
) -> None:
    endpoint, stock = new_server
    stock.items["b-2"] = v2.Item(
        sku="b-2", category=v2.Category.PART, count=7, location="shelf 4", unit="box"
    )
    with sync_client(v1, endpoint) as client:
        item = client.get(sku="b-2")
        assert item.model_dump(by_alias=False) == {
            "sku": "b-2",
            "category": 2,
            "count": 7,
        }
        assert not hasattr(item, "location")


def test_old_client_new_server_parameter_takes_its_default(
    v1: ModuleType, v2: ModuleType, new_server: tuple[str, Stock]
) -> None:
    endpoint, stock = new_server
    with sync_client(v1, endpoint) as client:
        assert client.search(category=v1.Category.TOOL) == []
    assert stock.received == [("search", {"category": v2.Category.TOOL, "limit": 100})]


def test_old_client_rejects_a_new_enum_value_and_the_server_keeps_serving(
    v1: ModuleType, v2: ModuleType, new_server: tuple[str, Stock]
) -> None:
    endpoint, stock = new_server
    stock.items["k-1"] = v2.Item(sku="k-1", category=v2.Category.KIT, count=1)
    with sync_client(v1, endpoint) as client:
        with pytest.raises(uvrpc.InternalError) as error:
            client.get(sku="k-1")
        message = error.value.message
        assert message.startswith(
            "reply of inventory.Inventory.get does not match its declared type: "
        )
        assert message.endswith("at 'category'"), message
        assert "1 or 2" in message  # the values this reader knows
        client.put(item=v1.Item(sku="t-1", category=v1.Category.TOOL, count=2))
        assert client.get(sku="t-1").count == 2


# --- a new client, an old server --------------------------------------------


def test_new_client_old_server_keeps_new_fields_and_ignores_new_parameters(
    v1: ModuleType, v2: ModuleType, old_server: tuple[str, Stock]
) -> None:
    endpoint, stock = old_server
    with sync_client(v2, endpoint) as client:
        client.put(
            item=v2.Item(
                sku="c-3", category=v2.Category.PART, count=5, location="bin 9"
            )
        )
        stored = stock.items["c-3"]
        assert type(stored) is v1.Item
        assert stored.model_dump(by_alias=False) == {
            "sku": "c-3",
            "category": 2,
            "count": 5,
        }
        # The old server keeps the fields it does not know and sends them back.
        assert dict(uvrpc.unknown_fields(stored)) == {4: "bin 9", 5: "piece"}
        assert client.search(category=v2.Category.PART, limit=1) == [
            v2.Item(sku="c-3", category=v2.Category.PART, count=5, location="bin 9")
        ]
    assert stock.received[-1] == ("search", {"category": v1.Category.PART})


def test_new_client_old_server_new_fields_arrive_with_their_defaults(
    v1: ModuleType, v2: ModuleType, old_server: tuple[str, Stock]
) -> None:
    endpoint, stock = old_server
    stock.items["d-4"] = v1.Item(sku="d-4", category=v1.Category.TOOL, count=1)
    with sync_client(v2, endpoint) as client:
        item = client.get(sku="d-4")
    assert type(item) is v2.Item
    assert (item.location, item.unit) == (None, "piece")


def test_old_server_answers_the_new_method_unimplemented(
    v2: ModuleType, old_server: tuple[str, Stock]
) -> None:
    endpoint, _ = old_server
    with sync_client(v2, endpoint) as client:
        with pytest.raises(uvrpc.Unimplemented) as error:
            client.total(category=v2.Category.TOOL)
        assert error.value.message == "unknown method 'inventory.Inventory.total'"
        assert client.search(category=v2.Category.TOOL) == []  # still serving


def test_old_server_rejects_a_new_enum_value_naming_the_field_and_keeps_serving(
    v1: ModuleType, v2: ModuleType, old_server: tuple[str, Stock]
) -> None:
    endpoint, stock = old_server
    with sync_client(v2, endpoint) as client:
        kit = v2.Item(sku="k-1", category=v2.Category.KIT, count=1)
        with pytest.raises(uvrpc.InvalidArgument) as error:
            client.put(item=kit)
        assert error.value.status is uvrpc.Status.INVALID_ARGUMENT
        assert error.value.field_path == "item.category"
        assert error.value.message.startswith(
            "invalid argument 'item.category' of inventory.Inventory.put: "
        )
        with pytest.raises(uvrpc.InvalidArgument) as error:
            client.search(category=v2.Category.KIT)
        assert error.value.field_path == "category"
        assert "k-1" not in stock.items
        client.put(item=v2.Item(sku="t-1", category=v2.Category.TOOL, count=2))
    assert stock.items["t-1"] == v1.Item(sku="t-1", category=v1.Category.TOOL, count=2)


def test_a_new_client_and_a_new_server_use_the_new_method(
    v2: ModuleType, new_server: tuple[str, Stock]
) -> None:
    endpoint, _ = new_server
    with sync_client(v2, endpoint) as client:
        for sku, count in (("k-1", 2), ("k-2", 3), ("t-1", 9)):
            category = v2.Category.KIT if sku[0] == "k" else v2.Category.TOOL
            client.put(item=v2.Item(sku=sku, category=category, count=count))
        assert client.total(category=v2.Category.KIT) == 5
        assert [i.sku for i in client.search(category=v2.Category.KIT, limit=1)] == [
            "k-1"
        ]


# --- what --compat says about the versions -----------------------------------


def test_compat_accepts_version_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--compat", str(V1), str(V2)]) == 0
    out = capsys.readouterr().out
    assert ": breaking: " not in out
    for change in (
        "value 'KIT' = 3 was added to enum 'Category'",
        "optional field 4 'location' was added to message 'Item'",
        "field 5 'unit' with default \"piece\" was added to message 'Item'",
        "parameter 2 'limit' with default 100 was added to method 'Inventory.search'",
        "method 'Inventory.total' was added",
    ):
        assert f": compatible: {change}" in out, out


@pytest.mark.parametrize(("old", "count_line"), [(V1, 14), (V2, 16)], ids=["v1", "v2"])
def test_compat_refuses_version_3(
    old: Path, count_line: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--compat", str(old), str(V3)]) == 1
    lines = capsys.readouterr().out.splitlines()
    removed = (
        f"{old}:{count_line}:12: breaking: field 3 'count' of message 'Item' was "
        "removed: old readers require it and new writers do not send it"
    )
    assert removed in lines
    renumbered = (
        f"{V3}:19:5: breaking: field 'unit' of message 'Item' changed id from 5 to 6"
    )
    assert any(line.startswith(renumbered) for line in lines) == (old == V2)
