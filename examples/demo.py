"""uvrpc end to end, in one command: generate, serve, call.

1. ``uvrpc-gen`` compiles ``idl/calculator.idl`` and ``idl/echo.idl`` into typed
   Python modules in a temporary directory.
2. ``uvrpc serve`` starts the example calculator and echo servers, each in its own
   process, on loopback TCP ports the system picks.
3. The example clients call them through the freshly generated stubs, with the
   asyncio client and the blocking one, and print what they get back. One call
   divides by zero on purpose, to show the error the caller gets; it is printed
   as ``expected error: ...``, on the client's side and in the server's log.
4. The servers are stopped. The exit status is 0 only if every step succeeded.

Run it from the repository root: ``python examples/demo.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SERVICES = {
    # IDL stem: (example directory, implementation class, client module)
    "calculator": ("calculator", "calculator_server:Calculator", "calculator_client"),
    "echo": ("echo", "echo_server:Echo", "echo_client"),
}


def step(title: str) -> None:
    """Print a step's heading."""
    print(f"\n== {title}", flush=True)


def generate(stubs: Path) -> None:
    """Run uvrpc-gen on the sample IDL files."""
    idl_files = [str(ROOT / "idl" / f"{stem}.idl") for stem in SERVICES]
    command = [sys.executable, "-m", "uvrpc_gen", *idl_files, "-o", str(stubs)]
    print("$ uvrpc-gen " + " ".join(Path(f).name for f in idl_files) + " -o STUBS")
    subprocess.run(command, check=True, timeout=120)
    for module in sorted(stubs.glob("*.py")):
        print(f"   wrote {module.name} ({len(module.read_text().splitlines())} lines)")


@contextmanager
def serving(target: str, env: dict[str, str], cwd: Path) -> Iterator[str]:
    """Run ``uvrpc serve target`` until the block ends; yield its endpoint.

    The server's log goes to a file, printed indented when the server stops.
    """
    command = [sys.executable, "-m", "uvrpc", "serve", target]
    log_path = cwd / f"{target.partition(':')[0]}.log"
    log = log_path.open("w")
    server = subprocess.Popen(
        [*command, "--bind", "tcp://127.0.0.1:*"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert server.stdout is not None
        endpoint = server.stdout.readline().strip()
        if not endpoint:
            raise RuntimeError(f"uvrpc serve {target} did not start")
        print(f"$ uvrpc serve {target} --bind tcp://127.0.0.1:*  ->  {endpoint}")
        yield endpoint
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            status = server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            status = server.wait()
        if server.stdout is not None:
            server.stdout.close()
        log.close()
        logged = server_log(log_path.read_text())
        print(
            f"   stopped {target} (exit status {status})"
            + ("; its log:" if logged else "; it logged nothing")
        )
        for line in logged:
            print(f"   | {line}")


EXPECTED = "handler of calculator.Calculator.divide raised"
"""The server's log line of the demo's deliberate division by zero."""


def server_log(text: str) -> list[str]:
    """A server's log, with the traceback of the demo's deliberate error cut to
    one line: it is not a failure. Any other traceback is shown whole."""
    lines = text.splitlines()
    shown: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if EXPECTED not in line or index >= len(lines):
            shown.append(line)
            continue
        if not lines[index].startswith("Traceback"):
            shown.append(line)
            continue
        # The traceback runs to its last line, the exception, which is the first
        # line after it that is not indented.
        index += 1
        while index < len(lines) and lines[index].startswith(" "):
            index += 1
        error = lines[index] if index < len(lines) else "?"
        index += 1
        shown.append(f"expected error: {EXPECTED} {error} (on purpose)")
    return shown


def main() -> int:
    """Run the demo; return 0 if every step succeeded."""
    with tempfile.TemporaryDirectory(prefix="uvrpc-demo-") as scratch:
        stubs = Path(scratch) / "stubs"
        step("1. generate typed stubs from idl/")
        generate(stubs)

        # The fresh stubs come first on the path, then the example implementations,
        # then the demo's own path, so that the servers and clients import the
        # uvrpc this process imports.
        path = [str(stubs)] + [str(EXAMPLES / d) for d, _, _ in SERVICES.values()]
        inherited = os.environ.get("PYTHONPATH")
        if inherited:
            path.append(inherited)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))

        step("2. start the servers, each in its own process")
        with ExitStack() as servers:
            endpoints = {
                stem: servers.enter_context(serving(target, env, Path(scratch)))
                for stem, (_, target, _) in SERVICES.items()
            }
            for number, (stem, (_, _, client)) in enumerate(SERVICES.items(), 3):
                step(f"{number}. call the {stem} server with the generated clients")
                result = subprocess.run(
                    [sys.executable, "-m", client, "--connect", endpoints[stem]],
                    env=env,
                    cwd=scratch,
                    timeout=120,
                    check=False,
                )
                if result.returncode != 0:
                    print(f"demo: the {stem} client failed", file=sys.stderr)
                    return 1
            step(f"{3 + len(SERVICES)}. stop the servers")
    print("\ndemo: every step succeeded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
