"""Fail fast: a call to a server that is down, never started or unreachable fails
with UNAVAILABLE within the channel's connect timeout, not at its deadline or never;
``wait_for_ready`` keeps the waiting; a blocking call notices its server dying; a
malformed endpoint is refused in words; closing a channel delivers the oneway calls
it already sent.
"""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import zmq
from calculator import CalculatorClient, CalculatorSyncClient
from calculator_server import Calculator
from conftest import server_thread
from feed import FeedClient, FeedSyncClient, Tick
from feed_server import Feed

import uvrpc

HERE = Path(__file__).resolve().parents[1]
NO_WAIT = 0.2
"""The connect timeout of the channels here: short, so tests stay short."""


def nobody(tmp_path: Path) -> str:
    """An endpoint where no server listens."""
    return f"ipc://{tmp_path / 'nobody.sock'}"


def run(main: object, limit: float = 30) -> None:
    asyncio.run(asyncio.wait_for(main, limit))  # type: ignore[arg-type]


# --- a server that is not there ----------------------------------------------


def test_an_async_call_to_a_missing_server_fails_unavailable_naming_it(
    tmp_path: Path,
) -> None:
    endpoint = nobody(tmp_path)

    async def main() -> None:
        channel = uvrpc.Channel(endpoint, connect_timeout=NO_WAIT)
        async with CalculatorClient(channel, timeout=60) as calc:
            # The first call waits out the connect timeout, not its 60 s.
            with pytest.raises(uvrpc.Unavailable, match="no connection to ipc://"):
                await calc.add(a=1, b=2)
            # Later ones fail at once: nothing is even registered.
            with pytest.raises(uvrpc.Unavailable, match="nobody.sock"):
                await calc.add(a=1, b=2)
            with pytest.raises(uvrpc.Unavailable):
                await calc.start_add(a=1, b=2)
            with pytest.raises(uvrpc.Unavailable):
                await FeedClient(channel).notify(text="lost")  # oneway
            with pytest.raises(uvrpc.Unavailable):
                async for _ in FeedClient(channel).numbers(count=1):
                    pass
            assert channel.pending == 0 and channel.streaming == 0
        await channel.close()

    run(main())


def test_a_blocking_call_to_a_missing_server_fails_unavailable(tmp_path: Path) -> None:
    endpoint = nobody(tmp_path)
    with uvrpc.SyncChannel(endpoint, connect_timeout=NO_WAIT) as channel:
        calc = CalculatorSyncClient(channel, timeout=60)
        with pytest.raises(uvrpc.Unavailable, match="no connection to ipc://"):
            calc.add(a=1, b=2)
        with pytest.raises(uvrpc.Unavailable):
            calc.add(a=1, b=2)
        with pytest.raises(uvrpc.Unavailable):
            FeedSyncClient(channel).notify(text="lost")
        with pytest.raises(uvrpc.Unavailable):
            list(FeedSyncClient(channel).numbers(count=1))


def test_calls_waiting_for_ready_wait_until_their_deadline(tmp_path: Path) -> None:
    endpoint = nobody(tmp_path)

    async def main() -> None:
        async with uvrpc.Channel(endpoint, connect_timeout=0) as channel:
            c = CalculatorClient(channel)
            with pytest.raises(uvrpc.DeadlineExceeded):
                await c.add(a=1, b=2, timeout=0.2, wait_for_ready=True)
            with pytest.raises(uvrpc.DeadlineExceeded):
                await c.start_add(a=1, b=2, timeout=0.2, wait_for_ready=True)
        waiting = uvrpc.Channel(endpoint, connect_timeout=0, wait_for_ready=True)
        async with waiting:
            c = CalculatorClient(waiting)
            with pytest.raises(uvrpc.DeadlineExceeded):
                await c.add(a=1, b=2, timeout=0.2)
            # A call's own choice wins over the channel's.
            with pytest.raises(uvrpc.Unavailable):
                await c.add(a=1, b=2, timeout=60, wait_for_ready=False)

    run(main())
    with uvrpc.SyncChannel(endpoint, connect_timeout=0) as sync:
        s = CalculatorSyncClient(sync)
        with pytest.raises(uvrpc.DeadlineExceeded):
            s.add(a=1, b=2, timeout=0.2, wait_for_ready=True)
        with pytest.raises(uvrpc.Unavailable):
            s.add(a=1, b=2, timeout=60)
    with uvrpc.SyncChannel(endpoint, connect_timeout=0, wait_for_ready=True) as sync:
        with pytest.raises(uvrpc.DeadlineExceeded):
            CalculatorSyncClient(sync).add(a=1, b=2, timeout=0.2)


