"""Generated modules are clean under ``ruff format --check`` and ``ruff check``
whatever the lengths of names, the number of parameters and the defaults.

Hypothesis writes IDL files with varied definitions; each generated module must
already be in ruff's format and pass its lint rules, long lines included.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uvrpc_gen.cli import generate

ROOT = Path(__file__).resolve().parents[2]

SCALARS = ("bool", "i8", "i32", "i64", "float", "double", "string", "bytes")
WORDS = ("alpha", "beta", "gamma", "delta", "epsilon", "日本語", "x", "longerword")


def name(prefix: str, max_size: int) -> st.SearchStrategy[str]:
    """Names that are valid everywhere: a fixed prefix and lower-case letters."""
    return st.text("abcdefghij", min_size=0, max_size=max_size).map(
        lambda tail: prefix + tail
    )


def idl_string(text: str) -> str:
    """``text`` as an IDL string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")
    return f'"{escaped}"'


string_values = st.text(
    st.sampled_from(list("ab yz'\"\\\t語é")), min_size=0, max_size=18
)
scalar_defaults = {
    "bool": st.sampled_from(["true", "false"]),
    "i8": st.integers(-128, 127).map(str),
    "i32": st.integers(-(2**31), 2**31 - 1).map(str),
    "i64": st.integers(-(2**63), 2**63 - 1).map(str),
    "float": st.sampled_from(["1.5", "-2.25", "1e3", "0", "7"]),
    "double": st.sampled_from(["1.5", "-2e-7", "123456.789", "3"]),
    "string": string_values.map(idl_string),
    "bytes": st.text("abc\\'", max_size=12).map(idl_string),
}


@st.composite
def field_type(draw: st.DrawFn, enums: list[str], messages: list[str]) -> str:
    """A type: a scalar, an enum, a message, or containers of them."""
    leaves = list(SCALARS) + enums + messages
    depth = draw(st.integers(0, 3))
    text = draw(st.sampled_from(leaves))
    for _ in range(depth):
        kind = draw(st.sampled_from(["list", "set", "map"]))
        if kind == "list":
            text = f"list<{text}>"
        else:
            key = draw(st.sampled_from(["string", "i32", *enums]))
            text = f"set<{key}>" if kind == "set" else f"map<{key}, {text}>"
    return text


@st.composite
def default(draw: st.DrawFn, type_: str, enums: dict[str, list[str]]) -> str | None:
    """A default that fits ``type_``, or ``None``."""
    if type_ in scalar_defaults:
        return draw(scalar_defaults[type_])
    if type_ in enums:
        return f"{type_}.{draw(st.sampled_from(enums[type_]))}"
    if type_.startswith("list<string>"):
        words = draw(st.lists(st.sampled_from(WORDS), max_size=9))
        return "[" + ", ".join(f'"{w}"' for w in words) + "]"
    if type_ == "set<i32>":
        items = draw(st.lists(st.integers(0, 10**6), unique=True, max_size=9))
        return "[" + ", ".join(map(str, items)) + "]"
    if type_.startswith("map<string, i32>"):
        keys = draw(st.lists(st.sampled_from(WORDS), unique=True, max_size=5))
        return "{" + ", ".join(f'"{k}": {i}' for i, k in enumerate(keys)) + "}"
    return "[]" if type_.startswith(("list", "set")) else "{}"


