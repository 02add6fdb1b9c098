"""Imports between IDL files: resolution, order, cycles, errors, generated imports."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import generate_modules

from uvrpc.testing import memory_channel
from uvrpc_gen.cli import main
from uvrpc_gen.load import LoadError, load

COMMON = """
namespace acme.common;

/// A point.
message Point {
    1: double x;
    2: double y;
}

enum Unit { MM = 1; INCH = 2; }

const i32 LIMIT = 3;

typedef list<Point> Path;

exception TooFar { 1: double distance; }
"""

GEOMETRY = """
namespace acme.geometry;

import "shared/common.idl";

message Segment {
    1: common.Point start;
    2: common.Point end;
    3: common.Unit unit = common.Unit.MM;
    4: i32 weight = common.LIMIT;
}

service Geometry {
    common.Path walk(1: common.Path path, 2: common.Unit unit) throws (common.TooFar);
}
"""


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def report(paths: list[Path]) -> str:
    with pytest.raises(LoadError) as caught:
        load([str(p) for p in paths])
    return caught.value.report


def test_imported_files_load_first(tmp_path: Path) -> None:
    write(tmp_path, {"geometry.idl": GEOMETRY, "shared/common.idl": COMMON})
    loaded = load([str(tmp_path / "geometry.idl")])
    assert [Path(p).name for p in loaded.modules] == ["common.idl", "geometry.idl"]
    geometry = loaded.modules[str(tmp_path / "geometry.idl")]
    assert set(geometry.imports) == {"common"}


@pytest.mark.parametrize("package", [None, "acme_rpc"])
def test_generated_modules_import_each_other(
    tmp_path: Path, package: str | None
) -> None:
    files = {"geometry.idl": GEOMETRY, "common.idl": COMMON}
    modules = generate_modules(
        tmp_path, {k: v.replace("shared/", "") for k, v in files.items()}, package
    )
    common, geometry = modules["common"], modules["geometry"]
    segment = geometry.Segment(start=common.Point(x=0, y=0), end=common.Point(x=3, y=4))
    assert segment.unit is common.Unit.MM and segment.weight == common.LIMIT == 3

    base: Any = geometry.GeometryServer

    class Geometry(base):  # type: ignore[misc]
        async def walk(self, *, path: list[object], unit: object) -> list[object]:
            if len(path) > common.LIMIT:
                raise common.TooFar(distance=float(len(path)))
            return list(reversed(path))

    async def run() -> None:
        async with memory_channel(Geometry()) as channel:
            client = geometry.GeometryClient(channel)
            points = [common.Point(x=i, y=0) for i in range(3)]
            walked = await client.walk(path=points, unit=common.Unit.INCH)
            assert [p.x for p in walked] == [2, 1, 0]
            with pytest.raises(common.TooFar) as caught:
                await client.walk(path=points * 2, unit=common.Unit.MM)
            assert caught.value.distance == 6.0

    asyncio.run(run())
    source = (tmp_path / (package or "gen") / "geometry.py").read_text()
    expected = (
        f"from {package} import common as _common"
        if package
        else "import common as _common"
    )
    assert expected in source
    assert "start: _common.Point" in source


LEVELS = """
namespace acme.levels;

enum Level { LOW = 1; HIGH = 2; }

const Level DEFAULT_LEVEL = Level.HIGH;
const Level CHOSEN = DEFAULT_LEVEL;
const i32 BASE = 5;
const i32 ALIAS = BASE;
"""


def test_imported_constants_are_defaults_of_their_type(tmp_path: Path) -> None:
    """An imported constant of an enum type, or one that names another constant,
    is a default of the importing file's fields, parameters and constants."""
    user = (
        'namespace acme.user;\nimport "levels.idl";\n'
        "const levels.Level MINE = levels.CHOSEN;\n"
        "message Setting {\n"
        "    1: levels.Level level = levels.DEFAULT_LEVEL;\n"
        "    2: levels.Level chosen = levels.CHOSEN;\n"
        "    3: i64 wide = levels.ALIAS;\n"
        "    4: list<levels.Level> some = [levels.DEFAULT_LEVEL];\n"
        "    5: double ratio = levels.ALIAS;\n"
        "}\n"
        "service Tune { void set_level(1: levels.Level level = levels.CHOSEN); }\n"
    )
    modules = generate_modules(tmp_path, {"levels.idl": LEVELS, "user.idl": user})
    levels, generated = modules["levels"], modules["user"]
    setting = generated.Setting()
    high = levels.Level.HIGH
    assert (setting.level, setting.chosen, setting.some) == (high, high, [high])
    assert (setting.wide, setting.ratio, generated.MINE) == (5, 5, high)


