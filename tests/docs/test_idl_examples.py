"""Every IDL example of the documentation parses and checks with ``uvrpc-gen``.

The examples in ``idl/README.md`` are parts of files: methods shown alone, and
definitions that name others (``Scalars``, ``Color``) defined elsewhere. Each is
completed mechanically before it is checked: methods alone go into a service, a
file without a namespace gets one, and the names it uses without defining them
get the small definitions below (``shared.idl`` is the real one, imported).
"""

from __future__ import annotations

import re

import pytest
from conftest import ROOT
from docblocks import Block, blocks

from uvrpc_gen.cli import generate
from uvrpc_gen.load import LoadError, load

IDL_README = ROOT / "idl" / "README.md"
README = ROOT / "README.md"

DEFINED_ELSEWHERE = {
    "Op": "enum Op { ADD = 1; }",
    "Color": "enum Color { RED = 0; GREEN = 1; }",
    "Scalars": "message Scalars { 1: i64 value; }",
    "NotFound": "exception NotFound { 1: string what; }",
    "DEFAULT_COLOR": "const Color DEFAULT_COLOR = Color.GREEN;",
}
"""Definitions the examples use without showing them."""

_DECLARATIONS = ("namespace", "import", "const", "typedef", "enum", "message",
                 "exception", "union", "service")  # fmt: skip


def _code(text: str) -> str:
    """The text without its comments."""
    return re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.S)


def complete(example: str) -> str:
    """``example`` made a whole IDL file, as the module docstring says."""
    code = _code(example)
    words = code.split()
    body = example
    if words and words[0] not in _DECLARATIONS:
        body = "service Example {\n" + example + "}\n"
    head = "" if "namespace" in words else "namespace example;\n"
    if "shared." in code and 'import "shared.idl"' not in code:
        head += 'import "shared.idl";\n'
    defined = set(
        re.findall(
            r"\b(?:enum|message|exception|union|service|const \S+)\s+(\w+)", code
        )
    )
    used = [
        definition
        for name, definition in DEFINED_ELSEWHERE.items()
        if name not in defined and re.search(rf"\b{name}\b", code)
    ]
    # What the example uses comes first: a constant must precede its uses.
    return head + "".join(f"{d}\n" for d in used) + body


EXAMPLES = blocks(IDL_README, "thrift") + blocks(README, "thrift")


def test_the_documents_have_idl_examples() -> None:
    # Every block that is IDL says so (```thrift): none is left unlabelled.
    assert len(blocks(IDL_README, "thrift")) >= 11
    assert blocks(IDL_README, "") == []
    assert len(blocks(README, "thrift")) == 1


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_an_idl_example_checks(example: Block) -> None:
    path = str(ROOT / "idl" / "readme_example.idl")
    # Raises LoadError, with every diagnostic, if the example is not valid IDL.
    loaded = load([path], {path: complete(example.text)})
    assert path in loaded.modules


def test_completing_does_not_hide_errors() -> None:
    path = str(ROOT / "idl" / "readme_example.idl")
    with pytest.raises(Exception, match="unknown type"):
        load([path], {path: complete("message M { 1: Missing m; }")})
    with pytest.raises(Exception, match="error"):
        load([path], {path: complete("message M { 1: set<i32> s = set(); }")})


INLINE = re.findall(r"`(\d+: [^`]*;)`( is an error)?", IDL_README.read_text())
FIELDS = [field for field, error in INLINE if not error]
"""Fields written inline in the text (``3: set<Op> ops_used = [];``)."""
WRONG_FIELDS = [field for field, error in INLINE if error]
"""Fields the text shows as mistakes (followed by "is an error")."""


@pytest.mark.parametrize("field", FIELDS)
def test_an_inline_field_checks(field: str) -> None:
    path = str(ROOT / "idl" / "readme_example.idl")
    loaded = load([path], {path: complete(f"message Example {{ {field} }}")})
    assert path in loaded.modules


@pytest.mark.parametrize("field", WRONG_FIELDS)
def test_an_inline_field_shown_as_an_error_is_one(field: str) -> None:
    path = str(ROOT / "idl" / "readme_example.idl")
    with pytest.raises(LoadError):
        load([path], {path: complete(f"message Example {{ {field} }}")})


def test_the_enum_example_shows_the_class_uvrpc_gen_writes() -> None:
    # The "Enum" section shows an IDL enum, then the class generated from it.
    shown = blocks(IDL_README)
    enum_at = next(
        i for i, b in enumerate(shown) if b.lang == "thrift" and "enum Op" in b.text
    )
    generated = shown[enum_at + 1]
    assert generated.lang == "python", generated
    source = generate(complete(shown[enum_at].text), "readme_example.idl")
    assert generated.text in source
