"""Line layout of generated code, the way ``ruff format`` lays it out.

Expressions that may need more than one line are built as a small document tree:
plain text (``str``), a :class:`Seq` of parts printed one after the other, a bracketed
:class:`Group` and a :class:`Union` of two types (``T | None``). The printer decides
group by group, left to right, like ruff's: a group stays on one line when it fits
together with the text that follows it up to the next place a line may break;
otherwise it breaks.

A broken group puts one item per line and ends with a trailing comma, which makes
``ruff format`` keep it broken (the "magic trailing comma"). Subscripts, class bases
and a call of one display (``_t.default([...])``) break like ruff does on its own:
the items on one indented line when they fit, else one per line; a lone item never
gets a comma (``list[x,]`` would mean a tuple, and ruff splits around one argument
rather than listing it). Statements where ruff chooses among whole layouts
(annotated assignments, function headers) have their own functions here.

The statement functions return *slots*: the text of each variable part of the
statement as laid out, for a template that spells the rest
(``def {{ name }}({{ params }}) -> {{ returns }}:``). A slot's first line
continues the template's line; its further lines carry their own indentation.
:func:`between` takes the brackets off a bracketed slot, for templates that spell
them.

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
    "between",
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
    """A union of two types ``left | right``: an optional type ``left | None`` by
    default. Broken, ``| right`` starts the next line (and breaks in turn if it
    does not fit there)."""

    left: Doc
    right: Doc = "None"


Doc = str | Seq | Group | Union
"""A document: text, or a tree that may be laid out over several lines."""


def flat(doc: Doc) -> str:
    """The document on one line."""
    if isinstance(doc, str):
        return doc
    if isinstance(doc, Seq):
        return "".join(flat(part) for part in doc.parts)
    if isinstance(doc, Union):
        return f"{flat(doc.left)} | {flat(doc.right)}"
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
        for pieces in _parts(doc.parts, indent, column, rest):
            out[-1] += pieces[0]
            out.extend(pieces[1:])
        return out
    text = flat(doc)
    if not broken and _fits(text, column, rest):
        return [text]
    pad = " " * indent
    if isinstance(doc, Union):
        left = _render(doc.left, indent, column, 0)
        right = _render(doc.right, indent, indent + 2, rest)
        return [*left, f"{pad}| {right[0]}", *right[1:]]
    if not doc.items:
        return [text]
    inner = indent + 4
    lines = [doc.head]
    joined = ", ".join(flat(item) for item in doc.items)
    if doc.hug and _fits(joined, inner, 0):
        lines.append(" " * inner + joined)
    elif doc.hug and len(doc.items) == 1 and doc.head.endswith(("[", "(")):
        # A lone item that needs lines of its own gets no comma: ruff splits
        # around it (``f(\n    [...]\n)``) rather than listing it.
        lines.extend(_block(doc.items[0], inner, 0))
    else:
        for item in doc.items:
            item_lines = _block(item, inner, 1)
            item_lines[-1] += ","
            lines.extend(item_lines)
    lines.append(f"{pad}{doc.tail}")
    return lines


def _parts(
    parts: tuple[Doc, ...], indent: int, column: int, rest: int
) -> list[list[str]]:
    """Lay out ``parts`` one after the other from ``column``, as a :class:`Seq`;
    return each part's pieces (see :func:`_render`)."""
    out: list[list[str]] = []
    current = column
    for index, part in enumerate(parts):
        after, breaks = _first(Seq(parts[index + 1 :]))
        pieces = _render(part, indent, current, after + (0 if breaks else rest))
        current = current + width(pieces[0]) if len(pieces) == 1 else width(pieces[-1])
        out.append(pieces)
    return out


def _slot(pieces: list[str]) -> str:
    return "\n".join(pieces)


def between(slot: str, group: Group) -> str:
    """What a slot holding ``group`` has between its brackets: the items on the
    line, or on lines of their own and the closing bracket's indentation.

    Raises:
        ValueError: the slot does not start and end with the group's brackets (a
            layout put the whole group in parentheses).
    """
    if not (slot.startswith(group.head) and slot.endswith(group.tail)):
        raise ValueError(f"{slot!r} is not laid out inside {group.head}{group.tail}")
    return slot[len(group.head) : len(slot) - len(group.tail)]


