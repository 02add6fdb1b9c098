"""Doc comments: where lark's lexer finds them, how they become docstrings that
``ruff format`` leaves alone, and line numbers that match the parser's."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from uvrpc_gen.check import check
from uvrpc_gen.cli import generate, main
from uvrpc_gen.diagnostics import IdlError, format_diagnostic
from uvrpc_gen.layout import LINE_LENGTH, width
from uvrpc_gen.parse import parse
from uvrpc_gen.view import docstring

ROOT = Path(__file__).resolve().parents[2]
NS = "namespace t;\n"


def first_error(source: str) -> str:
    with pytest.raises(IdlError) as caught:
        check(parse(source, "t.idl"))
    return format_diagnostic(caught.value.diagnostics[0], source)


@pytest.mark.parametrize("separator", ["\u2028", "\x0c", "\r", "\x85", "\u2029"])
def test_line_numbers_count_newlines_only(separator: str) -> None:
    source = NS + f"// a{separator}b\nmessage M {{ 1: Strng x; }}\n"
    assert first_error(source).splitlines() == [
        "t.idl:3:16: error: unknown type 'Strng'; did you mean 'string'?",
        "message M { 1: Strng x; }",
        "               ^~~~~",
    ]


def test_files_are_read_with_their_line_ends_as_they_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``uvrpc-gen`` and ``--compat`` read a file untranslated: a comment runs on
    past a lone \r (an old Mac line end), a string keeps one, and positions are
    those ``generate()`` gives."""
    idl = tmp_path / "cr.idl"
    idl.write_bytes(b'namespace t;\n// a\rb\nconst string S = "a\rb";\r\n')
    assert main([str(idl), "-o", str(tmp_path / "out")]) == 0
    assert 'S: _typing.Final[str] = "a\\rb"\n' in (tmp_path / "out/cr.py").read_text()
    assert main(["--compat", str(idl), str(idl)]) == 0
    idl.write_bytes(b"namespace t;\n// a\rb\nmessage M { 1: Strng x; }\n")
    capsys.readouterr()
    assert main([str(idl), "-o", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.splitlines()[0] == (
        f"{idl}:3:16: error: unknown type 'Strng'; did you mean 'string'?"
    )


def test_syntax_error_at_the_end_counts_newlines_only() -> None:
    error = first_error(NS + "// a\u2028b\nmessage M {\n")
    assert error.startswith("t.idl:3:12: error: ")


def test_doc_comment_inside_a_block_comment_is_a_comment() -> None:
    source = NS + "/*\n/// not a doc\n*/\nmessage M {}\n/* old:\n/// stale\n*/\n"
    definitions = parse(source + "message N {}", "t.idl").definitions
    assert [d.doc for d in definitions] == [None, None]


def test_doc_comments_are_collected_from_the_lexer() -> None:
    source = NS + '/// A "doc".\n///   indented\nmessage M { 1: string s = "///"; }\n'
    (message,) = parse(source, "t.idl").definitions
    assert message.doc == 'A "doc".\n  indented'


def test_doc_comment_after_code_is_an_error() -> None:
    error = first_error(NS + "message M {\n  1: i32 a; /// trailing\n}\n")
    assert error.splitlines()[0] == (
        "t.idl:3:13: error: a doc comment must be on a line of its own; use '//' for "
        "a comment after code"
    )


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\u2028"])
def test_control_characters_in_doc_comments_are_errors(char: str) -> None:
    error = first_error(NS + f"/// bad {char} char\nmessage M {{}}\n")
    assert error.splitlines()[0] == (
        f"t.idl:2:9: error: doc comment contains the control character "
        f"U+{ord(char):04X}"
    )


@pytest.mark.parametrize(
    ("char", "name"),
    [
        ("\u202e", "RIGHT-TO-LEFT OVERRIDE"),
        ("\u202a", "LEFT-TO-RIGHT EMBEDDING"),
        ("\u2066", "LEFT-TO-RIGHT ISOLATE"),
        ("\u2069", "POP DIRECTIONAL ISOLATE"),
        ("\u200b", "ZERO WIDTH SPACE"),
        ("\ufeff", "ZERO WIDTH NO-BREAK SPACE"),
        ("\u00ad", "SOFT HYPHEN"),
    ],
)
def test_invisible_format_characters_in_doc_comments_are_errors(
    char: str, name: str
) -> None:
    """Bidirectional controls and other invisible format characters would make a
    docstring show other text than it holds (Trojan Source)."""
    error = first_error(NS + f"/// bad {char} char\nmessage M {{}}\n")
    assert error.splitlines()[0] == (
        f"t.idl:2:9: error: doc comment contains the invisible format character "
        f"U+{ord(char):04X} ({name}): the docstring would show other text than it "
        "holds; remove it"
    )


def test_joiners_in_doc_comments_are_text() -> None:
    """Zero-width (non-)joiners belong to Persian, Indic scripts and emoji."""
    source = NS + "/// می\u200cخواهم \U0001f468\u200d\U0001f469\nmessage M {}\n"
    (message,) = parse(source, "t.idl").definitions
    assert message.doc == "می\u200cخواهم \U0001f468\u200d\U0001f469"


def test_invisible_format_characters_in_strings_are_escaped() -> None:
    """A string literal may hold any character; the generated code escapes the
    invisible ones."""
    text = generate(
        NS + 'const string S = "a\u202eb\u200bc\ufeff";\n'
        'message M { 1: string s = "\u2066x"; }\n',
        "t.idl",
    )
    assert 'S: _typing.Final[str] = "a\\u202eb\\u200bc\\ufeff"\n' in text
    assert 's: _t.String = "\\u2066x"\n' in text


def test_docstring_starting_or_ending_with_a_quote() -> None:
    assert docstring('"Quoted" start', 4) == ('    """ "Quoted" start"""',)
    assert docstring('ends "quoted"', 4) == ('    """ends "quoted" """',)


def test_docstring_ending_with_three_quotes_or_a_backslash_and_a_quote() -> None:
    # Three quotes are written escaped, and an escaped quote does not run into the
    # closing quotes: ruff format takes out a space before them there. A quote
    # after a backslash is a quote after an escaped backslash, and keeps it.
    assert docstring('"""', 4) == ('    """\\"\\"\\""""',)
    assert docstring('say """', 4) == ('    """say \\"\\"\\""""',)
    assert docstring('say \\"', 4) == ('    """say \\\\" """',)


def test_docstring_expands_tabs_and_removes_common_indentation() -> None:
    assert docstring("\ttabbed\tdoc\n\n\tindented\n\t\tmore", 4) == (
        '    """tabbed  doc',
        "",
        "    indented",
        "            more",
        '    """',
    )


def test_docstring_drops_other_whitespace_that_starts_a_line() -> None:
    # ruff format counts spaces alone as indentation and drops a no-break space or
    # an ideographic space (U+3000, which indents Japanese paragraphs) after them.
    text = "Summary.\n\u3000段落\n  \u00a0 kept two\n\u00a0x"
    assert docstring(text, 4) == (
        '    """Summary.',
        "    段落",
        "      kept two",
        "    x",
        '    """',
    )


def test_a_docstring_that_fits_only_without_its_closing_quotes_is_broken() -> None:
    # 80 columns of text at indent 4: the opening line fits, the closing quotes
    # would not; ruff format would join a one-line docstring to its quotes, past
    # the line length the linter allows.
    text = "Call " + "x" * 75
    assert docstring(text, 4) == ('    """Call', "    " + "x" * 75, '    """')


def test_a_docstring_ending_with_a_quote_leaves_room_for_the_space_too() -> None:
    # 78 columns: the closing quotes would fit, but not the space before them.
    text = "Call " + "x" * 69 + ' "q"'
    assert docstring(text, 4) == ('    """Call ' + "x" * 69, '    "q"', '    """')


def test_a_docstring_of_one_long_word_stays_on_one_line() -> None:
    word = "x" * 100
    assert docstring(word, 8) == (f'        """{word}"""',)


def test_docstring_measures_wide_characters() -> None:
    lines = docstring("日本語 " * 25, 4)
    assert len(lines) > 1
    assert all(width(line) <= LINE_LENGTH for line in lines)
    assert width("日本語") == 6 and width("é") == 1 and width("e\u0301") == 1


def test_doc_comments_generate_ruff_clean_code(tmp_path: Path) -> None:
    source = (
        NS
        + '/// "Quoted" start\nmessage A {}\n'
        + "/// \ttabbed\tdoc\n///\n///\tindented with tab\nmessage B {}\n"
        + "/// ends with backslash \\\nmessage C {}\n"
        + "/// "
        + "日本語 " * 25
        + "\nmessage D {}\n"
        + '/// ends with "quote"\nmessage E {}\n'
        + '/// ends with """\nmessage H {}\n'
        + '/// ends with \\"\nmessage I {}\n'
        + "/// Summary.\n///\u3000段落\n///   \u00a0 kept\n///\u00a0x\nmessage J {}\n"
        + "/// Call "
        + "x" * 75
        + "\nmessage F {}\n"
        + "/// "
        + "y" * 100
        + "\nmessage G {}\n"
        # A method's docstring names its route: this one's line would fill 87
        # columns of 88, and the closing quotes need three more.
        + "service Servicewithaverylongname {\n"
        + "    void method_named_to_fill_its_docstring_line();\n}\n"
    )
    path = tmp_path / "docs.py"
    path.write_text(generate(source, "docs.idl"), encoding="utf-8")
    config = ("--config", str(ROOT / "pyproject.toml"))
    for command in (["format", "--diff"], ["check", "--quiet"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, *config, str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    namespace: dict[str, object] = {}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    # The space that keeps the quote from the triple quotes is layout, not text:
    # Python 3.13's compiler strips it from __doc__ (it cleans docstrings as
    # inspect.getdoc does), older ones keep it. What help() shows is the IDL's text.
    assert inspect.getdoc(namespace["A"]) == '"Quoted" start'
    assert inspect.getdoc(namespace["E"]) == 'ends with "quote" '


def test_a_wrapped_argument_or_raised_error_continues_indented() -> None:
    # Google-style docstrings (Sphinx's napoleon, IDEs) read a line at an entry's
    # own indentation as another entry: napoleon took "update." for a parameter.
    text = (
        "Updates a topic.\n\nArgs:\n"
        "    update_mask: Required. Indicates which fields in the provided topic to "
        "update.\n    topic: Short.\n\nRaises:\n"
        "    NotFound: The resource was not found, or it was deleted while the call "
        "was on its way.\n"
    )
    assert docstring(text, 8) == (
        '        """Updates a topic.',
        "",
        "        Args:",
        "            update_mask: Required. Indicates which fields in the provided "
        "topic to",
        "                update.",
        "            topic: Short.",
        "",
        "        Raises:",
        "            NotFound: The resource was not found, or it was deleted while the "
        "call was",
        "                on its way.",
        '        """',
    )


def test_other_wrapped_lines_keep_their_indentation() -> None:
    text = "Summary.\n\nPlain.\n    An indented line, long enough to wrap: " + (
        "word " * 16
    )
    assert docstring(text, 4)[3:5] == (
        "        An indented line, long enough to wrap: " + "word " * 7 + "word",
        "        " + "word " * 7 + "word",
    )