def test_an_imported_constant_is_checked_against_the_constraints_it_meets(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        {
            "levels.idl": LEVELS,
            "a.idl": 'namespace a;\nimport "levels.idl";\n'
            "message M { 1: i32(max = 3) capped = levels.ALIAS; }\n",
        },
    )
    assert report([tmp_path / "a.idl"]).splitlines()[0] == (
        f"{tmp_path / 'a.idl'}:3:38: error: default does not meet the constraints "
        "of its type 'i32(max = 3)': 5 is more than 3"
    )


def test_a_directory_is_generated_whole(tmp_path: Path) -> None:
    write(tmp_path / "idl", {"geometry.idl": GEOMETRY, "shared/common.idl": COMMON})
    assert main([str(tmp_path / "idl"), "-o", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "common.py",
        "geometry.py",
    ]
    # One file in, its imports come along.
    assert main([str(tmp_path / "idl/geometry.idl"), "-o", str(tmp_path / "one")]) == 0
    assert (tmp_path / "one" / "common.py").exists()


def test_an_import_cycle_is_named_where_it_closes(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a.idl": 'namespace a;\nimport "b.idl";\n',
            "b.idl": 'namespace b;\n\nimport "c.idl";\n',
            "c.idl": 'namespace c;\nimport "a.idl";\n',
        },
    )
    text = report([tmp_path / "a.idl"])
    c = tmp_path / "c.idl"
    assert text.splitlines()[0] == (
        f"{c}:2:8: error: import cycle: {tmp_path / 'a.idl'} -> "
        f"{tmp_path / 'b.idl'} -> {c} -> {tmp_path / 'a.idl'}"
    )
    assert text.splitlines()[1:] == ['import "a.idl";', "       ^~~~~~~"]


@pytest.mark.parametrize(
    ("data", "where", "shown", "what"),
    [
        (
            b'namespace a;\nmessage M { 1: string s = "\xff"; }\n',
            "2:28",
            'message M { 1: string s = "\ufffd"; }',
            "byte 0xff",
        ),
        # Columns count characters, from after a byte order mark.
        (
            b"\xef\xbb\xbfnamespace a; // \xc3\xa9t\xe9\n",
            "1:19",
            "namespace a; // \u00e9t\ufffd",
            "byte 0xe9",
        ),
        (b"namespace a;\n\t// \xe2\x82!\n", "2:5", "\t// \ufffd!", "bytes 0xe2 0x82"),
    ],
)
def test_a_file_that_is_not_utf8_is_an_error_at_its_first_bad_byte(
    data: bytes, where: str, shown: str, what: str, tmp_path: Path
) -> None:
    """An imported one too, at its own position, as its other errors are."""
    (tmp_path / "b.idl").write_bytes(data)
    write(tmp_path, {"a.idl": 'namespace a;\nimport "b.idl";\n'})
    column = int(where.split(":")[1])
    caret = shown[: column - 1].replace("\u00e9", " ").replace("\ufffd", " ")
    for path in ("a.idl", "b.idl"):
        assert report([tmp_path / path]).splitlines() == [
            f"{tmp_path / 'b.idl'}:{where}: error: the file is not UTF-8: {what} "
            "cannot be decoded here; save the file as UTF-8",
            shown,
            "".join(c if c == "\t" else " " for c in caret) + "^",
        ]


