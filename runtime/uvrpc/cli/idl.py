"""``uvrpc describe``: a server's description written back as IDL files.

A description (:func:`uvrpc.services.reflection.describe`) names every type by its
namespace, ``conformance.Scalars``; an IDL file has one namespace and names what it
imports by the stem of the imported file, ``shared.Origin`` after ``import
"shared.idl";``. So a description becomes one file per namespace, ``<namespace>.idl``
(dots in the namespace become underscores), each importing the files whose
definitions it uses, and ``uvrpc-gen`` reads them back: the same messages, enums,
exceptions and services, with the same ids, types and defaults. Constants and
typedefs are not in a description: a default that named a constant is written as
its value, and a typedef as the type it names.

The built-in services (``uvrpc.Health``, ``uvrpc.Reflection``) are left out: every
server answers them, and ``describe`` returns values the IDL cannot spell.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from typing import Any

from ..services.constraints import (
    ESCAPES,
    float_literal,
    plain_type,
    string_literal,
)
from ..services.health import HEALTH_SERVICE
from ..services.reflection import REFLECTION_SERVICE

__all__ = ["BUILT_IN_SERVICES", "idl_files"]

Description = dict[str, Any]

BUILT_IN_SERVICES = frozenset({HEALTH_SERVICE, REFLECTION_SERVICE})
"""The services every server answers, which the IDL files leave out."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
# A name, or a string literal (a constraint's pattern), which is left as it is.
_NAME_OR_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_.]*')
_INTEGERS = frozenset({"i8", "i16", "i32", "i64"})


def _namespace(name: str) -> str:
    return name.rpartition(".")[0]


def _local(name: str) -> str:
    return name.rpartition(".")[2]


def _stem(namespace: str) -> str:
    """The file stem of a namespace's file, which its importers qualify names by."""
    return namespace.replace(".", "_")


def _is_definition(name: str) -> bool:
    """Whether a name of a described type is a definition's (``ns.Name``), not a
    built-in type's (``i32``) or a string literal (a constraint's pattern)."""
    return "." in name and not name.startswith('"')


def _split_type(text: str) -> tuple[str, list[str]]:
    """``map<K, list<V>>`` as ``("map", ["K", "list<V>"])``."""
    head, bracket, rest = text.partition("<")
    if not bracket:
        return text, []
    arguments: list[str] = []
    depth, start = 0, 0
    inner = rest[:-1]
    for index, char in enumerate(inner):
        if char == "<":
            depth += 1
        elif char == ">":
            depth -= 1
        elif char == "," and depth == 0:
            arguments.append(inner[start:index].strip())
            start = index + 1
    arguments.append(inner[start:].strip())
    return head, arguments


def _bytes(data: bytes) -> str:
    """Bytes as an IDL string literal: ``\\xNN`` is the byte NN in a bytes default."""
    out = []
    for byte in data:
        char = chr(byte)
        if char in ESCAPES:
            out.append(ESCAPES[char])
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    return f'"{"".join(out)}"'


