"""The ``uvrpc-gen`` command line: IDL files in, Python modules out.

Usage::

    uvrpc-gen idl/calculator.idl -o examples/calculator
    uvrpc-gen idl/calculator.idl -o examples/calculator --check

Errors go to stderr as ``file:line:col: error: ...`` with the source line and a
caret; the exit status is 1 for errors or stale files, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import keyword
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .check import check
from .diagnostics import IdlError, format_diagnostics
from .parse import parse
from .render import render
from .symbols import RUNTIME_MODULE, SHADOWED_MODULES

__all__ = ["generate", "main"]


def generate(source: str, file: str) -> str:
    """Generate the Python module of the IDL text ``source`` read from ``file``.

    Raises:
        IdlError: the IDL has syntax or semantic errors.
    """
    return render(check(parse(source, file)))


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="uvrpc-gen",
        description="Generate typed uvrpc Python modules from .idl files.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="IDL files to compile")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="DIR",
        help="directory to write <stem>.py into (created if missing)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if any generated file is missing or stale",
    )
    parser.add_argument(
        "--version", action="version", version=f"uvrpc-gen {__version__}"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``uvrpc-gen``; return the exit status."""
    args = _arguments(argv)
    output = Path(args.output)
    failed = False
    results: dict[Path, str] = {}
    sources: dict[Path, str] = {}
    for name in args.files:
        path = Path(name)
        stem = path.stem
        if not stem.isidentifier() or keyword.iskeyword(stem):
            print(
                f"{name}: error: '{stem}' is not a valid Python module name; "
                "rename the file",
                file=sys.stderr,
            )
            failed = True
            continue
        if stem in sys.stdlib_module_names or stem in SHADOWED_MODULES:
            owner = (
                "the standard library's"
                if stem in sys.stdlib_module_names
                else "the uvrpc runtime's dependency"
                if stem != RUNTIME_MODULE
                else "the uvrpc runtime"
            )
            print(
                f"{name}: error: the generated module '{stem}' would shadow "
                f"{owner} '{stem}'; rename the file",
                file=sys.stderr,
            )
            failed = True
            continue
        target = output / f"{stem}.py"
        if target in results:
            print(
                f"{name}: error: another input also generates {target}",
                file=sys.stderr,
            )
            failed = True
            continue
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            print(f"{name}: error: cannot read: {error}", file=sys.stderr)
            failed = True
            continue
        try:
            results[target] = generate(source, name)
            sources[target] = name
        except IdlError as error:
            print(format_diagnostics(error.diagnostics, source), file=sys.stderr)
            failed = True
    if failed:
        return 1
    if args.check:
        return _check(results, sources, args.output)
    output.mkdir(parents=True, exist_ok=True)
    for target, text in results.items():
        with target.open("w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
    return 0


def _check(results: dict[Path, str], sources: dict[Path, str], output: str) -> int:
    """Compare generated text with the files on disk; report each stale one."""
    status = 0
    for target, text in results.items():
        try:
            current = target.read_text(encoding="utf-8")
        except OSError:
            current = None
        if current != text:
            state = "missing" if current is None else "stale"
            print(
                f"{target}: {state}; regenerate it with: "
                f"uvrpc-gen {sources[target]} -o {output}",
                file=sys.stderr,
            )
            status = 1
    return status
