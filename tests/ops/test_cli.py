"""The ``uvrpc`` command: ``serve`` and ``version``, errors without tracebacks."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from calculator import CalculatorSyncClient
from conftest import EXAMPLES
from feed import FeedSyncClient

import uvrpc
from uvrpc.cli import main


def uvrpc_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "uvrpc", *args]


def test_version() -> None:
    result = subprocess.run(uvrpc_cmd("version"), capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        f"uvrpc {uvrpc.__version__}",
        f"protocol {uvrpc.PROTOCOL_VERSION}",
        f"generated-code API {uvrpc.GENERATED_CODE_API}",
    ]


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("serve", ["created without arguments", "as 'python -m' names it"]),
        ("keygen", ["NAME.key holds the public key", "mode 0600"]),
        ("version", ["the protocol version its peers speak"]),
        ("broker", ["least busy of the servers connected to the backend"]),
    ],
)
def test_each_command_s_help_says_what_its_arguments_are(
    command: str, says: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the lines
    for words in says:
        assert words in text


def test_serve_answers_calls_and_stops_on_sigterm(tmp_path: Path) -> None:
    socket = tmp_path / "calc.sock"
    server = subprocess.Popen(
        uvrpc_cmd(
            "serve",
            "calculator_server:Calculator",
            "--bind",
            "tcp://127.0.0.1:*",
            "--bind",
            f"ipc://{socket}",
        ),
        cwd=EXAMPLES / "calculator",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        tcp = server.stdout.readline().strip()
        ipc = server.stdout.readline().strip()
        assert tcp.startswith("tcp://127.0.0.1:") and ipc == f"ipc://{socket}"
        for endpoint in (tcp, ipc):
            with CalculatorSyncClient(endpoint, timeout=10) as calc:
                assert calc.add(a=2, b=3) == 5
        server.send_signal(signal.SIGTERM)
        assert server.wait(10) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        assert server.stdout is not None and server.stderr is not None
        server.stdout.close()
        server.stderr.close()


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["one", "workers"])
def test_serve_serves_several_classes_on_one_endpoint(
    tmp_path: Path, workers: list[str]
) -> None:
    """Several ``MODULE:CLASS``, one per service, as a gRPC server registers
    several servicers: each service answers on the same endpoint."""
    server = subprocess.Popen(
        uvrpc_cmd(
            "serve",
            "feed_server:Feed",
            "calculator_server:Calculator",
            "--bind",
            f"ipc://{tmp_path / 'both.sock'}",
            *workers,
        ),
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "PYTHONPATH": str(EXAMPLES / "calculator")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        endpoint = server.stdout.readline().strip()
        with CalculatorSyncClient(endpoint, timeout=30) as calc:
            assert calc.add(a=2, b=3) == 5
        with FeedSyncClient(endpoint, timeout=30) as feed:
            assert feed.ping(n=7) == 7
    finally:
        server.send_signal(signal.SIGTERM)
        status, _ = stopped(server)
    assert status == 0


def test_serve_refuses_two_classes_of_one_service(tmp_path: Path) -> None:
    """Refused before anything starts, workers or not: a worker would fail and
    be restarted for ever."""
    result = subprocess.run(
        uvrpc_cmd(
            "serve",
            "calculator_server:Calculator",
            "calculator_server:Calculator",
            "--workers",
            "2",
            "--bind",
            f"ipc://{tmp_path / 'calc.sock'}",
        ),
        cwd=EXAMPLES / "calculator",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "uvrpc: error: calculator_server:Calculator and calculator_server:Calculator "
        "both implement the service calculator.Calculator: serve one class per "
        "service\n"
    )


def serve_feed(tmp_path: Path, *options: str) -> subprocess.Popen[str]:
    """``uvrpc serve feed_server:Feed`` with ``options``, on an ``ipc://`` path."""
    return subprocess.Popen(
        uvrpc_cmd(
            "serve",
            "feed_server:Feed",
            "--bind",
            f"ipc://{tmp_path / 'feed.sock'}",
            *options,
        ),  # fmt: skip
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def signal_during_a_call(
    server: subprocess.Popen[str], tenths: int, signals: list[signal.Signals]
) -> object:
    """Call ``ping(n=-tenths)`` (a handler that takes that many tenths of a
    second) on ``server``, send it ``signals`` a third of a second apart while
    the call runs, and return its result or its error."""
    assert server.stdout is not None
    endpoint = server.stdout.readline().strip()
    with FeedSyncClient(endpoint, timeout=60) as feed:
        assert feed.ping(n=1) == 1  # a server (a worker) is serving
        result: list[object] = []

        def call() -> None:
            try:
                result.append(feed.ping(n=-tenths))
            except uvrpc.RpcError as exc:
                result.append(exc)

        caller = threading.Thread(target=call)
        caller.start()
        for signum in signals:
            time.sleep(0.3)  # the call is running
            server.send_signal(signum)
        caller.join(60)
    assert len(result) == 1
    return result[0]


def stopped(server: subprocess.Popen[str]) -> tuple[int, str]:
    """Wait for ``server`` to exit; its status and what it wrote on stderr."""
    try:
        _, err = server.communicate(timeout=20)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    return server.returncode, err


@pytest.mark.parametrize(
    ("options", "signals", "answered"),
    [
        (["--grace", "5"], [signal.SIGTERM], True),
        (["--grace", "5"], [signal.SIGTERM, signal.SIGTERM], True),
        ([], [signal.SIGTERM], False),
        (["--workers", "2", "--grace", "5"], [signal.SIGTERM], True),
    ],
    ids=["grace", "grace-sigterm-twice", "no-grace", "worker-grace"],
)
def test_sigterm_lets_running_calls_finish_within_the_grace(
    options: list[str],
    signals: list[signal.Signals],
    answered: bool,
    tmp_path: Path,
) -> None:
    """On SIGTERM, ``--grace`` lets the call running finish and reply (through the
    broker, from a worker), a second SIGTERM too; without it, the call is
    cancelled and fails UNAVAILABLE at once."""
    server = serve_feed(tmp_path, *options)
    try:
        outcome = signal_during_a_call(server, 10, signals)
    finally:
        status, _ = stopped(server)
    if answered:
        assert outcome == -10
    else:
        assert isinstance(outcome, uvrpc.Unavailable)
    assert status == 0


def test_workers_refuse_a_new_call_at_once_during_the_grace(tmp_path: Path) -> None:
    """With ``--workers``, a call sent during the grace is refused at once with
    UNAVAILABLE "did not run" (safe to send again), as one server's would be: it
    does not wait for a worker until the broker closes, then see its connection
    drop ("may have run"), while the call running still finishes."""
    server = serve_feed(tmp_path, "--workers", "2", "--grace", "5")
    try:
        assert server.stdout is not None
        endpoint = server.stdout.readline().strip()
        with FeedSyncClient(endpoint, timeout=30) as feed:
            assert feed.ping(n=1) == 1
            result: list[object] = []
            caller = threading.Thread(target=lambda: result.append(feed.ping(n=-20)))
            caller.start()
            time.sleep(0.3)  # the slow call is running on a worker
            server.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            began = time.monotonic()
            with pytest.raises(uvrpc.Unavailable, match="did not run"):
                feed.ping(n=2)
            assert time.monotonic() - began < 1
            caller.join(30)
            assert result == [-20]
    finally:
        status, _ = stopped(server)
    assert status == 0


def test_ctrl_c_during_the_grace_cuts_it_short(tmp_path: Path) -> None:
    """A Ctrl-C after SIGTERM cancels the running call at once."""
    server = serve_feed(tmp_path, "--grace", "60")
    started = time.monotonic()
    try:
        outcome = signal_during_a_call(  # a 30 s call
            server, 300, [signal.SIGTERM, signal.SIGINT]
        )
    finally:
        status, err = stopped(server)
    assert isinstance(outcome, uvrpc.Unavailable)
    assert status == 0
    assert time.monotonic() - started < 20  # neither the grace nor the call
    assert "uvrpc: signalled again: cancelling the calls still running" in err


@pytest.mark.parametrize(
    ("signals", "answered"),
    [([signal.SIGTERM], True), ([signal.SIGTERM, signal.SIGINT], False)],
    ids=["grace", "ctrl-c-during-the-grace"],
)
def test_a_broker_stopped_with_a_grace_forwards_the_calls_in_flight(
    signals: list[signal.Signals], answered: bool, tmp_path: Path
) -> None:
    """``uvrpc broker --grace``: on SIGTERM the call in flight through it still
    gets its reply; a Ctrl-C during the grace drops it at once."""
    front, back = f"ipc://{tmp_path / 'front'}", f"ipc://{tmp_path / 'back'}"
    tests = Path(__file__).resolve().parents[1]
    broker = subprocess.Popen(
        uvrpc_cmd(
            "broker", "--frontend", front, "--backend", back, "--grace", "60"
        ),  # fmt: skip
        cwd=tests,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    server = subprocess.Popen(
        uvrpc_cmd("serve", "feed_server:Feed", "--connect", back),
        cwd=tests,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = time.monotonic()
    try:
        outcome = signal_during_a_call(broker, 30, signals)  # a 3 s call
        status, err = stopped(broker)
    finally:
        server.terminate()
        server.wait(20)
        if broker.poll() is None:
            broker.kill()
            broker.communicate()
    if answered:
        assert outcome == -30
        assert "signalled again" not in err
    else:
        assert isinstance(outcome, uvrpc.Unavailable)
        assert "uvrpc: signalled again: dropping the calls still in flight" in err
        assert time.monotonic() - started < 30  # neither the grace nor a deadline
    assert status == 0


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("calculator_server", "expected MODULE:CLASS, got 'calculator_server'"),
        ("no_such_module:X", "cannot import 'no_such_module'"),
        (
            "calculator_server.py:Calculator",
            "cannot import 'calculator_server.py': MODULE:CLASS names a module as "
            "'python -m' does, not a file: calculator_server:Calculator",
        ),
        (
            "./calculator_server.py:Calculator",
            "cannot import './calculator_server.py': MODULE:CLASS names a module as "
            "'python -m' does, not a file: calculator_server:Calculator",
        ),
        (
            "calculator/calculator_server.py:Calculator",
            "cannot import 'calculator/calculator_server.py': MODULE:CLASS names a "
            "module as 'python -m' does, not a file: "
            "calculator.calculator_server:Calculator",
        ),
        ("calculator:Op", "calculator:Op is not a subclass of a generated"),
        (
            "calculator:CalculatorServer",
            "calculator:CalculatorServer does not implement: add, apply, call_count",
        ),
    ],
)
def test_serve_reports_mistakes_in_one_line(target: str, message: str) -> None:
    result = subprocess.run(
        uvrpc_cmd("serve", target),
        cwd=EXAMPLES / "calculator",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"uvrpc: error: {message}")
    assert "Traceback" not in result.stderr


def test_serve_reports_a_bad_endpoint() -> None:
    result = subprocess.run(
        uvrpc_cmd("serve", "calculator_server:Calculator", "--bind", "bogus://x"),
        cwd=EXAMPLES / "calculator",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "uvrpc: error: bad endpoint 'bogus://x': transport 'bogus'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("last", ["--bind", "--connect"])
def test_serve_prints_no_endpoint_when_a_later_one_fails(last: str) -> None:
    """A script reading the first line as the endpoint went on as if it were
    served: the endpoint bound first was printed before the next failed."""
    result = subprocess.run(
        uvrpc_cmd(
            "serve", "calculator_server:Calculator", "--bind", "tcp://127.0.0.1:0",
            last, "bogus://x",
        ),
        cwd=EXAMPLES / "calculator",
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (1, "")
    assert "uvrpc: error: bad endpoint 'bogus://x'" in result.stderr


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--max-calls-per-client", "0", "must be more than 0: '0'"),
        ("--max-waiting-per-client", "-1", "must be more than 0: '-1'"),
        ("--max-calls-per-client", "x", "not a whole number: 'x'"),
    ],
)
def test_broker_names_the_option_of_a_count_below_one(
    option: str, value: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not in the words of the broker's code ("max_calls_per_client must be an
    integer of at least 1, not 0"), after it had started, with status 1."""
    with pytest.raises(SystemExit) as exited:
        main(["broker", option, value])
    assert exited.value.code == 2
    assert capsys.readouterr().err.endswith(
        f"uvrpc broker: error: argument {option}: {said}\n"
    )


def test_serve_names_the_option_of_a_count_of_workers_below_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "calculator_server:Calculator", "--workers", "0"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.endswith(
        "uvrpc serve: error: argument --workers: must be more than 0: '0'\n"
    )


INPROC = (
    "inproc://shop: an inproc:// endpoint is reached only from inside the process "
    "that binds it, and each uvrpc command is a process of its own: use a tcp:// or "
    "ipc:// endpoint"
)


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (["serve", "calc:Calculator", "--bind", "inproc://shop"], 1, ""),
        (["serve", "calc:Calculator", "--connect", "inproc://shop"], 1, ""),
        (["broker", "--frontend", "inproc://shop"], 1, ""),
        (["broker", "--backend", "inproc://shop"], 1, ""),
        (["call", "inproc://shop", "calc.Calculator.add"], 2, ""),
        (["list", "inproc://shop"], 2, ""),
        (["describe", "inproc://shop"], 2, ""),
        (["health", "inproc://shop"], 1, "uvrpc health: error: "),
    ],
)
def test_an_inproc_endpoint_is_refused_at_once(
    argv: list[str], status: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """No other process reaches it: a server bound there serves nobody, and a
    client waits for its deadline (or, for ever, a server that never comes)."""
    assert main(argv) == status
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"{message or 'uvrpc: error: '}{INPROC}\n")


