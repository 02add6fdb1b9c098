"""Every IDL error: its exact first line, its caret, several per run, no traceback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from uvrpc_gen.check import check
from uvrpc_gen.diagnostics import IdlError, format_diagnostic
from uvrpc_gen.parse import SYNTAX_ERROR_EXAMPLES, parse


def errors(source: str) -> list[str]:
    """The formatted diagnostics of ``source`` as file ``t.idl``."""
    try:
        check(parse(source, "t.idl"))
    except IdlError as error:
        return [format_diagnostic(d, source) for d in error.diagnostics]
    raise AssertionError("no error reported")


def first(source: str) -> tuple[str, str]:
    """The first line and caret line of the first diagnostic."""
    lines = errors(source)[0].splitlines()
    return lines[0], lines[2]


NS = "namespace t;\n"
LONG_METHOD = "watchNotificationPreferencesForUser"

CASES = [
    (
        NS + "message M { 1: Strng x; }",
        "t.idl:2:16: error: unknown type 'Strng'; did you mean 'string'?",
        "               ^~~~~",
    ),
    (
        NS + "message M { 1: int x; }",
        "t.idl:2:16: error: unknown type 'int'; did you mean 'i32' or 'i64'?",
        "               ^~~",
    ),
    (
        NS + "message M { 1: map<string, long> x; }",
        "t.idl:2:28: error: unknown type 'long'; did you mean 'i64'?",
        "                           ^~~~",
    ),
    (
        NS + "message M { 1: binary x; }",
        "t.idl:2:16: error: unknown type 'binary'; did you mean 'bytes'?",
        "               ^~~~~~",
    ),
    (
        NS + "message M { 1: float64 x; }",
        "t.idl:2:16: error: unknown type 'float64'; did you mean 'double'?",
        "               ^~~~~~~",
    ),
    (
        # Thrift's byte is a signed 8-bit integer, not bytes.
        NS + "message M { 1: byte x; }",
        "t.idl:2:16: error: unknown type 'byte'; did you mean 'i8'?",
        "               ^~~~",
    ),
    (
        NS + "message M { 1: uint32 x; }",
        "t.idl:2:16: error: unknown type 'uint32': the IDL has no unsigned types; "
        "use 'i64', which holds every uint32 value",
        "               ^~~~~~",
    ),
    (
        NS + "message M { 1: uint64 x; }",
        "t.idl:2:16: error: unknown type 'uint64': the IDL has no unsigned types; "
        "use 'i64', which holds values up to 2**63-1 only (see 'Types' in "
        "idl/README.md)",
        "               ^~~~~~",
    ),
    (
        NS + "service S { void f(1: fixed64 x); }",
        "t.idl:2:23: error: unknown type 'fixed64': the IDL has no unsigned types; "
        "use 'i64', which holds values up to 2**63-1 only (see 'Types' in "
        "idl/README.md)",
        "                      ^~~~~~~",
    ),
    (
        NS + "message M { 1: google.protobuf.Timestamp x; }",
        "t.idl:2:16: error: unknown type 'google.protobuf.Timestamp'; did you mean "
        "'timestamp'?",
        "               ^~~~~~~~~~~~~~~~~~~~~~~~~",
    ),
    (
        NS + "message M { 1: google.protobuf.Empty x; }",
        "t.idl:2:16: error: unknown type 'google.protobuf.Empty': protobuf's "
        "Empty is an empty message here: define 'message Empty {}' (or write a "
        "method that takes nothing with no parameters, one that returns nothing "
        "'void')",
        "               ^~~~~~~~~~~~~~~~~~~~~",
    ),
    (
        NS + "message M { 1: google.protobuf.UInt32Value x; }",
        "t.idl:2:16: error: unknown type 'google.protobuf.UInt32Value': protobuf's "
        "wrapper types are optional fields here: write 'optional i64'",
        "               ^~~~~~~~~~~~~~~~~~~~~~~~~~~",
    ),
    (
        NS + "service S { void f(1: google.protobuf.Any x); }",
        "t.idl:2:23: error: unknown type 'google.protobuf.Any': there is no 'Any' "
        "here: use a union of the types it may hold",
        "                      ^~~~~~~~~~~~~~~~~~~",
    ),
    (
        NS + "message Outer {}\nmessage M { 1: Outer.Inner x; }",
        "t.idl:3:16: error: unknown type 'Outer.Inner': definitions do not nest; "
        "define 'Inner' at the top level of the file (under a name no other "
        "definition has) and name it so",
        "               ^~~~~~~~~~~",
    ),
    (
        NS + "message N {}\nservice S { void f(1: N n = 1); }",
        "t.idl:3:29: error: parameter 'n' of message type 'N' cannot have a "
        "default; make it 'optional' instead",
        "                            ^",
    ),
    (
        NS + "message M { 1: timedelta x; }",
        "t.idl:2:16: error: unknown type 'timedelta'; did you mean 'duration'?",
        "               ^~~~~~~~~",
    ),
    (
        NS + "message M { 1: datetime x; }",
        "t.idl:2:16: error: unknown type 'datetime'; did you mean 'timestamp'?",
        "               ^~~~~~~~",
    ),
    (
        NS + "message M { 1: UUID x; }",
        "t.idl:2:16: error: unknown type 'UUID'; did you mean 'uuid'?",
        "               ^~~~",
    ),
    (
        NS + "enum A { X = 1; }\nmessage A {}",
        "t.idl:3:9: error: duplicate definition 'A' (first defined at line 2)",
        "        ^",
    ),
    (
        NS + "message M { 1: i32 x; 2: i32 x; }",
        "t.idl:2:30: error: duplicate field name 'x' (first defined at line 2)",
        "                             ^",
    ),
    (
        NS + "service S { void f(1: i32 a, 2: i32 a); }",
        "t.idl:2:37: error: duplicate parameter name 'a' (first defined at line 2)",
        "                                    ^",
    ),
    (
        NS + "message M { 1: i32 x; 1: i32 y; }",
        "t.idl:2:23: error: duplicate field id 1 (first used at line 2)",
        "                      ^",
    ),
    (
        NS + "message M { 0: i32 x; }",
        "t.idl:2:13: error: field id 0 is out of range (1..536870911)",
        "            ^",
    ),
    (
        NS + "message M { 536870912: i32 x; }",
        "t.idl:2:13: error: field id 536870912 is out of range (1..536870911)",
        "            ^~~~~~~~~",
    ),
    (
        NS + "enum E { A = 1; A = 2; }",
        "t.idl:2:17: error: duplicate enum member 'A' (first defined at line 2)",
        "                ^",
    ),
    (
        NS + "enum E { A = 1; B = 1; }",
        "t.idl:2:21: error: duplicate enum value 1 (first used at line 2)",
        "                    ^",
    ),
    (
        NS + "service S { void f(); void f(); }",
        "t.idl:2:28: error: duplicate method name 'f' (first defined at line 2)",
        "                           ^",
    ),
    (
        NS + "service S { void callCount(); void call_count(); }",
        "t.idl:2:36: error: method names 'callCount' and 'call_count' are both "
        "'call_count' in Python (first defined at line 2)",
        "                                   ^~~~~~~~~~",
    ),
    (
        NS + "message M { 1: i32 class; }",
        "t.idl:2:20: error: field name 'class' is a Python keyword; rename it "
        "(say 'class_'): fields travel by id, so the wire stays the same",
        "                   ^~~~~",
    ),
    (
        NS + "message None {}",
        "t.idl:2:9: error: message name 'None' is a Python keyword; rename it",
        "        ^~~~",
    ),
    (
        NS + "service S { void Class(); }",
        "t.idl:2:18: error: method name 'Class' becomes the Python keyword 'class'",
        "                 ^~~~~",
    ),
    (
        NS + "message M { 1: i32 copy; }",
        "t.idl:2:20: error: field name 'copy' clashes with an attribute of "
        "uvrpc.Message; rename it (say 'copy_'): fields travel by id, so the wire "
        "stays the same",
        "                   ^~~~",
    ),
    (
        NS + "message M { 1: i32 _x; }",
        "t.idl:2:20: error: field name '_x' must not start with an underscore",
        "                   ^~",
    ),
    (
        NS + "service S { void add(); void startAdd(); }",
        "t.idl:2:30: error: method name 'startAdd' clashes with 'start_add', the "
        "call-handle twin of method 'add' (line 2)",
        "                             ^~~~~~~~",
    ),
    (
        NS + "service S { void close(); }",
        "t.idl:2:18: error: method name 'close' clashes with attribute 'close' of "
        "the generated clients' or server's base class; rename the method (its "
        "route, which the wire carries, changes with it)",
        "                 ^~~~~",
    ),
    (
        NS + "service S { void f(1: i32 timeout); }",
        "t.idl:2:27: error: parameter name 'timeout' is taken by the generated "
        "methods; rename it (say 'timeout_'): parameters travel by id, so the wire "
        "stays the same",
        "                          ^~~~~~~",
    ),
    (
        NS + "service S { void f(1: i32 self); }",
        "t.idl:2:27: error: parameter name 'self' is taken by the generated methods; "
        "rename it (say 'self_'): parameters travel by id, so the wire stays the same",
        "                          ^~~~",
    ),
    (
        NS + "enum Op { A = 1; }\nmessage M { 1: Op Op; }",
        "t.idl:3:19: error: field name 'Op' is also the name of a type; rename the "
        "field",
        "                  ^~",
    ),
    (
        NS + "message SClient {}\nservice S {}",
        "t.idl:2:9: error: 'SClient' clashes with the client generated for service "
        "'S' (line 3)",
        "        ^~~~~~~",
    ),
    (
        NS + "service A { void bC(); }\nservice AB { void c(); }",
        "t.idl:3:19: error: 'AB.c' and 'A.bC' would both generate the name "
        "'_ABCParams'",
        "                  ^",
    ),
    (
        NS + 'message M { 1: i32 x = "a"; }',
        "t.idl:2:24: error: invalid default for type 'i32': expected an integer, "
        "got a string",
        "                       ^~~",
    ),
    (
        NS + "message M { 1: i8 x = 128; }",
        "t.idl:2:23: error: default 128 is out of range for 'i8' (-128..127)",
        "                      ^~~",
    ),
    (
        NS + "enum E { A = 1; }\nmessage M { 1: E e = E.B; }",
        "t.idl:3:22: error: enum 'E' has no member 'B'",
        "                     ^~~",
    ),
    (
        NS + 'message M { 1: list<i32> x = [1, "a"]; }',
        "t.idl:2:34: error: invalid default for type 'i32': expected an integer, "
        "got a string",
        "                                 ^~~",
    ),
    (
        NS + "message N {}\nmessage M { 1: N n = {}; }",
        "t.idl:3:22: error: a field of message type 'N' cannot have a default; make "
        "it 'optional' instead",
        "                     ^~",
    ),
    (
        NS + "service S { void f(1: list<i32> x = []); }",
        "t.idl:2:37: error: parameter 'x' of container type cannot have a default; "
        "make it 'optional' instead",
        "                                    ^~",
    ),
    (
        NS + "message M { 1: map<list<i32>, i32> m; }",
        "t.idl:2:20: error: map key type must be a scalar or an enum, not 'list<i32>'",
        "                   ^~~~~~~~~",
    ),
    (
        NS + "message N {}\nmessage M { 1: set<N> s; }",
        "t.idl:3:20: error: set element type must be a scalar or an enum, not 'N'",
        "                   ^",
    ),
    (
        "message M {}",
        "t.idl:1:1: error: missing namespace; start the file with 'namespace name;'",
        "^",
    ),
    (
        # Over 63 characters, a method's constant is named with its service's
        # initials, which two services here share.
        NS
        + f"service NotificationPreferencesService {{ void {LONG_METHOD}(); }}\n"
        + f"service NightlyPipelineScheduler {{ void {LONG_METHOD}(); }}",
        f"t.idl:3:41: error: 'NightlyPipelineScheduler.{LONG_METHOD}' and "
        f"'NotificationPreferencesService.{LONG_METHOD}' would both generate the "
        "name '_NPS_WATCH_NOTIFICATION_PREFERENCES_FOR_USER'",
        " " * 40 + "^" + "~" * 34,
    ),
    (
        NS + "message stream {}",
        "t.idl:2:9: error: message name 'stream' is a reserved word of the IDL",
        "        ^~~~~~",
    ),
    (
        NS + "message M { 1: void x; }",
        "t.idl:2:16: error: 'void' is only allowed as a method's return type",
        "               ^~~~",
    ),
    (
        NS + "message M { 1: list<i32, i32> x; }",
        "t.idl:2:16: error: 'list' takes 1 type argument, got 2",
        "               ^~~~~~~~~~~~~~",
    ),
    (
        NS + "/// Dangling.\n\nmessage M {}",
        "t.idl:2:1: error: doc comment does not directly precede anything it "
        "documents: a '///' block documents the line right after it, with no blank "
        "line between (use '//' for a plain comment)",
        "^~~~~~~~~~~~~",
    ),
    (
        NS + "namespace u;",
        "t.idl:2:1: error: a file has exactly one 'namespace'",
        "^~~~~~~~~~~~",
    ),
    (
        NS + "service S {}\nmessage M { 1: S s; }",
        "t.idl:3:16: error: 'S' is a service, not a type",
        "               ^",
    ),
    (
        NS + "message M { 1: i32<i32> x; }",
        "t.idl:2:16: error: type 'i32' takes no type arguments",
        "               ^~~~~~~~",
    ),
    (
        NS + "message M { 1: stream<i32> x; }",
        "t.idl:2:16: error: 'stream<T>' is only allowed as a method's return type or "
        "as the type of one of its parameters",
        "               ^~~~~~~~~~~",
    ),
    (
        NS + "exception IOError {}",
        "t.idl:2:11: error: exception name 'IOError' would shadow the Python "
        "built-in 'IOError'; rename it: an error names its exception on the wire, "
        "so clients and servers both take the new name",
        "          ^~~~~~~",
    ),
    (
        NS + "message object {}",
        "t.idl:2:9: error: message name 'object' would shadow the Python built-in "
        "'object'; rename it: only its Python name changes, not the wire",
        "        ^~~~~~",
    ),
    (
        NS + "const i32 annotations = 1;",
        "t.idl:2:11: error: constant name 'annotations' is taken: every generated "
        "module binds it ('from __future__ import annotations')",
        "          ^~~~~~~~~~~",
    ),
    (
        NS + "enum E { A = 1; real = 2; }",
        "t.idl:2:17: error: enum member 'real' clashes with an attribute of "
        "enum.IntEnum",
        "                ^~~~",
    ),
    (
        NS + "enum E { A = 0x80000000; }",
        "t.idl:2:14: error: enum value 2147483648 is out of range for i32",
        "             ^~~~~~~~~~",
    ),
    (
        NS + 'message M { 1: string s = "\\q"; }',
        "t.idl:2:28: error: unknown escape '\\q'",
        "                           ^",
    ),
    (
        NS + 'message M { 1: string s = "a\\xZZ"; }',
        "t.idl:2:29: error: bad escape '\\xZZ': '\\x' takes exactly 2 hexadecimal "
        "digits",
        "                            ^",
    ),
    (
        NS + 'message M { 1: map<string, i32> m = {"a": 1, "a": 2}; }',
        "t.idl:2:46: error: duplicate key in map literal",
        "                                             ^~~",
    ),
    (
        NS + "message SSyncClient {}\nservice S {}",
        "t.idl:2:9: error: 'SSyncClient' clashes with the blocking client generated "
        "for service 'S' (line 3)",
        "        ^~~~~~~~~~~",
    ),
    (
        NS + "message SServer {}\nservice S {}",
        "t.idl:2:9: error: 'SServer' clashes with the server base class generated for "
        "service 'S' (line 3)",
        "        ^~~~~~~",
    ),
    (
        NS + "message UnimplementedSServer {}\nservice S {}",
        "t.idl:2:9: error: 'UnimplementedSServer' clashes with the partial server "
        "class generated for service 'S' (line 3)",
        "        ^~~~~~~~~~~~~~~~~~~~",
    ),
    (
        NS + "enum E { A = 1; }\nmessage M { 1: E e = 1; }",
        "t.idl:3:22: error: invalid default for type 'E': expected a member of enum "
        "'E', like 'E.A', got an integer",
        "                     ^",
    ),
    # --- constants and typedefs ---
    (
        NS + "const i32 A = B;\nconst i32 B = 1;",
        "t.idl:2:15: error: constant 'B' is used before it is defined (at line 3)",
        "              ^",
    ),
    (
        NS + "const list<i32> L = [];",
        "t.idl:2:7: error: a constant is a scalar or an enum, not 'list<i32>'",
        "      ^~~~~~~~~",
    ),
    (
        NS + "const i8 C = 300;",
        "t.idl:2:14: error: default 300 is out of range for 'i8' (-128..127)",
        "             ^~~",
    ),
    (
        NS + "const i64 BIG = 1000;\nmessage M { 1: i8 x = BIG; }",
        "t.idl:3:23: error: constant 'BIG' of type 'i64' is not a valid 'i8'",
        "                      ^~~",
    ),
    (
        NS + "typedef X Y;\ntypedef Y X;",
        "t.idl:2:11: error: typedef 'Y' refers to itself (Y -> X -> Y)",
        "          ^",
    ),
    (
        NS + "typedef stream<i32> S;",
        "t.idl:2:9: error: a typedef cannot name a stream; write 'stream<T>'",
        "        ^~~~~~~~~~~",
    ),
    (
        NS + "typedef list<Nope> L;",
        "t.idl:2:14: error: unknown type 'Nope'",
        "             ^~~~",
    ),
    (
        NS + "const i32 N = 1;\nmessage M { 1: N x; }",
        "t.idl:3:16: error: 'N' is a constant, not a type",
        "               ^",
    ),
    # --- exceptions and throws ---
    (
        NS + "exception E { 1: string status; }",
        "t.idl:2:25: error: exception field name 'status' clashes with an "
        "attribute of uvrpc.DeclaredError; rename the field",
        "                        ^~~~~~",
    ),
    (
        NS + "exception E { 1: i32 a; 1: i32 b; }",
        "t.idl:2:25: error: duplicate exception field id 1 (first used at line 2)",
        "                        ^",
    ),
    (
        NS + "exception E {}\nmessage M { 1: E e; }",
        "t.idl:3:16: error: 'E' is an exception, not a type (methods name the "
        "exceptions they raise in 'throws (...)')",
        "               ^",
    ),
    (
        NS + "message M {}\nservice S { void f() throws (M); }",
        "t.idl:3:30: error: 'M' is a message, not an exception; declare it with "
        "'exception'",
        "                             ^",
    ),
    (
        NS + "exception Oops {}\nservice S { void f() throws (Ops); }",
        "t.idl:3:30: error: unknown exception 'Ops'; did you mean 'Oops'?",
        "                             ^~~",
    ),
    (
        NS + "exception E {}\nservice S { void f() throws (E, E); }",
        "t.idl:3:33: error: 'E' is declared twice (first at line 3)",
        "                                ^",
    ),
    (
        NS + "exception E {}\nservice E {}",
        "t.idl:3:9: error: duplicate definition 'E' (first defined at line 2)",
        "        ^",
    ),
    (
        NS + "exception SClient {}\nservice S {}",
        "t.idl:2:11: error: 'SClient' clashes with the client generated for "
        "service 'S' (line 3)",
        "          ^~~~~~~",
    ),
    # --- oneway and idempotent ---
    (
        NS + "service S { oneway i32 f(); }",
        "t.idl:2:20: error: a oneway method returns nothing; declare it 'oneway void'",
        "                   ^~~",
    ),
    (
        NS + "exception E {}\nservice S { oneway void f() throws (E); }",
        "t.idl:3:37: error: a oneway method cannot declare errors: no reply is sent",
        "                                    ^",
    ),
    (
        NS + "service S { oneway idempotent void f(); }",
        "t.idl:2:13: error: a oneway method cannot be idempotent: without a reply, "
        "a failed call is never seen, so it is never retried",
        "            ^~~~~~",
    ),
    (
        NS + "service S { oneway oneway void f(); }",
        "t.idl:2:20: error: duplicate modifier 'oneway'",
        "                   ^~~~~~",
    ),
    (
        NS + "service S { idempotent stream<i32> f(); }",
        "t.idl:2:13: error: a streaming method cannot be idempotent: streams are "
        "not retried",
        "            ^~~~~~~~~~",
    ),
    (
        NS + "service S { oneway void f(1: stream<i32> x); }",
        "t.idl:2:13: error: a oneway method cannot take a stream",
        "            ^~~~~~",
    ),
    # --- streams ---
    (
        NS + "service S { void f(1: stream<i32> a, 2: stream<i32> b); }",
        "t.idl:2:41: error: a method takes at most one stream<T> parameter",
        "                                        ^~~~~~~~~~~",
    ),
    (
        NS + "service S { void f(1: optional stream<i32> a); }",
        "t.idl:2:44: error: stream parameter 'a' cannot be optional or have a "
        "default (an empty stream sends no items)",
        "                                           ^",
    ),
    (
        NS + "service S { stream<stream<i32>> f(); }",
        "t.idl:2:20: error: 'stream<T>' is only allowed as a method's return type "
        "or as the type of one of its parameters",
        "                   ^~~~~~~~~~~",
    ),
    (
        NS + "service S { void f(1: list<stream<i32>> x); }",
        "t.idl:2:28: error: 'stream<T>' is only allowed as a method's return type "
        "or as the type of one of its parameters",
        "                           ^~~~~~~~~~~",
    ),
    (
        NS + "service S { stream<i32, i32> f(); }",
        "t.idl:2:13: error: 'stream' takes 1 type argument, got 2",
        "            ^~~~~~~~~~~~~~~~",
    ),
    (
        NS + "service S { stream<void> f(); }",
        "t.idl:2:20: error: 'void' is only allowed as a method's return type",
        "                   ^~~~",
    ),
    (
        NS + "message stream {}",
        "t.idl:2:9: error: message name 'stream' is a reserved word of the IDL",
        "        ^~~~~~",
    ),
]


@pytest.mark.parametrize(("source", "message", "caret"), CASES)
def test_error(source: str, message: str, caret: str) -> None:
    assert first(source) == (message, caret)


def test_several_errors_in_one_run() -> None:
    source = NS + "message M {\n 1: Strng x;\n 1: i32 y;\n 2: i32 class;\n}\n"
    found = [e.splitlines()[0] for e in errors(source)]
    assert found == [
        "t.idl:3:5: error: unknown type 'Strng'; did you mean 'string'?",
        "t.idl:4:2: error: duplicate field id 1 (first used at line 3)",
        "t.idl:5:9: error: field name 'class' is a Python keyword; rename it "
        "(say 'class_'): fields travel by id, so the wire stays the same",
    ]


def test_a_bad_key_is_reported_beside_a_bad_value() -> None:
    source = NS + "message M { 1: list<map<set<i32>, map<Strng, i32>>> x; }"
    found = [e.splitlines()[0] for e in errors(source)]
    assert found == [
        "t.idl:2:25: error: map key type must be a scalar or an enum, not 'set<i32>'",
        "t.idl:2:39: error: unknown type 'Strng'; did you mean 'string'?",
    ]


SYNTAX_ERROR_POSITIONS = {
    "namespace calc\nenum Op { ADD = 1; }": (2, 1),
    "namespace acme.calc\nmessage M {}": (2, 1),
    "namespace calc; record S {}": (1, 17),
    "namespace calc; 1: i32 x;": (1, 17),
    "namespace calc; message {}": (1, 25),
    "namespace calc; enum {}": (1, 22),
    "namespace calc; service {}": (1, 25),
    "namespace calc; message M { i32 x; }": (1, 29),
    "namespace calc; message M { optional i32 x; }": (1, 29),
    "namespace calc; message M { 1 i32 x; }": (1, 31),
    "namespace calc; message M { 1: ; }": (1, 32),
    "namespace calc; message M { 1: optional ; }": (1, 41),
    "namespace calc; service S { void f(1: ); }": (1, 39),
    "namespace calc; message M { 1: i32 x }": (1, 38),
    "namespace calc; message M { 1: i32 x 2: i32 y; }": (1, 38),
    "namespace calc; message M { 1: i32 x = 1 }": (1, 42),
    "namespace calc; message M { 1: optional i32 x }": (1, 47),
    "namespace calc; enum E { A; }": (1, 27),
    "namespace calc; enum E { A }": (1, 28),
    "namespace calc; enum E { A = ; }": (1, 30),
    "namespace calc; enum E { A = 1 }": (1, 32),
    "namespace calc; service S { void f(i32 x); }": (1, 36),
    "namespace calc; service S { void f(1: i32 x, i32 y); }": (1, 46),
    "namespace calc; message M { message N {} }": (1, 29),
    "namespace calc; message M { enum E { A = 1; } }": (1, 29),
    "namespace calc; message M { union U { 1: i32 a; } }": (1, 29),
    "namespace calc; message M { exception E {} }": (1, 29),
    "namespace calc; service S { void f() }": (1, 38),
    "namespace calc; service S { void f() void g(); }": (1, 38),
    "namespace calc; service S { void f(1: i32 x) }": (1, 46),
    "namespace calc; service S { oneway void f() }": (1, 45),
    "namespace calc; service S { oneway void f(1: i32 x) }": (1, 53),
    "namespace calc; service S { void f() throws (E,) }": (1, 50),
    "namespace calc; service S { void f() throws (E) }": (1, 49),
    "namespace calc; message M { 1: i32 x = ; }": (1, 40),
    "namespace calc; service S { void f(1: i32 x = ); }": (1, 47),
    "namespace calc; import common;": (1, 24),
    "namespace calc; import common.idl;": (1, 24),
    "namespace calc; service S { void f() throws NotFound; }": (1, 45),
    "namespace calc; service S { void f() throws (); }": (1, 46),
    "namespace calc; message M { 1: string() x; }": (1, 39),
    "namespace calc; message M { 1: string(max_len) x; }": (1, 46),
    "namespace calc; message M { 1: string(50) x; }": (1, 39),
}
"""Where each example of the friendly-message table fails: (line, column)."""


def test_syntax_error_positions_cover_the_table() -> None:
    examples = {e for examples in SYNTAX_ERROR_EXAMPLES.values() for e in examples}
    assert examples == set(SYNTAX_ERROR_POSITIONS)


@pytest.mark.parametrize(
    ("message", "example"),
    [(m, e) for m, examples in SYNTAX_ERROR_EXAMPLES.items() for e in examples],
)
def test_syntax_error_table(message: str, example: str) -> None:
    """Each example of the friendly-message table fails with its message, at the
    token the message is about."""
    with pytest.raises(IdlError) as caught:
        parse(example, "t.idl")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message.startswith(message)
    span = diagnostic.span
    assert (span.line, span.column) == SYNTAX_ERROR_POSITIONS[example]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("enum E { A = 1; B; }", "an enum value needs an explicit integer value"),
        ("enum E { reserved 2; B = ; }", "an enum value needs an explicit integer"),
        ("enum E { A = 1; B = 2 }", "missing ';' after the enum value (got '}')"),
        ("message M { 1: i32 a; 2: i32 b }", "missing ';' after the field (got '}')"),
        ("union U { 1: i32 a; 2: i32 b, }", "missing ';' after the field (got ',')"),
        ("message M { 1: i32 a = 3; string b; }", "a field starts with its id"),
        ("message M { 1: optional i32 a; optional i32 b; }", "a field starts with"),
        ("message M { reserved 3; i32 b; }", "a field starts with its id"),
        ("message M { 1: i32 a; 2 i32 b; }", "expected ':' after the field id"),
        ("message M { 1: i32 a; 2: i32 b = ; }", "expected a value (got ';')"),
        ("message M { 1: i32 a = 1; message N {} }", "definitions do not nest"),
        ("service S { void f(1: i32 a = 1, string b); }", "a parameter starts with"),
        ("service S { void f(); void g() }", "missing ';' after the method"),
        # Thrift's methods end without ';': after parameters, a default, 'throws'.
        ("service S { void f(1: i32 a) }", "missing ';' after the method"),
        ("service S { i32 f(1: i32 a, 2: i32 b = 3)\n}", "missing ';' after the"),
        ("service S { oneway void f(1: i32 a) void g(); }", "missing ';' after the"),
        ("exception E {} service S { void f(1: i32 a) throws (E) }", "missing ';'"),
        ("message M { 1: i32 a; 2: optional i32 b }", "missing ';' after the field"),
    ],
)
def test_members_after_the_first_get_the_same_friendly_messages(
    body: str, message: str
) -> None:
    """The parser's stack is deeper after a first member, and a member ends in a
    state of its own shape: neither changes what the error is."""
    line, _ = first(NS + body)
    assert line.partition(": error: ")[2].startswith(message), line


@pytest.mark.parametrize(
    "body",
    [
        "const i32 X = 1 message M {}",
        'import "x.idl" message M {}',
        "typedef i32 T message M {}",
    ],
)
def test_a_friendly_message_is_not_guessed_where_examples_disagree(body: str) -> None:
    """A missing ';' accepts the same token after a constant as after an enum
    value or a namespace: where the table has no example, the message is built
    from what the parser expected."""
    line, _ = first(NS + body)
    assert line.partition(": error: ")[2] == "expected ';', got keyword 'message'"


def test_end_of_file_points_after_the_last_token() -> None:
    line, caret = first("namespace t;\nmessage M {\n\n")
    assert line.startswith("t.idl:2:12: error: ")
    assert line.endswith("the end of the file)")
    assert caret == "           ^"


def test_syntax_error_format() -> None:
    source = "namespace t;\nmessage M { 1: i32 x }\n"
    assert first(source) == (
        "t.idl:2:22: error: missing ';' after the field (got '}')",
        "                     ^",
    )


def test_the_caret_counts_columns_as_a_terminal_draws_them() -> None:
    """A wide character takes two columns and a combining mark none, before the
    token and under it, so the caret stays under what it names."""
    wide = 'namespace t;\nconst string G = "日本語"; const i32 X = "a";\n'
    assert first(wide)[1] == " " * 41 + "^~~"
    combining = 'namespace t;\nconst string G = "e\u0301"; message M { 1: Strng x; }\n'
    assert first(combining)[1] == " " * 37 + "^~~~~"
    under = "namespace t;\nmessage M { 1: Strng x; } /// 日本\n"
    assert first(under)[1] == " " * 26 + "^" + "~" * 7


def test_generic_syntax_error_names_tokens() -> None:
    source = "namespace t;\nmessage M { 1: i32 x; } }\n"
    line, caret = first(source)
    assert line.startswith("t.idl:2:25: error: expected ")
    assert caret == "                        ^"


def test_unexpected_character() -> None:
    assert first("namespace t;\nmessage M { @ }") == (
        "t.idl:2:13: error: unexpected character '@'",
        "            ^",
    )


@pytest.mark.parametrize(
    ("source", "message", "caret"),
    [
        (
            NS + "message Foo { 1: required i32 a; }",
            "t.idl:2:18: error: fields and parameters are required unless marked "
            "'optional'; drop 'required'",
            "                 ^~~~~~~~",
        ),
        (
            NS + "message Foo {\n  1: required Foo.Bar a = 1;\n}",
            "t.idl:3:6: error: fields and parameters are required unless marked "
            "'optional'; drop 'required'",
            "     ^~~~~~~~",
        ),
        (
            NS + "service S { void f(1: i32 a, 2: required list<i32> b); }",
            "t.idl:2:33: error: fields and parameters are required unless marked "
            "'optional'; drop 'required'",
            "                                ^~~~~~~~",
        ),
        (
            NS + "message Foo { 1: required i32; }",
            "t.idl:2:18: error: fields and parameters are required unless marked "
            "'optional'; drop 'required'",
            "                 ^~~~~~~~",
        ),
        (
            NS + "service S { void f(1: required string); }",
            "t.idl:2:23: error: fields and parameters are required unless marked "
            "'optional'; drop 'required'",
            "                      ^~~~~~~~",
        ),
    ],
)
def test_thrift_required_is_named_where_it_stands(
    source: str, message: str, caret: str
) -> None:
    """Thrift's 'required' reads as the type, and the type as the name: the
    parser fails on the name after them, the checker (no name) on a type that
    nothing defines; either way the error names the word to drop."""
    assert first(source) == (message, caret)


def test_a_type_named_required_is_still_a_type() -> None:
    source = NS + "message required {}\nmessage M { 1: required r; }"
    assert check(parse(source, "t.idl")).module.definitions[1].name == "M"


@pytest.mark.parametrize(
    ("source", "message", "caret"),
    [
        (
            NS + "message M {}\n  /* never closed\nmessage N {}\n",
            "t.idl:3:3: error: unterminated block comment (it starts here and no "
            "'*/' closes it)",
            "  ^~",
        ),
        (
            NS + "/*/ message M {}",
            "t.idl:2:1: error: unterminated block comment (it starts here and no "
            "'*/' closes it)",
            "^~",
        ),
        (
            NS + 'const string S = "abc;\nmessage M {}\n',
            "t.idl:2:18: error: unterminated string: a string ends with '\"' on the "
            "line it starts",
            "                 ^",
        ),
        (
            NS + 'const string S = "multi\nline";\n',
            "t.idl:2:18: error: unterminated string: a string ends with '\"' on the "
            "line it starts",
            "                 ^",
        ),
        (
            NS + 'const string S = "ends in an escaped quote\\";\n',
            "t.idl:2:18: error: unterminated string: a string ends with '\"' on the "
            "line it starts",
            "                 ^",
        ),
        (
            NS + "# a Thrift comment\nmessage M {}\n",
            "t.idl:2:1: error: Thrift's '#' comments are written '//' here",
            "^",
        ),
        (
            NS + "message M { 1: i32 x; } # after code\n",
            "t.idl:2:25: error: Thrift's '#' comments are written '//' here",
            "                        ^",
        ),
        (
            NS + "message M {} / 2",
            "t.idl:2:14: error: unexpected character '/'",
            "             ^",
        ),
    ],
)
def test_an_unclosed_comment_or_string_is_named_where_it_starts(
    source: str, message: str, caret: str
) -> None:
    assert first(source) == (message, caret)


@pytest.mark.parametrize(
    ("source", "message", "caret"),
    [
        (
            NS + "struct Item { 1: string sku; }",
            "t.idl:2:1: error: Thrift's 'struct' is written 'message' here "
            "(got name 'struct')",
            "^~~~~~",
        ),
        (
            NS + "enum E { A = 1; }\nstruct Item { 1: string sku; }",
            "t.idl:3:1: error: Thrift's 'struct' is written 'message' here "
            "(got name 'struct')",
            "^~~~~~",
        ),
        (
            NS + 'const string V = "1";\nstruct Item { 1: string sku; }',
            "t.idl:3:1: error: Thrift's 'struct' is written 'message' here "
            "(got name 'struct')",
            "^~~~~~",
        ),
        (
            "namespace py acme.shop;\n",
            "t.idl:1:14: error: a namespace is one dotted name, for every language: "
            "drop Thrift's language 'py' (got name 'acme')",
            "             ^~~~",
        ),
        (
            NS + "const string S = 'abc';",
            't.idl:2:18: error: strings are written in double quotes ("..."), not '
            "single quotes",
            "                 ^",
        ),
        (
            NS + "message M {}\nservice S {\n    rpc Get(M) returns (M);\n}",
            "t.idl:4:13: error: protobuf's 'rpc Get(Request) returns (Reply)' is "
            "written 'Reply get(1: Request request);' here (got name 'M')",
            "            ^",
        ),
        (
            NS + "message M {}\nservice S {\n    rpc Get(stream M)\n"
            "        returns (stream M);\n}",
            "t.idl:4:13: error: protobuf's 'rpc Get(Request) returns (Reply)' is "
            "written 'Reply get(1: Request request);' here (got name 'stream')",
            "            ^~~~~~",
        ),
        (
            NS + "message M {}\nservice S {\n    rpc Get (M) returns (M) {}\n}",
            "t.idl:4:14: error: protobuf's 'rpc Get(Request) returns (Reply)' is "
            "written 'Reply get(1: Request request);' here (got name 'M')",
            "             ^",
        ),
        (  # one line: the method starts after the service's '{'
            NS + "message M {}\nservice S { rpc Get(M) returns (M); }",
            "t.idl:3:21: error: protobuf's 'rpc Get(Request) returns (Reply)' is "
            "written 'Reply get(1: Request request);' here (got name 'M')",
            "                    ^",
        ),
        (  # or after the method before it
            NS + "service S { void f(); rpc Get(M) returns (M); }",
            "t.idl:2:31: error: protobuf's 'rpc Get(Request) returns (Reply)' is "
            "written 'Reply get(1: Request request);' here (got name 'M')",
            "                              ^",
        ),
        (  # an error before a protobuf method on its line: the usual message
            NS + "service S { void f(i32 x); rpc Get(M) returns (M); }",
            "t.idl:2:20: error: a parameter starts with its id, like '1: i32 name' "
            "(got name 'i32')",
            "                   ^~~",
        ),
        (
            NS + "message M {\n    1: repeated string tags;\n}",
            "t.idl:3:8: error: protobuf's 'repeated' is written as a list here: "
            "'list<string> tags' (a 'set<...>' if the order does not matter)",
            "       ^~~~~~~~",
        ),
        (
            NS + "service S { void f(1: optional repeated i64 ids); }",
            "t.idl:2:32: error: protobuf's 'repeated' is written as a list here: "
            "'list<i64> ids' (a 'set<...>' if the order does not matter)",
            "                               ^~~~~~~~",
        ),
        (
            NS + "message M {\n    repeated string tags = 1;\n}",
            "t.idl:3:5: error: a field starts with its id: protobuf's 'repeated "
            "string tags = 1;' is written '1: list<string> tags;' here (got name "
            "'repeated')",
            "    ^~~~~~~~",
        ),
        (
            NS + "message M {\n    1: i32 x;\n    optional uint32 n = 2;\n}",
            "t.idl:4:5: error: a field starts with its id: protobuf's 'optional "
            "uint32 n = 2;' is written '2: optional i64 n;' here (got keyword "
            "'optional')",
            "    ^~~~~~~~",
        ),
        (
            NS + "message M {\n    map<string, Shape> shapes = 3;\n}",
            "t.idl:3:5: error: a field starts with its id: protobuf's 'map<string, "
            "Shape> shapes = 3;' is written '3: map<string, Shape> shapes;' here "
            "(got name 'map')",
            "    ^~~",
        ),
        (
            NS + "message M {\n    1: i32 x;\n    oneof kind { string a = 2; }\n}",
            "t.idl:4:5: error: protobuf's 'oneof' is a 'union' here: define 'union "
            "Kind { 1: string a; 2: i32 b; }' at the top level of the file and give "
            "the message a field of it, like '1: Kind kind;' (got name 'oneof')",
            "    ^~~~~",
        ),
        (
            NS + "message M {\n    oneof http_response { string a = 2; }\n}",
            "t.idl:3:5: error: protobuf's 'oneof' is a 'union' here: define 'union "
            "HttpResponse { 1: string a; 2: i32 b; }' at the top level of the file and "
            "give the message a field of it, like '1: HttpResponse http_response;' "
            "(got name 'oneof')",
            "    ^~~~~",
        ),
        (
            NS + "service Base { void f(); }\nservice S extends Base {\n}",
            "t.idl:3:11: error: a service cannot extend another: inheritance "
            "(Thrift's 'extends') is not supported; list the methods of 'Base' in "
            "this service too (got name 'extends')",
            "          ^~~~~~~",
        ),
        (
            NS + "exception E { 1: string m; }\nservice S { void f() throw (E); }",
            "t.idl:3:22: error: the errors a method raises are listed after "
            "'throws', not 'throw', like 'throws (NotFound)' (got name 'throw')",
            "                     ^~~~~",
        ),
        (
            NS + "service S {\n    i32 f(1: i32 x) raises (E, F);\n}",
            "t.idl:3:21: error: the errors a method raises are listed after "
            "'throws', not 'raises', like 'throws (NotFound)' (got name 'raises')",
            "                    ^~~~~~",
        ),
        (
            'include "shared/common.thrift"\n' + NS,
            "t.idl:1:1: error: Thrift's 'include \"shared/common.thrift\"' is "
            "written 'import \"shared/common.idl\";' here (got name 'include')",
            "^~~~~~~",
        ),
        (
            NS + 'message M {}\ninclude "x.thrift"\n',
            "t.idl:3:1: error: Thrift's 'include \"x.thrift\"' is written "
            "'import \"x.idl\";' here (got name 'include')",
            "^~~~~~~",
        ),
        (
            NS + "message A {\n    1: i32 x;\n};\nmessage B {}\n",
            "t.idl:4:2: error: no ';' follows a definition's closing '}': remove it "
            "(got ';')",
            " ^",
        ),
        (
            NS + "enum E { A = 1; } ;",
            "t.idl:2:19: error: no ';' follows a definition's closing '}': remove it "
            "(got ';')",
            "                  ^",
        ),
        (
            NS + "message M {\n    reserved 2, 9 to max;\n}",
            "t.idl:3:22: error: protobuf's 'max' is written as the highest id "
            "here: 'to 536870911' (got name 'max')",
            "                     ^~~",
        ),
        (
            NS + "enum E { A = 1; reserved 9 to max; }",
            "t.idl:2:31: error: protobuf's 'max' is written as the highest value "
            "here: 'to 2147483647' (got name 'max')",
            "                              ^~~",
        ),
        (
            NS + "enum E {\n  option allow_alias = true;\n  A = 1;\n  B = 1;\n}",
            "t.idl:3:10: error: protobuf's 'option allow_alias' is not supported: "
            "an enum value has one name here; remove the option and the aliases "
            "(got name 'allow_alias')",
            "         ^~~~~~~~~~~",
        ),
        (
            NS + 'option java_package = "com.acme";\n',
            "t.idl:2:1: error: protobuf's options are not supported: remove the "
            "'option ...;' line (got name 'option')",
            "^~~~~~",
        ),
        (
            NS + "message M {\n  option deprecated = true;\n}",
            "t.idl:3:3: error: protobuf's options are not supported: remove the "
            "'option ...;' line (got name 'option')",
            "  ^~~~~~",
        ),
        (
            NS + "enum E { option (my.opt) = 1; }",
            "t.idl:2:17: error: protobuf's options are not supported: remove the "
            "'option ...;' line (got '(')",
            "                ^",
        ),
        (
            NS + "service S { option deprecated = true; }",
            "t.idl:2:31: error: protobuf's options are not supported: remove the "
            "'option ...;' line (got '=')",
            "                              ^",
        ),
        (
            'syntax = "proto3";\n' + NS,
            "t.idl:1:1: error: protobuf's 'syntax = ...;' has no place here: remove "
            "the line (got name 'syntax')",
            "^~~~~~",
        ),
        (
            NS + "package t.v1;\n",
            "t.idl:2:1: error: protobuf's 'package t.v1;' is written 'namespace "
            "t.v1;' here (got name 'package')",
            "^~~~~~~",
        ),
        (
            NS + 'message M { 1: i32 a (deprecated = "true"); }',
            "t.idl:2:22: error: Thrift's annotations '(...)' are not supported: "
            "remove them (a '///' doc comment can say what they said, such as that "
            "a field is deprecated) (got '(')",
            "                     ^",
        ),
        (
            NS + "message M { 1: i32 a [(my.opt) = true]; }",
            "t.idl:2:22: error: protobuf's field options '[...]' are not supported: "
            "remove them (a '///' doc comment can say what they said, such as that "
            "a field is deprecated) (got '[')",
            "                     ^",
        ),
        (
            NS + "service S { optional string f(); }",
            "t.idl:2:29: error: a method's result cannot be optional: return a "
            "message with an 'optional' field (or a union) instead (got name 'f')",
            "                            ^",
        ),
        (  # a constraint after the name: not an annotation to remove
            NS + "message M { 1: string name(max_len = 5); }",
            "t.idl:2:27: error: constraints follow the type, not the name: write "
            "'string(max_len = 5) name' (got '(')",
            "                          ^",
        ),
        (
            NS + "service S { void f(1: i32 x (min = 0, max = 9)); }",
            "t.idl:2:29: error: constraints follow the type, not the name: write "
            "'i32(min = 0, max = 9) x' (got '(')",
            "                            ^",
        ),
        (  # a method written in a message: no annotation, the usual message
            NS + "message M { 1: string f(); }",
            "t.idl:2:24: error: missing ';' after the field (got '(')",
            "                       ^",
        ),
        (  # a return type named rpc, and no protobuf: the usual message
            NS + "message rpc {}\nservice S {\n    rpc get(i32 a);\n}",
            "t.idl:4:13: error: a parameter starts with its id, like '1: i32 name' "
            "(got name 'i32')",
            "            ^~~",
        ),
    ],
)
def test_thrift_and_python_spellings_are_named(
    source: str, message: str, caret: str
) -> None:
    """What Thrift, protobuf (or Python) would take, named with the IDL's
    spelling."""
    assert first(source) == (message, caret)


_JAVADOC_ERROR = (
    "'/** ... */' is a plain comment here, and what it documents would get no "
    "docstring: write a doc comment as '///' lines (or '/* ... */' for a plain "
    "comment)"
)


@pytest.mark.parametrize(
    ("source", "position"),
    [
        (NS + "/** A thing. */\nmessage A {}\n", "2:1"),
        (NS + "/**\n * A thing.\n */\nenum E { A = 1; }\n", "2:1"),
        (NS + "message A {\n    /** The x. */\n    1: i32 x;\n}\n", "3:5"),
        (NS + "service S {\n  /** Does f. */\n  void f();\n}\n", "3:3"),
    ],
)
def test_javadoc_comments_are_refused_where_they_would_document(
    source: str, position: str
) -> None:
    """Thrift and protobuf write doc comments ``/** ... */``; here that is a
    plain comment, so what it was meant to document would silently get none."""
    message, _ = first(source)
    assert message == f"t.idl:{position}: error: {_JAVADOC_ERROR}"


def test_javadoc_comments_elsewhere_are_plain_comments() -> None:
    """A block comment apart from any declaration (a licence header), a banner
    and ``/**/`` stay comments."""
    source = (
        "/**\n * Licensed under the MIT license.\n */\n\n"
        + NS
        + "/***** messages *****/\n/**/\nmessage M { /** inline */ 1: i32 x; }\n"
    )
    assert check(parse(source, "t.idl")).module.definitions[0].name == "M"
    # A licence header right above the namespace: a comment still.
    header = "/** Copyright 2024 ACME. */\n" + NS + "message M {}\n"
    assert check(parse(header, "t.idl")).module.definitions[0].name == "M"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "uvrpc_gen", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_reports_errors_without_traceback(tmp_path: Path) -> None:
    idl = tmp_path / "bad.idl"
    idl.write_text(NS + "message M { 1: Strng x; 1: i32 class; }\n")
    result = run_cli(str(idl), "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{idl}:2:16: error: unknown type 'Strng'" in result.stderr
    assert "field name 'class' is a Python keyword" in result.stderr
    assert not (tmp_path / "out").exists()


def test_cli_syntax_error(tmp_path: Path) -> None:
    idl = tmp_path / "bad.idl"
    idl.write_text("namespace t\nmessage M {}\n")
    result = run_cli(str(idl), "-o", str(tmp_path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{idl}:2:1: error: missing ';' after the namespace" in result.stderr


def test_cli_rejects_invalid_module_name(tmp_path: Path) -> None:
    idl = tmp_path / "my-calc.idl"
    idl.write_text(NS)
    result = run_cli(str(idl), "-o", str(tmp_path))
    assert result.returncode == 1
    assert "'my-calc' is not a valid Python module name" in result.stderr


def test_cli_refuses_to_shadow_the_standard_library(tmp_path: Path) -> None:
    idl = tmp_path / "types.idl"
    idl.write_text(NS)
    result = run_cli(str(idl), "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    assert (
        f"{idl}: error: the generated module 'types' would shadow the standard "
        "library's 'types'; rename the file"
    ) in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_refused_input_another_input_imports_is_reported_once(
    tmp_path: Path,
) -> None:
    """OpenTelemetry's ``trace.proto`` and ``resource.proto``, ported with their
    names and imported by ``trace_service.idl``: each refused stem was reported
    twice, as an input and again as the import of another input."""
    (tmp_path / "resource.idl").write_text("namespace r;\nmessage R {}\n")
    (tmp_path / "trace.idl").write_text(
        'namespace t;\nimport "resource.idl";\nmessage S { 1: resource.R r; }\n'
    )
    (tmp_path / "trace_service.idl").write_text(
        'namespace ts;\nimport "trace.idl";\nmessage E { 1: trace.S s; }\n'
    )
    result = run_cli(str(tmp_path), "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines == [
        f"{tmp_path / 'resource.idl'}: error: the generated module 'resource' "
        "would shadow the standard library's 'resource'; rename the file",
        f"{tmp_path / 'trace.idl'}: error: the generated module 'trace' would "
        "shadow the standard library's 'trace'; rename the file",
    ]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("stem", ["uvrpc", "pydantic", "msgpack", "zmq"])
def test_cli_refuses_to_shadow_the_runtime(tmp_path: Path, stem: str) -> None:
    idl = tmp_path / f"{stem}.idl"
    idl.write_text(NS)
    result = run_cli(str(idl), "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    assert f"{idl}: error: the generated module '{stem}' would shadow" in (
        result.stderr
    )
    assert not (tmp_path / "out").exists()


def test_cli_refuses_two_inputs_writing_one_file(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder / "calc.idl").write_text(NS)
    result = run_cli(
        str(tmp_path / "a" / "calc.idl"),
        str(tmp_path / "b" / "calc.idl"),
        "-o",
        str(tmp_path / "out"),
    )
    assert result.returncode == 1
    assert "another input also generates" in result.stderr


def test_cli_usage_error() -> None:
    assert run_cli().returncode == 2


def test_a_misspelt_type_used_many_times_is_looked_up_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A thousand fields of the type ``Strng`` took nine seconds: the names to
    suggest were searched for at each use, in every known name."""
    from uvrpc_gen import check as checker

    searches = 0
    suggestions = checker._suggestions  # noqa: SLF001 (counting its calls)

    def counting(name: str, known: Iterable[str]) -> list[str]:
        nonlocal searches
        searches += 1
        return suggestions(name, known)

    monkeypatch.setattr(checker, "_suggestions", counting)
    fields = " ".join(f"{n}: Strng s{n};" for n in range(1, 101))
    found = errors(NS + f"message M {{ {fields} }}\nmessage N {{ 1: Intt i; }}")
    assert len(found) == 101
    heads = [e.splitlines()[0] for e in found]
    assert all(
        h.endswith("unknown type 'Strng'; did you mean 'string'?") for h in heads[:100]
    )
    assert heads[100] == "t.idl:3:16: error: unknown type 'Intt'"
    assert searches == 2  # once for each misspelt name


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "message N { 1: N next; }",
            "t.idl:2:18: error: message 'N' can never be built: its required field "
            "'next' needs a 'N', and a 'N' needs itself again through required "
            "fields; make a field along the chain 'optional' (or a list)",
        ),
        (
            "message A { 1: B b; }\nmessage B { 1: A a; }",
            "t.idl:2:18: error: message 'A' can never be built: its required field "
            "'b' needs a 'B', and a 'B' needs itself again through required "
            "fields; make a field along the chain 'optional' (or a list)",
        ),
        (
            "union V { 1: V v; }",
            "t.idl:2:7: error: union 'V' can never hold a value: each of its members "
            "needs a value that needs a union of this type again; add a member that "
            "ends the chain (a scalar, a list, an optional field's message)",
        ),
    ],
)
def test_a_definition_that_needs_itself_through_required_fields_is_refused(
    body: str, expected: str
) -> None:
    # Its model would refuse every value: a required field's value must be a
    # whole message, and each one would need another without end.
    assert errors(NS + body)[0].splitlines()[0] == expected


def test_recursion_through_optional_fields_containers_and_unions_is_fine() -> None:
    check(
        parse(
            NS + "union U { 1: U u; 2: list<U> us; }\n"
            "message T { 1: optional T next; 2: list<T> kids; 3: map<string, T> m; "
            "4: U u; }\n",
            "t.idl",
        )
    )
