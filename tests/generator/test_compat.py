"""``uvrpc-gen --compat OLD NEW``: every change between two files, breaking or not.

Each case is a small pair of IDL files; the comparison must report the change with
the right classification and a message naming the definition. The command itself
runs in a subprocess: exit status, ``file:line:col`` output, breaking changes
first, and errors without a traceback.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from uvrpc_gen.cli import main
from uvrpc_gen.compat import (
    Change,
    compare,
    compare_directories,
    compare_imported,
    read_checked,
)

BASE = """\
/// A shop.
namespace shop;

/// Kinds of goods.
enum Kind { TOOL = 1; PART = 2; }
enum Size { S = 1; M = 2; }

/// A thing on sale.
message Item {
    1: string sku;
    2: optional string note;
    3: i32 count = 0;
    4: Kind kind;
}

message Note { 1: string text; }

exception Missing { 1: string sku; }

const i32 LIMIT = 10;
typedef i64 Id;

service Shop {
    /// Finds one item.
    Item get(1: string sku) throws (Missing);
    void put(1: Item item, 2: i32 times = 1);
    idempotent i32 total();
    stream<Item> watch(1: Kind kind);
    i32 upload(1: stream<Item> items);
    Id next();
}
"""


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def changes_between(tmp_path: Path, old: str, new: str) -> list[Change]:
    """The changes from the IDL text ``old`` to ``new``."""
    old_path = _write(tmp_path, "old.idl", old)
    new_path = _write(tmp_path, "new.idl", new)
    return compare(read_checked(old_path), read_checked(new_path))


def edited(*replacements: tuple[str, str]) -> str:
    """``BASE`` with each ``(old, new)`` text replaced (each must occur once)."""
    text = BASE
    for before, after in replacements:
        assert text.count(before) == 1, before
        text = text.replace(before, after)
    return text


BREAKING = {
    "namespace changed": (
        [("namespace shop;", "namespace store;")],
        "namespace changed from 'shop' to 'store'",
    ),
    "message removed": (
        [("message Note { 1: string text; }", "")],
        "message 'Note' was removed",
    ),
    "message renamed": (
        [("message Note {", "message Memo {")],
        "message 'Note' was removed (renamed to 'Memo'?)",
    ),
    "enum removed": (
        [("enum Size { S = 1; M = 2; }", "")],
        "enum 'Size' was removed",
    ),
    "exception removed": (
        [("exception Missing { 1: string sku; }", ""), (" throws (Missing)", "")],
        "exception 'Missing' was removed: its wire name 'shop.Missing' is no "
        "longer known",
    ),
    "service removed": (
        [("service Shop {", "service Store {")],
        "service 'Shop' was removed (renamed to 'Store'?): calls to its routes "
        "'shop.Shop.*' are answered with UNIMPLEMENTED",
    ),
    "method removed": (
        [("    i32 upload(1: stream<Item> items);\n", "")],
        "method 'Shop.upload' was removed: calls to its route 'shop.Shop.upload' "
        "are answered with UNIMPLEMENTED",
    ),
    "method renamed": (
        [("Item get(", "Item fetch(")],
        "method 'Shop.get' was removed (renamed to 'fetch'?)",
    ),
    "constant removed": ([("const i32 LIMIT = 10;", "")], "constant 'LIMIT'"),
    "typedef removed": (
        [("typedef i64 Id;", ""), ("Id next", "i64 next")],
        "typedef 'Id' was removed",
    ),
    "definition changes kind": (
        [
            (
                "exception Missing { 1: string sku; }",
                "message Missing { 1: string sku; }",
            ),
            (" throws (Missing)", ""),
        ],
        "'Missing' was an exception and is now a message",
    ),
    "field removed": (
        [("    4: Kind kind;\n", "")],
        "field 4 'kind' of message 'Item' was removed: old readers require it and "
        "new writers do not send it",
    ),
    "field renumbered": (
        [("4: Kind kind;", "5: Kind kind;")],
        "field 'kind' of message 'Item' changed id from 4 to 5",
    ),
    "field names swapped": (
        [
            (
                "1: string sku;\n    2: optional string note;",
                "1: string note;\n    2: optional string sku;",
            )
        ],
        "field 'sku' of message 'Item' changed id from 1 to 2",
    ),
    "field type changed": (
        [("3: i32 count = 0;", "3: i64 count = 0;")],
        "field 3 'count' of message 'Item' changed type from 'i32' to 'i64'",
    ),
    "field made required": (
        [("2: optional string note;", "2: string note;")],
        "field 2 'note' of message 'Item' is no longer optional: old writers may "
        "send nil, which new readers reject",
    ),
    "field made optional": (
        [("1: string sku;\n    2", "1: optional string sku;\n    2")],
        "field 1 'sku' of message 'Item' became optional: new writers may send nil, "
        "which old readers reject",
    ),
    "field lost its default": (
        [("3: i32 count = 0;", "3: i32 count;")],
        "field 3 'count' of message 'Item' lost its default 0",
    ),
    "required field added": (
        [("    4: Kind kind;\n", "    4: Kind kind;\n    5: double price;\n")],
        "required field 5 'price' was added to message 'Item': old writers do not "
        "send it, so new readers reject what they send",
    ),
    "required parameter added": (
        [("Item get(1: string sku)", "Item get(1: string sku, 2: bool fresh)")],
        "required parameter 2 'fresh' was added to method 'Shop.get': old clients "
        "do not send it, so new servers reject what they send",
    ),
    "parameter removed": (
        [("void put(1: Item item, 2: i32 times = 1)", "void put(1: Item item)")],
        "parameter 2 'times' of method 'Shop.put' was removed",
    ),
    "parameter renumbered": (
        [("Item get(1: string sku)", "Item get(2: string sku)")],
        "parameter 'sku' of method 'Shop.get' changed id from 1 to 2",
    ),
    "parameter type changed": (
        [("Item get(1: string sku)", "Item get(1: bytes sku)")],
        "parameter 1 'sku' of method 'Shop.get' changed type from 'string' to 'bytes'",
    ),
    "parameter made optional": (
        [("Item get(1: string sku)", "Item get(1: optional string sku)")],
        "parameter 1 'sku' of method 'Shop.get' became optional",
    ),
    "enum value removed": (
        [("PART = 2; }", "}")],
        "value 'PART' (2) of enum 'Kind' was removed: new readers reject it from "
        "old writers",
    ),
    "enum value renumbered": (
        [("PART = 2;", "PART = 3;")],
        "value 'PART' of enum 'Kind' changed from 2 to 3",
    ),
    "return type changed": (
        [("idempotent i32 total();", "idempotent i64 total();")],
        "method 'Shop.total' now returns 'i64' instead of 'i32'",
    ),
    "return made void": (
        [("idempotent i32 total();", "idempotent void total();")],
        "method 'Shop.total' now returns 'void' instead of 'i32'",
    ),
    "unary made server-streaming": (
        [("idempotent i32 total();", "stream<i32> total();")],
        "method 'Shop.total' changed from unary to server-streaming",
    ),
    "unary made oneway": (
        [("void put(", "oneway void put(")],
        "method 'Shop.put' changed from unary to oneway",
    ),
    "server stream made bidirectional": (
        [
            (
                "stream<Item> watch(1: Kind kind)",
                "stream<Item> watch(1: stream<Kind> kind)",
            )
        ],
        "method 'Shop.watch' changed from server-streaming to bidirectional-streaming",
    ),
    "client stream made unary": (
        [("i32 upload(1: stream<Item> items)", "i32 upload(1: list<Item> items)")],
        "method 'Shop.upload' changed from client-streaming to unary",
    ),
    "stream item type changed": (
        [("stream<Item> watch", "stream<Kind> watch")],
        "the stream item type of method 'Shop.watch' changed from 'Item' to 'Kind'",
    ),
    "stream parameter item type changed": (
        [("upload(1: stream<Item> items)", "upload(1: stream<Kind> items)")],
        "the stream item type of parameter 1 'items' of method 'Shop.upload' "
        "changed from 'Item' to 'Kind'",
    ),
    "typedef target changed": (
        [("typedef i64 Id;", "typedef i32 Id;")],
        "method 'Shop.next' now returns 'i32' instead of 'i64'",
    ),
    "exception field removed": (
        [("exception Missing { 1: string sku; }", "exception Missing { }")],
        "field 1 'sku' of exception 'Missing' was removed",
    ),
    "exception field renumbered": (
        [
            (
                "exception Missing { 1: string sku; }",
                "exception Missing { 2: string sku; }",
            )
        ],
        "field 'sku' of exception 'Missing' changed id from 1 to 2",
    ),
    "exception field retyped": (
        [("exception Missing { 1: string sku; }", "exception Missing { 1: i64 sku; }")],
        "field 1 'sku' of exception 'Missing' changed type from 'string' to 'i64'",
    ),
    "exception required field added": (
        [
            (
                "exception Missing { 1: string sku; }",
                "exception Missing { 1: string sku; 2: i32 code; }",
            )
        ],
        "required field 2 'code' was added to exception 'Missing'",
    ),
}

COMPATIBLE = {
    "optional field added": (
        [("    4: Kind kind;\n", "    4: Kind kind;\n    5: optional double price;\n")],
        "optional field 5 'price' was added to message 'Item': old readers keep it "
        "unread and send it on, new readers take None from old writers",
    ),
    "field with default added": (
        [("    4: Kind kind;\n", "    4: Kind kind;\n    5: double price = 1.5;\n")],
        "field 5 'price' with default 1.5 was added to message 'Item': old readers "
        "keep it unread and send it on, new readers take the default from old "
        "writers",
    ),
    "parameter with default added": (
        [("Item get(1: string sku)", "Item get(1: string sku, 2: bool fresh = true)")],
        "parameter 2 'fresh' with default true was added to method 'Shop.get': old "
        "servers drop it, new servers take the default from old clients",
    ),
    "optional parameter added": (
        [
            (
                "Item get(1: string sku)",
                "Item get(1: string sku, 2: optional string why)",
            )
        ],
        "optional parameter 2 'why' was added to method 'Shop.get'",
    ),
    "method added": (
        [("    Id next();\n", "    Id next();\n    void clear();\n")],
        "method 'Shop.clear' was added: old servers answer its route "
        "'shop.Shop.clear' with UNIMPLEMENTED",
    ),
    "service added": (
        [("", "service Audit { void log(1: string line); }\n")],
        "service 'Audit' was added: old servers answer its calls with UNIMPLEMENTED",
    ),
    "message added": (
        [("", "message Box { 1: list<Item> items = []; }\n")],
        "message 'Box' was added",
    ),
    "enum added": ([("", "enum Color { RED = 1; }\n")], "enum 'Color' was added"),
    "exception added": (
        [("", "exception Closed { 1: string why; }\n")],
        "exception 'Closed' was added",
    ),
    "constant added": ([("", 'const string NAME = "x";\n')], "constant 'NAME'"),
    "typedef added": ([("", "typedef string Sku;\n")], "typedef 'Sku' was added"),
    "enum value added": (
        [("PART = 2; }", "PART = 2; KIT = 3; }")],
        "value 'KIT' = 3 was added to enum 'Kind': old readers reject it "
        "(INVALID_ARGUMENT on a server, InternalError on a client)",
    ),
    "field renamed": (
        [("2: optional string note;", "2: optional string remark;")],
        "field 2 'note' of message 'Item' was renamed to 'remark' (the wire keys it "
        "by id; Python code uses the new name)",
    ),
    "parameter renamed": (
        [("void put(1: Item item,", "void put(1: Item thing,")],
        "parameter 1 'item' of method 'Shop.put' was renamed to 'thing' (the wire "
        "keys it by id; callers pass it by the new name)",
    ),
    "enum value renamed": (
        [("PART = 2;", "SPARE = 2;")],
        "value 2 of enum 'Kind' was renamed from 'PART' to 'SPARE'",
    ),
    "module doc changed": ([("/// A shop.", "/// A store.")], "the module doc"),
    "definition doc changed": (
        [("/// A thing on sale.", "/// Goods.")],
        "the doc of message 'Item' changed",
    ),
    "method doc changed": (
        [("/// Finds one item.", "/// Finds an item.")],
        "the doc of method 'Shop.get' changed",
    ),
    "field doc added": (
        [("    4: Kind kind;", "    /// What it is.\n    4: Kind kind;")],
        "the doc of field 4 'kind' of message 'Item' changed",
    ),
    "enum value doc added": (
        [("enum Kind { TOOL = 1;", "enum Kind {\n    /// Hand tools.\n    TOOL = 1;")],
        "the doc of value 'TOOL' of enum 'Kind' changed",
    ),
    "declared exception added": (
        [("Id next();", "Id next() throws (Missing);")],
        "method 'Shop.next' now declares 'Missing': old clients receive it as a "
        "generic RemoteError",
    ),
    "declared exception dropped": (
        [(" throws (Missing)", "")],
        "method 'Shop.get' no longer declares 'Missing'",
    ),
    "idempotent added": (
        [("Id next();", "idempotent Id next();")],
        "method 'Shop.next' became idempotent",
    ),
    "idempotent removed": (
        [("idempotent i32 total();", "i32 total();")],
        "method 'Shop.total' is no longer idempotent",
    ),
    "constant changed": (
        [("const i32 LIMIT = 10;", "const i32 LIMIT = 20;")],
        "constant 'LIMIT' changed from 10 to 20: its value is compiled into each "
        "side, so peers built from the old file keep 10",
    ),
    "constant retyped": (
        [("const i32 LIMIT = 10;", "const i64 LIMIT = 10;")],
        "constant 'LIMIT' changed type from 'i32' to 'i64'",
    ),
    "default changed": (
        [("3: i32 count = 0;", "3: i32 count = 1;")],
        "the default of field 3 'count' of message 'Item' changed from 0 to 1",
    ),
    "default added": (
        [("4: Kind kind;", "4: Kind kind = Kind.TOOL;")],
        "field 4 'kind' of message 'Item' now has the default Kind.TOOL",
    ),
    "exception optional field added": (
        [
            (
                "exception Missing { 1: string sku; }",
                "exception Missing { 1: string sku; 2: optional i32 code; }",
            )
        ],
        "optional field 2 'code' was added to exception 'Missing'",
    ),
}


def _apply(replacements: list[tuple[str, str]]) -> str:
    """``BASE`` edited; an empty ``old`` text appends ``new`` at the end."""
    text = edited(*[r for r in replacements if r[0]])
    return text + "".join(new for old, new in replacements if not old)


@pytest.mark.parametrize("case", sorted(BREAKING))
def test_breaking_change(tmp_path: Path, case: str) -> None:
    replacements, message = BREAKING[case]
    found = changes_between(tmp_path, BASE, _apply(replacements))
    matching = [c for c in found if message in c.message]
    assert matching, "\n".join(str(c) for c in found)
    assert all(c.breaking for c in matching), matching


@pytest.mark.parametrize("case", sorted(COMPATIBLE))
def test_compatible_change(tmp_path: Path, case: str) -> None:
    replacements, message = COMPATIBLE[case]
    found = changes_between(tmp_path, BASE, _apply(replacements))
    assert any(message in c.message for c in found), "\n".join(map(str, found))
    assert not any(c.breaking for c in found), "\n".join(map(str, found))


def test_oneway_calls_of_what_old_servers_lack_are_said_to_be_dropped(
    tmp_path: Path,
) -> None:
    """A server answers nothing to a oneway call, not even UNIMPLEMENTED for a
    route it does not serve: the report says its calls vanish, not that the
    caller is told."""
    with_oneway = edited(
        ("    Id next();\n", "    Id next();\n    oneway void ping();\n")
    )
    audit = "service Audit { oneway void log(1: string line); }\n"
    added = {c.message: c for c in changes_between(tmp_path, BASE, with_oneway + audit)}
    removed = {
        c.message: c for c in changes_between(tmp_path, with_oneway + audit, BASE)
    }
    assert not any(c.breaking for c in added.values()), list(added)
    assert all(c.breaking for c in removed.values()), list(removed)
    assert (
        "method 'Shop.ping' was added: old servers drop calls to its route "
        "'shop.Shop.ping' unanswered (a oneway caller gets no error)"
    ) in added
    assert (
        "method 'Shop.ping' was removed: calls to its route 'shop.Shop.ping' are "
        "dropped unanswered (a oneway caller gets no error)"
    ) in removed
    assert (
        "service 'Audit' was added: old servers answer its calls with "
        "UNIMPLEMENTED, and its oneway calls are dropped unanswered"
    ) in added
    assert (
        "service 'Audit' was removed: calls to its routes 'shop.Audit.*' are "
        "answered with UNIMPLEMENTED, and its oneway calls are dropped unanswered"
    ) in removed


def test_no_changes(tmp_path: Path) -> None:
    assert changes_between(tmp_path, BASE, BASE) == []


def test_formatting_and_comments_are_no_change(tmp_path: Path) -> None:
    reformatted = edited(
        ("enum Kind { TOOL = 1; PART = 2; }", "enum Kind {\n  TOOL = 1;  PART=2;\n}"),
        ("const i32 LIMIT = 10;", "// the limit\nconst i32 LIMIT = 0xA;"),
    )
    assert changes_between(tmp_path, BASE, reformatted) == []


def test_types_are_compared_through_typedefs(tmp_path: Path) -> None:
    """A typedef introduced for a type already used changes nothing on the wire."""
    new = edited(("3: i32 count = 0;", "3: Count count = 0;")) + "typedef i32 Count;\n"
    found = changes_between(tmp_path, BASE, new)
    assert [c.message for c in found] == ["typedef 'Count' was added"]


def test_a_default_is_compared_by_the_value_its_constant_has(
    tmp_path: Path,
) -> None:
    """A default written as a constant and then as the constant's value (as
    ``uvrpc describe`` writes it back) is the same default: it was reported as
    changed from ``LIMIT`` to ``10``."""
    (tmp_path / "common.idl").write_text(
        'namespace common;\nconst bytes MAGIC = "\\x00\\xff";\nconst i32 TEN = 10;\n'
    )
    header = 'import "common.idl";\n'
    old = header + edited(
        (
            "3: i32 count = 0;",
            "3: i32 count = LIMIT;\n    5: bytes tag = common.MAGIC;",
        ),
        ("2: i32 times = 1", "2: i32 times = common.TEN"),
    )
    same = header + edited(
        ("3: i32 count = 0;", '3: i32 count = 10;\n    5: bytes tag = "\\x00\\xFF";'),
        ("2: i32 times = 1", "2: i32 times = LIMIT"),
    )
    assert changes_between(tmp_path, old, same) == []
    # So is a constant's value.
    named = edited(("const i32 LIMIT = 10;", "const i32 LIMIT = common.TEN;"))
    assert changes_between(tmp_path, header + BASE, header + named) == []
    other = same.replace("3: i32 count = 10;", "3: i32 count = 11;")
    assert [c.message for c in changes_between(tmp_path, old, other)] == [
        "the default of field 3 'count' of message 'Item' changed from LIMIT to 11: "
        "a default is filled in by each reader, only when a writer does not send "
        "a value"
    ]


def test_a_string_is_compared_by_its_text_and_bytes_by_their_bytes(
    tmp_path: Path,
) -> None:
    """A string default is text and a bytes default bytes, however escaped: a
    string's ``"\\x85"`` and ``"\\u0085"`` (as ``uvrpc describe`` writes it back),
    and a bytes default's ``"é"`` and ``"\\xc3\\xa9"``, were reported as changed,
    from ``"é"`` to ``"Ã©"``."""
    old = edited(
        ("3: i32 count = 0;", '3: i32 count = 0;\n    5: string s = "\\x85é";'),
        ("const i32 LIMIT = 10;", 'const i32 LIMIT = 10;\nconst bytes B = "é";'),
    ).replace("void put(1: Item item", 'void put(3: bytes tag = "é", 1: Item item')
    same = (
        old.replace('"\\x85é"', '"\\u0085\\u00e9"')
        .replace('B = "é"', 'B = "\\xc3\\xA9"')
        .replace('tag = "é"', 'tag = "\\xc3\\xa9"')
    )
    assert changes_between(tmp_path, old, same) == []
    other = same.replace('tag = "\\xc3\\xa9"', 'tag = "\\xc3\\xa9\\xff"')
    assert [c.message for c in changes_between(tmp_path, old, other)] == [
        "the default of parameter 3 'tag' of method 'Shop.put' changed from "
        '"\\xc3\\xa9" to "\\xc3\\xa9\\xff": a default is filled in by each reader, '
        "only when a client does not send a value"
    ]


def test_a_kind_change_is_reported_once(tmp_path: Path) -> None:
    """The stream parameter that makes a method client-streaming is not also
    reported as a removed and an added parameter."""
    new = edited(
        ("i32 upload(1: stream<Item> items)", "i32 upload(1: list<Item> items)")
    )
    found = changes_between(tmp_path, BASE, new)
    assert [c.message for c in found] == [
        "method 'Shop.upload' changed from client-streaming to unary: each side "
        "expects the other's call to go another way"
    ]


def test_positions_point_into_the_new_file_or_the_old_one_for_removals(
    tmp_path: Path,
) -> None:
    new = edited(
        ("    2: optional string note;\n", ""), ("PART = 2; }", "PART = 2; KIT = 3; }")
    )
    found = changes_between(tmp_path, BASE, new)
    by_message = {c.message.partition(":")[0]: c.span for c in found}
    removed = by_message[
        "field 2 'note' of message 'Item' was removed without reserving its id 2"
    ]
    assert (Path(removed.file).name, removed.line, removed.column) == (
        "old.idl",
        11,
        24,
    )
    added = by_message["value 'KIT' = 3 was added to enum 'Kind'"]
    assert (Path(added.file).name, added.line, added.column) == ("new.idl", 5, 33)


def test_a_file_with_imports_is_compared_through_its_imports(tmp_path: Path) -> None:
    (tmp_path / "common.idl").write_text(
        "namespace common;\nmessage Point { 1: double x; 2: double y; }\n"
        "message Size { 1: double w; 2: double h; }\n"
    )
    old = (
        'import "common.idl";\nnamespace shapes;\nmessage Box { 1: common.Point at; }\n'
    )
    new = (
        'import "common.idl";\nnamespace shapes;\nmessage Box { 1: common.Size at; }\n'
    )
    found = changes_between(tmp_path, old, new)
    assert [str(c).partition(": ")[2] for c in found] == [
        "breaking: field 1 'at' of message 'Box' changed type from 'common.Point' "
        "to 'common.Size'"
    ]


# --- the command ---------------------------------------------------------------


def run_compat(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m uvrpc_gen --compat ARGS`` in ``tmp_path``."""
    return subprocess.run(
        [sys.executable, "-m", "uvrpc_gen", "--compat", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


LINE = re.compile(r"^(old|new)\.idl:\d+:\d+: (breaking|warning|compatible): \S.*$")


def test_cli_exit_0_when_only_compatible_changes(tmp_path: Path) -> None:
    _write(tmp_path, "old.idl", BASE)
    _write(tmp_path, "new.idl", _apply(COMPATIBLE["optional field added"][0]))
    result = run_compat(tmp_path, "old.idl", "new.idl")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    *lines, summary = result.stdout.splitlines()
    assert lines == [
        "new.idl:14:24: compatible: optional field 5 'price' was added to message "
        "'Item': old readers keep it unread and send it on, new readers take None "
        "from old writers"
    ]
    assert summary == "old.idl -> new.idl: 0 breaking changes, 1 compatible change"


def test_cli_exit_0_and_says_so_when_nothing_changed(tmp_path: Path) -> None:
    _write(tmp_path, "old.idl", BASE)
    _write(tmp_path, "new.idl", BASE)
    result = run_compat(tmp_path, "old.idl", "new.idl")
    assert (result.returncode, result.stdout) == (0, "old.idl -> new.idl: no changes\n")


def test_cli_exit_1_lists_breaking_changes_first(tmp_path: Path) -> None:
    _write(tmp_path, "old.idl", BASE)
    new = edited(
        ("/// A shop.", "/// A store."),
        ("PART = 2; }", "PART = 2; KIT = 3; }"),
        ("    2: optional string note;\n", ""),
        ("Item get(1: string sku)", "Item get(2: string sku)"),
    )
    _write(tmp_path, "new.idl", new)
    result = run_compat(tmp_path, "old.idl", "new.idl")
    assert result.returncode == 1, result.stderr
    *lines, summary = result.stdout.splitlines()
    assert all(LINE.match(line) for line in lines), lines
    kinds = [line.split(": ")[1] for line in lines]
    assert kinds == ["breaking", "warning", "compatible", "compatible"]
    assert lines[0].startswith(
        "new.idl:24:14: breaking: parameter 'sku' of method 'Shop.get' changed id "
        "from 1 to 2"
    )
    assert lines[1].startswith(
        "old.idl:11:24: warning: field 2 'note' of message 'Item' was removed "
        "without reserving its id 2"
    )
    assert summary == (
        "old.idl -> new.idl: 1 breaking change, 1 warning, 2 compatible changes"
    )


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("namespace shop;\nmessage Item {\n", "new.idl:2:15: error: "),
        ("namespace shop;\nmessage Item { 1: Strng name; }\n", "new.idl:2:19: error: "),
    ],
    ids=["syntax", "semantic"],
)
def test_cli_exit_2_for_a_malformed_file_without_traceback(
    tmp_path: Path, text: str, error: str
) -> None:
    _write(tmp_path, "old.idl", BASE)
    _write(tmp_path, "new.idl", text)
    result = run_compat(tmp_path, "old.idl", "new.idl")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(error), result.stderr
    assert "^" in result.stderr  # the source line and a caret, as the generator
    assert "Traceback" not in result.stderr


