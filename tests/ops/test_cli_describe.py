"""``uvrpc describe`` prints IDL that ``uvrpc-gen`` reads back into the same IR.

Each IDL file of the repository that declares a service is served (its reference
implementation, in a thread), described over the wire, written back as IDL, and
the files read by the generator's loader; every message, enum, exception and
service must come back with the same ids, names, types, modifiers and defaults as
the original's (defaults compared by value: a default that named a constant comes
back as the constant's value).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from calculator_server import Calculator
from conformance_server import Conformance
from conftest import generate_modules, server_thread
from echo_server import Echo
from showcase_server import Showcase

from uvrpc.cli import main
from uvrpc.cli.idl import idl_files
from uvrpc.services.reflection import describe
from uvrpc.wire import types as _t
from uvrpc.wire.message import Message, field_ids
from uvrpc.wire.methods import ClientStreaming, ServiceSpec
from uvrpc.wire.service import ServiceBase
from uvrpc_gen.check import CheckedModule, type_text
from uvrpc_gen.constraints import constrained_text
from uvrpc_gen.load import load
from uvrpc_gen.model import (
    BoolLiteral,
    Const,
    Enum,
    ExceptionType,
    Field,
    FloatLiteral,
    IntLiteral,
    ListLiteral,
    Literal,
    MapLiteral,
    NameLiteral,
    Service,
    StringLiteral,
    TypeRef,
    UnionType,
)
from uvrpc_gen.model import (
    Message as IdlMessage,
)

ROOT = Path(__file__).resolve().parents[2]

# The IDL file of each service, its implementation, and the definitions of the
# file (and its imports) that no method of the service uses, which a description
# does not hold.
CASES = {
    "conformance": (Conformance, "conformance.Conformance", set()),
    "all_types": (
        Showcase,
        "all_types.Showcase",
        {"all_types.Containers", "all_types.WellKnown"},
    ),
    "calculator": (Calculator, "calculator.Calculator", set()),
    "echo": (Echo, "echo.Echo", set()),
}


def value(checked: CheckedModule, ref: TypeRef, literal: Literal) -> Any:
    """What a default means, as a plain value of type ``ref``."""
    if isinstance(literal, NameLiteral):
        definition = checked.definition(literal.name)
        if isinstance(definition, Const):
            return value(checked, ref, definition.value)
        return ("member", literal.name.rpartition(".")[2])
    if isinstance(literal, IntLiteral | FloatLiteral):
        return (
            float(literal.value) if ref.name in ("float", "double") else literal.value
        )
    if isinstance(literal, StringLiteral):
        return literal.data if ref.name == "bytes" else literal.value
    if isinstance(literal, BoolLiteral):
        return literal.value
    if isinstance(literal, ListLiteral):
        return [value(checked, ref.arguments[0], item) for item in literal.items]
    assert isinstance(literal, MapLiteral)
    key, item = ref.arguments
    return [
        (value(checked, key, k), value(checked, item, v)) for k, v in literal.entries
    ]


def field(checked: CheckedModule, node: Field) -> tuple[Any, ...]:
    default = None if node.default is None else value(checked, node.type, node.default)
    ref = node.type
    return (node.id, node.name, constrained_text(ref), node.optional, default)


def shape(checked: CheckedModule, definition: Any) -> tuple[Any, ...]:
    """A definition's wire-relevant content, without positions or docs."""
    if isinstance(definition, Enum):
        return tuple((v.name, v.value) for v in definition.values)
    if isinstance(definition, IdlMessage | ExceptionType):
        return tuple(field(checked, f) for f in definition.fields)
    if isinstance(definition, UnionType):
        return ("union", *(field(checked, m) for m in definition.members))
    assert isinstance(definition, Service)
    return tuple(
        (
            m.name,
            m.kind,
            m.oneway,
            m.idempotent,
            tuple(field(checked, p) for p in m.params),
            None if m.returns is None else constrained_text(m.returns),
            tuple(type_text(t) for t in m.throws),
        )
        for m in definition.methods
    )


def definitions(modules: dict[str, CheckedModule]) -> dict[str, tuple[Any, ...]]:
    """Every message, enum, exception, union and service of ``modules``, by wire
    name."""
    found = {}
    for checked in modules.values():
        for definition in checked.module.definitions:
            if isinstance(
                definition, Enum | IdlMessage | ExceptionType | UnionType | Service
            ):
                name = f"{checked.namespace}.{definition.name}"
                found[name] = shape(checked, definition)
    return found


@pytest.fixture(params=sorted(CASES))
def served(request: pytest.FixtureRequest) -> Iterator[tuple[str, str, str]]:
    stem = request.param
    implementation, service, _ = CASES[stem]
    with server_thread(implementation()) as server:
        yield stem, server.endpoint, service