def test_a_utf16_file_is_told_to_be_saved_as_utf8(tmp_path: Path) -> None:
    (tmp_path / "a.idl").write_bytes("namespace a;\n".encode("utf-16"))
    assert report([tmp_path / "a.idl"]).splitlines()[0] == (
        f"{tmp_path / 'a.idl'}:1:1: error: the file is UTF-16 (it starts with its "
        "byte order mark); save it as UTF-8"
    )


def test_a_missing_import_is_named_at_the_import(tmp_path: Path) -> None:
    write(tmp_path, {"a.idl": 'namespace a;\n  import "nope.idl";\n'})
    first = report([tmp_path / "a.idl"]).splitlines()[0]
    assert first.startswith(f"{tmp_path / 'a.idl'}:2:10: error: cannot read 'nope.idl'")


def test_an_import_without_its_suffix_is_told_the_file_to_name(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a.idl": 'namespace a;\nimport "shared/b";\nimport "gone";\n',
            "shared/b.idl": "namespace b;\n",
        },
    )
    lines = report([tmp_path / "a.idl"]).splitlines()
    assert lines[0] == (
        f"{tmp_path / 'a.idl'}:2:8: error: cannot read 'shared/b': No such file or "
        'directory; imports name the file: write import "shared/b.idl";'
    )
    # No file with the suffix either: no hint that would lead astray.
    assert lines[3] == (
        f"{tmp_path / 'a.idl'}:3:8: error: cannot read 'gone': No such file or "
        "directory"
    )


def test_an_import_of_protobufs_well_known_types_says_what_to_write(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        {
            "a.idl": 'namespace a;\nimport "google/protobuf/timestamp.proto";\n'
            'import "google/protobuf/empty.proto";\n'
            'import "google/protobuf/field_mask.proto";\n'
        },
    )
    lines = report([tmp_path / "a.idl"]).splitlines()
    a = tmp_path / "a.idl"
    assert lines[0] == (
        f"{a}:2:8: error: cannot read 'google/protobuf/timestamp.proto': No such "
        "file or directory; protobuf's Timestamp is the built-in type "
        "'timestamp': remove the import"
    )
    assert lines[2] == "       ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~"
    assert lines[3] == (
        f"{a}:3:8: error: cannot read 'google/protobuf/empty.proto': No such "
        "file or directory; protobuf's Empty is an empty message here "
        "('message Empty {}'): remove the import"
    )
    assert lines[6] == (
        f"{a}:4:8: error: cannot read 'google/protobuf/field_mask.proto': No such "
        "file or directory; protobuf's well-known types are not imported here: "
        "remove the import"
    )


def test_errors_in_an_imported_file_point_into_that_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a.idl": 'namespace a;\nimport "b.idl";\nmessage M { 1: b.N n; }\n',
            "b.idl": "namespace b;\nmessage N { 1: Strng s; }\n",
        },
    )
    text = report([tmp_path / "a.idl"])
    assert text.splitlines()[0] == (
        f"{tmp_path / 'b.idl'}:2:16: error: unknown type 'Strng'; did you mean "
        "'string'?"
    )


def test_an_imported_name_without_its_stem_is_hinted_qualified(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        {
            "a.idl": 'namespace a;\nimport "common.idl";\n\n'
            "message Song { 1: Genre genre; }\n"
            "service S { void f() throws (NotFound); }\n",
            "common.idl": "namespace common;\nenum Genre { ROCK = 1; }\n"
            "exception NotFound {}\n",
        },
    )
    lines = report([tmp_path / "a.idl"]).splitlines()
    a = tmp_path / "a.idl"
    assert lines == [
        f"{a}:4:19: error: unknown type 'Genre'; did you mean 'common.Genre'?",
        "message Song { 1: Genre genre; }",
        "                  ^~~~~",
        f"{a}:5:30: error: unknown exception 'NotFound'; did you mean "
        "'common.NotFound'?",
        "service S { void f() throws (NotFound); }",
        "                             ^~~~~~~~",
    ]