def test_cli_exit_2_for_unreadable_files_reports_both(tmp_path: Path) -> None:
    (tmp_path / "bad.idl").write_bytes(b"namespace \xff;")
    result = run_compat(tmp_path, "missing.idl", "bad.idl")
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("missing.idl: error: cannot read: ")
    assert lines[1:] == [
        "bad.idl:1:11: error: the file is not UTF-8: byte 0xff cannot be decoded "
        "here; save the file as UTF-8",
        "namespace \ufffd;",
        "          ^",
    ]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--compat", "a.idl"],
        ["--compat", "a.idl", "b.idl", "c.idl"],
        ["--compat", "a.idl", "b.idl", "-o", "out"],
        ["a.idl"],
    ],
    ids=["one-file", "three-files", "with-output", "no-output"],
)
def test_usage_errors_exit_2(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert "usage: uvrpc-gen" in capsys.readouterr().err


# --- imports followed, and directories ----------------------------------------------

SHARED = """\
namespace shared;
message Point {
    1: double x;
    2: double y;
}
"""
MAIN = """\
namespace main;
import "shared.idl";
service Map {
    shared.Point centre();
}
"""
ROUTES = """\
namespace routes;
import "../shared.idl";
message Route {
    1: list<shared.Point> points;
}
"""


def tree(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative path: text) below ``root``; return ``root``."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


RENUMBERED = SHARED.replace("2: double y;", "3: double y;")


def test_a_breaking_change_in_an_imported_file_is_reported_there(
    tmp_path: Path,
) -> None:
    tree(tmp_path / "old", {"main.idl": MAIN, "shared.idl": SHARED})
    tree(tmp_path / "new", {"main.idl": MAIN, "shared.idl": RENUMBERED})
    result = run_compat(tmp_path, "old/main.idl", "new/main.idl")
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        "new/shared.idl:4:5: breaking: field 'y' of message 'Point' changed id from "
        "2 to 3: fields travel keyed by id, so each side misses the other's value",
        "old/main.idl -> new/main.idl: 1 breaking change, 0 compatible changes",
    ]