def test_described_idl_loads_back_into_the_same_definitions(
    served: tuple[str, str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stem, endpoint, service = served
    out = tmp_path / "described"
    assert main(["describe", endpoint, service, "--out", str(out)]) == 0
    written = capsys.readouterr().out.split()
    assert written and all(Path(p).parent == out for p in written)
    described = definitions(dict(load(sorted(written)).modules))
    original = definitions(dict(load([str(ROOT / "idl" / f"{stem}.idl")]).modules))
    unused = CASES[stem][2]
    assert described == {k: v for k, v in original.items() if k not in unused}


def test_several_namespaces_print_as_marked_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with server_thread(Conformance()) as server:
        assert main(["describe", server.endpoint, "conformance.Conformance"]) == 0
        printed = capsys.readouterr().out
        assert main(["describe", server.endpoint, "conformance.Conformance",
                     "--out", str(tmp_path)]) == 0  # fmt: skip
    capsys.readouterr()
    expected = "\n".join(
        f"// file: {name}\n" + (tmp_path / name).read_text()
        for name in ("shared.idl", "conformance.idl")
    )
    assert printed == expected
    assert "    i64 sum(1: stream<i64> values);\n" in printed
    assert "    10: Color color = Color.GREEN;\n" in printed
    assert "    11: shared.Origin origin = shared.Origin.CLIENT;\n" in printed
    assert "    6: map<i64, double> weights = {-9223372036854775808: 0.5};\n" in printed


def test_out_replaces_existing_files_only_when_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out into a project's own IDL directory replaced its files (their
    comments, consts and typedefs) without a word."""
    own = tmp_path / "shared.idl"
    own.write_text("// written by hand\n")
    with server_thread(Conformance()) as server:
        argv = ["describe", server.endpoint, "--out", str(tmp_path)]
        assert main(argv) == 2
        assert capsys.readouterr().err == (
            f"uvrpc: error: {own} exists: describe --out replaces a file only "
            "with --force\n"
        )
        assert own.read_text() == "// written by hand\n"
        assert not (tmp_path / "conformance.idl").exists()  # none written
        assert main([*argv, "--force"]) == 0
    assert own.read_text().startswith("namespace shared;")


def test_bytes_defaults_are_string_literals_and_do_not_break_reflection() -> None:
    # A memoryview default once failed the description: "cannot pickle memoryview".
    (text,) = idl_files(describe(Showcase)).values()
    assert '    18: bytes blob_default = "raw";\n' in text
    assert (
        '    17: string text_default = "tab\\there \\"quoted\\" \\\\ done";\n' in text
    )
    assert "    15: float single_default = 1.0;\n" in text


class Chunk(Message):
    model_config = field_ids(raw=1, label=2)

    raw: _t.Bytes = memoryview(b'\x00\xff"\\\nuv')
    label: _t.String = "\x01é\t"


class ChunkParams(Message):
    model_config = field_ids(count=1)

    count: _t.I32 = 3


class _OldModule(ServiceBase):
    """A service as modules generated before API 6 declare it: no stream id."""

    uvrpc_service = ServiceSpec(
        name="old.Uploads",
        methods=(
            ClientStreaming(
                route="old.Uploads.put",
                handler="put",
                params=ChunkParams,
                stream="chunks",
                request_item=Chunk,
                reply=_t.I64,
            ),
        ),
    )


def test_escapes_and_a_stream_id_the_module_does_not_record(tmp_path: Path) -> None:
    (text,) = idl_files(describe(_OldModule)).values()
    assert '    1: bytes raw = "\\x00\\xff\\"\\\\\\nuv";\n' in text
    assert '    2: string label = "\\u0001é\\t";\n' in text
    assert (
        "    i64 put(\n"
        "        1: i32 count = 3,\n"
        "        2 /* not recorded by the server: a free id */: stream<Chunk> chunks\n"
        "    );\n"
    ) in text
    path = tmp_path / "old.idl"
    path.write_text(text)
    (checked,) = load([str(path)]).modules.values()
    message = checked.definition("Chunk")
    assert isinstance(message, IdlMessage)
    raw, label = (f.default for f in message.fields)
    assert isinstance(raw, StringLiteral) and raw.data == b'\x00\xff"\\\nuv'
    assert isinstance(label, StringLiteral) and label.value == "\x01é\t"


def test_only_built_in_services_say_so(capsys: pytest.CaptureFixture[str]) -> None:
    with server_thread(Echo()) as server:
        assert main(["describe", server.endpoint, "uvrpc.Health"]) == 0
    assert capsys.readouterr().out == (
        "// only the built-in services, which every server answers: "
        "uvrpc describe --json shows them\n"
    )


def test_the_whole_server_leaves_the_built_in_services_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with server_thread(Echo()) as server:
        assert main(["describe", server.endpoint]) == 0
    text = capsys.readouterr().out
    assert text.startswith("namespace echo;\n")
    assert "uvrpc" not in text and "Reflection" not in text


def test_enum_members_inside_container_defaults_are_written_as_members(
    tmp_path: Path,
) -> None:
    """A list, set or map default of enum members is written with each member's
    reference, as the file has it: a container's type names the enum, but is no
    enum itself."""
    source = (
        "namespace palette;\n"
        "enum Color { RED = 1; GREEN = 2; }\n"
        "message Paint {\n"
        '    1: map<string, Color> named = {"red": Color.RED};\n'
        "    2: list<Color> order = [Color.GREEN, Color.RED];\n"
        "    3: set<Color> used = [Color.RED];\n"
        "}\n"
        "service Shop { Paint mix(1: Paint paint); }\n"
    )
    module = generate_modules(tmp_path, {"palette.idl": source})["palette"]
    (text,) = idl_files(describe(module.ShopServer)).values()
    assert '    1: map<string, Color> named = {"red": Color.RED};\n' in text
    assert "    2: list<Color> order = [Color.GREEN, Color.RED];\n" in text
    assert "    3: set<Color> used = [Color.RED];\n" in text
    path = tmp_path / "described.idl"
    path.write_text(text)
    (described,) = load([str(path)]).modules.values()
    original = tmp_path / "idl" / "palette.idl"
    (checked,) = load([str(original)]).modules.values()
    assert definitions({"palette": described}) == definitions({"palette": checked})