@st.composite
def idl_module(draw: st.DrawFn) -> str:
    """A whole IDL file."""
    lines = ["namespace " + draw(name("ns", 10)) + ";"]
    enums: dict[str, list[str]] = {}
    for index in range(draw(st.integers(0, 2))):
        enum = draw(name("E", 30)) + str(index)
        members = [f"M{i}" for i in range(draw(st.integers(1, 3)))]
        enums[enum] = members
        body = " ".join(f"{m} = {i};" for i, m in enumerate(members))
        lines.append(f"enum {enum} {{ {body} }}")
    messages: list[str] = []
    doc_words = st.lists(
        st.sampled_from([*WORDS, '"quoted"', "tab\there", "end."]), max_size=30
    )
    for index in range(draw(st.integers(0, 3))):
        message = draw(name("Msg", 30)) + str(index)
        fields = []
        for number in range(1, draw(st.integers(0, 4)) + 1):
            type_ = draw(field_type(list(enums), [*messages, message]))
            # A message that needs itself could never be built: refused.
            optional = draw(st.booleans()) or type_ == message
            field = draw(name("f", 30)) + str(number)
            value = None
            if (
                not optional  # an optional field cannot have a default
                and type_ not in messages
                and type_ != message
                and draw(st.booleans())
            ):
                value = draw(default(type_, enums))
            doc = " ".join(draw(doc_words))
            fields.append(
                (f"    /// {doc}\n" if doc else "")
                + f"    {number}: {'optional ' if optional else ''}{type_} {field}"
                + (f" = {value}" if value is not None else "")
                + ";"
            )
        lines.append(f"message {message} {{\n" + "\n".join(fields) + "\n}")
        messages.append(message)
    for index in range(draw(st.integers(0, 2))):
        service = draw(name("Svc", 24)) + str(index)
        methods = []
        for number in range(draw(st.integers(0, 3))):
            returns = draw(
                st.one_of(st.just("void"), field_type(list(enums), messages))
            )
            params = []
            for pid in range(1, draw(st.integers(0, 8)) + 1):
                type_ = draw(field_type(list(enums), messages))
                optional = draw(st.booleans())
                value = None
                if (
                    not optional
                    and (type_ in scalar_defaults or type_ in enums)
                    and draw(st.booleans())
                ):
                    value = draw(default(type_, enums))
                params.append(
                    f"{pid}: {'optional ' if optional else ''}{type_} "
                    + draw(name("p", 20))
                    + str(pid)
                    + (f" = {value}" if value is not None else "")
                )
            method = draw(name("do", 24)) + str(number)
            methods.append(f"    {returns} {method}({', '.join(params)});")
        doc = " ".join(draw(doc_words))
        lines.append(
            (f"/// {doc}\n" if doc else "")
            + f"service {service} {{\n"
            + "\n".join(methods)
            + "\n}"
        )
    return "\n".join(lines) + "\n"


def ruff(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )


def generated_ruff_clean(source: str, tmp_path: Path) -> str:
    """Generate ``source``; assert ruff neither reformats nor flags the module,
    under the project's own configuration and under ruff's defaults (what a
    project that installs uvrpc lints it with); return its text."""
    path = tmp_path / "generated.py"
    path.write_text(generate(source, "generated.idl"), encoding="utf-8")
    assert_ruff_clean(path)
    return path.read_text(encoding="utf-8")


def assert_ruff_clean(path: Path, *, cwd: Path = ROOT) -> None:
    """Assert ``ruff format`` and ``ruff check`` leave the module at ``path`` as
    it is, with the project's configuration and with ruff's defaults run from
    ``cwd`` (where ruff looks for first-party modules)."""
    for config in (("--config", str(ROOT / "pyproject.toml")), ("--isolated",)):
        formatted = ruff("format", "--diff", *config, str(path), cwd=cwd)
        assert formatted.returncode == 0, formatted.stdout + formatted.stderr
        checked = ruff("check", "--quiet", *config, str(path), cwd=cwd)
        assert checked.returncode == 0, checked.stdout + checked.stderr


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(source=idl_module())
def test_generated_code_is_ruff_clean(source: str, tmp_path: Path) -> None:
    generated_ruff_clean(source, tmp_path)


def test_long_service_and_method_names_generate_ruff_clean_code(tmp_path: Path) -> None:
    # `_<SERVICE>_<METHOD>: _uvrpc.ServerStreaming[` would start past column 88
    # here, where no formatter can break it; the service's initials stand in.
    source = (
        "namespace notifications;\n"
        "message Preference { 1: string name; }\n"
        "service NotificationPreferencesService {\n"
        "    list<Preference> listNotificationPreferencesForUser(1: string user);\n"
        "    stream<Preference> watchNotificationPreferencesForUser(1: string user);\n"
        "    i32 countNotificationPreferencesUpdates(1: stream<Preference> updates);\n"
        "    stream<Preference> echoNotificationPreferencesUpdates("
        "1: stream<Preference> updates);\n"
        "    void ping();\n"
        "}\n"
    )
    text = generated_ruff_clean(source, tmp_path)
    assert (
        "_NPS_WATCH_NOTIFICATION_PREFERENCES_FOR_USER: _uvrpc.ServerStreaming[" in text
    )
    assert "_NOTIFICATION_PREFERENCES_SERVICE_PING: _uvrpc.Unary[" in text


