"""The ``uvrpc-gen`` command line: IDL files in, Python modules out.

Usage::

    uvrpc-gen idl/calculator.idl -o examples/calculator
    uvrpc-gen idl/calculator.idl -o examples/calculator --check
    uvrpc-gen idl/ -o generated/          # every .idl below idl/, imports first
    uvrpc-gen --compat old/calculator.idl idl/calculator.idl  # what breaks
    uvrpc-gen --compat old/idl/ idl/      # every file, paired by relative path

Errors go to stderr as ``file:line:col: error: ...`` with the source line and a
caret; the exit status is 1 for errors or stale files, 2 for usage errors and an
output directory that cannot be created or written into.

``uvrpc-gen`` overwrites only what it wrote: an output file that exists without the
header generated modules start with (``# Generated from ... by uvrpc-gen``) is
refused, and nothing at all is written, unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import keyword
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .check import check
from .compat import main_compat
from .load import LoadError, load
from .parse import parse
from .render import render
from .symbols import RUNTIME_MODULE, SHADOWED_MODULES
from .view import is_generated

__all__ = ["generate", "main"]


def generate(source: str, file: str, package: str | None = None) -> str:
    """Generate the Python module of the IDL text ``source`` read from ``file``.

    Files it imports are read from disk, relative to ``file``.

    Raises:
        IdlError: the IDL has syntax or semantic errors.
        LoadError: a file it imports cannot be read or has errors.
    """
    module = parse(source, file)
    if not module.imports:
        return render(check(module), package)
    loaded = load([file], {file: source})
    return render(loaded.modules[os.path.normpath(file)], package)


def _package(name: str) -> str:
    """``--package``'s value, if Python can import a package of that name: it is
    written into the ``from NAME import ...`` of each module that imports another,
    and a name that is not (``acme-rpc``) would make modules that do not parse."""
    parts = name.split(".") if name else []  # "": top-level modules, as without it
    if not all(p.isidentifier() and not keyword.iskeyword(p) for p in parts):
        raise argparse.ArgumentTypeError(
            f"{name!r} is not a Python package name: dotted identifiers, such as "
            "acme.rpc"
        )
    return name


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="uvrpc-gen",
        description="Generate typed uvrpc Python modules from .idl files.",
    )
    parser.add_argument(
        "files",
        nargs="+",
        metavar="PATH",
        help="IDL files, or directories holding them (every *.idl below, sorted)",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="directory to write <stem>.py into (created if missing)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if any generated file is missing or stale",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite output files even if uvrpc-gen did not write them",
    )
    parser.add_argument(
        "--package",
        metavar="NAME",
        type=_package,
        help="the package the generated modules live in: a module imports the "
        "module of an imported file from it (default: as a top-level module)",
    )
    parser.add_argument(
        "--compat",
        action="store_true",
        help="compare two files, OLD NEW, and the files they import, or two "
        "directories (files paired by relative path): list every change, breaking "
        "ones first; exit 1 if any change breaks the wire",
    )
    parser.add_argument(
        "--version", action="version", version=f"uvrpc-gen {__version__}"
    )
    args = parser.parse_args(argv)
    if args.compat and (len(args.files) != 2 or args.output or args.check):
        parser.error(
            "--compat takes two files or two directories, OLD NEW, and no -o or --check"
        )
    if not args.compat and args.output is None:
        parser.error("the following arguments are required: -o/--output")
    return args


def _inputs(paths: Sequence[str]) -> tuple[list[str], list[str]]:
    """The IDL files named (files as given, directories as every ``*.idl``
    below), and the directories named that hold none."""
    files: list[str] = []
    empty: list[str] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            below = [str(p) for p in sorted(path.rglob("*.idl"))]
            files += below
            if not below:
                empty.append(name)
        else:
            files.append(name)
    return files, empty


def _stem_problem(stem: str) -> str | None:
    """Why a file of this stem cannot be generated, if it cannot."""
    if not stem.isidentifier() or keyword.iskeyword(stem):
        return f"'{stem}' is not a valid Python module name; rename the file"
    if stem in sys.stdlib_module_names or stem in SHADOWED_MODULES:
        owner = (
            "the standard library's"
            if stem in sys.stdlib_module_names
            else "the uvrpc runtime's dependency"
            if stem != RUNTIME_MODULE
            else "the uvrpc runtime"
        )
        return (
            f"the generated module '{stem}' would shadow {owner} '{stem}'; "
            "rename the file"
        )
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``uvrpc-gen``; return the exit status."""
    args = _arguments(argv)
    if args.compat:
        return main_compat(args.files[0], args.files[1])
    output = Path(args.output)
    inputs, empty = _inputs(args.files)
    for name in empty:
        print(
            f"{name}: error: no .idl file in this directory or below it",
            file=sys.stderr,
        )
    failed = bool(empty)
    files: list[str] = []
    # An input refused here may come back as the import of another input (named
    # by another path, perhaps): it is reported once.
    refused: set[str] = set()
    for name in inputs:
        problem = _stem_problem(Path(name).stem)
        if problem is not None:
            print(f"{name}: error: {problem}", file=sys.stderr)
            failed = True
            refused.add(os.path.abspath(name))
        else:
            files.append(name)
    try:
        loaded = load(files)
    except LoadError as error:
        print(error.report, file=sys.stderr)
        return 1
    results: dict[Path, str] = {}
    sources: dict[Path, str] = {}
    for name, checked in loaded.modules.items():
        stem = Path(name).stem
        problem = _stem_problem(stem)
        if problem is not None:  # an imported file: its inputs were checked above
            if os.path.abspath(name) not in refused:
                print(f"{name}: error: {problem}", file=sys.stderr)
            failed = True
            continue
        target = output / f"{stem}.py"
        if target in results:
            print(
                f"{name}: error: another input also generates {target} "
                f"({sources[target]})",
                file=sys.stderr,
            )
            failed = True
            continue
        results[target] = render(checked, args.package)
        sources[target] = name
    if failed:
        return 1
    if args.check:
        return _check(results, sources, args.output, args.package)
    problem = _make_output(output)
    if problem is not None:
        print(f"{output}: error: {problem}", file=sys.stderr)
        return 2
    if not args.force:
        foreign = [target for target in results if not _ours(target)]
        for target in foreign:
            print(
                f"{target}: error: exists and was not generated by uvrpc-gen; "
                "remove it or rerun with --force to overwrite it",
                file=sys.stderr,
            )
        if foreign:
            return 1
    for target, text in results.items():
        try:
            with target.open("w", encoding="utf-8", newline="\n") as stream:
                stream.write(text)
        except OSError as exc:  # a directory of that name, no permission, disk full
            print(f"{target}: error: cannot write it: {_reason(exc)}", file=sys.stderr)
            return 2
    return 0


