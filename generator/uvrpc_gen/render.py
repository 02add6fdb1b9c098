"""Render a checked module to Python source with the package's Jinja templates.

Templates receive a :class:`~uvrpc_gen.view.ModuleView` and spell the fixed text of
each statement around the view's slots; every name, annotation and line break was
decided by :mod:`uvrpc_gen.view`.
"""

from __future__ import annotations

import ast
import functools
import re

import jinja2

from .check import CheckedModule
from .view import module_view

__all__ = ["environment", "render"]


@functools.cache
def environment() -> jinja2.Environment:
    """The template environment: package templates, strict about undefined names."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(__package__, "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render(checked: CheckedModule, package: str | None = None) -> str:
    """The Python source of the module generated from ``checked``; ``package`` is
    where it imports the modules of imported files from (see
    :func:`~uvrpc_gen.view.module_view`)."""
    template = environment().get_template("module.py.j2")
    return _excuse_ambiguous_names(template.render(view=module_view(checked, package)))


_AMBIGUOUS_NAMES = frozenset({"l", "O", "I"})
"""The names pycodestyle calls ambiguous (ruff's E741, E742 and E743): valid IDL
names, which generated code binds as the IDL spells them."""

_AMBIGUOUS_WORD = re.compile(r"\b[lOI]\b")

_NOQA = "  # noqa: {codes}, RUF100"
"""The comment on a line that binds an ambiguous name. ``RUF100`` keeps the
directive itself from being reported as unused where E741 is not enabled (ruff's
default rules), so the module is clean under either configuration."""


def _excuse_ambiguous_names(source: str) -> str:
    """``source`` with a ``noqa`` comment on exactly the lines that bind one of
    :data:`_AMBIGUOUS_NAMES` (a class, function, parameter or attribute), naming
    the codes ruff reports there.

    The lines are found in the module's syntax tree, so a name used (``(l, O)``)
    rather than bound gets none. ``ruff format`` leaves trailing comments where
    they are and does not count pragma comments in a line's width, so the layout
    is unchanged.
    """
    if not _AMBIGUOUS_WORD.search(source):
        return source
    codes: dict[int, set[str]] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and node.name in _AMBIGUOUS_NAMES:
            codes.setdefault(node.lineno, set()).add("E742")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if node.name in _AMBIGUOUS_NAMES:
                codes.setdefault(node.lineno, set()).add("E743")
        elif isinstance(node, ast.arg) and node.arg in _AMBIGUOUS_NAMES:
            codes.setdefault(node.lineno, set()).add("E741")
        elif (
            isinstance(node, ast.Name)
            and isinstance(node.ctx, ast.Store)
            and node.id in _AMBIGUOUS_NAMES
        ):
            codes.setdefault(node.lineno, set()).add("E741")
    if not codes:
        return source
    lines = source.split("\n")
    for number, found in codes.items():
        lines[number - 1] += _NOQA.format(codes=", ".join(sorted(found)))
    return "\n".join(lines)