class _File:
    """One namespace's IDL file: how it spells types and values."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.imports: set[str] = set()

    def ref(self, name: str) -> str:
        """A definition's name as this file writes it, importing its file."""
        namespace = _namespace(name)
        if namespace == self.namespace:
            return _local(name)
        self.imports.add(namespace)
        return f"{_stem(namespace)}.{_local(name)}"

    def type(self, text: str) -> str:
        """A described type as this file writes it, constraints included.

        A definition is named by its namespace, so a dotted name is one, also
        when a narrowed description does not hold it; a built-in name has no dot.
        """
        return _NAME_OR_STRING.sub(
            lambda m: self.ref(m[0]) if _is_definition(m[0]) else m[0], text
        )

    def literal(self, type_text: str, value: Any) -> str:
        """A default, a JSON value of a described type, as an IDL literal."""
        type_text = plain_type(type_text)
        head, arguments = _split_type(type_text)
        if head == "optional":
            return self.literal(arguments[0], value)
        # An enum (no other definition has defaults); a container naming one,
        # list<ns.Color>, is no definition itself.
        if not arguments and _is_definition(head):
            if isinstance(value, str):
                return f"{self.ref(type_text)}.{value}"
            return str(value)  # a number the enum does not declare
        if head == "bool":
            return "true" if value else "false"
        if head in _INTEGERS:
            return str(int(value))
        if head in ("float", "double"):
            return float_literal(value)
        if head == "bytes":
            return _bytes(base64.b64decode(value))
        if head == "string":
            return string_literal(value)
        if head in ("list", "set"):
            items = (self.literal(arguments[0], v) for v in value)
            return f"[{', '.join(items)}]"
        if head == "map":
            key_type, value_type = arguments
            entries = (
                f"{self.literal(key_type, self.key(key_type, k))}: "
                f"{self.literal(value_type, v)}"
                for k, v in value.items()
            )
            return f"{{{', '.join(entries)}}}"
        raise ValueError(f"a default of type {type_text!r} cannot be written in IDL")

    def key(self, key_type: str, key: str) -> Any:
        """A map key as the JSON text a description holds it, read back."""
        head = _split_type(plain_type(key_type))[0]
        if head in _INTEGERS:
            return int(key)
        if head == "bool":
            return key == "True"
        if head in ("float", "double"):
            return float(key)
        return key

    def field(self, field: Description) -> str:
        """``id: [optional ]type name[ = default]`` of a field or parameter."""
        text = f"{field['id']}: {'optional ' if field['optional'] else ''}"
        text += f"{self.type(field['type'])} {field['name']}"
        if "default" in field:
            text += f" = {self.literal(field['type'], field['default'])}"
        return text


def _doc(doc: str, indent: str) -> list[str]:
    return [f"{indent}/// {line}".rstrip() for line in doc.splitlines()] if doc else []


def _stream(method: Description, file: _File) -> tuple[int, str]:
    """A method's stream parameter, and its id (the first id no other parameter
    takes when the server's module does not record it, with a comment saying so)."""
    stream = method["stream"]
    text = f"stream<{file.type(stream['type'])}> {stream['name']}"
    if "id" in stream:
        return stream["id"], f"{stream['id']}: {text}"
    taken = {p["id"] for p in method["params"]}
    guess = next(i for i in range(1, len(taken) + 2) if i not in taken)
    return guess, f"{guess} /* not recorded by the server: a free id */: {text}"


def _method(method: Description, file: _File) -> list[str]:
    params = [(p["id"], file.field(p)) for p in method["params"]]
    if method["stream"] is not None:
        params.append(_stream(method, file))
    params.sort()
    returns = file.type(method["returns"])
    if method["items"]:
        returns = f"stream<{file.type(method['items'])}>"
    modifiers = ("oneway " if method["oneway"] else "") + (
        "idempotent " if method["idempotent"] else ""
    )
    throws = ""
    if method["errors"]:
        throws = f" throws ({', '.join(file.ref(e) for e in method['errors'])})"
    head = f"    {modifiers}{returns} {method['name']}("
    one_line = f"{head}{', '.join(t for _, t in params)}){throws};"
    if len(one_line) <= 88 or not params:
        return [*_doc(method["doc"], "    "), one_line]
    lines = [*_doc(method["doc"], "    "), head]
    lines += [f"        {text}," for _, text in params]
    lines[-1] = lines[-1].removesuffix(",")
    lines.append(f"    ){throws};")
    return lines


def _record(kind: str, entry: Description, file: _File) -> list[str]:
    lines = [*_doc(entry["doc"], ""), f"{kind} {_local(entry['name'])} {{"]
    for field in entry["fields"]:
        lines += _doc(field["doc"], "    ")
        lines.append(f"    {file.field(field)};")
    return [*lines, "}"]


def _union(entry: Description, file: _File) -> list[str]:
    lines = [*_doc(entry["doc"], ""), f"union {_local(entry['name'])} {{"]
    for member in entry["members"]:
        lines += _doc(member["doc"], "    ")
        lines.append(
            f"    {member['id']}: {file.type(member['type'])} {member['name']};"
        )
    return [*lines, "}"]