BROKEN_SERVERS = """\
import os

from calculator_server import Calculator


class NeedsArgs(Calculator):
    def __init__(self, db: str) -> None:
        super().__init__()


class Broken(Calculator):
    def __init__(self) -> None:
        super().__init__()
        open_database()


class Renamed(Calculator):
    async def add(self, *, x: int, y: int) -> int:
        return x + y


def open_database() -> None:
    raise RuntimeError("cannot open database")


if os.environ.get("BREAK_IMPORT"):
    raise OSError("config missing")
if os.environ.get("MISSING_DEPENDENCY"):
    import uvrpc_no_such_dependency  # noqa: F401
"""


def _serve_broken(
    tmp_path: Path, target: str, **env: str
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "inv_server.py").write_text(BROKEN_SERVERS)
    # The uvrpc under test, whatever the working directory.
    runtime = Path(uvrpc.__file__).resolve().parents[1]
    path = [str(EXAMPLES / "calculator"), str(runtime)]
    return subprocess.run(
        uvrpc_cmd("serve", target, "--bind", "tcp://127.0.0.1:*"),
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_names_a_class_the_module_lacks(tmp_path: Path) -> None:
    result = _serve_broken(tmp_path, "inv_server:Nope")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"uvrpc: error: module 'inv_server' ({tmp_path / 'inv_server.py'}) has no "
        "attribute 'Nope'"
    ]


