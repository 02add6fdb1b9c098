"""Line layout of generated code, the way ``ruff format`` lays it out.

Expressions that may need more than one line are built as a small document tree:
plain text (``str``), a :class:`Seq` of parts printed one after the other, a bracketed
:class:`Group` and an optional-type :class:`Union` (``T | None``). The printer decides
group by group, left to right, like ruff's: a group stays on one line when it fits
together with the text that follows it up to the next place a line may break;
otherwise it breaks.

A broken group puts one item per line and ends with a trailing comma, which makes
``ruff format`` keep it broken (the "magic trailing comma"). Subscripts and class
bases break like ruff does on its own: the items on one indented line when they
fit, else one per line; a one-item subscript never gets a comma (``list[x,]`` would
mean a tuple). Statements where ruff chooses among whole layouts (annotated
assignments, function headers) have their own functions here.

Widths are display widths: East Asian wide characters take two columns.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

__all__ = [
    "LINE_LENGTH",
    "Doc",
    "Group",
    "Seq",
    "Union",
    "assignment",
    "flat",
    "signature",
    "statement",
    "width",
]

LINE_LENGTH = 88
"""The longest line generated code may have (the project's ruff setting)."""


def width(text: str) -> int:
    """The display width of ``text``: wide and full-width characters count two
    columns, combining marks and zero-width format characters none."""
    total = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Cf"):
            continue
        total += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return total


@dataclass(frozen=True, slots=True)
class Seq:
    """Parts printed one after the other."""

    parts: tuple[Doc, ...]


@dataclass(frozen=True, slots=True)
class Group:
    """A bracketed, comma-separated construct: a call, a signature, a literal.

    ``head`` ends with the opening bracket and ``tail`` is the closing one. ``hug``
    groups (subscripts, class bases) break the way ruff breaks them unprompted;
    other groups break one item per line. ``display`` marks list, set, dict and
    tuple displays, which ruff never wraps in parentheses; ``tuple_syntax`` adds
    the comma a one-item tuple needs.
    """

    head: str
    items: tuple[Doc, ...]
    tail: str
    hug: bool = False
    display: bool = False
    tuple_syntax: bool = False


@dataclass(frozen=True, slots=True)
class Union:
    """An optional type ``left | None``; broken, ``| None`` starts the next line."""

    left: Doc


Doc = str | Seq | Group | Union
"""A document: text, or a tree that may be laid out over several lines."""


def flat(doc: Doc) -> str:
    """The document on one line."""
    if isinstance(doc, str):
        return doc
    if isinstance(doc, Seq):
        return "".join(flat(part) for part in doc.parts)
    if isinstance(doc, Union):
        return f"{flat(doc.left)} | None"
    parts = [flat(item) for item in doc.items]
    comma = "," if doc.tuple_syntax and len(parts) == 1 else ""
    return f"{doc.head}{', '.join(parts)}{comma}{doc.tail}"


def _first(doc: Doc) -> tuple[int, bool]:
    """The width of ``doc`` up to where it may first break, and whether it may."""
    if isinstance(doc, str):
        return width(doc), False
    if isinstance(doc, Group):
        if doc.items:
            return width(doc.head), True
        return width(flat(doc)), False
    if isinstance(doc, Union):
        return _first(doc.left)[0], True
    total = 0
    for part in doc.parts:
        part_width, breaks = _first(part)
        total += part_width
        if breaks:
            return total, True
    return total, False


def _fits(text: str, column: int, rest: int) -> bool:
    return column + width(text) + rest <= LINE_LENGTH


def _render(
    doc: Doc, indent: int, column: int, rest: int, *, broken: bool = False
) -> list[str]:
    """Lay out ``doc`` starting at ``column`` of a line indented by ``indent``.

    ``rest`` is the width of what follows on the last line up to the next possible
    break; ``broken`` breaks a group even if it fits. Returns the text for the
    current line, then any further whole lines.
    """
    if isinstance(doc, str):
        return [doc]
    if isinstance(doc, Seq):
        out = [""]
        for index, part in enumerate(doc.parts):
            after, breaks = _first(Seq(doc.parts[index + 1 :]))
            current = column + width(out[0]) if len(out) == 1 else width(out[-1])
            pieces = _render(part, indent, current, after + (0 if breaks else rest))
            out[-1] += pieces[0]
            out.extend(pieces[1:])
        return out
    text = flat(doc)
    if not broken and _fits(text, column, rest):
        return [text]
    pad = " " * indent
    if isinstance(doc, Union):
        left = _render(doc.left, indent, column, 0)
        return [*left, f"{pad}| None"]
    if not doc.items:
        return [text]
    inner = indent + 4
    lines = [doc.head]
    joined = ", ".join(flat(item) for item in doc.items)
    if doc.hug and _fits(joined, inner, 0):
        lines.append(" " * inner + joined)
    elif doc.hug and len(doc.items) == 1 and doc.head.endswith("["):
        lines.extend(_block(doc.items[0], inner, 0))
    else:
        for item in doc.items:
            item_lines = _block(item, inner, 1)
            item_lines[-1] += ","
            lines.extend(item_lines)
    lines.append(f"{pad}{doc.tail}")
    return lines


def _block(doc: Doc, indent: int, rest: int) -> list[str]:
    """``doc`` laid out on lines of its own at ``indent``."""
    pieces = _render(doc, indent, indent, rest)
    return [" " * indent + pieces[0], *pieces[1:]]


def statement(doc: Doc, indent: int) -> tuple[str, ...]:
    """Lay out a statement at ``indent``: each group on one line if it fits."""
    return tuple(_block(doc, indent, 0))


def signature(head: Group, returns: Doc, indent: int) -> tuple[str, ...]:
    """A function header ``def f(...) -> returns:``.

    Ruff splits the parameters before the return annotation: when the header does
    not fit on one line the parameters go one per line, and the return annotation
    breaks only if ``) -> returns:`` still does not fit.
    """
    whole = Seq((head, " -> ", returns, ":"))
    if _fits(flat(whole), indent, 0):
        return (" " * indent + flat(whole),)
    params = _render(head, indent, indent, 0, broken=True)
    tail = params.pop()
    ending = _render(Seq((tail.lstrip(), " -> ", returns, ":")), indent, indent, 0)
    return (
        " " * indent + params[0],
        *params[1:],
        " " * indent + ending[0],
        *ending[1:],
    )


def _parenthesizable(doc: Doc) -> bool:
    """Whether ruff may wrap a value in parentheses to make it fit."""
    return not (isinstance(doc, Group) and doc.display)


def assignment(
    target: str, annotation: Doc | None, value: Doc | None, indent: int
) -> tuple[str, ...]:
    """``target: annotation = value`` at ``indent`` (annotation or value optional).

    Tries the layouts ruff tries, in its order: all on one line; the value's own
    brackets split; the value in parentheses on lines of its own (a value that
    cannot break only if it then fits); the annotation split (a subscript breaks,
    an optional type goes in parentheses); else as the groups fall.
    """
    pad = " " * indent
    left: Doc = target if annotation is None else Seq((f"{target}: ", annotation))
    if value is None:
        if (
            annotation is not None
            and not isinstance(annotation, Group)
            and not _fits(flat(left), indent, 0)
            and _fits(f"{target}: (", indent, 0)
            and _fits(flat(annotation), indent + 4, 0)
        ):
            return (f"{pad}{target}: (", f"{pad}    {flat(annotation)}", f"{pad})")
        return statement(left, indent)
    whole = Seq((left, " = ", value))
    if _fits(flat(whole), indent, 0):
        return (pad + flat(whole),)
    left_text = f"{pad}{flat(left)} = "
    if (
        isinstance(value, Group)
        and value.items
        and _fits(value.head, 0, width(left_text))
    ):
        broken = _render(value, indent, indent, 0, broken=True)
        return (left_text + broken[0], *broken[1:])
    splittable = isinstance(value, Group) and bool(value.items)
    if (
        _parenthesizable(value)
        and _fits("(", 0, width(left_text))
        and (splittable or _fits(flat(value), indent + 4, 0))
    ):
        return (f"{left_text}(", *_block(value, indent + 4, 0), f"{pad})")
    if isinstance(annotation, Union):
        inner = _block(annotation, indent + 4, 0)
        ending = _render(Seq((") = ", value)), indent, indent, 0)
        return (f"{pad}{target}: (", *inner, pad + ending[0], *ending[1:])
    if isinstance(annotation, Group) and annotation.items:
        split = _render(annotation, indent, indent, 0, broken=True)
        tail = split.pop()
        ending = _render(Seq((tail.lstrip(), " = ", value)), indent, indent, 0)
        first = f"{pad}{target}: {split[0]}"
        return (first, *split[1:], pad + ending[0], *ending[1:])
    return statement(whole, indent)
