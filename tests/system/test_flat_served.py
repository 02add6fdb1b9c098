"""A method of flat parameters through a real server: the handler gets the
keyword arguments the parameters model would give it, value for value and type
for type, and a bad value gets the ``INVALID_ARGUMENT`` it always got."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
from conftest import RunningServer, server_thread
from golden.all_types import Color

import uvrpc
from uvrpc import types as _t


class _FlatCallParams(uvrpc.Message):
    model_config = uvrpc.field_ids(
        flag=1, medium=2, single=3, text=4, blob=5, color=6, maybe=7, count=8
    )

    flag: _t.Bool
    medium: _t.I32
    single: _t.Float
    text: _t.String
    blob: _t.Bytes
    color: Color
    maybe: _t.I64 | None = None
    count: _t.I16 = 7


_CALL: uvrpc.Unary[_FlatCallParams, None] = uvrpc.Unary(
    route="flat.Flat.call", handler="call", params=_FlatCallParams, reply=None
)
_FLAT = uvrpc.ServiceSpec(name="flat.Flat", methods=(_CALL,))


class Flat(uvrpc.ServiceBase):
    """Keeps the keyword arguments of every call."""

    uvrpc_service = _FLAT

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def call(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


class FlatSyncClient(uvrpc.SyncClient):
    """Sends whatever it is given, unchecked, as a peer may."""

    def call(self, *values: Any) -> None:
        self._call(_CALL, values, None)


@pytest.fixture
def flat() -> Iterator[tuple[Flat, RunningServer]]:
    service = Flat()
    with server_thread(service) as server:
        yield service, server


GOOD = (True, -(2**31), 2**53, "\u65e5", b"\x00\xff" * 40, -2, None, 7)


def test_the_handler_gets_the_models_keyword_arguments(
    flat: tuple[Flat, RunningServer],
) -> None:
    service, server = flat
    with FlatSyncClient(server.endpoint, timeout=10) as client:
        client.call(*GOOD)
        client.call(False, 2**31 - 1, math.inf, "", b"", 16, -(2**63), -1)
    # What the model makes of the same requests, as the server read them before.
    expected = [
        _FlatCallParams.model_validate(_CALL.wire_args(values)).__dict__
        for values in (GOOD, (False, 2**31 - 1, math.inf, "", b"", 16, -(2**63), -1))
    ]
    assert service.calls == expected
    for got, want in zip(service.calls, expected, strict=True):
        assert {k: type(v) for k, v in got.items()} == {
            k: type(v) for k, v in want.items()
        }
        assert got["blob"].readonly and got["color"] is want["color"]
    assert service.calls[0]["single"] == float(2**53)
    # The server read them without the model.
    assert _CALL.read_kwargs != _CALL.read_kwargs_by_model


@pytest.mark.parametrize(
    ("index", "value"),
    [(0, 1), (1, 2**31), (2, 1e39), (3, b"x"), (4, "x"), (5, 4), (5, True), (7, 2**15)],
)
def test_a_bad_value_gets_the_same_error_as_before(
    flat: tuple[Flat, RunningServer], index: int, value: Any
) -> None:
    service, server = flat
    values = list(GOOD)
    values[index] = value
    body = msgpack.packb(_CALL.wire_args(tuple(values)), use_bin_type=True)
    with pytest.raises(uvrpc.InvalidArgument) as before:
        _CALL.read_params(body, ())  # the model's reading, as the server's was
    with FlatSyncClient(server.endpoint, timeout=10) as client:
        with pytest.raises(uvrpc.InvalidArgument) as caught:
            client.call(*values)
    assert str(caught.value) == str(before.value)
    assert (
        caught.value.details["field_path"] == list(_FlatCallParams.model_fields)[index]
    )
    assert caught.value.details == before.value.details
    assert service.calls == []
