"""Parse IDL source text into the IR of :mod:`uvrpc_gen.model`.

The grammar lives in ``grammar.lark`` (package data). Lark builds a parse tree with
positions; this module turns it into frozen IR nodes, attaches the ``///`` doc
comments lark's lexer hands over beside the tree, and turns lark's syntax errors
into one friendly :class:`Diagnostic`. Lines are counted at ``\n`` only, as lark
counts them.
"""

from __future__ import annotations

import contextvars
import functools
import importlib.resources
import re
import unicodedata
from collections.abc import Iterator, Mapping

import lark
from lark import Token, Tree

from .constraints import NAMES as CONSTRAINT_NAMES
from .diagnostics import REQUIRED_HINT, Diagnostic, IdlError
from .model import (
    BoolLiteral,
    Const,
    Constraint,
    Definition,
    Enum,
    EnumValue,
    ExceptionType,
    Field,
    FloatLiteral,
    Import,
    IntLiteral,
    ListLiteral,
    Literal,
    MapLiteral,
    Message,
    Method,
    Module,
    NameLiteral,
    ReservedName,
    ReservedRange,
    Service,
    Span,
    StringLiteral,
    Typedef,
    TypeRef,
    UnionType,
)
from .naming import camel_case

__all__ = ["SYNTAX_ERROR_EXAMPLES", "parse"]

_NAMESPACE_WITHOUT_SEMICOLON = "missing ';' after the namespace"
_FIELD_WITHOUT_ID = "a field starts with its id, like '1: i32 name;'"
_NOT_A_DEFINITION = (
    "expected a definition: 'enum', 'message', 'exception', 'union', 'service', "
    "'const', 'typedef', 'import' or 'namespace'"
)

SYNTAX_ERROR_EXAMPLES: Mapping[str, tuple[str, ...]] = {
    _NAMESPACE_WITHOUT_SEMICOLON: (
        "namespace calc\nenum Op { ADD = 1; }",
        "namespace acme.calc\nmessage M {}",
    ),
    _NOT_A_DEFINITION: (
        "namespace calc; record S {}",
        "namespace calc; 1: i32 x;",
    ),
    "an import names a file in quotes, like 'import \"common.idl\";'": (
        "namespace calc; import common;",
        "namespace calc; import common.idl;",
    ),
    "a method's errors are exception names in parentheses, like "
    "'throws (NotFound, Busy)'": (
        "namespace calc; service S { void f() throws NotFound; }",
        "namespace calc; service S { void f() throws (); }",
    ),
    "expected the definition's name": (
        "namespace calc; message {}",
        "namespace calc; enum {}",
        "namespace calc; service {}",
    ),
    _FIELD_WITHOUT_ID: (
        "namespace calc; message M { i32 x; }",
        "namespace calc; message M { optional i32 x; }",
    ),
    "definitions do not nest: write it at the top level of the file": (
        "namespace calc; message M { message N {} }",
        "namespace calc; message M { enum E { A = 1; } }",
        "namespace calc; message M { union U { 1: i32 a; } }",
        "namespace calc; message M { exception E {} }",
    ),
    "expected ':' after the field id": ("namespace calc; message M { 1 i32 x; }",),
    "expected a type": (
        "namespace calc; message M { 1: ; }",
        "namespace calc; message M { 1: optional ; }",
        "namespace calc; service S { void f(1: ); }",
    ),
    "missing ';' after the field": (
        "namespace calc; message M { 1: i32 x }",
        "namespace calc; message M { 1: i32 x 2: i32 y; }",
        "namespace calc; message M { 1: i32 x = 1 }",
        "namespace calc; message M { 1: optional i32 x }",
    ),
    "an enum value needs an explicit integer value, like 'NAME = 1;'": (
        "namespace calc; enum E { A; }",
        "namespace calc; enum E { A }",
        "namespace calc; enum E { A = ; }",
    ),
    "missing ';' after the enum value": ("namespace calc; enum E { A = 1 }",),
    "a parameter starts with its id, like '1: i32 name'": (
        "namespace calc; service S { void f(i32 x); }",
        "namespace calc; service S { void f(1: i32 x, i32 y); }",
    ),
    "missing ';' after the method": (
        "namespace calc; service S { void f() }",
        "namespace calc; service S { void f() void g(); }",
        # Parameters, a modifier and 'throws (...)' each end a method in a state
        # of its own; Thrift's methods need no ';', so a port meets them all.
        "namespace calc; service S { void f(1: i32 x) }",
        "namespace calc; service S { oneway void f() }",
        "namespace calc; service S { oneway void f(1: i32 x) }",
        "namespace calc; service S { void f() throws (E) }",
        "namespace calc; service S { void f() throws (E,) }",
    ),
    "a constraint is written 'name = value', like 'string(max_len = 50)'": (
        "namespace calc; message M { 1: string() x; }",
        "namespace calc; message M { 1: string(max_len) x; }",
        "namespace calc; message M { 1: string(50) x; }",
    ),
    "expected a value": (
        "namespace calc; message M { 1: i32 x = ; }",
        "namespace calc; service S { void f(1: i32 x = ); }",
    ),
}
"""Friendly syntax error messages, each keyed by malformed examples of it.

A syntax error that fails where one of these examples fails (the parser's state and
the tokens it accepts there, as lark's ``match_examples`` compares them, but for
the depth of the stack: ``_friendly_message``) gets that example's message; other
errors get a message built from the tokens the parser expected. The tests parse
every example.
"""

