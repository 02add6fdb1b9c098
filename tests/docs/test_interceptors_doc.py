"""``docs/interceptors.md``'s examples run and do what the page says.

The interceptor classes of its examples are taken from their blocks as written
and put on servers and clients of ``examples/calculator`` and of the tests'
``Feed``. The metrics example runs inside a coroutine, its ``...`` replaced by a
call, and its URL scraped. The command of "From the command line" runs with a
free port in place of its fixed ``:5555``.
"""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import re
import shlex
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from calculator import CalculatorClient
from calculator_server import Calculator
from conftest import EXAMPLES, ROOT
from docblocks import Block, blocks, command, printing
from feed import FeedClient, Tick
from feed_server import Feed

import uvrpc

INTERCEPTORS = ROOT / "docs" / "interceptors.md"
FIXED = "tcp://127.0.0.1:5555"
FREE = "tcp://127.0.0.1:*"


def classes(block: Block) -> dict[str, Any]:
    """The classes ``block`` defines, defined from its text (the statements
    around them use names the page leaves to the reader)."""
    tree = ast.parse(block.text)
    definitions = ast.Module([n for n in tree.body if isinstance(n, ast.ClassDef)], [])
    namespace: dict[str, Any] = {
        "uvrpc": uvrpc,
        "time": time,
        "TOKENS": {"Bearer sesame": "alice"},
    }
    exec(compile(definitions, str(block), "exec"), namespace)
    return namespace


def errors(printed: str) -> list[str]:
    """The lines ``Slow`` printed for failed calls (a loaded machine may make a
    call slow, and have it print that too)."""
    return [line for line in printed.splitlines() if not line.startswith("slow:")]


def test_the_interceptor_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    auth, client_side, slow = blocks(INTERCEPTORS, "python")[:3]
    Auth = classes(auth)["Auth"]
    Token, Cache = (classes(client_side)[name] for name in ("Token", "Cache"))
    Slow = classes(slow)["Slow"]

    async def produce() -> AsyncIterator[Tick]:
        for seq in range(3):
            yield Tick(seq=seq)

    async def body() -> None:
        calculator = Calculator()
        async with uvrpc.Server(calculator, interceptors=[Auth()]) as server:
            endpoint = server.bind("tcp://127.0.0.1:*")
            async with CalculatorClient(endpoint, timeout=10) as calc:
                with pytest.raises(uvrpc.Unauthenticated) as refused:
                    await calc.add(a=40, b=2)
            assert refused.value.message == "calculator.Calculator.add needs a token"
            assert calculator.calls == 0  # refused before the handler ran
            async with CalculatorClient(
                endpoint, timeout=10, interceptors=[Cache(), Token()]
            ) as calc:
                with uvrpc.metadata() as scope:
                    assert await calc.add(a=40, b=2) == 42
                assert scope.trailers["x-user"] == "alice"
                assert await calc.add(a=40, b=2) == 42
            assert calculator.calls == 1  # no request is sent the second time

        async with uvrpc.Server(Feed(), interceptors=[Auth()]) as server:
            endpoint = server.bind("tcp://127.0.0.1:*")
            async with FeedClient(
                endpoint, timeout=10, interceptors=[Slow(), Token()]
            ) as feed:
                assert [t.seq async for t in feed.ticks(count=10)] == list(range(10))
                assert (await feed.upload(ticks=produce())).count == 3
                call = feed.start_ping(n=1)
                assert await call == 1
                call.release()
            assert errors(capsys.readouterr().out) == []
            async with FeedClient(endpoint, timeout=10, interceptors=[Slow()]) as feed:
                with pytest.raises(uvrpc.Unauthenticated):
                    async for _ in feed.ticks(count=10):
                        pass
            assert errors(capsys.readouterr().out) == [
                "server_stream feed.Feed.ticks UNAUTHENTICATED"
            ]

    asyncio.run(body())