def test_long_wire_names_of_exceptions_and_union_members_are_ruff_clean(
    tmp_path: Path,
) -> None:
    """``uvrpc_name = "<namespace>.<Exception>"`` was written on one line however
    long, which ruff puts in parentheses on lines of its own: a Java-style
    namespace and exception name were enough, as was a long namespace for
    ``__uvrpc_namespace__``. Names longer still (whose lines are too long anyway)
    lay out as ruff formats them too."""
    source = (
        "namespace com.example.platform.storage.metadata.api.v2;\n"
        "exception ResourceQuotaExceededException { 1: string message; }\n"
    )
    text = generated_ruff_clean(source, tmp_path)
    assert (
        "    uvrpc_name = (\n"
        '        "com.example.platform.storage.metadata.api.v2.'
        'ResourceQuotaExceededException"\n'
        "    )\n"
    ) in text
    namespace = "com.example.platform.storage.metadata.catalog.service.api.internal"
    text = generated_ruff_clean(f"namespace {namespace};\n", tmp_path)
    assert f'__uvrpc_namespace__ = (\n    "{namespace}"\n)\n' in text
    long = "L" * 66
    path = tmp_path / "long.py"
    path.write_text(
        generate(
            f"namespace n;\nexception X{long} {{ 1: i32 code; }}\n"
            f"union U{long} {{ 1: i32 {'m' * 74}; 2: string s; }}\n",
            "long.idl",
        ),
        encoding="utf-8",
    )
    formatted = ruff("format", "--diff", "--isolated", str(path))
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_negative_defaults_of_long_fields_generate_ruff_clean_code(
    tmp_path: Path,
) -> None:
    """A negative number is a unary operation: ruff splits the annotation rather
    than put the number in parentheses, unless the annotation cannot split."""
    source = (
        "namespace t;\n"
        "message M {\n"
        "    1: i16(min = -473, max = -70) price_name_shape_q50_and_more = -301;\n"
        "    2: i64 a_long_field_name_that_needs_the_line_for_itself_and_some_more"
        "_too_xxxx = -999999;\n"
        "}\n"
        "const i64 A_LONG_CONSTANT_NAME_THAT_TAKES_MOST_OF_THE_LINE_BY_ITSELF_ALONE"
        " = -7;\n"
    )
    text = generated_ruff_clean(source, tmp_path)
    assert (
        "    price_name_shape_q50_and_more: _typing.Annotated[\n"
        "        _t.I16, _t.Constraints(ge=-473, le=-70)\n"
        "    ] = -301\n"
    ) in text
    assert "_too_xxxx: _t.I64 = (\n        -999999\n    )\n" in text
    assert "_ALONE: _typing.Final[\n    int\n] = -7\n" in text


def test_bytes_defaults_of_long_fields_generate_ruff_clean_code(
    tmp_path: Path,
) -> None:
    """A bytes default is a call, ``memoryview(b"...")``: when the line up to its
    ``(`` fits, ruff splits the call's brackets rather than wrap it in
    parentheses."""
    source = (
        "namespace t;\n"
        'const bytes MAGIC = "uv";\n'
        "message M {\n"
        '    1: bytes(max_len = 1024) request = "";\n'
        "    2: bytes(max_len = 1024) builtin = MAGIC;\n"
        '    3: bytes(max_len = 1024) longer_name = "";\n'
        "}\n"
    )
    text = generated_ruff_clean(source, tmp_path)
    annotation = "_typing.Annotated[_t.Bytes, _t.ByteLength(max_length=1024)]"
    assert f'    request: {annotation} = memoryview(\n        b""\n    )\n' in text
    assert f"    builtin: {annotation} = memoryview(\n        MAGIC\n    )\n" in text
    # Longer, the line up to the '(' does not fit: parentheses.
    assert (
        f'    longer_name: {annotation} = (\n        memoryview(b"")\n    )\n' in text
    )


def test_long_stream_item_types_generate_ruff_clean_code(tmp_path: Path) -> None:
    """The async client takes a stream's items as ``AsyncIterable[T] |
    Iterable[T]``: a union too long for its line breaks before ``|``, and each
    side breaks in turn if it still does not fit, as ruff lays it out."""
    item = "Preference" + "x" * 40
    types = [
        item,
        f"list<{item}>",
        f"map<string, list<{item}>>",
        f"map<string, map<string, list<{item}{'y' * 20}>>>",
    ]
    methods = "".join(
        f"    i32 count{index}(1: stream<{type_}> updates);\n"
        f"    stream<i32> echo{index}(1: stream<{type_}> updates, 2: i32 n);\n"
        for index, type_ in enumerate(types)
    )
    source = (
        "namespace notifications;\n"
        f"message {item} {{ 1: string name; }}\n"
        f"message {item}{'y' * 20} {{ 1: string name; }}\n"
        f"service Preferences {{\n{methods}}}\n"
    )
    text = generated_ruff_clean(source, tmp_path)
    assert f"        | _typing.Iterable[{item}],\n" in text
    assert "        | _typing.Iterable[\n" in text