def test_a_call_waiting_for_ready_goes_out_once_the_server_comes(
    tmp_path: Path,
) -> None:
    endpoint = f"ipc://{tmp_path / 'late.sock'}"

    async def main() -> None:
        async with uvrpc.Channel(
            endpoint, connect_timeout=0, wait_for_ready=True
        ) as channel:
            calc = CalculatorClient(channel, timeout=30)
            pending = asyncio.ensure_future(calc.add(a=40, b=2))
            await asyncio.sleep(0.05)
            assert not pending.done()
            async with uvrpc.Server(Calculator()) as server:
                server.bind(endpoint)
                assert await pending == 42

    run(main())


def test_the_connect_timeout_is_counted_again_after_a_drop(tmp_path: Path) -> None:
    """A call made just after the server went away waits for it as long as a
    fresh channel would, then fails; one made after that fails at once."""
    endpoint = f"ipc://{tmp_path / 'gone.sock'}"

    async def main() -> None:
        async with uvrpc.Channel(endpoint, connect_timeout=NO_WAIT) as channel:
            calc = CalculatorClient(channel, timeout=60)
            async with uvrpc.Server(Calculator()) as server:
                server.bind(endpoint)
                assert await calc.add(a=1, b=1) == 2
            with pytest.raises(uvrpc.Unavailable):
                await calc.add(a=1, b=2)
            with pytest.raises(uvrpc.Unavailable, match="no connection"):
                await calc.add(a=1, b=2)

    run(main())


# --- a server that dies under a blocking call --------------------------------


