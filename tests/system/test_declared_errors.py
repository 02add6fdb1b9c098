"""Exceptions declared in the IDL: the caller raises the class the handler raised,
with the same field values; undeclared exceptions stay generic."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from conftest import generate_modules, server_thread
from pydantic import ValidationError

import uvrpc
from uvrpc.calls import error_from_body
from uvrpc.testing import memory_channel

IDL = """
namespace store;

/// No value is stored under the key.
exception KeyMissing {
    1: string key;
    /// Keys that do exist, nearby.
    2: list<string> nearby = [];
    3: optional bytes token;
}

exception Busy {
    1: double retry_after = 0.5;
}

exception Unrelated {}

service Store {
    string get(1: string key) throws (KeyMissing, Busy);
    void put(1: string key, 2: string value);
}
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return generate_modules(tmp_path_factory.mktemp("store"), {"store.idl": IDL})[
        "store"
    ]


def implementation(store: ModuleType) -> Any:
    base: Any = store.StoreServer

    class Store(base):  # type: ignore[misc]
        async def get(self, *, key: str) -> str:
            if key == "missing":
                raise store.KeyMissing(
                    key=key, nearby=["mist"], token=b"\x00\xff", message="not here"
                )
            if key == "busy":
                raise store.Busy()
            if key == "unrelated":
                raise store.Unrelated()
            if key == "bug":
                raise KeyError(key)
            if key == "status":
                raise uvrpc.NotFound("no such shelf", {"shelf": 3})
            return key.upper()

        async def put(self, *, key: str, value: str) -> None:
            raise store.KeyMissing(key=key)  # not declared by put

    return Store()


@pytest.fixture
def served(store: ModuleType) -> Iterator[str]:
    with server_thread(implementation(store)) as running:
        yield running.endpoint


def test_a_declared_error_arrives_as_its_class_with_its_fields(
    store: ModuleType, served: str
) -> None:
    async def main() -> None:
        async with store.StoreClient(served, timeout=10) as client:
            with pytest.raises(store.KeyMissing) as caught:
                await client.get(key="missing")
            error = caught.value
            assert type(error) is store.KeyMissing
            assert (error.key, error.nearby, bytes(error.token)) == (
                "missing",
                ["mist"],
                b"\x00\xff",
            )
            assert error.message == "not here"
            # repr() shows its own message first, then its fields.
            assert repr(error).startswith("KeyMissing('not here', key='missing', ")
            assert error.status is uvrpc.Status.UNKNOWN
            with pytest.raises(store.Busy) as busy:
                await client.get(key="busy")
            assert busy.value.retry_after == 0.5
            assert busy.value.message == "Busy(retry_after=0.5)"
            assert await client.get(key="fine") == "FINE"

    asyncio.run(main())


def test_the_blocking_client_raises_declared_errors_too(
    store: ModuleType, served: str
) -> None:
    with store.StoreSyncClient(served, timeout=10) as client:
        with pytest.raises(store.KeyMissing) as caught:
            client.get(key="missing")
        assert caught.value.nearby == ["mist"]
        assert isinstance(caught.value, uvrpc.DeclaredError)
        assert isinstance(caught.value, uvrpc.RpcError)


def test_an_undeclared_exception_is_generic_and_keeps_the_traceback_home(
    store: ModuleType, served: str, caplog: pytest.LogCaptureFixture
) -> None:
    with store.StoreSyncClient(served, timeout=10) as client:
        with pytest.raises(uvrpc.RemoteError) as bug:
            client.get(key="bug")
        assert bug.value.message == "KeyError: 'bug'"
        assert bug.value.details == {}
        # A declared exception of another method, or of none, is undeclared here.
        with pytest.raises(uvrpc.RemoteError, match="Unrelated: Unrelated()"):
            client.get(key="unrelated")
        with pytest.raises(uvrpc.RemoteError, match="KeyMissing: KeyMissing"):
            client.put(key="k", value="v")
        # The server's log says why its caller got UNKNOWN.
        assert any(
            r.getMessage().endswith(
                "raised store.KeyMissing, which the method does not declare "
                "(throws): its caller gets UNKNOWN"
            )
            for r in caplog.records
        )
        # Status errors pass through as before.
        with pytest.raises(uvrpc.NotFound) as status:
            client.get(key="status")
        assert status.value.details == {"shelf": 3}