def test_container_defaults_of_any_length_generate_ruff_clean_code(
    tmp_path: Path,
) -> None:
    """A list, set or map default is ``_t.default(...)`` (pydantic's field of it),
    which ruff does not take for a mutable class attribute (RUF012); too long for
    its line, the call splits around its one argument, as ruff splits it."""
    values = ", ".join(str(n) for n in range(40))
    source = (
        "namespace defaults;\n"
        "message Tuning {\n"
        "    1: list<i32> empty = [];\n"
        "    2: list<i32> short = [1, 2];\n"
        f"    3: list<i32> longer = [{', '.join(str(n) for n in range(16))}];\n"
        f"    4: set<i64> longest = [{values}];\n"
        '    5: map<string, i32> named = {"a": 1};\n'
        "    6: set<string> none = [];\n"
        "}\n"
    )
    text = generated_ruff_clean(source, tmp_path)
    assert "    empty: list[_t.I32] = _t.default([])\n" in text
    assert '    named: dict[_t.String, _t.I32] = _t.default({"a": 1})\n' in text
    assert "    none: set[_t.String] = _t.default(set())\n" in text
    assert "    longer: list[_t.I32] = _t.default(\n        [0, 1," in text
    assert "    longest: set[_t.I64] = _t.default(\n        {\n            0,\n" in text


def test_floats_with_large_exponents_generate_ruff_clean_code(tmp_path: Path) -> None:
    """``repr`` writes a float of 1e16 or more in magnitude as ``1e+16``, which
    ``ruff format`` writes ``1e16``: defaults, constants and constraints alike."""
    source = (
        "namespace floats;\n"
        "const double BIG = 1e20;\n"
        "message Limits {\n"
        "    1: double(max = 1e300) high = 1e16;\n"
        "    2: float(min = -1e30) low = -1e20;\n"
        "    3: list<double> many = [1e17, 2.5e-7];\n"
        "}\n"
        "service Tune { void adjust(1: double at = 1.7976931348623157e308); }\n"
    )
    text = generated_ruff_clean(source, tmp_path)
    assert "BIG: _typing.Final[float] = 1e20\n" in text
    assert "_t.Constraints(le=1e300)] = 1e16\n" in text
    assert "_t.Constraints(ge=-1e30)] = -1e20\n" in text
    assert "_t.default([1e17, 2.5e-07])\n" in text
    assert "at: float = 1.7976931348623157e308,\n" in text


def test_an_importing_module_is_ruff_clean_where_its_imports_are_first_party(
    tmp_path: Path,
) -> None:
    """The modules of imported IDL files are the user's own, which ruff run from
    the project counts as first-party, and uvrpc is not: they are sorted apart
    (``# isort: split``), so either count leaves the imports as they are. The
    names of ``__all__`` are in ruff's order (RUF022): constants first, digits
    in natural order."""
    (tmp_path / "common.idl").write_text(
        "namespace common;\nenum Kind { A = 1; }\n", encoding="utf-8"
    )
    (tmp_path / "orders.idl").write_text(
        'namespace orders;\nimport "common.idl";\n'
        "const i32 MAX_ITEMS = 10;\nconst i32 K = 3;\n"
        "message Item2 { 1: common.Kind kind; }\n"
        "message Item1 { 1: i32 n; }\n"
        "message Item01 { 1: i32 n; }\n"
        "message Item10 { 1: list<Item2> items = []; }\n",
        encoding="utf-8",
    )
    for package in (None, "acme.rpc"):
        out = tmp_path / ("flat" if package is None else "acme/rpc")
        command = [sys.executable, "-m", "uvrpc_gen", str(tmp_path), "-o", str(out)]
        if package is not None:
            command += ["--package", package]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        text = (out / "orders.py").read_text(encoding="utf-8")
        sibling = (
            "import common as _common"
            if package is None
            else "from acme.rpc import common as _common"
        )
        assert f"from uvrpc import types as _t\n\n# isort: split\n{sibling}\n" in text
        # One capital is a class's name to ruff, not a constant's.
        # Digits with a leading zero sort as text, before the others.
        assert (
            '"MAX_ITEMS",\n    "Item01",\n    "Item1",\n    "Item2",\n    "Item10",\n'
            '    "K",\n' in text
        )
        # Run from where the modules are imported from: ruff counts them first-party.
        assert_ruff_clean(
            out / "orders.py", cwd=tmp_path / "flat" if package is None else tmp_path
        )