def test_imports_are_paired_by_the_name_they_are_imported_as(tmp_path: Path) -> None:
    # The new file imports its shared definitions from elsewhere, as "shared".
    moved = MAIN.replace('import "shared.idl";', 'import "lib/shared.idl";')
    tree(tmp_path / "old", {"main.idl": MAIN, "shared.idl": SHARED})
    tree(tmp_path / "new", {"main.idl": moved, "lib/shared.idl": RENUMBERED})
    old = read_checked(str(tmp_path / "old/main.idl"))
    new = read_checked(str(tmp_path / "new/main.idl"))
    assert compare(old, new) == []  # the file alone: nothing changed
    (change,) = compare_imported(old, new)
    assert (Path(change.span.file).parts[-2:], change.breaking) == (
        ("lib", "shared.idl"),
        True,
    )


def test_directories_pair_files_by_relative_path(tmp_path: Path) -> None:
    old_files = {
        "main.idl": MAIN,
        "shared.idl": SHARED,
        "maps/routes.idl": ROUTES,
        "gone.idl": "namespace gone;\nservice Old { void ping(); }\n",
    }
    new_files = {
        "main.idl": MAIN,
        "shared.idl": RENUMBERED,
        "maps/routes.idl": ROUTES,
        "fresh.idl": "namespace fresh;\nmessage Thing { 1: i32 n; }\n",
    }
    tree(tmp_path / "old", old_files)
    tree(tmp_path / "new", new_files)
    result = run_compat(tmp_path, "old", "new")
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        "old/gone.idl:1:1: breaking: file 'gone.idl' was removed with its "
        "definitions (Old): files that import it and code that uses them lose them; "
        "calls to 'gone.Old' are answered with UNIMPLEMENTED",
        # Imported by two files and compared itself: reported once.
        "new/shared.idl:4:5: breaking: field 'y' of message 'Point' changed id from "
        "2 to 3: fields travel keyed by id, so each side misses the other's value",
        "new/fresh.idl:1:1: compatible: file 'fresh.idl' was added",
        "old -> new: 2 breaking changes, 1 compatible change",
    ]