def _reason(exc: OSError) -> str:
    """An OS error's message without the path it names (which the caller gives)."""
    return exc.strerror or str(exc)


def _make_output(output: Path) -> str | None:
    """Create the output directory ``output`` if it is missing; why it cannot be
    written into, if it cannot."""
    for path in (output, *output.parents):
        if path.exists():
            if not path.is_dir():
                return (
                    "exists and is not a directory (-o names the directory to write "
                    "into)"
                    if path == output
                    else f"cannot create the output directory: {path} is not a "
                    "directory"
                )
            break
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create the output directory: {_reason(exc)}"
    return None


def _ours(target: Path) -> bool:
    """Whether ``target`` may be written: it does not exist, or it starts with the
    header of a generated module (an earlier run's output)."""
    try:
        with target.open("rb") as stream:
            first = stream.readline(1000)
    except FileNotFoundError:
        return True
    except OSError:
        return False  # a directory, or unreadable: not a module uvrpc-gen wrote
    return is_generated(first.decode("utf-8", errors="replace"))


def _check(
    results: dict[Path, str],
    sources: dict[Path, str],
    output: str,
    package: str | None,
) -> int:
    """Compare generated text with the files on disk; report each stale one, with
    the command that regenerates it as this run would (``--package`` included:
    without it the module would import its imports as top-level modules)."""
    status = 0
    # Quoted as a shell reads them: the command is there to be pasted.
    options = f" --package {shlex.quote(package)}" if package else ""
    for target, text in results.items():
        try:
            current = target.read_text(encoding="utf-8")
        except OSError:
            current = None
        if current != text:
            state = "missing" if current is None else "stale"
            print(
                f"{target}: {state}; regenerate it with: "
                f"uvrpc-gen {shlex.quote(sources[target])} -o {shlex.quote(output)}"
                f"{options}",
                file=sys.stderr,
            )
            status = 1
    return status


if __name__ == "__main__":  # python -m uvrpc_gen.cli, as python -m uvrpc_gen
    sys.exit(main())