_DEFINITION_KEYWORDS = frozenset(
    {"namespace", "import", "const", "typedef", "enum", "message", "exception"}
    | {"union", "service"}
)
"""The words a definition starts with (the lexer hands most of them on as names)."""

_TERMINAL_NAMES: Mapping[str, str] = {
    "NAME": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "STRING": "a string",
    "OPTIONAL": "'optional'",
    "ONEWAY": "'oneway'",
    "IDEMPOTENT": "'idempotent'",
    "$END": "the end of the file",
}

MAX_NESTING = 32
"""How deep a type's arguments (``list<list<...>>``) or a literal's brackets may
nest: deeper than any schema needs, and shallow enough that the checker and the
generator, which recurse once per level, never reach Python's recursion limit."""

BYTE_ORDER_MARK = "\ufeff"
"""What some editors write at the start of a UTF-8 file; it is not part of the text."""

MAX_INTEGER_BITS = 64
"""Integer literals must be smaller than ``2**64`` in magnitude."""

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_ESCAPES: Mapping[str, str] = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "0": "\0",
    '"': '"',
    "\\": "\\",
}


_doc_tokens: contextvars.ContextVar[list[Token] | None] = contextvars.ContextVar(
    "_doc_tokens", default=None
)
"""Where the lexer puts the doc comments of the parse running in this context."""


def _collect_doc(token: Token) -> Token:
    """Lexer callback: keep a (grammar-ignored) ``DOC_COMMENT`` token."""
    tokens = _doc_tokens.get()
    if tokens is not None:
        tokens.append(token)
    return token


_JAVADOC = re.compile(r"/\*\*(?![*/])")
"""How a Javadoc-style comment starts (``/** ...``), as Thrift and protobuf
write doc comments; not ``/**/`` nor a ``/*****`` banner."""


def _collect_javadoc(token: Token) -> Token:
    """Lexer callback: keep a (grammar-ignored) ``COMMENT`` token written as a
    Javadoc-style doc comment, which the IDL reads as a plain comment."""
    tokens = _doc_tokens.get()
    if tokens is not None and _JAVADOC.match(token):
        tokens.append(token)
    return token


@functools.cache
def _parser() -> lark.Lark:
    """The LALR parser of the grammar, built once."""
    grammar = (
        importlib.resources.files(__package__).joinpath("grammar.lark").read_text()
    )
    return lark.Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        lexer_callbacks={"DOC_COMMENT": _collect_doc, "COMMENT": _collect_javadoc},
    )


def _parse_tree(source: str) -> tuple[Tree[Token], list[Token]]:
    """Parse ``source``; return the tree and the doc comment tokens, in order."""
    docs: list[Token] = []
    reset = _doc_tokens.set(docs)
    try:
        tree = _parser().parse(source)
    finally:
        _doc_tokens.reset(reset)
    return tree, docs


def parse(source: str, file: str) -> Module:
    """Parse the IDL text ``source`` read from ``file`` into an unchecked module.

    Raises:
        IdlError: the text is not valid IDL syntax (one diagnostic, for the first
            error), or has a malformed doc comment, number or string literal.
    """
    source = source.removeprefix(BYTE_ORDER_MARK)
    try:
        tree, doc_tokens = _parse_tree(source)
    except lark.UnexpectedInput as error:
        raise IdlError([_syntax_diagnostic(error, source, file)]) from None
    builder = _Builder(file)
    builder.docs = builder.doc_blocks(
        [t for t in doc_tokens if t.type == "DOC_COMMENT"], source
    )
    builder.javadocs = {
        (t.end_line or 1) + 1: builder.span(t)
        for t in doc_tokens
        if t.type == "COMMENT"
    }
    module = builder.module(tree)
    errors = builder.errors + [
        Diagnostic(
            span,
            "doc comment does not directly precede anything it documents: a '///' "
            "block documents the line right after it, with no blank line between "
            "(use '//' for a plain comment)",
        )
        for _, span in builder.docs.values()
    ]
    if errors:
        raise IdlError(sorted(errors, key=lambda d: (d.span.line, d.span.column)))
    return module