def test_equal_directories_have_no_changes(tmp_path: Path) -> None:
    files = {"main.idl": MAIN, "shared.idl": SHARED, "maps/routes.idl": ROUTES}
    tree(tmp_path / "old", files)
    tree(tmp_path / "new", files)
    assert compare_directories(tmp_path / "old", tmp_path / "new") == []
    result = run_compat(tmp_path, "old", "new")
    assert (result.returncode, result.stdout) == (0, "old -> new: no changes\n")


def test_errors_in_either_directory_are_reported_together(tmp_path: Path) -> None:
    tree(tmp_path / "old", {"a.idl": "namespace a;\nmessage M {\n"})
    tree(tmp_path / "new", {"a.idl": "namespace a;\nmessage M { 1: Strng s; }\n"})
    result = run_compat(tmp_path, "old", "new")
    assert result.returncode == 2
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert [line.split(":")[0] for line in errors] == ["old/a.idl", "new/a.idl"]
    assert "Traceback" not in result.stderr


def test_a_directory_and_a_file_are_refused(tmp_path: Path) -> None:
    tree(tmp_path / "old", {"main.idl": MAIN, "shared.idl": SHARED})
    result = run_compat(tmp_path, "old", "old/main.idl")
    assert result.returncode == 2
    assert result.stderr == (
        "uvrpc-gen: error: old is a directory and old/main.idl is not; compare two "
        "files or two directories\n"
    )


