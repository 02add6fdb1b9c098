"""Read IDL files and the files they import, and check them in dependency order.

``import "common.idl";`` names a file relative to the importing one. Each file is
read, parsed and checked once, after every file it imports, so the checker of a
file sees the checked modules of its imports; an import cycle is an error at the
``import`` that closes it. Errors of every file are collected and reported
together, each with its own file's position and source line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .check import CheckedModule, check
from .diagnostics import Diagnostic, IdlError, format_diagnostics, not_utf8
from .model import Import, Module
from .parse import parse

__all__ = ["LoadError", "Loaded", "import_path", "load"]


class LoadError(Exception):
    """Some file could not be read, parsed or checked.

    ``report`` holds every error, formatted for a person (``file:line:col: error:``
    with the source line and a caret where there is a position).
    """

    def __init__(self, report: str) -> None:
        super().__init__(report)
        self.report = report


@dataclass(frozen=True, slots=True)
class Loaded:
    """The checked modules of some files and of everything they import.

    ``modules`` maps each file's path to its checked module, in dependency order
    (a file comes after every file it imports).
    """

    modules: Mapping[str, CheckedModule]


def import_path(importer: str, imported: Import) -> str:
    """The path of an imported file: relative to the directory of its importer."""
    return os.path.normpath(os.path.join(os.path.dirname(importer), imported.path))


def load(paths: Sequence[str], sources: Mapping[str, str] | None = None) -> Loaded:
    """Read, parse and check ``paths`` and the files they import.

    ``sources`` gives the text of files already read (by path); other files are
    read from disk as UTF-8.

    Raises:
        LoadError: with the errors of every file that has any.
    """
    loader = _Loader(dict(sources or {}))
    for path in paths:
        loader.visit(path, None, ())
    if loader.reports:
        raise LoadError("\n".join(loader.reports))
    return Loaded(loader.checked)


_PROTOBUF_IMPORT = (
    "protobuf's well-known types are not imported here: remove the import"
)
_PROTOBUF_IMPORTS = {
    "timestamp.proto": "protobuf's Timestamp is the built-in type 'timestamp': "
    "remove the import",
    "duration.proto": "protobuf's Duration is the built-in type 'duration': "
    "remove the import",
    "empty.proto": "protobuf's Empty is an empty message here ('message Empty {}'): "
    "remove the import",
    "wrappers.proto": "protobuf's wrapper types are optional fields here "
    "('optional i64'): remove the import",
    "any.proto": "there is no 'Any' here (use a union of the types it may hold): "
    "remove the import",
}
"""What an import of a file of protobuf's well-known types says instead."""


class _Loader:
    """Depth-first: a file is checked after the files it imports."""

    def __init__(self, sources: dict[str, str]) -> None:
        self.sources = sources
        self.checked: dict[str, CheckedModule] = {}
        self.failed: set[str] = set()
        self.reports: list[str] = []

    def report(self, file: str, diagnostics: Sequence[Diagnostic]) -> None:
        self.reports.append(format_diagnostics(diagnostics, self.sources.get(file, "")))

    def read(self, path: str, importer: str | None, where: Import | None) -> str | None:
        if path in self.sources:
            return self.sources[path]
        try:
            # Bytes: the parser counts lines at \n alone (a lone \r is no line
            # break), so the text must reach it untranslated.
            with open(path, "rb") as stream:
                data = stream.read()
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            # Reported at its own position in that file, as its other errors are.
            diagnostic, self.sources[path] = not_utf8(path, data, error)
            self.report(path, [diagnostic])
            return None
        except OSError as error:
            reason = error.strerror or str(error)
            if importer is None or where is None:
                self.reports.append(f"{path}: error: cannot read: {reason}")
            else:
                message = f"cannot read '{where.path}': {reason}"
                self.report(
                    importer,
                    [Diagnostic(where.span, message + self.suffix_hint(path, where))],
                )
            return None
        self.sources[path] = text
        return text

    def suffix_hint(self, path: str, where: Import) -> str:
        """``; write import "b.idl";`` when an import that cannot be read names
        a file without the suffix its neighbour has (a protobuf or Thrift habit
        is the path without it), else nothing."""
        if where.path.startswith("google/protobuf/"):
            name = where.path.removeprefix("google/protobuf/")
            return "; " + _PROTOBUF_IMPORTS.get(name, _PROTOBUF_IMPORT)
        if where.path.endswith(".idl"):
            return ""
        named = path + ".idl"
        if named in self.sources or os.path.isfile(named):
            return f'; imports name the file: write import "{where.path}.idl";'
        return ""

    def visit(
        self, path: str, where: Import | None, chain: tuple[str, ...]
    ) -> CheckedModule | None:
        """Load ``path`` (imported by the last file of ``chain`` at ``where``)."""
        path = os.path.normpath(path)
        if path in self.checked:
            return self.checked[path]
        if path in self.failed:
            return None
        importer = chain[-1] if chain else None
        if path in chain:
            assert importer is not None and where is not None
            cycle = " -> ".join((*chain[chain.index(path) :], path))
            self.report(importer, [Diagnostic(where.span, f"import cycle: {cycle}")])
            return None
        text = self.read(path, importer, where)
        if text is None:
            self.failed.add(path)
            return None
        try:
            module = parse(text, path)
        except IdlError as error:
            self.report(path, error.diagnostics)
            self.failed.add(path)
            return None
        imports = self.imports(path, module, (*chain, path))
        if imports is None:
            self.failed.add(path)
            return None
        try:
            checked = check(module, imports)
        except IdlError as error:
            self.report(path, error.diagnostics)
            self.failed.add(path)
            return None
        self.checked[path] = checked
        return checked

    def imports(
        self, path: str, module: Module, chain: tuple[str, ...]
    ) -> dict[str, CheckedModule] | None:
        """The checked modules of a file's imports, by stem; None if one failed."""
        imports: dict[str, CheckedModule] = {}
        ok = True
        for imported in module.imports:
            checked = self.visit(import_path(path, imported), imported, chain)
            if checked is None:
                ok = False
            else:
                imports.setdefault(imported.stem, checked)
        return imports if ok else None
