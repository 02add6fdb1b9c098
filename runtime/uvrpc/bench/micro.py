"""Per-call cost of each stage of a 64-byte echo, in µs, beside raw pyzmq's.

``python -m uvrpc.bench.micro`` times every stage of a call in isolation, in one
process, so the figures add up to what a call costs in CPU and show where uvrpc's
time goes compared with the raw pyzmq baseline of ``uvrpc bench`` (whose envelope is
a msgpack ``[call_id, "echo"]`` header and the payload frame, with no validation).
The table in ``docs/performance.md`` comes from this command.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import timeit
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import msgpack
import zmq

from ..buffers import BodyEncoder, BufferPool
from ..calls import decode_reply, encode_request
from ..channel import Channel
from ..codec import new_packer
from ..dispatch import Dispatcher, Request, RunningCalls
from ..eager import start_eagerly
from ..protocol import (
    encode_reply_header,
    parse_reply_header,
    parse_request_header,
)
from ..reactor import DRAIN_BATCH, recv_message, send_message
from ..wire import types as _t
from ..wire.codec import unpack
from ..wire.message import Enum, Message, field_ids
from ..wire.methods import Unary
from .echo import _ECHO_ECHO, EchoClient
from .stream_echo import _STREAM_ECHO_REPEAT
from .systems.uvrpc_echo import Echo

__all__ = [
    "check_alone",
    "checking_cost",
    "client_alone",
    "main",
    "measure",
    "validation_cost",
]

PAYLOAD = bytes(64)


def _time(fn: Callable[[], object], number: int, repeat: int) -> float:
    """Median µs per call of ``fn``."""
    runs = timeit.repeat(fn, number=number, repeat=repeat)
    return statistics.median(runs) / number * 1e6


def _socket_pair() -> tuple[zmq.Socket[bytes], zmq.Socket[bytes]]:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    a: zmq.Socket[bytes] = context.socket(zmq.DEALER)
    b: zmq.Socket[bytes] = context.socket(zmq.DEALER)
    for sock in (a, b):
        sock.setsockopt(zmq.LINGER, 0)
    a.bind("inproc://uvrpc-micro")
    b.connect("inproc://uvrpc-micro")
    return a, b


def measure(number: int = 20_000, repeat: int = 5) -> list[tuple[str, float, float]]:
    """Return ``(stage, uvrpc µs, raw µs)`` for each stage of one call."""
    encoder = BodyEncoder(BufferPool())
    packer = new_packer()
    args = {"1": PAYLOAD}
    # Encoded bodies are views of pooled buffers; these copies outlive them.
    request = [bytes(f) for f in encode_request(encoder, 7, _ECHO_ECHO, args, 60.0)]
    dispatcher = Dispatcher([Echo()], pool=BufferPool())
    decoded = dispatcher.decode(request[-2], request[-1])
    reply_header = encode_reply_header(7, 0)
    reply_body = packer.pack(PAYLOAD)

    def client_encode() -> object:
        frames = encode_request(encoder, 7, _ECHO_ECHO, args, 60.0)
        encoder.settle(frames[-1], True)
        return frames

    raw_request_header = msgpack.packb((7, "echo"))
    raw_reply_header = msgpack.packb((7, 0))

    a, b = _socket_pair()

    def socket_round(frames: Sequence[bytes]) -> Callable[[], object]:
        def round_trip() -> object:
            send_message(a, frames)
            return recv_message(b)

        return round_trip

    stages: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        (
            "client: encode request",
            client_encode,
            lambda: msgpack.packb((7, "echo")),
        ),
        (
            "server: decode + validate request",
            lambda: dispatcher.decode(request[-2], request[-1]),
            lambda: msgpack.unpackb(raw_request_header),
        ),
        (
            "client: decode + validate reply",
            lambda: decode_reply(
                _ECHO_ECHO, parse_reply_header(reply_header), reply_body, ()
            ),
            lambda: msgpack.unpackb(raw_reply_header),
        ),
        (
            "socket: send + receive request (inproc)",
            socket_round(request),
            socket_round((b"", raw_request_header, PAYLOAD)),
        ),
        (
            "socket: send + receive reply (inproc)",
            socket_round((b"", reply_header, reply_body)),
            socket_round((b"", raw_reply_header, PAYLOAD)),
        ),
    ]
    results = [
        (name, _time(ours, number, repeat), _time(raw, number, repeat))
        for name, ours, raw in stages
    ]
    results.insert(
        2,
        (
            "server: start + run handler, encode reply",
            _served_cost(dispatcher, decoded, number, repeat),
            _time(lambda: msgpack.packb((7, 0)), number, repeat),
        ),
    )
    a.close()
    b.close()
    results.append(("event loop: future + task wake-up", *_loop_cost(number)))
    return results


def _served_cost(
    dispatcher: Dispatcher, request: Request, number: int, repeat: int
) -> float:
    """Median µs per call of the echo handler started as the server starts a unary
    handler (:func:`~uvrpc.eager.start_eagerly`, and a handler still running after
    it kept and tracked for CANCEL and its deadline), ``DRAIN_BATCH`` calls per loop
    iteration as the server receives them, until each reply is encoded."""
    batches = max(1, number // DRAIN_BATCH)

    async def serve() -> None:
        frames = await dispatcher.run(request)
        dispatcher.settle(frames[-1], True)

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        running = RunningCalls(loop)
        tasks: set[asyncio.Task[None]] = set()
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            for _ in range(batches):
                for _ in range(DRAIN_BATCH):
                    task = start_eagerly(serve(), loop)
                    if task is not None:
                        tasks.add(task)
                        running.track("micro", task, request, tasks.discard)
                # The loop iteration that ends each batch of the server's, and
                # those the handlers' tasks still need.
                await asyncio.sleep(0)
                while tasks:
                    await asyncio.sleep(0)
            runs.append(time.perf_counter() - start)
        return runs

    runs = asyncio.run(main())
    return statistics.median(runs) / (batches * DRAIN_BATCH) * 1e6


def _loop_cost(number: int) -> tuple[float, float]:
    """A future resolved by a callback and awaited by a task: the same both ways."""

    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for _ in range(number):
            future: asyncio.Future[None] = loop.create_future()
            loop.call_soon(future.set_result, None)
            await future
        return (loop.time() - start) / number * 1e6

    cost = asyncio.run(main())
    return cost, cost


class _InstantTransport:
    """A client transport whose server answers every request at once, in memory."""

    def __init__(self) -> None:
        self._body = new_packer().pack(PAYLOAD)
        self._deliver: Callable[[list[Any]], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(
        self, loop: asyncio.AbstractEventLoop, on_message: Callable[[list[Any]], None]
    ) -> None:
        self._loop, self._deliver = loop, on_message

    def try_send(self, frames: Sequence[Any]) -> bool:
        assert self._loop is not None and self._deliver is not None
        call_id = parse_request_header(frames[-2]).call_id
        reply = [b"", encode_reply_header(call_id, 0), self._body]
        self._loop.call_soon(self._deliver, reply)
        return True

    async def send(self, frames: Sequence[Any]) -> None:
        self.try_send(frames)

    def close(self) -> None:
        pass


def client_alone(
    calls: int = 50_000,
    inflight: int = 64,
    *,
    check_requests: bool = False,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """µs per call of the generated async client with ``inflight`` calls at once,
    against a transport that answers instantly: the client's whole cost, sockets
    aside (with ``check_requests``, each request checked as the server will).
    ``clock`` measures it: wall time by default, ``time.process_time`` for the
    CPU time of this process alone, which other load on the host moves less."""

    async def main() -> float:
        channel = Channel(_InstantTransport(), check_requests=check_requests)
        client = EchoClient(channel, timeout=60)
        done = 0

        async def caller() -> None:
            nonlocal done
            while done < calls:
                await client.echo(data=PAYLOAD)
                done += 1

        start = clock()
        await asyncio.gather(*(caller() for _ in range(inflight)))
        return (clock() - start) / done * 1e6

    return asyncio.run(main())


def checking_cost(rounds: int = 5, calls: int = 50_000) -> list[tuple[float, float]]:
    """CPU µs per call of :func:`client_alone` without and with
    ``check_requests``, one pair per round, the two run alternately so that a
    change in the host's load falls on both."""
    pairs = []
    for _ in range(rounds):
        off = client_alone(calls, clock=time.process_time)
        on = client_alone(calls, check_requests=True, clock=time.process_time)
        pairs.append((off, on))
    return pairs