JAEGER = """\
namespace jaeger.thrift;
enum Level { LOW = 1; HIGH = 2; }
message Batch { 1: list<string> spans; 2: Level level = Level.LOW; }
exception Boom { 1: string why; }
"""
AGENT = """\
namespace agent;
import "{stem}.idl";
service Agent {{
    void emit(1: {stem}.Batch batch, 2: {stem}.Level level = {stem}.Level.HIGH)
        throws ({stem}.Boom);
}}
"""


def test_a_renamed_import_is_compared_by_wire_names(tmp_path: Path) -> None:
    """The same file imported under another name (types_a.idl renamed
    jaeger_types.idl) changes nothing on the wire: types are compared by their
    namespace-qualified names, and the renamed files are compared with each other."""
    tree(
        tmp_path / "old",
        {"agent.idl": AGENT.format(stem="types_a"), "types_a.idl": JAEGER},
    )
    renumbered = JAEGER.replace("1: string why;", "2: string why;")
    tree(
        tmp_path / "new",
        {"agent.idl": AGENT.format(stem="jaeger_types"), "jaeger_types.idl": JAEGER},
    )
    tree(
        tmp_path / "newer",
        {
            "agent.idl": AGENT.format(stem="jaeger_types"),
            "jaeger_types.idl": renumbered,
        },
    )
    old = read_checked(str(tmp_path / "old/agent.idl"))
    new = read_checked(str(tmp_path / "new/agent.idl"))
    newer = read_checked(str(tmp_path / "newer/agent.idl"))
    assert compare(old, new) == []
    assert compare_imported(old, new) == []
    (change,) = compare_imported(old, newer)
    assert (Path(change.span.file).name, change.breaking) == ("jaeger_types.idl", True)
    result = run_compat(tmp_path, "old/agent.idl", "new/agent.idl")
    assert (result.returncode, result.stdout) == (
        0,
        "old/agent.idl -> new/agent.idl: no changes\n",
    )


def test_an_import_of_another_namespace_under_the_same_name_is_a_change(
    tmp_path: Path,
) -> None:
    """``common.Point`` of namespace ``a`` and ``common.Point`` of namespace ``b``
    are different types: the report names them by namespace."""
    main = (
        'namespace main;\nimport "common.idl";\nservice S { void f(1: common.P p); }\n'
    )
    point = "message P { 1: double x; }\n"
    tree(tmp_path / "old", {"main.idl": main, "common.idl": "namespace a;\n" + point})
    tree(tmp_path / "new", {"main.idl": main, "common.idl": "namespace b;\n" + point})
    old = read_checked(str(tmp_path / "old/main.idl"))
    new = read_checked(str(tmp_path / "new/main.idl"))
    assert [(c.breaking, c.message) for c in compare(old, new)] == [
        (True, "parameter 1 'p' of method 'S.f' changed type from 'a.P' to 'b.P'")
    ]