def test_a_name_two_imported_files_define_is_hinted_with_both(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        {
            "a.idl": 'namespace a;\nimport "c.idl";\nimport "b.idl";\n'
            "message M { 1: N n; }\n",
            "b.idl": "namespace b;\nmessage N {}\n",
            "c.idl": "namespace c;\nenum N { X = 1; }\n",
        },
    )
    assert report([tmp_path / "a.idl"]).splitlines()[0] == (
        f"{tmp_path / 'a.idl'}:4:16: error: unknown type 'N'; did you mean 'b.N' or "
        "'c.N'?"
    )


def test_a_name_an_imported_file_imports_is_hinted_with_its_path(
    tmp_path: Path,
) -> None:
    """Imports are not passed on: what ``b`` imports is named once this file
    imports it too, from where this file is."""
    write(
        tmp_path,
        {
            "api/a.idl": 'namespace a;\nimport "../lib/b.idl";\n'
            "message M { 1: c.Id id; 2: b.c.Id other; 3: google.protobuf.Api x; }\n",
            "lib/b.idl": 'namespace b;\nimport "base/c.idl";\n',
            "lib/base/c.idl": "namespace c;\nmessage Id {}\n",
        },
    )
    a = tmp_path / "api/a.idl"
    found = [line for line in report([a]).splitlines() if ": error: " in line]
    assert found == [
        f"{a}:3:16: error: unknown type 'c.Id': nothing is imported as 'c' (add "
        "'import \"../lib/base/c.idl\";')",
        f"{a}:3:28: error: unknown type 'b.c.Id': nothing is imported as 'b.c' (add "
        "'import \"../lib/base/c.idl\";' and write 'c.Id')",
        f"{a}:3:45: error: unknown type 'google.protobuf.Api': nothing is "
        "imported as 'google.protobuf'",
    ]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "namespace a;\nmessage M { 1: b.N n; }\n",
            "a.idl:2:16: error: unknown type 'b.N': nothing is imported as 'b' "
            "(add 'import \"b.idl\";')",
        ),
        (
            'namespace a;\nimport "b.idl";\nmessage M { 1: b.Nope n; }\n',
            "a.idl:3:16: error: unknown type 'b.Nope'; did you mean 'b.N'?",
        ),
        (
            'namespace a;\nimport "b.idl";\nimport "b.idl";\n',
            "a.idl:3:8: error: 'b' is imported twice (first at line 2)",
        ),
        (
            'namespace a;\nimport "b.idl";\nmessage b {}\n',
            "a.idl:2:8: error: imported file 'b.idl' is named like the "
            "definition 'b' (line 3)",
        ),
        (
            'namespace a;\nimport "t.idl";\n',
            "a.idl:2:8: error: cannot import 't.idl': its module would be imported "
            "as '_t', a name generated modules already use",
        ),
        (
            'namespace a;\nimport "b.idl";\nservice S { void f() throws (b.N); }\n',
            "a.idl:3:30: error: 'b.N' is a message, not an exception; declare it "
            "with 'exception'",
        ),
    ],
)
def test_import_misuse(tmp_path: Path, source: str, message: str) -> None:
    write(
        tmp_path,
        {
            "a.idl": source,
            "b.idl": "namespace b;\nmessage N {}\n",
            "t.idl": "namespace t;",
        },
    )
    first = report([tmp_path / "a.idl"]).splitlines()[0]
    assert first == f"{tmp_path}/{message}"


@pytest.mark.parametrize(
    ("path", "code"), [("\\u0000", "0000"), ("b\\n.idl", "000A"), ("b\t.idl", "0009")]
)
def test_an_import_path_with_a_control_character_is_refused(
    tmp_path: Path, path: str, code: str
) -> None:
    """A NUL in a path made ``open`` raise ValueError, and a newline split the
    line of the message naming the file."""
    write(tmp_path, {"a.idl": f'namespace a;\nimport "{path}";\n'})
    assert report([tmp_path / "a.idl"]).splitlines() == [
        f"{tmp_path}/a.idl:2:8: error: an import path cannot hold a control "
        f"character (U+{code})",
        f'import "{path}";',
        "       ^" + "~" * (len(path) + 1),
    ]


