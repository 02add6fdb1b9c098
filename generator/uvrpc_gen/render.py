"""Render a checked module to Python source with the package's Jinja templates.

Templates receive a :class:`~uvrpc_gen.view.ModuleView` and spell the fixed text of
each statement around the view's slots; every name, annotation and line break was
decided by :mod:`uvrpc_gen.view`.
"""

from __future__ import annotations

import functools

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
    return template.render(view=module_view(checked, package))
