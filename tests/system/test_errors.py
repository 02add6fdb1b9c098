"""Failures a caller must see as typed errors, while the server keeps serving."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from typing import Any, cast

import calculator
import pytest
from calculator import CalculatorClient, CalculatorSyncClient, Op, Program, Step
from calculator_server import Calculator
from conftest import RunningServer, server_thread

import uvrpc


class FaultyCalculator(Calculator):
    """The example calculator with a slow path and a deliberate error."""

    async def add(self, *, a: int, b: int) -> int:
        if a == -1:
            await asyncio.sleep(b / 1000)  # b milliseconds
        return await super().add(a=a, b=b)

    async def call_count(self) -> int:
        raise uvrpc.NotFound("no counter here", {"counter": "calls"})

    async def reset(self) -> None:
        wrong: Any = "not nothing"  # deliberately not the declared None
        return wrong  # type: ignore[no-any-return]


@pytest.fixture
def server() -> Iterator[RunningServer]:
    with server_thread(FaultyCalculator()) as running:
        yield running


def call(endpoint: str, method: uvrpc.Unary[Any, Any], args: dict[str, Any]) -> Any:
    """Call ``method`` with hand-made (possibly wrong) wire arguments."""

    async def main() -> Any:
        async with uvrpc.Channel(endpoint) as channel:
            return await channel.call(method, args, 10)

    return asyncio.run(main())


def test_deadline_exceeded_async(server: RunningServer) -> None:
    async def main() -> None:
        async with CalculatorClient(server.endpoint) as calc:
            started = time.monotonic()
            with pytest.raises(uvrpc.DeadlineExceeded) as caught:
                await calc.add(a=-1, b=2000, timeout=0.1)
            assert time.monotonic() - started < 1.5
            # The message names the time the call had: 0.1 s, or what was left
            # of it when its request went, had it waited for the connection.
            found = re.search(r"within (\d+(?:\.\d+)?) s", caught.value.message)
            assert found is not None, caught.value.message
            assert 0 < float(found.group(1)) <= 0.1
            assert calc.channel.pending == 0
            # The channel still works, and other calls were never held up.
            assert await calc.add(a=1, b=2, timeout=10) == 3

    asyncio.run(main())


def test_deadline_exceeded_sync_skips_the_late_reply(server: RunningServer) -> None:
    with CalculatorSyncClient(server.endpoint) as calc:
        with pytest.raises(uvrpc.DeadlineExceeded) as first:
            calc.add(a=-1, b=300, timeout=0.05)
        # The server's deadline and the client's CANCEL race: the server either
        # answered DEADLINE_EXCEEDED (a late reply, skipped) or cancelled quietly.
        # Wait until the first call is over there and its late reply, if any, has
        # gone out: a reply parked for room could otherwise follow the next one.
        stats = server.stats
        waited = time.monotonic() + 10
        while stats.expired + stats.cancelled == 0 or stats.replied < stats.expired:
            assert time.monotonic() < waited, stats
            time.sleep(0.01)
        assert calc.add(a=20, b=22, timeout=10) == 42
        assert stats.expired + stats.cancelled == 1
        # The server's DEADLINE_EXCEEDED may also come just before the client's
        # own deadline: then it answered the call (its message says whose deadline
        # it was) and is not late. Every other one was skipped.
        answered = "(the server's deadline)" in first.value.message
        assert calc.channel.dropped_replies == stats.expired - answered


def test_no_server_is_a_deadline_not_a_hang() -> None:
    endpoint = "ipc:///nonexistent-dir-for-uvrpc/nobody.sock"

    async def main() -> None:
        async with CalculatorClient(endpoint) as calc:
            with pytest.raises(uvrpc.DeadlineExceeded):
                await calc.add(a=1, b=2, timeout=0.1)

    asyncio.run(main())
    with CalculatorSyncClient(endpoint) as sync_calc:
        with pytest.raises(uvrpc.DeadlineExceeded):
            sync_calc.add(a=1, b=2, timeout=0.1)


def test_handler_exception_is_a_remote_error(server: RunningServer) -> None:
    with CalculatorSyncClient(server.endpoint, timeout=10) as calc:
        with pytest.raises(uvrpc.RemoteError) as caught:
            calc.divide(a=1, b=0)
        assert caught.value.status is uvrpc.Status.UNKNOWN
        assert caught.value.message == (
            "ZeroDivisionError: integer division or modulo by zero"
        )
        assert "Traceback" not in str(caught.value)
        assert calc.divide(a=9, b=3) == 3


def test_handler_rpc_error_keeps_its_class_and_details(server: RunningServer) -> None:
    with CalculatorSyncClient(server.endpoint, timeout=10) as calc:
        with pytest.raises(uvrpc.NotFound) as caught:
            calc.call_count()
    assert caught.value.status is uvrpc.Status.NOT_FOUND
    assert caught.value.message == "no counter here"
    assert caught.value.details == {"counter": "calls"}


def test_reply_of_the_wrong_type_is_an_internal_error(server: RunningServer) -> None:
    with CalculatorSyncClient(server.endpoint, timeout=10) as calc:
        with pytest.raises(uvrpc.InternalError, match="does not match its declared"):
            calc.reset()


def test_unknown_method_and_service(server: RunningServer) -> None:
    params = calculator._CalculatorResetParams
    unknown_method = uvrpc.Unary[Any, None](
        route="calculator.Calculator.nope", handler="nope", params=params, reply=None
    )
    with pytest.raises(uvrpc.Unimplemented, match="unknown method 'calculator.Calc"):
        call(server.endpoint, unknown_method, {})
    unknown_service = uvrpc.Unary[Any, None](
        route="other.Thing.do", handler="do", params=params, reply=None
    )
    with pytest.raises(uvrpc.Unimplemented) as caught:
        call(server.endpoint, unknown_service, {})
    assert caught.value.message == (
        "unknown service 'other.Thing' (method 'other.Thing.do'); "
        "this server serves calculator.Calculator, uvrpc.Health, uvrpc.Reflection"
    )


ADD = calculator._CALCULATOR_ADD
RUN = calculator._CALCULATOR_RUN


@pytest.mark.parametrize(
    ("method", "args", "field_path", "message"),
    [
        (ADD, {"1": "1", "2": 2}, "a", "Input should be a valid integer"),
        (ADD, {"1": True, "2": 2}, "a", "Input should be a valid integer"),
        (ADD, {"1": 1, "2": 2**63}, "b", "less than or equal to 9223372036854775807"),
        (ADD, {"1": 1}, "b", "Field required"),
        (ADD, {"1": 1.5, "2": 2}, "a", "Input should be a valid integer"),
        (
            RUN,
            {"1": {"2": [{"1": 9, "2": 1.0}]}},
            "program.steps.0.op",
            "Input should be",
        ),
        # An enum takes an integer that is a member's value, and not True (which
        # Python holds equal to 1, ADD) or 4.0 (equal to 4, DIV).
        (
            RUN,
            {"1": {"2": [{"1": True, "2": 1.0}]}},
            "program.steps.0.op",
            "Input should be a valid integer",
        ),
        (
            RUN,
            {"1": {"2": [{"1": 1, "2": 1.0}, {"1": 4.0, "2": 1.0}]}},
            "program.steps.1.op",
            "Input should be a valid integer",
        ),
        (RUN, {"1": {"3": {"k": "v"}}}, "program.labels.k", "valid integer"),
        (
            RUN,
            {"1": {"1": b"bytes"}},
            "program.start",
            "Input should be a valid number",
        ),
        (RUN, {"1": []}, "program", "valid dictionary"),
    ],
)
def test_bad_arguments_name_the_field(
    server: RunningServer,
    method: uvrpc.Unary[Any, Any],
    args: dict[str, Any],
    field_path: str,
    message: str,
) -> None:
    with pytest.raises(uvrpc.InvalidArgument) as caught:
        call(server.endpoint, method, args)
    error = caught.value
    assert error.status is uvrpc.Status.INVALID_ARGUMENT
    assert error.field_path == field_path
    assert error.message.startswith(
        f"invalid argument '{field_path}' of {method.route}"
    )
    assert message in error.message
    assert error.details["errors"][0]["field_path"] == field_path
    # The server is unharmed.
    with CalculatorSyncClient(server.endpoint, timeout=10) as calc:
        assert calc.add(a=1, b=1) == 2


def test_unencodable_argument_fails_before_sending(server: RunningServer) -> None:
    with CalculatorSyncClient(server.endpoint, timeout=10) as calc:
        with pytest.raises(uvrpc.InvalidArgument, match="type object"):
            calc.add(a=cast(Any, object()), b=1)  # deliberately not an int
    assert server.stats.received == 0


def test_messages_validate_on_construction() -> None:
    with pytest.raises(ValueError, match="op"):
        Step(op=cast(Any, 7), operand=1.0)  # deliberately not an Op
    step = Step(op=Op.ADD, operand=1)
    assert step.operand == 1.0 and isinstance(step.operand, float)
    assert Program(steps=[step]).model_dump() == {
        "start": 0.0,
        "steps": [{"op": Op.ADD, "operand": 1.0, "note": None}],
        "labels": {},
    }
    assert Program(steps=[step]).model_dump(by_alias=True) == {  # the wire's keys
        "1": 0.0,
        "2": [{"1": Op.ADD, "2": 1.0, "3": None}],
        "3": {},
    }


def test_sync_calls_to_a_missing_server_never_block_past_their_deadline() -> None:
    """Nothing is queued for a missing server: a call waits for a connection
    until its deadline or the channel's connect timeout, whichever comes first,
    and then fails at once."""
    endpoint = "ipc:///nonexistent-dir-for-uvrpc/nobody.sock"
    with uvrpc.SyncChannel(endpoint, connect_timeout=0.2) as channel:
        calc = CalculatorSyncClient(channel)
        for _ in range(1100):  # more requests than the 1,000 a socket would queue
            with pytest.raises((uvrpc.DeadlineExceeded, uvrpc.Unavailable)):
                calc.add(a=1, b=2, timeout=0.001)
        with pytest.raises(uvrpc.Unavailable, match="no connection to ipc://"):
            calc.add(a=1, b=2, timeout=60)


def test_async_calls_past_the_high_water_mark_end_at_their_deadline() -> None:
    endpoint = "ipc:///nonexistent-dir-for-uvrpc/nobody.sock"

    async def main() -> None:
        # No fail-fast within the test: on a loaded host making 1,100 calls can
        # take longer than the default connect timeout (1 s), after which the
        # rest fail UNAVAILABLE at once, a rule of its own tested above.
        async with (
            uvrpc.Channel(endpoint, connect_timeout=60) as channel,
            CalculatorClient(channel) as calc,
        ):
            calls = [calc.add(a=1, b=2, timeout=0.05) for _ in range(1100)]
            outcomes = await asyncio.gather(*calls, return_exceptions=True)
            kinds = {type(o).__name__ for o in outcomes}
            assert kinds == {"DeadlineExceeded"}, kinds
            assert calc.channel.pending == 0

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "status", [s for s in uvrpc.Status if s != uvrpc.Status.OK], ids=lambda s: s.name
)
def test_every_status_round_trips_through_its_class(status: uvrpc.Status) -> None:
    from uvrpc.calls import error_from_body
    from uvrpc.codec import unpack
    from uvrpc.errors import error_for_status
    from uvrpc.protocol import encode_error_body

    error = error_for_status(status, "why", {"k": 1})
    assert error.status == status and type(error).status_code == status
    assert (error.message, error.details) == ("why", {"k": 1})
    assert type(error) is not uvrpc.RpcError
    # And over the wire: the body a server sends decodes to the same class.
    body = unpack(encode_error_body(error), [])
    again = error_from_body(calculator._CALCULATOR_ADD, int(status), body)
    assert type(again) is type(error)
    assert (again.status, again.message, again.details) == (status, "why", {"k": 1})


def test_an_unknown_status_is_a_remote_error_keeping_its_number() -> None:
    from uvrpc.errors import error_for_status

    error = error_for_status(17, "later")  # a status gRPC may add one day
    assert isinstance(error, uvrpc.RemoteError)
    assert error.message == "status 17: later"


_GRPC_LATE = {
    uvrpc.AlreadyExists: 6,
    uvrpc.Aborted: 10,
    uvrpc.OutOfRange: 11,
    uvrpc.DataLoss: 15,
}


@pytest.mark.parametrize("cls", list(_GRPC_LATE), ids=lambda c: c.__name__)
def test_a_handler_raising_a_late_grpc_status_gives_the_caller_its_class(
    cls: type[uvrpc.RpcError],
) -> None:
    """ALREADY_EXISTS, ABORTED, OUT_OF_RANGE and DATA_LOSS have gRPC's numbers
    and cross a real socket as their own classes, to both clients."""

    class Raising(Calculator):
        async def add(self, *, a: int, b: int) -> int:
            raise cls("it happened", {"a": a})

    assert int(cls.status_code) == _GRPC_LATE[cls]
    assert uvrpc.Status[cls.status_code.name] is cls.status_code
    with server_thread(Raising()) as running:

        async def main() -> uvrpc.RpcError:
            async with CalculatorClient(running.endpoint) as calc:
                with pytest.raises(cls) as caught:
                    await calc.add(a=1, b=2, timeout=10)
            return caught.value

        error = asyncio.run(main())
        assert (error.status, error.message, error.details) == (
            cls.status_code,
            "it happened",
            {"a": 1},
        )
        with CalculatorSyncClient(running.endpoint) as calc:
            with pytest.raises(cls):
                calc.add(a=1, b=2, timeout=10)