def check_alone(number: int = 20_000, repeat: int = 5) -> float:
    """Median µs of the check ``check_requests`` adds to each call of the echo:
    its encoded request read back as the server reads it
    (:meth:`~uvrpc.wire.methods.Unary.read_params`)."""
    encoder = BodyEncoder(BufferPool())
    frames = encode_request(encoder, 7, _ECHO_ECHO, {"1": PAYLOAD}, 60.0)
    body = bytes(frames[-1])
    encoder.settle(frames[-1], True)
    return _time(lambda: _ECHO_ECHO.read_params(body, ()), number, repeat)


def _print_checking(rounds: int) -> None:
    print(f"the check alone (read_params of the echo): {check_alone():.2f} µs")
    pairs = checking_cost(rounds)
    ratios = sorted(on / off for off, on in pairs)
    off = statistics.median(p[0] for p in pairs)
    on = statistics.median(p[1] for p in pairs)
    print(
        f"the async client alone, check_requests off / on, {rounds} alternating "
        f"rounds: {off:.2f} / {on:.2f} CPU µs per call (medians), {on - off:+.2f} µs; "
        f"ratio {statistics.median(ratios):.3f} (rounds {ratios[0]:.3f}–"
        f"{ratios[-1]:.3f})"
    )


class _Level(Enum):
    LOW = 1
    HIGH = 2


