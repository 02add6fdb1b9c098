"""How a value that failed validation is described to a person and on the wire.

Both sides validate with pydantic: the server a request's parameters and a stream's
items, the client a reply and a stream's items. A problem is named by its field path
in Python names (``program.steps.0.op``), which is what ``INVALID_ARGUMENT`` carries.

What a peer sent is never echoed back at its own length. An error lists at most
:data:`~uvrpc.wire.limits.MAX_PROBLEMS` problems and says how many more were found,
every container fails at its first bad element
(:func:`uvrpc.wire.message.fail_fast`), and every piece
of the peer's input in a message (a route, a metadata key, a map key in a field
path) is cut to :data:`~uvrpc.wire.limits.MAX_ECHO` characters
(:func:`~uvrpc.wire.limits.echo`). So a
request of a million bad list elements costs what one bad element does, and its
error reply is a few hundred bytes.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from .errors import InvalidArgument
from .limits import MAX_PROBLEMS, echo

__all__ = ["first_problem", "invalid_argument", "problems"]


def _path(location: tuple[int | str, ...], prefix: str | None) -> str:
    # A map's keys are the peer's input: each part is cut as any echo is.
    parts = [echo(part) if type(part) is str else str(part) for part in location]
    return ".".join([prefix, *parts] if prefix else parts)


def problems(
    exc: ValidationError, prefix: str | None = None
) -> tuple[list[dict[str, str]], int]:
    """The first :data:`~uvrpc.wire.limits.MAX_PROBLEMS` problems of a failed
    validation as ``{"field_path": …, "message": …}``, and how many more there are.

    ``prefix`` starts each path (``ticks.3`` for the fourth item of the stream
    parameter ``ticks``).
    """
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    found = [
        {"field_path": _path(error["loc"], prefix), "message": echo(error["msg"])}
        for error in errors[:MAX_PROBLEMS]
    ]
    return found, max(0, exc.error_count() - len(found))


def first_problem(exc: ValueError) -> str:
    """The first problem of a failed validation, ``"<message> at '<path>'"`` (and
    how many more there are); any other ``ValueError`` as its text."""
    if not isinstance(exc, ValidationError):
        return echo(str(exc))
    found, more = problems(exc)
    first = found[0]
    path, message = first["field_path"], first["message"]
    text = f"{message} at '{path}'" if path else message
    return f"{text} (and {more:,} more)" if more else text


def invalid_argument(
    route: str, exc: ValidationError, prefix: str | None = None
) -> InvalidArgument:
    """The ``INVALID_ARGUMENT`` error of arguments of ``route`` that failed
    validation: the first field path and message in its text, the first
    :data:`~uvrpc.wire.limits.MAX_PROBLEMS` problems in its details, and how many
    more there are (``more``, and ``and N more`` in the text). ``prefix`` starts
    each path (``ticks.3`` for the fourth item of the stream parameter ``ticks``).
    """
    found, more = problems(exc, prefix)
    first = found[0]
    text = f"invalid argument '{first['field_path']}' of {route}: {first['message']}"
    if len(found) > 1 or more:
        text += f" (and {len(found) - 1 + more:,} more)"
    details: dict[str, Any] = {"field_path": first["field_path"], "errors": found}
    if more:
        details["more"] = more
    return InvalidArgument(text, details)