def test_a_file_imported_but_unused_is_not_imported_by_the_module(
    tmp_path: Path,
) -> None:
    """Its module imported and unused was a lint error (ruff's F401)."""
    write(
        tmp_path,
        {
            "a.idl": 'namespace a;\nimport "b.idl";\nimport "c.idl";\n'
            "message M { 1: c.N n; }\n",
            "b.idl": "namespace b;\nmessage N {}\n",
            "c.idl": "namespace c;\nmessage N {}\n",
        },
    )
    out = tmp_path / "out"
    assert main([str(tmp_path / "a.idl"), "-o", str(out)]) == 0
    text = (out / "a.py").read_text(encoding="utf-8")
    assert "import c as _c\n" in text
    assert "import b" not in text


def test_the_command_reports_import_errors_without_a_traceback(tmp_path: Path) -> None:
    write(tmp_path, {"a.idl": 'namespace a;\nimport "b.idl";\n', "b.idl": "namespace"})
    result = subprocess.run(
        [sys.executable, "-m", "uvrpc_gen", str(tmp_path / "a.idl")]
        + ["-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"{tmp_path / 'b.idl'}:1:")
    assert "Traceback" not in result.stderr


def test_two_exceptions_with_one_wire_name_cannot_both_be_thrown(
    tmp_path: Path,
) -> None:
    """Two files of one namespace that each define ``Boom`` make two exceptions
    that are both ``same.ns.Boom`` on the wire, which a caller cannot tell apart:
    a method may not declare both, reported at the second."""
    write(
        tmp_path,
        {
            "a.idl": "namespace same.ns;\nexception Boom { 1: i32 a; }\n",
            "c.idl": "namespace same.ns;\nexception Boom { 1: string b; }\n",
            "d.idl": 'namespace other;\nimport "a.idl";\nimport "c.idl";\n'
            "exception Boom {}\n"
            "service S {\n    void f() throws (Boom, a.Boom, c.Boom);\n}\n",
        },
    )
    lines = report([tmp_path / "d.idl"]).splitlines()
    assert lines == [
        f"{tmp_path / 'd.idl'}:6:36: error: 'c.Boom' and 'a.Boom' (line 6) are both "
        "'same.ns.Boom' on the wire, so a caller cannot tell which was raised; "
        "declare one of them, or rename one",
        "    void f() throws (Boom, a.Boom, c.Boom);",
        "                                   ^~~~~~",
    ]


def test_a_definition_cannot_take_the_wire_name_of_an_imported_one(
    tmp_path: Path,
) -> None:
    """Files that share a namespace share its wire names, so a name is defined
    once across them, as within one file; constants and typedefs, which never
    travel by name, may repeat."""
    write(
        tmp_path,
        {
            "a.idl": "namespace same.ns;\nexception Boom { 1: i32 a; }\n"
            "const i32 N = 1;\nservice S { void f(); }\n",
            "b.idl": 'namespace same.ns;\nimport "a.idl";\n'
            "exception Boom { 1: string b; }\nconst i32 N = 2;\n"
            "service S { void g(); }\n",
        },
    )
    lines = report([tmp_path / "b.idl"]).splitlines()
    assert lines[0] == (
        f"{tmp_path / 'b.idl'}:3:11: error: 'Boom' is 'same.ns.Boom' on the wire, "
        f"as 'a.Boom' ({tmp_path / 'a.idl'}:2:11) is: the two files share the "
        "namespace 'same.ns'; rename one, or give the files different namespaces"
    )
    assert lines[3].startswith(f"{tmp_path / 'b.idl'}:5:9: error: 'S' is 'same.ns.S'")
    assert len(lines) == 6
    # Another namespace, another wire name.
    write(tmp_path, {"b.idl": (tmp_path / "b.idl").read_text().replace("same", "b")})
    load([str(tmp_path / "b.idl")])
