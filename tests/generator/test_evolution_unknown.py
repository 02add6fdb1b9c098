"""Unknown fields over real servers: an old relay hands on what it cannot read.

``tests/evolution/v1/relay.idl`` and ``v2/relay.idl`` are one service before and
after its ``Parcel`` grew a message, a list and a map of messages and a binary
value. A server built from version 1 takes parcels from a version 2 client as a
parameter, a list element and a stream item, and sends them on as a result, a
field of another message, a stream item and a parameter to a version 2 backend:
the version 2 side gets every field back, while the version 1 handlers see only
the fields they know.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import server_thread
from generated_modules import import_file

import uvrpc
from uvrpc_gen.cli import main

EVOLUTION = Path(__file__).resolve().parents[1] / "evolution"
PAYLOAD = bytes(range(256)) * 1024  # 256 KiB: travels as an attachment frame


def generate_and_import(idl: Path, directory: Path, name: str) -> ModuleType:
    """Generate ``idl`` into ``directory`` and import it as the module ``name``
    (registered in ``sys.modules`` before it runs, for pydantic)."""
    assert main([str(idl), "-o", str(directory)]) == 0
    return import_file(directory / f"{idl.stem}.py", name)


@pytest.fixture(scope="module")
def versions(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ModuleType, ModuleType]]:
    """The generated relay modules of version 1 and version 2."""
    root = tmp_path_factory.mktemp("relay")
    old = generate_and_import(EVOLUTION / "v1" / "relay.idl", root / "v1", "relay_v1")
    try:
        new = generate_and_import(
            EVOLUTION / "v2" / "relay.idl", root / "v2", "relay_v2"
        )
    except BaseException:
        del sys.modules["relay_v1"]
        raise
    yield old, new
    del sys.modules["relay_v1"], sys.modules["relay_v2"]


@pytest.fixture
def v1(versions: tuple[ModuleType, ModuleType]) -> ModuleType:
    return versions[0]


@pytest.fixture
def v2(versions: tuple[ModuleType, ModuleType]) -> ModuleType:
    return versions[1]


def relay_server(module: ModuleType, seen: list[Any], backend: str = "") -> Any:
    """A ``RelayServer`` of ``module`` handing every parcel on as it came, and
    noting each parcel its handlers received in ``seen``."""

    class Relay(module.RelayServer):  # type: ignore[misc,name-defined]
        async def echo(self, *, parcel: Any) -> Any:
            seen.append(parcel)
            return parcel

        async def forward(self, *, parcel: Any) -> Any:
            seen.append(parcel)
            async with module.RelayClient(backend, timeout=10) as client:
                return await client.echo(parcel=parcel)

        async def wrap(self, *, parcel: Any, note: str) -> Any:
            seen.append(parcel)
            return module.Envelope(parcel=parcel, note=note)

        async def unpack(self, *, parcels: list[Any]) -> AsyncIterator[Any]:
            for parcel in parcels:
                seen.append(parcel)
                yield parcel

        async def gather(self, *, parcels: AsyncIterator[Any]) -> list[Any]:
            got = [parcel async for parcel in parcels]
            seen.extend(got)
            return got

        async def bounce(self, *, parcels: AsyncIterator[Any]) -> AsyncIterator[Any]:
            async for parcel in parcels:
                seen.append(parcel)
                yield parcel

    return Relay()


def full_parcel(v2: ModuleType, name: str = "p-1") -> Any:
    """A version 2 parcel with every field version 1 does not know set."""
    return v2.Parcel(
        id=name,
        label=v2.Label(text="fragile", marks=[1, 2]),
        history=[v2.Label(text="packed"), v2.Label(text="sent", marks=[3])],
        payload=PAYLOAD,
        tags={"to": v2.Label(text="Ada", marks=[4])},
    )


def assert_intact(parcel: Any, v2: ModuleType, name: str = "p-1") -> None:
    """``parcel`` is a version 2 parcel equal to :func:`full_parcel`."""
    assert type(parcel) is v2.Parcel
    assert parcel == full_parcel(v2, name)
    assert parcel.label == v2.Label(text="fragile", marks=[1, 2])
    assert [label.text for label in parcel.history] == ["packed", "sent"]
    assert bytes(parcel.payload) == PAYLOAD
    assert parcel.tags["to"].marks == [4]
    assert uvrpc.unknown_fields(parcel) == {}


def assert_old_view(parcel: Any, v1: ModuleType, name: str = "p-1") -> None:
    """``parcel`` is what a version 1 handler sees of :func:`full_parcel`: its
    own field, and the others kept aside, unread, by id."""
    assert type(parcel) is v1.Parcel
    assert parcel.model_dump() == {"id": name}
    assert not hasattr(parcel, "label")
    unknown = uvrpc.unknown_fields(parcel)
    assert sorted(unknown) == [2, 3, 4, 5]
    assert unknown[2] == {"1": "fragile", "2": [1, 2]}  # a message, as msgpack has it
    assert unknown[3] == [{"1": "packed", "2": []}, {"1": "sent", "2": [3]}]
    assert unknown[5] == {"to": {"1": "Ada", "2": [4]}}
    # The binary value is a view of the frame it arrived in, not a copy.
    assert isinstance(unknown[4], memoryview) and unknown[4].readonly
    assert unknown[4] == PAYLOAD


@pytest.fixture
def old_relay(v1: ModuleType) -> Iterator[tuple[str, list[Any]]]:
    seen: list[Any] = []
    with server_thread(relay_server(v1, seen)) as running:
        yield running.endpoint, seen


def test_an_old_server_sends_back_a_parameter_it_cannot_read(
    v1: ModuleType, v2: ModuleType, old_relay: tuple[str, list[Any]]
) -> None:
    endpoint, seen = old_relay
    with v2.RelaySyncClient(endpoint, timeout=10) as client:
        assert_intact(client.echo(parcel=full_parcel(v2)), v2)
    [parcel] = seen
    assert_old_view(parcel, v1)


def test_an_old_server_puts_it_in_a_message_of_its_own(
    v1: ModuleType, v2: ModuleType, old_relay: tuple[str, list[Any]]
) -> None:
    endpoint, seen = old_relay
    with v2.RelaySyncClient(endpoint, timeout=10) as client:
        envelope = client.wrap(parcel=full_parcel(v2), note="handle with care")
    assert type(envelope) is v2.Envelope
    assert envelope.note == "handle with care"
    assert_intact(envelope.parcel, v2)
    assert_old_view(seen[0], v1)


def test_an_old_server_streams_list_elements_back(
    v1: ModuleType, v2: ModuleType, old_relay: tuple[str, list[Any]]
) -> None:
    endpoint, seen = old_relay
    names = ["p-1", "p-2", "p-3"]
    with v2.RelaySyncClient(endpoint, timeout=10) as client:
        back = list(client.unpack(parcels=[full_parcel(v2, n) for n in names]))
    for parcel, name in zip(back, names, strict=True):
        assert_intact(parcel, v2, name)
    for parcel, name in zip(seen, names, strict=True):
        assert_old_view(parcel, v1, name)


def test_an_old_server_returns_streamed_items_as_a_list(
    v1: ModuleType, v2: ModuleType, old_relay: tuple[str, list[Any]]
) -> None:
    endpoint, seen = old_relay
    names = ["p-1", "p-2"]
    with v2.RelaySyncClient(endpoint, timeout=10) as client:
        back = client.gather(parcels=(full_parcel(v2, n) for n in names))
    for parcel, name in zip(back, names, strict=True):
        assert_intact(parcel, v2, name)
    for parcel, name in zip(seen, names, strict=True):
        assert_old_view(parcel, v1, name)


def test_an_old_server_bounces_streamed_items(
    v1: ModuleType, v2: ModuleType, old_relay: tuple[str, list[Any]]
) -> None:
    endpoint, seen = old_relay
    names = ["p-1", "p-2", "p-3"]
    with v2.RelaySyncClient(endpoint, timeout=10) as client:
        back = list(client.bounce(parcels=(full_parcel(v2, n) for n in names)))
    for parcel, name in zip(back, names, strict=True):
        assert_intact(parcel, v2, name)
    for parcel, name in zip(seen, names, strict=True):
        assert_old_view(parcel, v1, name)


def test_an_old_server_forwards_to_a_new_backend(
    v1: ModuleType, v2: ModuleType, tmp_path: Path
) -> None:
    """A new client, an old relay, a new backend: the backend's handler gets the
    whole parcel, and its answer comes back whole through the old relay."""
    at_backend: list[Any] = []
    at_relay: list[Any] = []
    with server_thread(relay_server(v2, at_backend)) as backend:
        relay = relay_server(v1, at_relay, backend.endpoint)
        with server_thread(relay, bind=f"ipc://{tmp_path / 'relay.sock'}") as old:
            with v2.RelaySyncClient(old.endpoint, timeout=10) as client:
                assert_intact(client.forward(parcel=full_parcel(v2)), v2)
    [received] = at_backend
    assert_intact(received, v2)
    [passed] = at_relay
    assert_old_view(passed, v1)