class _Builder:
    """Turns lark's parse tree into IR nodes, attaching doc comments on the way."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.docs: dict[int, tuple[str, Span]] = {}
        # Javadoc-style comments, keyed by the line after each: one right above
        # a declaration was meant to document it.
        self.javadocs: dict[int, Span] = {}
        self.errors: list[Diagnostic] = []

    def error(self, token: Token, message: str, offset: int = 0) -> None:
        """Report an error at a token, or at the character ``offset`` into it."""
        line, column = token.line or 1, (token.column or 1) + offset
        end = column + 1
        if not offset and token.end_line == line and token.end_column:
            end = token.end_column
        self.errors.append(Diagnostic(Span(self.file, line, column, end), message))

    def doc_blocks(
        self, tokens: list[Token], source: str
    ) -> dict[int, tuple[str, Span]]:
        """Group the ``///`` tokens on consecutive lines into blocks.

        Returns the blocks keyed by the line right after each block, the line whose
        declaration the block documents. A doc comment after code on its line, or
        holding a control character, is an error.
        """
        blocks: dict[int, tuple[str, Span]] = {}
        lines: list[str] = []
        start: Span | None = None
        previous = 0
        for token in tokens:
            line_start = source.rfind("\n", 0, token.start_pos or 0) + 1
            if source[line_start : token.start_pos].strip(" \t"):
                self.error(
                    token,
                    "a doc comment must be on a line of its own; "
                    "use '//' for a comment after code",
                )
                continue
            text = str(token)[3:].removesuffix("\r")
            for index, char in enumerate(text):
                problem = _doc_character_problem(char)
                if problem:
                    self.error(token, f"doc comment contains {problem}", 3 + index)
            line = token.line or 1
            if start is not None and line != previous + 1:
                blocks[previous + 1] = (_doc_text(lines), start)
                lines, start = [], None
            if start is None:
                start = self.span(token)
            lines.append(text.removeprefix(" "))
            previous = line
        if start is not None:
            blocks[previous + 1] = (_doc_text(lines), start)
        return blocks

    def span(self, item: Token | Tree[Token]) -> Span:
        """The span of a token, or of a subtree's first line."""
        if isinstance(item, Token):
            line, column = item.line or 1, item.column or 1
            end_line, end_column = item.end_line or line, item.end_column or column
        else:
            line, column = item.meta.line, item.meta.column
            end_line, end_column = item.meta.end_line, item.meta.end_column
        if end_line != line:
            end_column = column + 1
        return Span(self.file, line, column, end_column)

    def doc(self, line: int, *, header: bool = False) -> str | None:
        """Take the doc comment block that ends right above ``line``, if any.

        A ``/** ... */`` comment there is an error: it reads as a doc comment
        and would be dropped silently. Not above the ``namespace`` (``header``):
        a file's licence or banner comment is often written so, right above it.
        """
        javadoc = self.javadocs.pop(line, None)
        if javadoc is not None and not header:
            self.errors.append(
                Diagnostic(
                    javadoc,
                    "'/** ... */' is a plain comment here, and what it documents "
                    "would get no docstring: write a doc comment as '///' lines "
                    "(or '/* ... */' for a plain comment)",
                )
            )
        block = self.docs.pop(line, None)
        return None if block is None or not block[0] else block[0]

    def module(self, tree: Tree[Token]) -> Module:
        """Build the module from the ``start`` tree."""
        namespace: str | None = None
        namespace_span: Span | None = None
        module_doc: str | None = None
        definitions: list[Definition] = []
        imports: list[Import] = []
        for child in _trees(tree):
            line = child.meta.line
            if child.data == "namespace":
                module_doc = self.doc(line, header=True)
                if namespace is None:
                    name_tree = next(_trees(child))
                    namespace = ".".join(str(t) for t in _tokens(name_tree))
                    namespace_span = self.span(name_tree)
                else:
                    self.errors.append(
                        Diagnostic(
                            self.span(child), "a file has exactly one 'namespace'"
                        )
                    )
            elif child.data == "enum":
                definitions.append(self.enum(child, self.doc(line)))
            elif child.data == "message":
                definitions.append(self.message(child, self.doc(line)))
            elif child.data == "service":
                definitions.append(self.service(child, self.doc(line)))
            elif child.data == "exception":
                definitions.append(self.exception(child, self.doc(line)))
            elif child.data == "union":
                definitions.append(self.union(child, self.doc(line)))
            elif child.data == "const":
                definitions.append(self.const(child, self.doc(line)))
            elif child.data == "typedef":
                definitions.append(self.typedef(child, self.doc(line)))
            elif child.data == "import":
                imports.append(self.import_(child))
        return Module(
            self.file,
            namespace,
            namespace_span,
            module_doc,
            tuple(definitions),
            tuple(imports),
        )

    def import_(self, tree: Tree[Token]) -> Import:
        """Build an import; its path is a plain string literal, and holds no
        control character (a NUL cannot be in a path the OS opens, and a newline
        would break the line of every message that names the file)."""
        token = _token(tree, "STRING")
        text, _ = self.string(token)
        control = next((c for c in text if unicodedata.category(c) == "Cc"), None)
        if control is not None:
            self.error(
                token,
                "an import path cannot hold a control character "
                f"(U+{ord(control):04X})",
            )
        return Import(text, self.span(token))

    def exception(self, tree: Tree[Token], doc: str | None) -> ExceptionType:
        """Build an exception type and its fields."""
        name = _token(tree, "NAME")
        fields = tuple(self.field(c) for c in _trees(tree) if c.data == "field")
        ids, names = self.reserved(tree)
        return ExceptionType(str(name), fields, doc, self.span(name), ids, names)

    def union(self, tree: Tree[Token], doc: str | None) -> UnionType:
        """Build a union and its members."""
        name = _token(tree, "NAME")
        members = tuple(self.field(c) for c in _trees(tree) if c.data == "field")
        ids, names = self.reserved(tree)
        return UnionType(str(name), members, doc, self.span(name), ids, names)

    def const(self, tree: Tree[Token], doc: str | None) -> Const:
        """Build a constant."""
        name = _token(tree, "NAME")
        type_tree, literal = (c for c in tree.children if c is not name)
        assert isinstance(type_tree, Tree)
        return Const(
            str(name), self.type(type_tree), self.literal(literal), doc, self.span(name)
        )

    def typedef(self, tree: Tree[Token], doc: str | None) -> Typedef:
        """Build a typedef."""
        name = _token(tree, "NAME")
        return Typedef(str(name), self.type(_tree(tree, "type")), doc, self.span(name))

    def enum(self, tree: Tree[Token], doc: str | None) -> Enum:
        """Build an enum and its values."""
        name = _token(tree, "NAME")
        values = []
        for child in _trees(tree):
            if child.data != "enum_value":
                continue
            value_name, value = _tokens(child)
            values.append(
                EnumValue(
                    str(value_name),
                    self.integer(value),
                    self.doc(child.meta.line),
                    self.span(value_name),
                    self.span(value),
                )
            )
        ids, names = self.reserved(tree)
        return Enum(str(name), tuple(values), doc, self.span(name), ids, names)

    def message(self, tree: Tree[Token], doc: str | None) -> Message:
        """Build a message and its fields."""
        name = _token(tree, "NAME")
        fields = tuple(self.field(c) for c in _trees(tree) if c.data == "field")
        ids, names = self.reserved(tree)
        return Message(str(name), fields, doc, self.span(name), ids, names)

    def reserved(
        self, tree: Tree[Token]
    ) -> tuple[tuple[ReservedRange, ...], tuple[ReservedName, ...]]:
        """The ids (or enum values) and names of a definition's ``reserved``
        statements, in order."""
        ids: list[ReservedRange] = []
        names: list[ReservedName] = []
        for statement in _trees(tree):
            if statement.data != "reserved":
                continue
            for item in statement.children:
                if isinstance(item, Tree):
                    bounds = [self.integer(t) for t in _tokens(item)]
                    ids.append(ReservedRange(bounds[0], bounds[-1], self.span(item)))
                elif isinstance(item, Token):
                    names.append(ReservedName(self.string(item)[0], self.span(item)))
        return tuple(ids), tuple(names)

    def service(self, tree: Tree[Token], doc: str | None) -> Service:
        """Build a service and its methods."""
        name = _token(tree, "NAME")
        methods = tuple(self.method(child) for child in _trees(tree))
        return Service(str(name), methods, doc, self.span(name))

    def method(self, tree: Tree[Token]) -> Method:
        """Build a method; a return type named ``void`` becomes ``None``."""
        doc = self.doc(tree.meta.line)
        name = _token(tree, "NAME")
        returns = self.type(_tree(tree, "type"))
        params: tuple[Field, ...] = ()
        throws: tuple[TypeRef, ...] = ()
        modifiers: list[tuple[str, Span]] = []
        for child in _trees(tree):
            if child.data == "parameters":
                params = tuple(self.field(p) for p in _trees(child))
            elif child.data == "throws":
                throws = tuple(
                    TypeRef(".".join(str(t) for t in _tokens(n)), (), self.span(n))
                    for n in _trees(child)
                )
            elif child.data == "modifier":
                token = _tokens(child)[0]
                modifiers.append((str(token), self.span(token)))
        void = returns.name == "void" and not returns.arguments
        if void and returns.constraints:
            self.errors.append(
                Diagnostic(returns.constraints[0].span, "'void' takes no constraints")
            )
        return Method(
            str(name),
            None if void else returns,
            params,
            doc,
            self.span(name),
            throws,
            tuple(modifiers),
        )

    def field(self, tree: Tree[Token]) -> Field:
        """Build a message field or a method parameter."""
        doc = self.doc(tree.meta.line)
        number = _token(tree, "INT")
        name = _token(tree, "NAME")
        default: Literal | None = None
        for child in _trees(tree):
            if child.data == "default":
                default = self.literal(child.children[0])
        return Field(
            id=self.integer(number),
            name=str(name),
            type=self.type(_tree(tree, "type")),
            optional=any(_tokens(tree, "OPTIONAL")),
            default=default,
            doc=doc,
            span=self.span(name),
            id_span=self.span(number),
        )

    def type(self, tree: Tree[Token], depth: int = 1) -> TypeRef:
        """Build a type reference and its type arguments, ``depth`` levels deep.

        Past :data:`MAX_NESTING` levels the arguments are reported and dropped, so
        nothing after the parser recurses deeper.
        """
        name_tree = _tree(tree, "qualified_name")
        arguments: tuple[TypeRef, ...] = ()
        for child in _trees(tree):
            if child.data != "type_arguments":
                continue
            if depth > MAX_NESTING:
                self.nesting_error(child, "type")
            else:
                arguments = tuple(self.type(t, depth + 1) for t in _trees(child))
        name = ".".join(str(t) for t in _tokens(name_tree))
        constraints = tuple(
            Constraint(
                str(_token(c, "NAME")),
                self.literal(c.children[1]),
                self.span(_token(c, "NAME")),
            )
            for child in _trees(tree)
            if child.data == "constraints"
            for c in _trees(child)
        )
        return TypeRef(name, arguments, self.span(tree), constraints)

    def nesting_error(self, tree: Tree[Token], what: str) -> None:
        """Report a type or literal that nests deeper than :data:`MAX_NESTING`."""
        self.errors.append(
            Diagnostic(
                self.span(tree),
                f"{what} nests deeper than {MAX_NESTING} levels; the IDL allows "
                f"at most {MAX_NESTING}",
            )
        )

    def literal(self, item: Token | Tree[Token], depth: int = 1) -> Literal:
        """Build a literal value, ``depth`` brackets deep (at most
        :data:`MAX_NESTING`: deeper elements are reported and dropped)."""
        assert isinstance(item, Tree)
        span = self.span(item)
        kind = item.data
        if kind in ("list_literal", "map_literal") and depth > MAX_NESTING:
            self.nesting_error(item, "value")
            return ListLiteral((), span)
        if kind == "list_literal":
            items = [c for c in item.children if c is not None]
            return ListLiteral(tuple(self.literal(c, depth + 1) for c in items), span)
        if kind == "map_literal":
            entries = [c for c in item.children if isinstance(c, Tree)]
            return MapLiteral(
                tuple(
                    (
                        self.literal(e.children[0], depth + 1),
                        self.literal(e.children[1], depth + 1),
                    )
                    for e in entries
                ),
                span,
            )
        if kind == "name_literal":
            name_tree = _tree(item, "qualified_name")
            return NameLiteral(".".join(str(t) for t in _tokens(name_tree)), span)
        if kind == "true_literal":
            return BoolLiteral(True, span)
        if kind == "false_literal":
            return BoolLiteral(False, span)
        token = item.children[0]
        assert isinstance(token, Token)
        if kind == "int_literal":
            return IntLiteral(self.integer(token), span)
        if kind == "float_literal":
            return FloatLiteral(float(token), span)
        text, data = self.string(token)
        return StringLiteral(text, data, span)

    def integer(self, token: Token) -> int:
        """The value of an ``INT`` token; reports leading zeros and huge values."""
        text = str(token)
        digits = text.removeprefix("-")
        hexadecimal = digits[:2] in ("0x", "0X")
        if not hexadecimal and len(digits) > 1 and digits.startswith("0"):
            plain = text.replace(digits, digits.lstrip("0") or "0")
            self.error(
                token,
                f"integer '{text}' has a leading zero; write '{plain}' "
                "(hexadecimal is written '0x...')",
            )
            return 0
        limit = 2**MAX_INTEGER_BITS
        if len(digits) > len(str(limit)) + 2 or abs(int(text, 0)) >= limit:
            self.error(
                token, f"integer literal is too large (at most {MAX_INTEGER_BITS} bits)"
            )
            return 0
        return int(text, 0)

    def string(self, token: Token) -> tuple[str, bytes]:
        """Decode a quoted string literal, as text and as the bytes of a ``bytes``
        default (where ``\\xNN`` is the byte NN rather than U+00NN)."""
        body = str(token)[1:-1]
        text: list[str] = []
        data = bytearray()
        index = 0
        while index < len(body):
            char = body[index]
            index += 1
            if char != "\\":
                text.append(char)
                data += char.encode()
                continue
            offset = index  # the escape starts at body[index - 1], token column + index
            escape = body[index]
            index += 1
            if escape in _ESCAPES:
                text.append(_ESCAPES[escape])
                data += _ESCAPES[escape].encode()
                continue
            if escape not in "ux":
                self.error(token, f"unknown escape '\\{escape}'", offset)
                continue
            count = 4 if escape == "u" else 2
            digits = body[index : index + count]
            if len(digits) < count or not set(digits) <= _HEX_DIGITS:
                shown = body[index - 2 : index + count]
                self.error(
                    token,
                    f"bad escape '{shown}': '\\{escape}' takes exactly {count} "
                    "hexadecimal digits",
                    offset,
                )
                continue
            index += count
            code = int(digits, 16)
            if escape == "x":
                text.append(chr(code))
                data.append(code)
            elif 0xD800 <= code <= 0xDFFF:
                self.error(
                    token,
                    f"bad escape '\\u{digits}': a lone surrogate is not a character",
                    offset,
                )
            else:
                text.append(chr(code))
                data += chr(code).encode()
        return "".join(text), bytes(data)