def _block(doc: Doc, indent: int, rest: int) -> list[str]:
    """``doc`` laid out on lines of its own at ``indent``."""
    pieces = _render(doc, indent, indent, rest)
    return [" " * indent + pieces[0], *pieces[1:]]


def statement(doc: Doc, indent: int) -> str:
    """Lay out a statement starting at ``indent``: each group on one line if it
    fits. Returns it as a slot (no indentation before its first line)."""
    return _slot(_render(doc, indent, indent, 0))


def signature(head: Group, returns: Doc, indent: int) -> tuple[str, str]:
    """A function header ``def f(...) -> returns:``, as the slots of its
    parameters (between the brackets of ``head``) and of its return annotation.

    Ruff splits the parameters before the return annotation: when the header does
    not fit on one line the parameters go one per line, and the return annotation
    breaks only if ``) -> returns:`` still does not fit.
    """
    whole = Seq((head, " -> ", returns, ":"))
    if _fits(flat(whole), indent, 0):
        return between(flat(head), head), flat(returns)
    params = _slot(_render(head, indent, indent, 0, broken=True))
    after = indent + width(f"{head.tail} -> ")
    return between(params, head), _slot(_render(returns, indent, after, 1))


def _parenthesizable(doc: Doc) -> bool:
    """Whether ruff may wrap a value in parentheses to make it fit."""
    return not (isinstance(doc, Group) and doc.display)


def _splittable(annotation: Doc | None) -> bool:
    """Whether ruff can split an annotation: a union (in parentheses) or a
    subscript."""
    return isinstance(annotation, Union) or (
        isinstance(annotation, Group) and bool(annotation.items)
    )


def assignment(
    target: str, annotation: Doc | None, value: Doc | None, indent: int
) -> tuple[str | None, str | None]:
    """``target: annotation = value`` at ``indent`` (annotation or value optional),
    as the slots of the annotation and of the value (``None`` for those not given).

    Tries the layouts ruff tries, in its order: all on one line; the value's own
    brackets split; the value in parentheses on lines of its own (a value that
    cannot break only if it then fits; a negative number only if the annotation
    cannot split); the annotation split (a subscript breaks, an optional type goes
    in parentheses); else as the groups fall.
    """
    pad = " " * indent
    left: Doc = target if annotation is None else Seq((f"{target}: ", annotation))
    flat_annotation = None if annotation is None else flat(annotation)
    if value is None:
        assert annotation is not None, "an assignment needs an annotation or a value"
        if (
            not isinstance(annotation, Group)
            and not _fits(flat(left), indent, 0)
            and _fits(f"{target}: (", indent, 0)
            and _fits(flat(annotation), indent + 4, 0)
        ):
            return f"(\n{pad}    {flat(annotation)}\n{pad})", None
        parts = _parts((f"{target}: ", annotation), indent, indent, 0)
        return _slot(parts[1]), None
    whole = Seq((left, " = ", value))
    if _fits(flat(whole), indent, 0):
        return flat_annotation, flat(value)
    left_text = f"{pad}{flat(left)} = "
    if (
        isinstance(value, Group)
        and value.items
        and _fits(value.head, 0, width(left_text))
    ):
        return flat_annotation, _slot(_render(value, indent, indent, 0, broken=True))
    splittable = isinstance(value, Group) and bool(value.items)
    # A negative number is a unary operation, which ruff parenthesizes only when
    # the annotation cannot split instead.
    negative = isinstance(value, str) and value.startswith("-")
    if (
        _parenthesizable(value)
        and not (negative and _splittable(annotation))
        and _fits("(", 0, width(left_text))
        and (splittable or _fits(flat(value), indent + 4, 0))
    ):
        return flat_annotation, _slot(["(", *_block(value, indent + 4, 0), f"{pad})"])
    if isinstance(annotation, Union):
        inner = _block(annotation, indent + 4, 0)
        after = indent + width(") = ")
        return _slot(["(", *inner, f"{pad})"]), _slot(_render(value, indent, after, 0))
    if isinstance(annotation, Group) and annotation.items:
        split = _render(annotation, indent, indent, 0, broken=True)
        after = width(split[-1]) + width(" = ")
        return _slot(split), _slot(_render(value, indent, after, 0))
    if annotation is None:
        parts = _parts((target, " = ", value), indent, indent, 0)
        return None, _slot(parts[2])
    parts = _parts((f"{target}: ", annotation, " = ", value), indent, indent, 0)
    return _slot(parts[1]), _slot(parts[3])