def test_a_blocking_call_without_a_deadline_fails_when_its_server_dies(
    tmp_path: Path,
) -> None:
    """As the asyncio channel does, the blocking one watches its connection: a
    call with no deadline does not wait for ever on a server that is gone."""
    outcome: list[BaseException] = []
    done = threading.Event()
    with server_thread(Feed(), bind=f"ipc://{tmp_path / 'feed.sock'}") as running:
        channel = uvrpc.SyncChannel(running.endpoint)
        client = FeedSyncClient(channel)
        assert client.ping(n=1) == 1

        def call() -> None:
            try:
                client.ping(n=-600)  # answered after a minute
            except BaseException as exc:
                outcome.append(exc)
            finally:
                done.set()

        thread = threading.Thread(target=call, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while running.stats.received < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert running.stats.received == 2
    # The server is closed: its connection dropped.
    assert done.wait(20), "the blocking call still waits on a dead server"
    thread.join(10)
    channel.close()
    assert len(outcome) == 1 and isinstance(outcome[0], uvrpc.Unavailable)
    assert "dropped" in str(outcome[0])


def test_a_blocking_stream_fails_once_it_read_what_its_dead_server_sent(
    tmp_path: Path,
) -> None:
    """The items a server sent before it went are read, then the stream fails
    as its connection dropped. The credit the reader owed for them waited for
    a new connection instead: until the deadline (DEADLINE_EXCEEDED, "could not
    be sent"), and for ever without one."""
    with server_thread(Feed(), bind=f"ipc://{tmp_path / 'feed.sock'}") as running:
        channel = uvrpc.SyncChannel(running.endpoint)
        numbers = FeedSyncClient(channel, timeout=15).numbers(count=1_000_000)
        assert next(numbers) == 0
        time.sleep(0.3)  # the server fills the window, then waits for credit
    # The server is closed: its connection dropped.
    read = 0
    began = time.monotonic()
    with pytest.raises(uvrpc.Unavailable, match="connection dropped during"):
        for _ in numbers:
            read += 1
    assert time.monotonic() - began < 5
    assert read > 0
    channel.close()


def test_a_blocking_bidi_stream_fails_as_its_server_dies_while_it_sends(
    tmp_path: Path,
) -> None:
    """Its items, sent on a channel that waits for ready, waited for a new
    connection once the server was gone, as a call not sent yet does: until the
    deadline (DEADLINE_EXCEEDED, "could not be sent"), and for ever without one.
    Sent on an open call, they cannot reach it on another connection."""
    with server_thread(Feed(), bind=f"ipc://{tmp_path / 'feed.sock'}") as running:
        channel = uvrpc.SyncChannel(running.endpoint, wait_for_ready=True)
        ticks = (Tick(seq=n) for n in range(1_000_000))
        echoed = FeedSyncClient(channel, timeout=15).echo(ticks=ticks)
        assert next(echoed).seq == 0
        time.sleep(0.3)  # the window fills both ways
    # The server is closed: its connection dropped.
    began = time.monotonic()
    with pytest.raises(uvrpc.Unavailable, match="connection dropped during"):
        for _ in echoed:
            pass
    assert time.monotonic() - began < 5
    channel.close()


# --- malformed endpoints ------------------------------------------------------

MALFORMED = [
    ("tcp://nohost", "needs a port"),
    ("bogus", "transport://address"),
    ("tcp://127.0.0.1:notaport", "port 'notaport'"),
    ("tcp://127.0.0.1:70000", "port '70000'"),
    ("tcp://:5555", "no host"),
    ("ipc://", "nothing after"),
    ("udp://127.0.0.1:5555", "not supported"),
]


@pytest.mark.parametrize(("endpoint", "why"), MALFORMED)
def test_a_malformed_endpoint_is_refused_in_words(endpoint: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as caught:
        uvrpc.Channel(endpoint)
    assert repr(endpoint) in str(caught.value)
    with pytest.raises(ValueError, match=why):
        uvrpc.SyncChannel(endpoint)

    async def main() -> None:
        async with uvrpc.Server(Calculator()) as server:
            with pytest.raises(ValueError, match=why):
                server.bind(endpoint)
            with pytest.raises(ValueError, match=why):
                server.connect(endpoint)

    run(main())


def test_the_cli_says_what_is_wrong_with_an_endpoint_in_one_line() -> None:
    for command in (
        ["call", "tcp://127.0.0.1:notaport", "calculator.Calculator/add", "{}"],
        ["serve", "calculator_server:Calculator", "--bind", "tcp://nohost"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "uvrpc", *command],
            cwd=HERE.parent / "examples" / "calculator",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "bad endpoint" in lines[0], result.stderr
        assert "Traceback" not in result.stderr


# --- oneway calls on close ------------------------------------------------------

SENDER = """
import asyncio, sys
sys.path.insert(0, {tests!r})
import uvrpc
from feed import FeedClient, FeedSyncClient

endpoint, kind = sys.argv[1], sys.argv[2]
padding = "x" * 100_000  # 10 MB in all: more than the kernel's buffers take at once
if kind == "sync":
    with FeedSyncClient(endpoint) as client:
        for i in range(100):
            client.notify(text=f"{{i}}:{{padding}}")
else:
    async def main():
        async with FeedClient(endpoint) as client:
            for i in range(100):
                await client.notify(text=f"{{i}}:{{padding}}")
    asyncio.run(main())
"""


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_oneway_calls_sent_just_before_close_are_delivered(
    tmp_path: Path, kind: str
) -> None:
    """A process sends 100 oneway calls, closes its channel at once and exits:
    the server gets all of them."""
    service = Feed()
    with server_thread(service) as running:
        code = SENDER.format(tests=str(HERE))
        result = subprocess.run(
            [sys.executable, "-c", code, running.endpoint, kind],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        deadline = time.monotonic() + 10
        while len(service.notes) < 100 and time.monotonic() < deadline:
            time.sleep(0.01)
        received = sorted(int(note.partition(":")[0]) for note in service.notes)
        assert received == list(range(100))


def test_closing_a_channel_whose_server_is_gone_returns(tmp_path: Path) -> None:
    """Close is bounded by the linger: nothing waits for a server that is gone."""
    endpoint = f"ipc://{tmp_path / 'feed.sock'}"

    async def main() -> None:
        channel = uvrpc.Channel(endpoint, linger=5)
        client = FeedClient(channel)
        async with uvrpc.Server(Feed()) as server:
            server.bind(endpoint)
            await client.notify(text="one")
        await asyncio.wait_for(channel.close(), 10)

    run(main())
    uvrpc.SyncChannel(nobody(tmp_path), linger=5, connect_timeout=0).close()


def test_a_channel_lingers_no_longer_than_asked() -> None:
    """A server that reads nothing leaves requests queued: close gives up on them
    after the linger, it does not wait for ever."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    sink: zmq.Socket[bytes] = context.socket(zmq.ROUTER)
    sink.setsockopt(zmq.RCVHWM, 1)
    sink.setsockopt(zmq.RCVBUF, 4096)
    sink.bind("tcp://127.0.0.1:*")
    endpoint = sink.getsockopt_string(zmq.LAST_ENDPOINT)
    try:

        async def main() -> None:
            channel = uvrpc.Channel(endpoint, linger=0.2)
            assert await channel.ready(10)
            client = FeedClient(channel)
            payload = "x" * 100_000
            for _ in range(200):  # more than the sink and the kernel take
                try:
                    await asyncio.wait_for(client.notify(text=payload), 0.05)
                except (TimeoutError, uvrpc.DeadlineExceeded):
                    break
            await asyncio.wait_for(channel.close(), 10)

        run(main())
    finally:
        sink.close(linger=0)


@pytest.mark.parametrize("target", [42, None, b"tcp://127.0.0.1:5555", [42]])
def test_a_target_that_is_no_endpoint_is_refused_as_the_client_is_made(
    target: object,
) -> None:
    """Not at the first call, as an AttributeError of the channel's insides."""
    with pytest.raises(TypeError, match=r"an endpoint \(tcp://") as caught:
        CalculatorClient(target)  # type: ignore[arg-type]
    assert f"({type(target).__name__})" in str(caught.value)
    if not isinstance(target, list):  # the blocking client takes one endpoint
        with pytest.raises(TypeError, match="an endpoint is a str"):
            CalculatorSyncClient(target)  # type: ignore[arg-type]


def test_port_0_binds_a_free_port_and_is_refused_to_connect_to() -> None:
    """Bound, ``tcp://host:0`` is a free port, as ``*`` is (and as gRPC and
    sockets take it); connected to, it is no port at all."""

    async def main() -> None:
        async with uvrpc.Server(Calculator()) as server:
            endpoint = server.bind("tcp://127.0.0.1:0")
            assert endpoint.startswith("tcp://127.0.0.1:")
            assert int(endpoint.rpartition(":")[2]) > 0
            async with CalculatorClient(endpoint) as client:
                assert await client.add(a=1, b=2, timeout=10) == 3
            with pytest.raises(ValueError, match="a number from 0 to 65535 or \\*"):
                server.bind("tcp://127.0.0.1:65536")

    run(main())
    with pytest.raises(ValueError, match="port '0' is not a number from 1 to 65535"):
        uvrpc.Channel("tcp://127.0.0.1:0")


def test_the_connect_timeout_counts_from_the_first_use_or_the_making(
    tmp_path: Path,
) -> None:
    """An asyncio channel connects when first used, so its first call waits out
    the connect timeout however long ago the channel was made; a blocking one
    connects as it is made, so a call made after the timeout fails at once."""
    endpoint = nobody(tmp_path)

    async def main() -> None:
        async with uvrpc.Channel(endpoint, connect_timeout=NO_WAIT) as channel:
            await asyncio.sleep(2 * NO_WAIT)
            started = time.monotonic()
            with pytest.raises(uvrpc.Unavailable, match="no connection"):
                await CalculatorClient(channel, timeout=60).add(a=1, b=2)
            assert time.monotonic() - started >= NO_WAIT * 0.9

    run(main())
    with uvrpc.SyncChannel(endpoint, connect_timeout=NO_WAIT) as channel:
        time.sleep(2 * NO_WAIT)
        started = time.monotonic()
        with pytest.raises(uvrpc.Unavailable, match="no connection"):
            CalculatorSyncClient(channel, timeout=60).add(a=1, b=2)
        assert time.monotonic() - started < NO_WAIT / 2


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("linger", math.inf),  # close() raised OverflowError, its socket left open
        ("linger", math.nan),
        ("linger", -1),
        ("linger", True),
        ("connect_timeout", math.nan),  # calls failed "for nan s" at once
        ("connect_timeout", -1),
        ("connect_timeout", "1"),  # a TypeError from a comparison
    ],
)
def test_a_wait_that_is_no_number_of_seconds_is_refused_as_the_channel_is_made(
    option: str, value: object
) -> None:
    refused = f"{option} must be a finite number of seconds"
    for make in (uvrpc.Channel, uvrpc.SyncChannel):
        with pytest.raises(ValueError, match=refused):
            make("tcp://127.0.0.1:9", **{option: value})  # type: ignore[arg-type]


def test_an_infinite_linger_given_to_close_is_refused_and_the_channel_stays_open(
    tmp_path: Path,
) -> None:
    """``close(linger=math.inf)`` raised OverflowError from inside the close,
    leaving the socket open; it is refused before anything is closed, and a close
    with a valid linger then closes. An infinite connect timeout stays allowed:
    it waits for a server until the call's deadline."""
    endpoint = f"ipc://{tmp_path / 'linger.sock'}"

    async def main() -> None:
        async with uvrpc.Server(Calculator()) as server:
            server.bind(endpoint)
            channel = uvrpc.Channel(endpoint, connect_timeout=math.inf)
            assert await CalculatorClient(channel).add(a=1, b=2) == 3
            with pytest.raises(ValueError, match="linger must be a finite number"):
                await channel.close(linger=math.inf)
            assert await CalculatorClient(channel).add(a=2, b=2) == 4
            await channel.close(linger=1)

    run(main())
    with server_thread(Calculator()) as server:
        blocking = uvrpc.SyncChannel(server.endpoint, connect_timeout=math.inf)
        assert CalculatorSyncClient(blocking).add(a=1, b=2) == 3
        with pytest.raises(ValueError, match="linger must be a finite number"):
            blocking.close(linger=math.inf)
        assert CalculatorSyncClient(blocking).add(a=2, b=2) == 4
        blocking.close(linger=1)


@pytest.mark.parametrize("timeout", [math.nan, "1", True])
def test_ready_refuses_a_timeout_that_is_no_number_of_seconds(timeout: object) -> None:
    """``ready(math.nan)`` waited for ever (asyncio's timer never fires at NaN);
    ``ready("1")`` failed with a TypeError only after making the waiter that
    the close then failed, which asyncio logged as never retrieved."""

    async def main() -> None:
        async with uvrpc.Channel("tcp://127.0.0.1:9") as channel:
            with pytest.raises(ValueError, match="timeout must be a finite number"):
                await asyncio.wait_for(channel.ready(timeout), 5)  # type: ignore[arg-type]
            assert await channel.ready(0) is False
            assert await channel.ready(-1) is False
            assert await channel.ready(0.05) is False

    run(main())


def test_an_infinite_connect_timeout_waits_for_a_server_that_comes(
    tmp_path: Path,
) -> None:
    """A blocking call with no deadline, on a channel whose connect_timeout is
    math.inf and whose server was not up yet, raised OverflowError (a wait of
    infinite milliseconds), where it should wait for the server, as an asyncio
    channel's call does; with a deadline, it waits until that."""
    endpoint = f"ipc://{tmp_path / 'later.sock'}"
    with uvrpc.SyncChannel(endpoint, connect_timeout=math.inf) as blocking:
        client = CalculatorSyncClient(blocking)
        with pytest.raises(uvrpc.DeadlineExceeded, match="could not be sent within"):
            client.add(a=1, b=2, timeout=0.2)
        outcome: list[object] = []
        caller = threading.Thread(target=lambda: outcome.append(client.add(a=1, b=2)))
        caller.start()
        time.sleep(0.2)  # the call waits for a server meanwhile
        with server_thread(Calculator(), bind=endpoint):
            caller.join(30)
    assert outcome == [3]