_JOINERS = frozenset("\u200c\u200d")
"""Zero-width non-joiner and joiner: format characters that are part of the text
of Persian, of Indic scripts and of emoji sequences, and reorder nothing."""


def _doc_character_problem(char: str) -> str | None:
    """What is wrong with ``char`` in a doc comment, which becomes a docstring;
    ``None`` for a character it may hold.

    A control character (tabs are fine) or a line or paragraph separator would
    break or hide part of the line. An invisible format character (category Cf:
    a bidirectional control such as U+202E, U+200B, U+FEFF) would make the
    docstring show other text than it holds, the Trojan Source trick; the string
    literals that carry the IDL's text into code escape them instead.
    """
    category = unicodedata.category(char)
    if char != "\t" and category in ("Cc", "Zl", "Zp"):
        return f"the control character U+{ord(char):04X}"
    if category == "Cf" and char not in _JOINERS:
        name = unicodedata.name(char, "")
        return (
            f"the invisible format character U+{ord(char):04X}"
            + (f" ({name})" if name else "")
            + ": the docstring would show other text than it holds; remove it"
        )
    return None


def _doc_text(lines: list[str]) -> str:
    """The text of a doc comment block from its lines."""
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def _trees(tree: Tree[Token]) -> Iterator[Tree[Token]]:
    """The subtrees among a tree's children."""
    return (c for c in tree.children if isinstance(c, Tree))