def test_debug_sends_the_traceback(store: ModuleType) -> None:
    with server_thread(implementation(store), debug=True) as running:
        with store.StoreSyncClient(running.endpoint, timeout=10) as client:
            with pytest.raises(uvrpc.RemoteError) as bug:
                client.get(key="bug")
    trace = bug.value.details["traceback"]
    assert trace.startswith("Traceback (most recent call last):")
    assert "raise KeyError(key)" in trace


def test_in_memory_channels_carry_declared_errors(store: ModuleType) -> None:
    async def main() -> None:
        async with memory_channel(implementation(store)) as channel:
            client = store.StoreClient(channel)
            with pytest.raises(store.KeyMissing) as caught:
                await client.get(key="missing")
            assert caught.value.key == "missing"

    asyncio.run(main())


def test_an_error_unknown_to_the_client_is_generic(store: ModuleType) -> None:
    method = store._STORE_GET
    error = error_from_body(
        method,
        2,
        {"message": "newer", "details": {}, "error": "store.Newer", "fields": {}},
    )
    assert type(error) is uvrpc.RemoteError and error.message == "newer"


def test_fields_that_do_not_match_the_declaration_are_an_internal_error(
    store: ModuleType,
) -> None:
    body = {
        "message": "m",
        "details": {},
        "error": "store.KeyMissing",
        "fields": {"1": 5},
    }
    error = error_from_body(store._STORE_GET, 2, body)
    assert isinstance(error, uvrpc.InternalError)
    assert "store.KeyMissing" in error.message and "key" in error.message


def test_fields_are_validated_where_the_error_is_made(store: ModuleType) -> None:
    with pytest.raises(ValidationError) as caught:
        store.KeyMissing(key=5)
    # Named by the class the caller wrote, not by its private fields' model.
    assert caught.value.title == "KeyMissing"
    assert str(caught.value).startswith("1 validation error for KeyMissing\nkey\n")
    with pytest.raises(ValidationError) as caught:
        store.Busy(retry_after="soon")
    assert caught.value.title == "Busy"
    with pytest.raises(ValidationError):
        store.KeyMissing()


def test_the_generated_class_documents_itself(store: ModuleType) -> None:
    assert store.KeyMissing.__doc__ == "No value is stored under the key."
    assert store.KeyMissing.uvrpc_name == "store.KeyMissing"
    assert "KeyMissing: No value is stored under the key." in (
        store.StoreClient.get.__doc__
    )


def test_a_fields_model_shared_or_naming_a_later_class_still_works() -> None:
    """A hand-written exception whose fields name a message defined after it is
    made as pydantic allows (built at first use), and a second exception
    sharing a fields model leaves it the title of the first."""
    from uvrpc.wire.message import field_ids

    class _Fields(uvrpc.Message):
        model_config = field_ids(item=1)
        item: Later

    class Missing(uvrpc.DeclaredError):
        uvrpc_name = "t.Missing"
        uvrpc_fields = _Fields

    class Later(uvrpc.Message):
        model_config = field_ids(n=1)
        n: int

    _Fields.model_rebuild(_types_namespace={"Later": Later})

    class Lost(uvrpc.DeclaredError):
        uvrpc_name = "t.Lost"
        uvrpc_fields = _Fields

    assert Missing(item=Later(n=1)).fields == _Fields(item=Later(n=1))
    with pytest.raises(ValidationError) as caught:
        Lost(item=3)
    assert caught.value.title == "Missing"