class _ReportParams(Message):
    """Eight flat parameters, the last a list."""

    model_config = field_ids(
        name=1, level=2, count=3, total=4, ratio=5, mean=6, done=7, samples=8
    )

    name: _t.String
    level: _Level
    count: _t.I32
    total: _t.I64
    ratio: _t.Float
    mean: _t.Double
    done: _t.Bool = False
    samples: list[_t.I32] = []


class _FlatReportParams(Message):
    """Eight flat parameters, of every kind but ``bytes``, as ``uvrpc-gen``
    writes them."""

    model_config = field_ids(
        name=1, level=2, count=3, total=4, ratio=5, mean=6, done=7, limit=8
    )

    name: _t.String
    level: _Level
    count: _t.I32
    total: _t.I64
    ratio: _t.Float
    mean: _t.Double
    done: _t.Bool = False
    limit: _t.I16 | None = None


class _MeansParams(Message):
    """Eight parameters, the last a list of doubles: not flat."""

    model_config = field_ids(
        name=1, level=2, count=3, total=4, ratio=5, mean=6, done=7, means=8
    )

    name: _t.String
    level: _Level
    count: _t.I32
    total: _t.I64
    ratio: _t.Float
    mean: _t.Double
    done: _t.Bool = False
    means: list[_t.Double] = []


_MEANS: Unary[_MeansParams, None] = Unary(
    route="bench.Stats.means", handler="means", params=_MeansParams, reply=None
)
_REPORT: Unary[_ReportParams, None] = Unary(
    route="bench.Stats.report", handler="report", params=_ReportParams, reply=None
)
_FLAT_REPORT: Unary[_FlatReportParams, None] = Unary(
    route="bench.Stats.flat_report",
    handler="flat_report",
    params=_FlatReportParams,
    reply=None,
)

_EIGHT = {"1": "latency", "2": 2, "3": 40, "4": 2**40, "5": 0.5, "6": 12.25}
_SHAPES: list[tuple[str, Unary[Any, Any], dict[str, Any]]] = [
    ("echo(bytes 64 B)", _ECHO_ECHO, {"1": PAYLOAD}),
    ("repeat(bytes 64 B, i32)", _STREAM_ECHO_REPEAT.final, {"1": PAYLOAD, "2": 3}),
    (
        "eight flat: string, enum, i32, i64, float, double, bool, optional<i16>",
        _FLAT_REPORT,
        {**_EIGHT, "7": True, "8": 300},
    ),
    (
        "eight flat, the last a list<i32> of 16",
        _REPORT,
        {**_EIGHT, "7": True, "8": list(range(16))},
    ),
    (
        "eight flat, the last a list<i32> of 64",
        _REPORT,
        {**_EIGHT, "7": True, "8": list(range(64))},
    ),
    (
        "the same, a list<i32> of 1000: too long, left to the model",
        _REPORT,
        {**_EIGHT, "7": True, "8": list(range(1000))},
    ),
    (
        "eight, not flat: the last a list<double> of 16",
        _MEANS,
        {**_EIGHT, "7": True, "8": [float(i) for i in range(16)]},
    ),
]