def _tokens(tree: Tree[Token], kind: str | None = None) -> list[Token]:
    """The tokens among a tree's children, optionally only those of one type."""
    return [
        c
        for c in tree.children
        if isinstance(c, Token) and (kind is None or c.type == kind)
    ]


def _token(tree: Tree[Token], kind: str) -> Token:
    """The first token of a type among a tree's children."""
    return _tokens(tree, kind)[0]


def _tree(tree: Tree[Token], data: str) -> Tree[Token]:
    """The first subtree of a kind among a tree's children."""
    return next(c for c in _trees(tree) if c.data == data)


def _describe_terminal(name: str) -> str:
    """A readable name of a grammar terminal: ``';'``, ``a name``, ..."""
    if name in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[name]
    try:
        pattern = _parser().get_terminal(name).pattern
    except KeyError:
        return name
    return f"'{pattern.value}'"


def _describe_token(token: Token) -> str:
    """How an unexpected token is named in a message."""
    if token.type == "$END":
        return "the end of the file"
    if token.type == "NAME":
        return f"name '{token}'"
    if token.type in _TERMINAL_NAMES:
        return f"{_TERMINAL_NAMES[token.type]} {token}"
    return f"'{token}'"


def _join(words: list[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _unlexable(source: str, position: int) -> tuple[int, str]:
    """What starts at ``position``, where no token matches: how many characters to
    underline and the message.

    Comments and strings are tokens of the lexer, so one left open fails where
    it starts, at a ``/`` or a ``"`` that alone would be meaningless; naming it
    says which closing mark is missing.
    """
    if source.startswith("/*", position) and "*/" not in source[position + 2 :]:
        return 2, "unterminated block comment (it starts here and no '*/' closes it)"
    if source.startswith('"', position):
        # Every '"' the lexer cannot match opens a string that the line ends first
        # (a quoted string where none may stand is an unexpected token instead).
        return 1, "unterminated string: a string ends with '\"' on the line it starts"
    char = source[position] if position < len(source) else ""
    if char == "'":
        return 1, 'strings are written in double quotes ("..."), not single quotes'
    if char == "#":
        return 1, "Thrift's '#' comments are written '//' here"
    return 1, f"unexpected character {char!r}"


def _stray_word(error: lark.UnexpectedToken) -> tuple[Token, Token] | None:
    """The word written before a field's or parameter's type, and that type, if
    that is what the parser failed on: Thrift's ``1: required i32 name;``,
    protobuf's ``1: repeated string tags;``.

    The grammar reads the word there as the type and the real type as the
    name, so the parser fails on the token after the real type, in the state of a
    field missing its ``;``: no example of :data:`SYNTAX_ERROR_EXAMPLES` can tell
    the two apart, and the error belongs at an earlier token. The values the parser
    holds can: an id, ``:`` (or ``optional``), a type that is one word of
    :data:`_STRAY_WORDS`, a name.
    """
    stack = error.interactive_parser.parser_state.value_stack
    if len(stack) < 3 or not isinstance(stack[-1], Token) or stack[-1].type != "NAME":
        return None
    before, type_tree = stack[-3], stack[-2]
    if not (isinstance(before, Token) and before.type in ("COLON", "OPTIONAL")):
        return None
    if not (isinstance(type_tree, Tree) and type_tree.data == "type"):
        return None
    name_tree = type_tree.children[0]
    if len(type_tree.children) != 1 or not isinstance(name_tree, Tree):
        return None  # type arguments or constraints: not a stray keyword
    tokens = _tokens(name_tree)
    if len(tokens) != 1 or str(tokens[0]) not in _STRAY_WORDS:
        return None
    return tokens[0], stack[-1]


_STRAY_WORDS = frozenset({"required", "repeated"})
"""Words of other IDLs written before a field's type, which :func:`_stray_word`
recognises."""


def _stray_word_message(word: Token, type_: Token, error: lark.UnexpectedToken) -> str:
    """The message at a word :func:`_stray_word` found."""
    if word == "required":
        return REQUIRED_HINT
    name = str(error.token) if error.token.type == "NAME" else "name"
    return (
        f"protobuf's 'repeated' is written as a list here: "
        f"'list<{type_}> {name}' (a 'set<...>' if the order does not matter)"
    )


@functools.cache
def _example_failures() -> tuple[tuple[str, int, frozenset[str], Token], ...]:
    """Where each example of :data:`SYNTAX_ERROR_EXAMPLES` fails: its message, the
    parser's state there, the tokens that state accepts, and the token it got."""
    failures = []
    for message, examples in SYNTAX_ERROR_EXAMPLES.items():
        for example in examples:
            try:
                _parser().parse(example)
            except lark.UnexpectedToken as failure:
                assert failure.state is not None
                accepts = frozenset(failure.accepts or failure.expected)
                position = failure.state.position
                failures.append((message, position, accepts, failure.token))
    return tuple(failures)


def _friendly_message(error: lark.UnexpectedToken) -> str | None:
    """The message of the examples that fail where ``error`` does, one that fails
    at the same token first.

    Where is the parser's state and the tokens it accepts, as lark's
    ``match_examples`` compares them but for the depth of its stack, which tells a
    first field from a later one and nothing about what is wrong. Between two
    members of a body (where ``}`` is accepted) the state also tells the shape of
    the member before (a default, ``optional``, ``reserved``), which does not
    change what may follow it: there the tokens it accepts are compared alone, and
    the examples that fail there at a token of the same kind must agree.
    """
    assert error.state is not None
    token = error.token
    accepts = frozenset(error.accepts or error.expected)
    alike = [f for f in _example_failures() if f[2] == accepts]
    found = [f for f in alike if f[1] == error.state.position]
    between = [] if found or "RBRACE" not in accepts else alike
    exact = [f[0] for f in found or between if f[3] == token]
    if exact:
        return exact[0]
    if found:
        return found[0][0]
    messages = {f[0] for f in between if f[3].type == token.type}
    return messages.pop() if len(messages) == 1 else None


def _thrift_spelling(error: lark.UnexpectedToken, friendly: str | None) -> str | None:
    """The message for Thrift's ``struct``, or its per-language ``namespace py
    name``, where the parser failed on one; ``None`` for any other error."""
    token = error.token
    if token.type != "NAME":
        return None
    # After the first definition the parser is in a state the examples do not
    # reach; a definition's keyword being accepted there says the same.
    accepts = frozenset(error.accepts or error.expected)
    if token == "struct" and (friendly == _NOT_A_DEFINITION or "IMPORT" in accepts):
        return "Thrift's 'struct' is written 'message' here"
    if friendly == _NAMESPACE_WITHOUT_SEMICOLON and token not in _DEFINITION_KEYWORDS:
        # 'namespace py acme.shop;': one word read as the namespace, then a name.
        # (Before a definition's keyword, only the ';' is missing.)
        stack = error.interactive_parser.parser_state.value_stack
        words = _tokens(stack[-1]) if stack and isinstance(stack[-1], Tree) else []
        if len(words) == 1:
            return (
                "a namespace is one dotted name, for every language: drop "
                f"Thrift's language '{words[0]}'"
            )
    return None


_PROTOBUF_METHOD = re.compile(
    r"(?:^|(?<=[{;}]))\s*rpc\s+\w+\s*\(\s*(stream\s+)?[\w.]+\s*\)\s*(returns\b|$)"
)
"""A protobuf method, ``rpc Get(Request) returns (Reply);``, where a method
starts: at the start of a line, or after the ``{``, ``;`` or ``}`` before it."""


def _protobuf_spelling(error: lark.UnexpectedToken, source: str) -> str | None:
    """The message for a protobuf method, ``rpc Get(Request) returns
    (Reply);``, where the parser failed inside one; ``None`` for any other."""
    lines = source.split("\n")  # as lark counts them
    line = (error.token.line or 1) - 1
    if line >= len(lines):
        return None
    column = (error.token.column or 1) - 1
    if not any(
        found.start() <= column <= found.end()
        for found in _PROTOBUF_METHOD.finditer(lines[line])
    ):
        return None
    return (
        "protobuf's 'rpc Get(Request) returns (Reply)' is written "
        "'Reply get(1: Request request);' here"
    )


_PROTOBUF_FIELD = re.compile(
    r"(?:(repeated|optional)\s+)?([\w.]+(?:<[^;=]*>)?)\s+(\w+)\s*=\s*(\d+)\s*;"
)
"""A protobuf field, ``[repeated|optional] type name = id;``."""
_PROTOBUF_SCALARS = {
    **dict.fromkeys(("int32", "sint32", "sfixed32"), "i32"),
    **dict.fromkeys(("int64", "sint64", "sfixed64"), "i64"),
    # The IDL has no unsigned types: i64 holds every uint32, and uint64 up to 2^63.
    **dict.fromkeys(("uint32", "fixed32", "uint64", "fixed64"), "i64"),
}
"""Protobuf's integer types, by the IDL's name for them."""


def _protobuf_field(text: str) -> str | None:
    """How to write the protobuf field that starts ``text`` here, if it is one."""
    found = _PROTOBUF_FIELD.match(text)
    if found is None:
        return None
    label, kind, name, number = found.groups()
    written = f"{label} {kind} {name} = {number};" if label else found.group(0)
    kind = _PROTOBUF_SCALARS.get(kind, kind)
    if label == "repeated":
        kind = f"list<{kind}>"
    optional = "optional " if label == "optional" else ""
    return (
        f"a field starts with its id: protobuf's '{written}' is written "
        f"'{number}: {optional}{kind} {name};' here"
    )


_THROWS_MISSPELT = frozenset({"throw", "raise", "raises"})
"""Words written for ``throws`` after a method's parameters: Java's and C++'s
``throw``, Python's ``raise``, and ``raises``."""


def _foreign_construct(
    error: lark.UnexpectedToken, friendly: str | None, source: str
) -> str | None:
    """The message for a construct of Thrift or protobuf the IDL has no syntax
    for, where the parser failed on it: ``oneof`` in a message, a service that
    ``extends`` another, ``include``, a ``;`` after a definition's ``}``,
    protobuf's ``syntax`` and ``package``, annotations and field options, an
    ``optional`` result; ``None`` for any other error."""
    token = error.token
    after = source[token.end_pos or 0 :]
    accepts = frozenset(error.accepts or error.expected)
    if token.type == "NAME" and token == "oneof" and friendly == _FIELD_WITHOUT_ID:
        found = re.match(r"\s*(\w+)", after)
        name = found.group(1) if found else "kind"
        # protobuf's style names a oneof in snake_case: its union, a type, is
        # written in CamelCase (``http_response``: ``HttpResponse``).
        union = camel_case(name)
        return (
            "protobuf's 'oneof' is a 'union' here: define 'union "
            f"{union} {{ 1: string a; 2: i32 b; }}' at the top level of the file and "
            f"give the message a field of it, like '1: {union} {name};'"
        )
    if friendly == _FIELD_WITHOUT_ID:
        hint = _protobuf_field(source[token.start_pos or 0 :])
        if hint is not None:
            return hint
    if token.type == "NAME" and token == "extends" and "LBRACE" in accepts:
        found = re.match(r"\s*([\w.]+)", after)
        base = f"'{found.group(1)}'" if found else "the base service"
        return (
            "a service cannot extend another: inheritance (Thrift's 'extends') "
            f"is not supported; list the methods of {base} in this service too"
        )
    if token.type == "NAME" and token in _THROWS_MISSPELT and "THROWS" in accepts:
        # Where 'throws' may come, a word before '(' is most often it, misspelt
        # (Python's 'raise', Java's 'throw'), not a missing ';'.
        if re.match(r"\s*\(", after):
            return (
                f"the errors a method raises are listed after 'throws', not "
                f"'{token}', like 'throws (NotFound)'"
            )
    if token.type == "NAME" and token == "include" and "IMPORT" in accepts:
        found = re.match(r'\s*"([^"\n]*)"', after)
        path = found.group(1) if found else "common.thrift"
        idl = re.sub(r"\.thrift$", ".idl", path)
        return f"Thrift's 'include \"{path}\"' is written 'import \"{idl}\";' here"
    before = source[: token.start_pos or 0].rstrip()
    if token.type == "SEMICOLON" and before.endswith("}") and "$END" in accepts:
        return "no ';' follows a definition's closing '}': remove it"
    # 'option NAME = value;': the parser fails on 'option' (a definition or a
    # field expected), on NAME (an enum member, 'option', expected its '=') or on
    # the '=' (a method, 'option NAME', expected its parameters).
    option = re.search(r"(?:^|[{;}])\s*option(\s+\(?[\w.]+\)?)?$", before)
    if option and token.type in ("NAME", "LPAR", "EQUAL"):
        if option.group(1) is None and token == "allow_alias":
            return (
                "protobuf's 'option allow_alias' is not supported: an enum value "
                "has one name here; remove the option and the aliases"
            )
        if (option.group(1) is None) == (token.type != "EQUAL"):
            return _OPTION
    if (
        token.type == "NAME"
        and token == "option"
        and re.match(r"\s*\(?[\w.]+\)?\s*=", after)
        and ("RBRACE" in accepts or "IMPORT" in accepts)
    ):
        return _OPTION
    if token.type == "NAME" and token == "max" and re.search(r"\bto$", before):
        return _reserved_max(source, token.start_pos or 0)
    if token.type == "NAME" and token == "syntax" and "NAMESPACE" in accepts:
        return "protobuf's 'syntax = ...;' has no place here: remove the line"
    if token.type == "NAME" and token == "package" and "NAMESPACE" in accepts:
        found = re.match(r"\s*([\w.]+)", after)
        name = found.group(1) if found else "name"
        return f"protobuf's 'package {name};' is written 'namespace {name};' here"
    annotated = re.match(r"\s*\(?\s*([\w.]+)\s*\)?\s*=", after)
    if token.type == "LPAR" and annotated and annotated.group(1) in CONSTRAINT_NAMES:
        found = re.search(r"(\w+(?:<[^;:()]*>)?)\s+(\w+)\s*$", before)
        inner = re.match(r"([^()]*)\)", after)
        given = inner.group(1).strip() if inner else "..."
        field = f"{found.group(1)}({given}) {found.group(2)}" if found else ""
        return "constraints follow the type, not the name" + (
            f": write '{field}'" if field else ""
        )
    if (
        token.type in ("LPAR", "LSQB")
        and annotated
        and ("SEMICOLON" in accepts or "NAMESPACE" in accepts)
    ):
        what = (
            "Thrift's annotations '(...)'"
            if token.type == "LPAR"
            else ("protobuf's field options '[...]'")
        )
        return (
            f"{what} are not supported: remove them (a '///' doc comment can say "
            "what they said, such as that a field is deprecated)"
        )
    if accepts == {"LPAR"} and re.search(r"(^|\W)optional\s+[\w.<>, ]+$", before):
        return (
            "a method's result cannot be optional: return a message with an "
            "'optional' field (or a union) instead"
        )
    return None


_OPTION = "protobuf's options are not supported: remove the 'option ...;' line"

_BODY_START = re.compile(r"\b(enum|message|exception|union)\s+\w+\s*\{")
"""Where the body of a definition that may hold ``reserved`` starts."""


def _reserved_max(source: str, position: int) -> str:
    """The message for protobuf's ``reserved 9 to max;`` in the body that
    ``position`` is in: the highest id (or enum value) written out."""
    bodies = list(_BODY_START.finditer(source, 0, position))
    enum = bool(bodies) and bodies[-1].group(1) == "enum"
    # The largest i32, and the largest field id (check.MAX_ID).
    what, highest = ("value", 2**31 - 1) if enum else ("id", 2**29 - 1)
    return f"protobuf's 'max' is written as the highest {what} here: 'to {highest}'"


def _syntax_diagnostic(
    error: lark.UnexpectedInput, source: str, file: str
) -> Diagnostic:
    """Turn lark's first syntax error into a diagnostic with a friendly message.

    The LALR parser raises :class:`lark.UnexpectedCharacters` when no token
    matches, and :class:`lark.UnexpectedToken` for every other error, the end of
    the file included (as the token ``$END``).
    """
    if isinstance(error, lark.UnexpectedCharacters):
        line, column = error.line, error.column
        position = error.pos_in_stream or 0
        width, message = _unlexable(source, position)
        return Diagnostic(Span(file, line, column, column + width), message)
    assert isinstance(error, lark.UnexpectedToken)
    stray = _stray_word(error)
    if stray is not None:
        word, type_ = stray
        line, column = word.line or 1, word.column or 1
        span = Span(file, line, column, word.end_column or column + 1)
        return Diagnostic(span, _stray_word_message(word, type_, error))
    friendly = _friendly_message(error)
    friendly = (
        _thrift_spelling(error, friendly)
        or _protobuf_spelling(error, source)
        or _foreign_construct(error, friendly, source)
        or friendly
    )
    token = error.token
    if token.type == "$END":
        before = source.rstrip()
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        span = Span(file, line, column, column + 1)
    else:
        line, column = token.line or 1, token.column or 1
        span = Span(file, line, column, token.end_column or column + 1)
    got = _describe_token(token)
    if token.type != "NAME" and str(token).isidentifier():
        got = f"keyword '{token}'"
    if friendly:
        return Diagnostic(span, f"{friendly} (got {got})")
    expected = sorted({_describe_terminal(t) for t in error.accepts or error.expected})
    return Diagnostic(span, f"expected {_join(expected)}, got {got}")