def test_the_logging_lines_are_as_shown(caplog: pytest.LogCaptureFixture) -> None:
    (sample,) = [b for b in blocks(INTERCEPTORS, "") if "ZeroDivisionError" in b.text]
    (formatter,) = [b for b in blocks(INTERCEPTORS, "python") if "Formatter" in b.text]
    namespace: dict[str, Any] = {"logging": logging, "json": json}
    exec(compile(formatter.text, str(formatter), "exec"), namespace)
    logs = uvrpc.LoggingInterceptor()

    async def body() -> None:
        async with uvrpc.Server(Calculator(), interceptors=[logs]) as server:
            endpoint = server.bind("tcp://127.0.0.1:*")
            async with CalculatorClient(
                endpoint, timeout=10, interceptors=[logs]
            ) as calc:
                await calc.add(a=40, b=2)
                with pytest.raises(uvrpc.RemoteError):
                    await calc.divide(a=1, b=0)

    with caplog.at_level(logging.INFO, logger="uvrpc.calls"):
        asyncio.run(body())
    lines = [r.getMessage() for r in caplog.records if r.name == "uvrpc.calls"]
    # The sample's lines, with any duration.
    for shown in sample.text.splitlines():
        pattern = re.escape(shown).replace(r"0\.041", r"\d+\.\d{3}")
        pattern = pattern.replace(r"0\.512", r"\d+\.\d{3}")
        assert any(re.fullmatch(pattern, line) for line in lines), (shown, lines)
    record = next(r for r in caplog.records if r.name == "uvrpc.calls")
    assert json.loads(namespace["JsonFormatter"]().format(record)) == {
        "msg": record.getMessage(),
        "route": "calculator.Calculator.add",
        "status": "OK",
        "ms": record.__dict__["duration_ms"],
    }


def test_the_metrics_example_runs() -> None:
    (example,) = [
        b for b in blocks(INTERCEPTORS, "python") if "serve_metrics" in b.text
    ]
    # Its ``...``: a call, then a scrape of the URL it printed.
    work = (
        "endpoint = server.bind('tcp://127.0.0.1:*')\n"
        "async with CalculatorClient(endpoint, timeout=10) as calc:\n"
        "    await calc.add(a=40, b=2)\n"
        "scraped.append(urllib.request.urlopen(url, timeout=10).read().decode())\n"
    )
    indent = " " * 4
    text = example.text.replace(
        f"{indent}...\n", "".join(f"{indent}{line}\n" for line in work.splitlines())
    )
    code = "async def main():\n" + "".join(
        f"    {line}\n" for line in text.splitlines()
    )
    printed: list[tuple[Any, ...]] = []
    scraped: list[str] = []
    namespace: dict[str, Any] = {
        "uvrpc": uvrpc,
        "Calculator": Calculator,
        "CalculatorClient": CalculatorClient,
        "urllib": urllib,
        "scraped": scraped,
        "print": lambda *args: printed.append(args),
    }
    exec(compile(code, str(example), "exec"), namespace)
    asyncio.run(namespace["main"]())
    ((label, url),) = printed
    assert label == "metrics at"
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/metrics", url), url
    (metrics,) = scraped
    route = 'route="calculator.Calculator.add"'
    assert f'uvrpc_calls_total{{{route},side="server"}} 1.0' in metrics
    assert 'uvrpc_server_received_total{server=""} 1.0' in metrics


def test_the_metrics_command_prints_the_endpoint_then_the_url(tmp_path: Path) -> None:
    (session,) = [b for b in blocks(INTERCEPTORS, "") if "--metrics" in b.text]
    shown, endpoint_shown, url_shown = session.text.splitlines()
    argv = shlex.split(shown.removeprefix("$ "))
    assert argv[0] == "uvrpc"
    assert endpoint_shown == FIXED
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/metrics", url_shown)
    argv = command("uvrpc") + [FREE if a == FIXED else a for a in argv[1:]]
    path = EXAMPLES / "calculator"
    with printing(argv, path, tmp_path / "serve.log", [path], lines=2) as (
        endpoint,
        url,
    ):
        assert re.fullmatch(r"tcp://127\.0\.0\.1:\d+", endpoint), endpoint
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/metrics", url), url
        with urllib.request.urlopen(url, timeout=10) as response:
            assert "uvrpc_server_received_total" in response.read().decode()