def validation_cost(
    rounds: int = 9, number: int = 20_000
) -> list[tuple[str, bool, list[float], list[float], list[float]]]:
    """``(shape, flat, decode, model, quick)``: CPU µs per round a server spends
    reading a request body of each shape into the handler's keyword arguments,
    decoding it alone, reading it through the parameters model
    (``read_params(...).__dict__``, the path of methods that are not flat),
    and reading it as the server does
    (:attr:`~uvrpc.wire.methods.Unary.read_kwargs`, which checks flat
    parameters without the model), the three timed alternately, round after
    round.
    """
    rows = []
    for name, method, args in _SHAPES:
        body = msgpack.packb(args, use_bin_type=True)
        # The first reading chooses the way; both ways read the same.
        read = method.read_kwargs(body, ())
        assert read == method.read_params(body, ()).__dict__, read
        flat = method.read_kwargs != method.read_kwargs_by_model
        stages: tuple[Callable[[], object], ...] = (
            partial(unpack, body, ()),
            # read_params(...).__dict__ as the server read every request before,
            # with no call more or less.
            partial(method.read_kwargs_by_model, body, ()),
            partial(method.read_kwargs, body, ()),
        )
        decode: list[float] = []
        model: list[float] = []
        quick: list[float] = []
        # Fewer calls of a larger body, so that every round takes about as long.
        calls = max(1, number * 64 // max(64, len(body)))
        for _ in range(rounds):
            for runs, stage in zip((decode, model, quick), stages, strict=True):
                timer = timeit.Timer(stage, timer=time.process_time)
                runs.append(timer.timeit(calls) / calls * 1e6)
        rows.append((name, flat, decode, model, quick))
    return rows


def server_validation_cost(
    rounds: int = 9, number: int = 20_000
) -> tuple[list[float], list[float]]:
    """``(model, quick)``: CPU µs per round of the server's whole decode and
    check of an echo request (:meth:`Dispatcher.decode`, the
    ``server: decode + validate request`` stage), its parameters read through
    the model and quickly, alternately."""
    encoder = BodyEncoder(BufferPool())
    request = [
        bytes(f) for f in encode_request(encoder, 7, _ECHO_ECHO, {"1": PAYLOAD}, 60.0)
    ]
    dispatcher = Dispatcher([Echo()], pool=BufferPool())
    dispatcher.decode(request[-2], request[-1])  # the quick way, chosen
    quick_read = _ECHO_ECHO.read_kwargs
    times: tuple[list[float], list[float]] = ([], [])
    try:
        for _ in range(rounds):
            for runs, read in zip(
                times, (_ECHO_ECHO.read_kwargs_by_model, quick_read), strict=True
            ):
                _ECHO_ECHO.read_kwargs = read
                timer = timeit.Timer(
                    lambda: dispatcher.decode(request[-2], request[-1]),
                    timer=time.process_time,
                )
                runs.append(timer.timeit(number) / number * 1e6)
    finally:
        _ECHO_ECHO.read_kwargs = quick_read
    return times


def _print_validation(rounds: int) -> None:
    print(
        "server: read a request body into the handler's keyword arguments, CPU "
        f"µs, least / median of {rounds} alternating rounds; 'model' reads through "
        "the parameters model, 'quick' as the server does; ratio = model / quick, "
        "median of the rounds' ratios"
    )
    print(
        f"{'parameters':72s} {'decode':>11s} {'model':>11s} {'quick':>11s} "
        f"{'ratio':>6s}"
    )

    def cell(runs: list[float]) -> str:
        return f"{min(runs):5.2f}/{statistics.median(runs):5.2f}"

    def ratio(model: list[float], quick: list[float]) -> float:
        return statistics.median(m / q for m, q in zip(model, quick, strict=True))

    for name, flat, decode, model, quick in validation_cost(rounds):
        label = name if flat else f"{name} (model)"
        print(
            f"{label:72s} {cell(decode):>11s} {cell(model):>11s} {cell(quick):>11s} "
            f"{ratio(model, quick):6.2f}"
        )
    model, quick = server_validation_cost(rounds)
    print(
        f"{'server: decode + validate request, echo(bytes 64 B)':72s} {'':>11s} "
        f"{cell(model):>11s} {cell(quick):>11s} {ratio(model, quick):6.2f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Print the per-stage table (Markdown with ``--markdown``); with
    ``--check-requests N``, only the cost of ``check_requests`` over N rounds."""
    parser = argparse.ArgumentParser(prog="python -m uvrpc.bench.micro")
    parser.add_argument("--number", type=int, default=20_000)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument(
        "--check-requests",
        type=int,
        metavar="ROUNDS",
        default=0,
        help="measure the async client alone without and with check_requests, "
        "alternately, for this many rounds (and nothing else)",
    )
    parser.add_argument(
        "--validation",
        type=int,
        metavar="ROUNDS",
        default=0,
        help="measure a server's decode and check of requests of flat parameters, "
        "through the parameters model and quickly, alternately, for this many "
        "rounds (and nothing else)",
    )
    args = parser.parse_args(argv)
    if args.validation:
        _print_validation(args.validation)
        return 0
    if args.check_requests:
        _print_checking(args.check_requests)
        return 0
    rows: list[Any] = measure(args.number)
    total_ours = sum(r[1] for r in rows)
    total_raw = sum(r[2] for r in rows)
    rows.append(("total", total_ours, total_raw))
    if args.markdown:
        print("| stage | uvrpc µs | raw pyzmq µs |\n|---|---:|---:|")
        for name, ours, raw in rows:
            print(f"| {name} | {ours:.2f} | {raw:.2f} |")
    else:
        for name, ours, raw in rows:
            print(f"{name:42s} {ours:8.2f} {raw:8.2f}")
    print(
        f"\nthe async client alone, 64 calls in flight, instant transport: "
        f"{client_alone():.2f} µs per call"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