def test_names_with_runs_of_thousands_of_digits_sort_in_natural_order() -> None:
    """A run of digits too long for ``int()`` (more than 4300) still sorts by its
    value in ``__all__``."""
    small, large = "9" * 4999, "1" + "0" * 4999
    text = generate(
        f"namespace t;\nmessage M{large} {{}}\nmessage M{small} {{}}\n", "t.idl"
    )
    assert text.index(f'"M{small}",') < text.index(f'"M{large}",')


def test_the_generators_own_docstrings_start_with_a_one_line_summary(
    tmp_path: Path,
) -> None:
    """A project that lints docstrings (pydocstyle's rules, ``select = ["D"]``, in
    any convention) finds no summary the generator wrapped onto a second line
    (D205): the partial server's and a declared exception's constructor's. The
    IDL's own docs are the user's to write."""
    path = tmp_path / "generated.py"
    source = (
        "namespace shop;\n"
        "exception Gone { 1: string sku; }\n"
        "service Shop { void buy(1: string sku) throws (Gone); }\n"
    )
    path.write_text(generate(source, "shop.idl"), encoding="utf-8")
    checked = ruff("check", "--quiet", "--isolated", "--select", "D205", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_ambiguous_names_generate_ruff_clean_code(tmp_path: Path) -> None:
    """``l``, ``O`` and ``I`` are valid IDL names that pycodestyle calls
    ambiguous (E741, E742, E743): exactly the lines that bind one carry a
    ``noqa`` naming the codes ruff reports there, and ``RUF100``, so that ruff's
    defaults, which leave E741 out, do not report the comment as unused."""
    item = "Preference" + "x" * 50
    members = (
        "namespace amb;\n"
        "/// I is a letter.\n"
        "enum Piece { l = 1; O = 2; I = 3; }\n"
        'message M { 1: i32 O; 2: bytes I = "x"; 3: optional string x; }\n'
        f"message {item} {{ 1: i32 n; }}\n"
        "union U { 1: i32 l; 2: string I; }\n"
        "exception Boom { 1: i32 l; 2: i32 I = 0; }\n"
        "service S {\n"
        "    i32 L(1: i32 O, 2: i32 b = 1, 3: optional i32 c) throws (Boom);\n"
        "    i32 sum(1: stream<i32> l);\n"
        f"    stream<i32> echo(1: stream<{item}> O, 2: map<string, {item}> l);\n"
        "}\n"
    )
    text = generated_ruff_clean(members, tmp_path)
    assert "    l = 1  # noqa: E741, RUF100\n" in text
    assert "    async def l(  # noqa: E743, RUF100\n" in text
    assert "        O: int,  # noqa: E741, RUF100\n" in text
    assert (
        "    async def l(self, *, O: int, b: int, c: int | None) -> int:"
        "  # noqa: E741, E743, RUF100\n" in text
    )
    # Where a name is used rather than bound, and in docstrings, there is none.
    assert "(O, b, c), timeout, wait_for_ready)\n" in text
    assert '"""I is a letter."""\n' in text
    assert "_uvrpc.field_ids(O=1, I=2, x=3)\n" in text
    definitions = (
        "namespace amb;\n"
        "message l { 1: i32 n; }\n"
        "exception O { 1: i32 n; }\n"
        "union I { 1: i32 n; }\n"
    )
    text = generated_ruff_clean(definitions, tmp_path)
    assert "class l(_uvrpc.Message):  # noqa: E742, RUF100\n" in text
    assert "I: _typing.TypeAlias = _typing.Annotated[  # noqa: E741, RUF100\n" in text
    constant = "namespace amb;\nconst i32 I = 3;\nmessage M { 1: i32 n = I; }\n"
    text = generated_ruff_clean(constant, tmp_path)
    assert "I: _typing.Final[int] = 3  # noqa: E741, RUF100\n" in text


def test_a_module_of_constants_alone_imports_nothing_it_does_not_use(
    tmp_path: Path,
) -> None:
    """Constants are annotated with plain types: a module of nothing else does
    not import ``uvrpc.types`` (ruff's F401)."""
    source = 'namespace consts;\nconst i32 N = 3;\nconst string S = "a";\n'
    text = generated_ruff_clean(source, tmp_path)
    assert "types as _t" not in text