def _enum(entry: Description) -> list[str]:
    lines = [*_doc(entry["doc"], ""), f"enum {_local(entry['name'])} {{"]
    lines += [f"    {name} = {value};" for name, value in entry["members"].items()]
    return [*lines, "}"]


def _used(description: Description, services: list[Description]) -> set[str]:
    """The names of the types and exceptions ``services`` use, directly or through
    the fields of other types."""
    records = {**description["messages"], **description["exceptions"]}
    unions: dict[str, Description] = description.get("unions", {})
    known = {*records, *description["enums"], *unions}
    pending: list[str] = []

    def mention(type_text: str | None) -> None:
        plain = plain_type(type_text or "")
        pending.extend(n for n in _NAME.findall(plain) if n in known)

    for service in services:
        for method in service["methods"]:
            for param in method["params"]:
                mention(param["type"])
            mention(method["stream"] and method["stream"]["type"])
            mention(method["returns"])
            mention(method["items"])
            pending.extend(method["errors"])
    used: set[str] = set()
    while pending:
        name = pending.pop()
        if name in used:
            continue
        used.add(name)
        for field in records.get(name, {}).get("fields", ()):
            mention(field["type"])
        for member in unions.get(name, {}).get("members", ()):
            mention(member["type"])
    return used


def _ordered(imports: dict[str, set[str]]) -> list[str]:
    """Namespaces with each after the ones it imports (sorted where free)."""
    done: list[str] = []

    def visit(namespace: str, path: Iterable[str]) -> None:
        if namespace in done or namespace in path:
            return
        for other in sorted(imports.get(namespace, ())):
            visit(other, (*path, namespace))
        done.append(namespace)

    for namespace in sorted(imports):
        visit(namespace, ())
    return done


def idl_files(description: Description) -> dict[str, str]:
    """The IDL files of a description, by file name, each file after those it
    imports; empty when it describes only built-in services.

    A narrowed description (one method, or one type) gives the files of what it
    holds; they import what they name, which it may not hold.

    Raises:
        ValueError: a default that the IDL cannot spell (only a module written
            without uvrpc-gen can have one).
    """
    services = [
        s for s in description["services"] if s["name"] not in BUILT_IN_SERVICES
    ]
    if description["services"] and not services:
        return {}
    used = _used(description, services) if description["services"] else None
    by_namespace: dict[str, list[tuple[str, Description]]] = {}
    for kind, key in (("enum", "enums"), ("message", "messages")):
        for name, entry in description[key].items():
            if used is None or name in used:
                by_namespace.setdefault(_namespace(name), []).append((kind, entry))
    for name, entry in description["exceptions"].items():
        if used is None or name in used:
            by_namespace.setdefault(_namespace(name), []).append(("exception", entry))
    for name, entry in description.get("unions", {}).items():
        if used is None or name in used:
            by_namespace.setdefault(_namespace(name), []).append(("union", entry))
    for service in services:
        by_namespace.setdefault(_namespace(service["name"]), []).append(
            ("service", service)
        )
    bodies: dict[str, list[str]] = {}
    imports: dict[str, set[str]] = {}
    for namespace, definitions in by_namespace.items():
        file = _File(namespace)
        lines: list[str] = []
        for kind, entry in definitions:
            lines.append("")
            if kind == "enum":
                lines += _enum(entry)
            elif kind == "union":
                lines += _union(entry, file)
            elif kind == "service":
                lines += [
                    *_doc(entry["doc"], ""),
                    f"service {_local(entry['name'])} {{",
                ]
                for index, method in enumerate(entry["methods"]):
                    lines += [""] * (index > 0) + _method(method, file)
                lines.append("}")
            else:
                lines += _record(kind, entry, file)
        bodies[namespace] = lines
        imports[namespace] = file.imports
    files: dict[str, str] = {}
    for namespace in _ordered(imports):
        if namespace not in bodies:
            continue  # imported, but none of its definitions is described
        head = [f"namespace {namespace};"]
        if imports[namespace]:
            head.append("")
            head += [f'import "{_stem(n)}.idl";' for n in sorted(imports[namespace])]
        files[f"{_stem(namespace)}.idl"] = "\n".join([*head, *bodies[namespace]]) + "\n"
    return files