def test_serve_reports_a_handler_that_cannot_take_its_parameters_in_one_line(
    tmp_path: Path,
) -> None:
    result = _serve_broken(tmp_path, "inv_server:Renamed")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "uvrpc: error: Renamed.add cannot take the parameters of "
        "calculator.Calculator.add (a, b): it has no parameter 'a'"
    ]


def test_serve_reports_a_class_that_needs_arguments_in_one_line(
    tmp_path: Path,
) -> None:
    result = _serve_broken(tmp_path, "inv_server:NeedsArgs")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "uvrpc: error: inv_server:NeedsArgs cannot be created without arguments "
        "(missing a required argument: 'db'); uvrpc serve creates it with none: "
        "give its parameters defaults"
    ]


def _line_of(statement: str) -> int:
    return BROKEN_SERVERS.splitlines().index(statement) + 1


@pytest.mark.parametrize(
    ("target", "env", "message", "statement", "frames"),
    [
        (
            "inv_server:Broken",
            {},
            "inv_server:Broken() raised RuntimeError: cannot open database",
            '    raise RuntimeError("cannot open database")',
            ["in __init__", "in open_database"],
        ),
        (
            "inv_server:Broken",
            {"BREAK_IMPORT": "1"},
            "importing inv_server raised OSError: config missing",
            '    raise OSError("config missing")',
            ["in <module>"],
        ),
        (
            "inv_server:Broken",
            {"MISSING_DEPENDENCY": "1"},
            "importing inv_server raised ModuleNotFoundError: No module named "
            "'uvrpc_no_such_dependency'",
            "    import uvrpc_no_such_dependency  # noqa: F401",
            ["in <module>"],
        ),
    ],
)
def test_serve_shows_where_the_users_code_raised(
    tmp_path: Path,
    target: str,
    env: dict[str, str],
    message: str,
    statement: str,
    frames: list[str],
) -> None:
    result = _serve_broken(tmp_path, target, **env)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    module = tmp_path / "inv_server.py"
    assert lines[-1] == (f"uvrpc: error: {message} ({module}:{_line_of(statement)})")
    # The traceback is the user's code's alone: no uvrpc or importlib frames.
    assert lines[0] == "Traceback (most recent call last):"
    files = [line for line in lines if line.startswith("  File ")]
    assert [line.rpartition(", ")[2] for line in files] == frames
    assert all(f'"{module}"' in line for line in files)


def test_serve_through_a_broker_alone_says_where(tmp_path: Path) -> None:
    """``serve --connect`` without ``--bind`` printed nothing at all: a newcomer
    could not tell it was up, nor where its calls would come from."""
    backend = f"ipc://{tmp_path}/backend"
    server = subprocess.Popen(
        uvrpc_cmd("serve", "calculator_server:Calculator", "--connect", backend),
        cwd=EXAMPLES / "calculator",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        # Its first line, once serving; none within 30 s fails, not hangs.
        readable, _, _ = select.select([server.stderr], [], [], 30)
        line = server.stderr.readline() if readable else ""
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    assert line.rstrip().endswith(
        f"INFO uvrpc.server: taking calls from the broker at {backend}"
    )
    assert out == ""  # stdout names bound endpoints only
