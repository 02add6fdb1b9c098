"""How a value that failed validation is described to a person and on the wire.

Both sides validate with pydantic: the server a request's parameters and a stream's
items, the client a reply and a stream's items. A problem is named by its field path
in Python names (``program.steps.0.op``), which is what ``INVALID_ARGUMENT`` carries.
"""

from __future__ import annotations

from pydantic import ValidationError

from .errors import InvalidArgument

__all__ = ["first_problem", "invalid_argument"]


def _path(location: tuple[int | str, ...], prefix: str | None) -> str:
    parts = [str(part) for part in location]
    return ".".join([prefix, *parts] if prefix else parts)


def first_problem(exc: ValueError) -> str:
    """The first problem of a failed validation, ``"<message> at '<path>'"``; any
    other ``ValueError`` as its text."""
    if not isinstance(exc, ValidationError):
        return str(exc)
    error = exc.errors()[0]
    path = _path(error["loc"], None)
    return f"{error['msg']} at '{path}'" if path else error["msg"]


def invalid_argument(
    route: str, exc: ValidationError, prefix: str | None = None
) -> InvalidArgument:
    """The ``INVALID_ARGUMENT`` error of arguments of ``route`` that failed
    validation: the first field path and message in its text, every problem in its
    details. ``prefix`` starts each path (``ticks.3`` for the fourth item of the
    stream parameter ``ticks``)."""
    problems = [
        {"field_path": _path(error["loc"], prefix), "message": error["msg"]}
        for error in exc.errors()
    ]
    first = problems[0]
    return InvalidArgument(
        f"invalid argument '{first['field_path']}' of {route}: {first['message']}",
        {"field_path": first["field_path"], "errors": problems},
    )
