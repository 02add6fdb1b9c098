"""``uvrpc.testing.sync_memory_channel``: the blocking clients against handlers
served in the same process, through the real codec and validation."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import calculator
import pytest
from calculator import CalculatorClient, CalculatorSyncClient, Op, Program, Step
from calculator_server import Calculator

import uvrpc
import uvrpc.testing
from uvrpc.testing import ServedSyncChannel, sync_memory_channel


def test_a_blocking_client_calls_the_handlers() -> None:
    service = Calculator()
    with sync_memory_channel(service) as channel:
        assert isinstance(channel, uvrpc.SyncChannel)
        calc = CalculatorSyncClient(channel, timeout=10.0)
        assert calc.add(a=40, b=2) == 42
        program = Program(steps=[Step(op=Op.ADD, operand=4.0)])
        assert calc.run(program=program).value == 4.0
    assert service.calls == 2


def test_errors_are_the_ones_a_real_client_sees() -> None:
    with sync_memory_channel(Calculator()) as channel:
        calc = CalculatorSyncClient(channel, timeout=10.0)
        with pytest.raises(uvrpc.RemoteError, match="ZeroDivisionError"):
            calc.divide(a=1, b=0)
        add: uvrpc.Unary[Any, int] = calculator._CALCULATOR_ADD
        with pytest.raises(uvrpc.InvalidArgument) as caught:
            channel.call(add, {"1": "one", "2": 2}, 10.0)
        assert caught.value.field_path == "a"


def test_closing_stops_the_server_and_its_thread() -> None:
    before = set(threading.enumerate())
    channel = sync_memory_channel(Calculator())
    (served,) = set(threading.enumerate()) - before
    assert served.name == f"uvrpc server {channel.endpoint}"
    assert CalculatorSyncClient(channel, timeout=10.0).add(a=1, b=2) == 3
    channel.close()
    assert not served.is_alive()
    channel.close()  # twice is harmless


def test_channels_do_not_share_servers() -> None:
    first, second = Calculator(), Calculator()
    with sync_memory_channel(first) as one, sync_memory_channel(second) as two:
        assert one.endpoint != two.endpoint
        CalculatorSyncClient(one, timeout=10.0).add(a=1, b=1)
        assert (first.calls, second.calls) == (1, 0)


def test_a_service_the_server_refuses_fails_in_the_callers_thread() -> None:
    before = set(threading.enumerate())
    # Two services of one name: the server refuses them when it is made.
    with pytest.raises(ValueError, match="calculator.Calculator"):
        ServedSyncChannel(Calculator(), Calculator())
    assert set(threading.enumerate()) == before


def test_it_is_reachable_from_the_package_as_the_readme_writes_it() -> None:
    with uvrpc.testing.sync_memory_channel(Calculator()) as channel:
        assert CalculatorSyncClient(channel, timeout=10.0).add(a=2, b=3) == 5


def test_interceptors_run_on_both_sides() -> None:
    seen: list[str] = []

    class OnServer:
        async def intercept_server(
            self, call: uvrpc.ServerCallInfo, proceed: Any
        ) -> Any:
            seen.append(f"server {call.route}")
            return await proceed()

    class OnClient:
        def intercept_sync(self, call: uvrpc.ClientCallInfo, proceed: Any) -> Any:
            seen.append(f"client {call.route}")
            return proceed()

    with sync_memory_channel(
        Calculator(), interceptors=[OnClient()], server_interceptors=[OnServer()]
    ) as channel:
        assert CalculatorSyncClient(channel, timeout=10.0).add(a=1, b=2) == 3
    route = "calculator.Calculator.add"
    assert seen == [f"client {route}", f"server {route}"]


def test_a_channel_of_the_other_kind_is_refused_by_name() -> None:
    async def give_a_blocking_client_an_asyncio_channel() -> None:
        async with uvrpc.testing.memory_channel(Calculator()) as channel:
            CalculatorSyncClient(channel)  # type: ignore[arg-type]

    with pytest.raises(TypeError, match=r"sync_memory_channel\(\.\.\.\)"):
        asyncio.run(give_a_blocking_client_an_asyncio_channel())
    with sync_memory_channel(Calculator()) as sync_channel:
        with pytest.raises(TypeError, match="not a SyncChannel"):
            CalculatorClient(sync_channel)  # type: ignore[arg-type]
