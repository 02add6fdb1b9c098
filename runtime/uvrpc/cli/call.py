"""``uvrpc call``, ``uvrpc list`` and ``uvrpc describe``: any server, no generated code.

``uvrpc call ENDPOINT ROUTE 'JSON'`` asks the server to describe the route's service
(:mod:`uvrpc.reflection`), maps the JSON object's keys, parameter names, to their ids,
converts the values to the declared types (bytes as base64 text, standard or
URL-safe as a message's own JSON writes it, sets as lists, enum
members by name or number, map keys from text, a union as an object of one member
keyed by name, ``{"circle": {...}}``, a ``uuid`` as its text, a ``timestamp`` as
RFC 3339 text, a ``duration`` as ISO 8601 text or seconds, a ``decimal`` as text),
makes the call and prints the result
as JSON on stdout: one line, or one line per item for a method whose server streams.
A method whose client streams reads its items from stdin, one JSON value a line, each
sent as its line arrives; ``--timeout none`` gives a call no deadline. A
failed call prints ``STATUS_NAME: message (status N)`` on stderr, then for an
exception the IDL declares ``{"error": name, "fields": {...}}``, and exits with 1.
A reader of stdout that stops reading (``| head -1``) ends the command quietly
with 141, as SIGPIPE would.

``uvrpc describe ENDPOINT [NAME]`` prints the IDL of what the server serves
(:mod:`uvrpc.cli.idl`), one file per namespace; ``--out DIR`` writes the files,
which ``uvrpc-gen`` reads; ``--json`` prints the description itself.

Each connects over CURVE with ``--curve-server-key`` and, for a server with an
allow-list, ``--curve-secret`` (:mod:`uvrpc.cli.curve`, as ``uvrpc health``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import os
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import ExitStack
from pathlib import Path
from signal import SIGPIPE
from typing import Any, TextIO

import msgpack
from pydantic import ConfigDict

from ..client.channel import Channel
from ..core.context import metadata, validate_metadata
from ..services.clients import ReflectionClient
from ..services.constraints import plain_type
from ..wire.errors import (
    DeadlineExceeded,
    DeclaredError,
    RpcError,
    Unavailable,
    Unimplemented,
)
from ..wire.message import Message, field_ids
from ..wire.methods import BidiStreaming, ClientStreaming, ServerStreaming, Unary
from ..wire.types import from_base64
from ..wire.wellknown import from_json, to_json
from . import curve
from .described import checked_description
from .endpoints import refuse_inproc
from .idl import idl_files

__all__ = ["add_commands", "run_command"]

Description = dict[str, Any]


class CallError(Exception):
    """An argument that does not fit the method's description: one line, exit 2."""


class _AnyParams(Message):
    model_config = field_ids()


class _AnyFields(Message):
    model_config = ConfigDict(extra="allow")


def _split(text: str) -> tuple[str, str]:
    """``map<K, V>``'s ``K`` and ``V`` (``V`` may contain commas)."""
    depth = 0
    for index, char in enumerate(text):
        if char == "<":
            depth += 1
        elif char == ">":
            depth -= 1
        elif char == "," and depth == 0:
            return text[:index].strip(), text[index + 1 :].strip()
    raise CallError(f"malformed map type {text!r}")


_NUMBER_KEYS: dict[str, type[int] | type[float]] = {
    "i8": int,
    "i16": int,
    "i32": int,
    "i64": int,
    "float": float,
    "double": float,
}
"""The number types of map keys, which JSON writes as text."""

_INTEGER_BOUNDS: dict[str, tuple[int, int]] = {
    "i8": (-(2**7), 2**7 - 1),
    "i16": (-(2**15), 2**15 - 1),
    "i32": (-(2**31), 2**31 - 1),
    "i64": (-(2**63), 2**63 - 1),
}
"""The integer types' ranges: JSON's integers have none, msgpack's end at 64 bits."""


def _check_integer(type_name: str, value: Any, where: str) -> None:
    """Refuse an integer out of ``type_name``'s range, naming the field: beyond 64
    bits the request could not be encoded at all, and the error named the
    field's number ("cannot send argument '1' ... cannot encode")."""
    bounds = _INTEGER_BOUNDS.get(type_name)
    if bounds is None or isinstance(value, bool) or not isinstance(value, int):
        return
    low, high = bounds
    if not low <= value <= high:
        raise CallError(
            f"{where}: {value} is out of range for {type_name} ({low} to {high})"
        )


_FLOAT_WORDS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
"""The floats JSON has no number for, as protobuf's JSON writes them (and
grpcurl): Python's ``json`` writes a bare ``NaN``, which ``jq`` and most readers
refuse."""


def _float_json(value: float) -> float | str:
    """A float as JSON: itself, or its word in :data:`_FLOAT_WORDS`."""
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"


def _as_float(type_name: str, value: Any, where: str) -> Any:
    """A JSON value given for a ``float`` or ``double`` as the float it stands
    for: a word of :data:`_FLOAT_WORDS`, or an integer as the float the server
    would make of it (beyond 64 bits an integer could not be encoded at all, and
    the error named the field's number: "cannot send argument '1' ... cannot
    encode a value of type int"). Text of other words, or an integer beyond any
    float, is refused naming the field; anything else is the server's to refuse.
    """
    if isinstance(value, str):
        if value not in _FLOAT_WORDS:
            raise CallError(
                f"{where}: {value!r} is not a number (a {type_name} is a JSON "
                'number, "NaN", "Infinity" or "-Infinity")'
            )
        return _FLOAT_WORDS[value]
    if type(value) is not int:
        return value  # a bool, a list: the server's to refuse
    try:
        return float(value)
    except OverflowError:
        raise CallError(f"{where}: {value} is out of range for {type_name}") from None


def _key_text(key: Any) -> str:
    """A map key as the text of a JSON object's key, as pydantic writes it (a bool
    is ``true``, not ``True``)."""
    return json.dumps(key) if isinstance(key, bool) else str(key)


def _check_text(value: str, where: str) -> None:
    """Refuse text UTF-8 cannot encode (JSON's "\\ud800", a lone surrogate),
    naming the field: sent, it failed as INVALID_ARGUMENT naming the field's
    number ("cannot send argument '1' ...")."""
    try:
        value.encode()
    except UnicodeEncodeError as exc:
        raise CallError(
            f"{where}: not UTF-8 text: {exc.object[exc.start : exc.end]!r} at "
            f"{exc.start} is a lone surrogate"
        ) from None


def _inner(type_name: str, prefix: str) -> str | None:
    if type_name.startswith(prefix + "<") and type_name.endswith(">"):
        return type_name[len(prefix) + 1 : -1]
    return None


class Converter:
    """Converts JSON values to and from the wire values of described types."""

    def __init__(self, description: Description) -> None:
        self.messages: dict[str, Description] = description.get("messages", {})
        self.enums: dict[str, Description] = description.get("enums", {})
        self.unions: dict[str, Description] = description.get("unions", {})

    def to_wire(self, type_name: str, value: Any, where: str) -> Any:
        """A JSON value as the wire value of ``type_name`` (whose constraints the
        server checks)."""
        if value is None:
            return None
        if isinstance(value, str):
            _check_text(value, where)
        type_name = plain_type(type_name)
        _check_integer(type_name, value, where)
        if type_name in ("float", "double"):
            return _as_float(type_name, value, where)
        if type_name == "bytes":
            if not isinstance(value, str):
                raise CallError(f"{where}: expected base64 text for bytes")
            try:
                # Either alphabet, padded or not, as a message's JSON reads it:
                # what ``model_dump_json`` writes (URL-safe) is taken here too.
                return bytes(from_base64(value))
            except ValueError:
                raise CallError(f"{where}: not valid base64") from None
        try:
            known = from_json(type_name, value)  # uuid, timestamp, duration, decimal
        except ValueError as exc:
            raise CallError(f"{where}: {exc}") from None
        if known is not NotImplemented:
            return known
        if (inner := _inner(type_name, "list") or _inner(type_name, "set")) is not None:
            if not isinstance(value, list):
                raise CallError(f"{where}: expected a list")
            return [
                self.to_wire(inner, v, f"{where}[{i}]") for i, v in enumerate(value)
            ]
        if (inner := _inner(type_name, "optional")) is not None:
            return self.to_wire(inner, value, where)
        if (inner := _inner(type_name, "map")) is not None:
            key_type, value_type = _split(inner)
            if not isinstance(value, dict):
                raise CallError(f"{where}: expected an object")
            entries: dict[Any, Any] = {}
            texts: dict[Any, str] = {}
            for k, v in value.items():
                key = self._key(key_type, k, where)
                # Two texts of one key ("1" and "01", an enum member's name and
                # its number) would leave one entry of the two, quietly.
                if key in texts:
                    raise CallError(
                        f"{where}: map keys {texts[key]!r} and {k!r} are the same "
                        f"{plain_type(key_type)} key"
                    )
                texts[key] = k
                entries[key] = self.to_wire(value_type, v, f"{where}.{k}")
            return entries
        enum = self.enums.get(type_name)
        if enum is not None:
            members: dict[str, int] = enum["members"]
            if isinstance(value, str):
                if value not in members:
                    raise CallError(
                        f"{where}: {value!r} is not a member of {type_name} "
                        f"({', '.join(members)})"
                    )
                return members[value]
            return value
        message = self.messages.get(type_name)
        if message is not None:
            return self.args(message["fields"], value, where)
        union = self.unions.get(type_name)
        if union is not None:
            return self.member(type_name, union["members"], value, where)
        return value

    def member(
        self, type_name: str, members: list[Description], value: Any, where: str
    ) -> dict[str, Any]:
        """A union in JSON, ``{"<member name>": value}``, as its wire map
        ``{"<member id>": value}``."""
        names = ", ".join(m["name"] for m in members)
        if not isinstance(value, dict) or len(value) != 1:
            raise CallError(
                f"{where}: {type_name}, a union, is an object of exactly one member, "
                f'like {{"{members[0]["name"]}": ...}} (the members are: {names})'
            )
        ((key, item),) = value.items()
        found = next((m for m in members if key in (m["name"], str(m["id"]))), None)
        if found is None:
            raise CallError(
                f"{where}: {type_name} has no member {key!r} (the members are: {names})"
            )
        return {str(found["id"]): self.to_wire(found["type"], item, f"{where}.{key}")}

    def _key(self, key_type: str, key: str, where: str) -> Any:
        """A JSON object's key, which is text, as a map key of ``key_type``: what
        :func:`_key_text` writes, an enum member by name or number included."""
        plain = plain_type(key_type)
        if plain == "bool":
            if key not in ("true", "false"):
                raise CallError(f"{where}: map key {key!r} is not true or false")
            return key == "true"
        if plain in self.enums and key not in self.enums[plain]["members"]:
            with contextlib.suppress(ValueError):
                return int(key)  # a member's number, which the server checks
        number = _NUMBER_KEYS.get(plain)
        if number is None:
            return self.to_wire(key_type, key, where)
        try:
            read = number(key)
        except ValueError:
            what = "a number" if number is float else "an integer"
            raise CallError(f"{where}: map key {key!r} is not {what}") from None
        _check_integer(plain, read, f"{where}: map key")
        return read

    def args(self, fields: list[Description], value: Any, where: str) -> dict[str, Any]:
        """A JSON object keyed by field names as a wire map keyed by field ids."""
        if not isinstance(value, dict):
            raise CallError(f"{where}: expected a JSON object of named fields")
        by_name = {f["name"]: f for f in fields}
        unknown = sorted(set(value) - set(by_name))
        if unknown:
            raise CallError(
                f"{where}: no field {', '.join(map(repr, unknown))} "
                f"(the fields are: {', '.join(by_name) or 'none'})"
            )
        return {
            str(by_name[name]["id"]): self.to_wire(
                by_name[name]["type"], item, f"{where}.{name}"
            )
            for name, item in value.items()
        }

    def to_json(self, type_name: str | None, value: Any) -> Any:
        """A wire value of ``type_name`` as JSON: fields by name, enums by name,
        bytes as base64 text, a float with no JSON number as ``"NaN"``,
        ``"Infinity"`` or ``"-Infinity"``."""
        if isinstance(value, float):
            return _float_json(value)
        if value is None or type_name is None:
            return value
        type_name = plain_type(type_name)
        try:
            known = to_json(type_name, value)  # uuid, timestamp, duration, decimal
        except ValueError:
            known = repr(value)  # not what the description says: shown as it came
        if known is not NotImplemented:
            return known
        if isinstance(value, msgpack.Timestamp):  # kept unread: only a timestamp is
            return to_json("timestamp", value)
        if isinstance(value, bytes | bytearray | memoryview):
            return base64.b64encode(bytes(value)).decode("ascii")
        if (inner := _inner(type_name, "list") or _inner(type_name, "set")) is not None:
            return [self.to_json(inner, v) for v in value]
        if (inner := _inner(type_name, "optional")) is not None:
            return self.to_json(inner, value)
        if (inner := _inner(type_name, "map")) is not None and isinstance(value, dict):
            key_type, value_type = _split(inner)
            return {
                _key_text(self.to_json(key_type, k)): self.to_json(value_type, v)
                for k, v in value.items()
            }
        enum = self.enums.get(type_name)
        if enum is not None:
            names = {number: name for name, number in enum["members"].items()}
            return names.get(value, value)
        message = self.messages.get(type_name)
        if message is not None and isinstance(value, dict):
            return self.fields_json(message["fields"], value)
        union = self.unions.get(type_name)
        if union is not None and isinstance(value, dict):
            # A member this description does not hold stays keyed by its id.
            return self.fields_json(union["members"], value)
        if isinstance(value, dict):
            return {str(k): self.to_json("any", v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.to_json("any", v) for v in value]
        return value

    def fields_json(self, fields: list[Description], value: dict[Any, Any]) -> Any:
        by_id = {str(f["id"]): f for f in fields}
        out: dict[str, Any] = {}
        for key, item in value.items():
            field = by_id.get(str(key))
            if field is None:
                out[str(key)] = self.to_json("any", item)
            else:
                out[field["name"]] = self.to_json(field["type"], item)
        return out


def _find(description: Description, route: str) -> Description:
    routes = []
    for service in description["services"]:
        for method in service["methods"]:
            if method["route"] == route:
                return dict(method)
            routes.append(method["route"])
    # Routes keep the IDL's spelling: 'callCount', where Python says call_count.
    close = [r for r in routes if _loose(r) == _loose(route)]
    raise Unimplemented(f"this server serves no method {route!r}{_did_you_mean(close)}")


def _loose(route: str) -> str:
    """A route as compared for a hint: without case or underscores."""
    return route.replace("_", "").lower()


def _did_you_mean(names: list[str]) -> str:
    """The end of an error naming what was probably meant, if anything."""
    return f"; did you mean {' or '.join(map(repr, names))}?" if names else ""


def _declared(name: str) -> type[DeclaredError]:
    """A stand-in class for a declared exception, keeping its fields by id."""
    return type(
        name.rpartition(".")[2],
        (DeclaredError,),
        {"uvrpc_name": name, "uvrpc_fields": _AnyFields},
    )


def _print(value: Any, out: TextIO) -> None:
    print(json.dumps(value, ensure_ascii=False), file=out, flush=True)


def _stdin_items(
    converter: Converter, type_name: str, stdin: TextIO
) -> AsyncIterator[Any]:
    """The items of the caller's stream: one JSON value a line of ``stdin``, each
    sent as its line arrives (from a pipe that ``tail -f`` feeds, a terminal), as
    grpcurl sends them; a line that is not an item fails the call there."""

    async def generate() -> AsyncIterator[Any]:
        number = 0
        async for line in _lines(stdin):
            number += 1
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CallError(f"stdin line {number}: not JSON: {exc}") from None
            yield converter.to_wire(type_name, value, f"stdin line {number}")

    return generate()


async def _lines(stdin: TextIO) -> AsyncIterator[str]:
    """The lines of ``stdin`` as they arrive, read on a daemon thread: a call
    that ends first (its server's error, its deadline) leaves that thread in its
    read without holding the process, where an executor's thread would be
    waited for at exit."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | BaseException | None] = asyncio.Queue()

    def hand(line: str | BaseException | None) -> bool:
        try:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        except RuntimeError:  # the loop is gone: the command ended
            return False
        return True

    def read() -> None:
        try:
            for line in iter(stdin.readline, ""):
                if not hand(line):
                    return
        except Exception as exc:  # an unreadable stdin: the call fails with it
            hand(exc)
            return
        hand(None)

    threading.Thread(target=read, name="uvrpc call stdin", daemon=True).start()
    while (line := await lines.get()) is not None:
        if isinstance(line, BaseException):
            raise CallError(f"stdin: {line}")
        yield line


async def call(
    channel: Channel,
    route: str,
    arguments: str,
    timeout: float | None,
    out: TextIO,
    stdin: TextIO,
) -> None:
    """Make the call ``uvrpc call`` names and print its result.

    Raises:
        RpcError: the call (or describing its service) failed.
        CallError: the arguments do not fit the method.
    """
    service = route.rpartition(".")[0]
    try:
        description = await ReflectionClient(channel).describe(
            name=service, timeout=timeout
        )
    except RpcError as exc:
        if exc.status.name == "NOT_FOUND":
            raise Unimplemented(
                f"this server serves no service {service!r} (method {route!r})"
            ) from None
        if isinstance(exc, DeadlineExceeded):
            # The user named their method, not reflection's: say which call
            # waited, and why (a broker holds calls until a server connects).
            within = "" if timeout is None else f" within {timeout:g} s"
            raise DeadlineExceeded(
                f"{route} was not called: nothing described its service "
                f"{service!r}{within} (uvrpc.Reflection.describe got no reply; "
                "behind a broker, is a server connected to it?)"
            ) from None
        raise
    description = checked_description(description)
    method = _find(description, route)
    converter = Converter(description)
    try:
        values = json.loads(arguments)
    except json.JSONDecodeError as exc:
        raise CallError(f"the arguments are not JSON: {exc}") from None
    stream = method["stream"]
    if stream is not None and isinstance(values, dict) and stream["name"] in values:
        raise CallError(
            f"arguments: {stream['name']!r} is the stream<{stream['type']}> the "
            "method takes from its caller: give its items on stdin, one JSON value "
            "a line"
        )
    args = converter.args(method["params"], values, "arguments")
    if stream is not None and stdin.isatty():
        # Typed at a terminal, the items are waited for without a word: without
        # this line the call would seem to hang, then fail at its deadline.
        within = (
            ""
            if timeout is None
            else f", within the call's {timeout:g} s (--timeout none: no deadline)"
        )
        print(
            f"uvrpc call: reading the items of {stream['name']!r} "
            f"(stream<{stream['type']}>) from the terminal, one JSON value a "
            f"line{within}; Ctrl-D ends them",
            file=sys.stderr,
            flush=True,
        )
    errors = tuple(_declared(name) for name in method["errors"])
    kind = method["kind"]
    common: dict[str, Any] = {"route": route, "handler": "", "params": _AnyParams}
    try:
        if kind == "unary":
            unary: Unary[Any, Any] = Unary(
                **common, reply=Any, errors=errors, oneway=method["oneway"]
            )
            result = await channel.call(unary, args, timeout)
            if not method["oneway"]:
                _print(converter.to_json(method["returns"], result), out)
        elif kind == "server_stream":
            streaming: ServerStreaming[Any, Any] = ServerStreaming(
                **common, reply_item=Any, errors=errors
            )
            async for item in channel.server_stream(streaming, args, timeout):
                _print(converter.to_json(method["items"], item), out)
        elif kind == "client_stream":
            items = _stdin_items(converter, method["stream"]["type"], stdin)
            sending: ClientStreaming[Any, Any, Any] = ClientStreaming(
                **common,
                stream=method["stream"]["name"],
                request_item=Any,
                reply=Any,
                errors=errors,
            )
            result = await channel.client_stream(sending, args, items, timeout)
            _print(converter.to_json(method["returns"], result), out)
        else:
            items = _stdin_items(converter, method["stream"]["type"], stdin)
            bidi: BidiStreaming[Any, Any, Any] = BidiStreaming(
                **common,
                stream=method["stream"]["name"],
                request_item=Any,
                reply_item=Any,
                errors=errors,
            )
            async for item in channel.bidi_stream(bidi, args, items, timeout):
                _print(converter.to_json(method["items"], item), out)
    except DeclaredError as exc:
        declared = description["exceptions"].get(exc.uvrpc_name, {"fields": []})
        fields = exc.fields.model_extra or {}
        exc.details = {
            "error": exc.uvrpc_name,
            "fields": converter.fields_json(declared["fields"], fields),
        }
        raise


# --- describe: IDL -------------------------------------------------------------------


def write_idl(
    description: Description,
    out: TextIO,
    directory: str | None,
    *,
    force: bool = False,
) -> None:
    """Print a description as IDL files (:mod:`uvrpc.cli.idl`), or write them into
    ``directory`` and print their paths; a file there of the same name is
    replaced only with ``force``.

    Raises:
        CallError: a default cannot be written in IDL, a file cannot be written,
            or one exists (without ``force``); nothing is written then.
    """
    try:
        files = idl_files(description)
    except ValueError as exc:
        raise CallError(str(exc)) from None
    if not files:
        print(
            "// only the built-in services, which every server answers: "
            "uvrpc describe --json shows them",
            file=out,
        )
        return
    if directory is not None:
        # Checked before any is written: --out into the directory of a project's
        # own IDL replaced its files (their comments, consts and typedefs, which
        # a description does not carry) without a word.
        taken = [
            str(Path(directory) / n) for n in files if (Path(directory) / n).exists()
        ]
        if taken and not force:
            raise CallError(
                f"{', '.join(taken)} {'exists' if len(taken) == 1 else 'exist'}: "
                "describe --out replaces a file only with --force"
            )
        try:
            Path(directory).mkdir(parents=True, exist_ok=True)
            for name, text in files.items():
                path = Path(directory) / name
                path.write_text(text, encoding="utf-8")
                print(path, file=out)
        except OSError as exc:
            raise CallError(f"cannot write the IDL files: {exc}") from None
        return
    for index, (name, text) in enumerate(files.items()):
        if len(files) > 1:
            print(f"{'' if index == 0 else chr(10)}// file: {name}", file=out)
        print(text, end="", file=out)


# --- the commands ------------------------------------------------------------------

CALL_EPILOG = """\
how values are given:
  The JSON object's keys are the parameter names. bytes are base64 text, sets
  are lists, enum members are names (or numbers), map keys are text ("7",
  "true", "0.5", an enum member's name or number), a float with no JSON
  number is "NaN", "Infinity" or "-Infinity", messages are objects keyed
  by field name, an optional value may be null, and a union is an object of
  exactly one member keyed by its name, {"circle": {...}}.

    uvrpc call tcp://127.0.0.1:5555 conformance.Conformance.echoBytes \\
        '{"data": "AP91dg=="}'

  A method whose client streams (a stream<T> parameter) reads its items from
  stdin, one JSON value of type T a line (blank lines skipped), each sent as
  its line arrives, until the end of input; its other parameters go in the
  JSON object as usual. --timeout none lets a stream last (a chat, tail -f).

    printf '1\\n2\\n39\\n' | uvrpc call tcp://127.0.0.1:5555 \\
        conformance.Conformance.sum

exit status:
  0 the call succeeded; 1 it failed, its status on stderr (a server's
  refusal, INVALID_ARGUMENT included, no server at the endpoint, a deadline
  passed); 2 the command line or the JSON does not fit the method, and
  nothing was sent; 130 interrupted (Ctrl-C); 141 the reader of stdout
  stopped reading (| head -1).
"""
"""The end of ``uvrpc call --help``: how values are spelled, with an example each,
and what each exit status says."""


def add_commands(commands: Any) -> None:
    """Add ``call``, ``list`` and ``describe`` to the ``uvrpc`` command's parser."""
    call_cmd = commands.add_parser(
        "call",
        help="call a method of a running server (no generated code needed)",
        description="Call ROUTE on the server at ENDPOINT and print the result as "
        "JSON:\none line, or one line per item of a stream the server sends.",
        epilog=CALL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    call_cmd.add_argument("endpoint", metavar="ENDPOINT")
    call_cmd.add_argument("route", metavar="ROUTE", help="namespace.Service.method")
    call_cmd.add_argument(
        "arguments",
        metavar="JSON",
        nargs="?",
        default="{}",
        help="the parameters as a JSON object keyed by name (default {})",
    )
    list_cmd = commands.add_parser("list", help="list the services a server serves")
    list_cmd.add_argument("endpoint", metavar="ENDPOINT")
    describe_cmd = commands.add_parser(
        "describe",
        help="describe a server's services, methods and types as IDL",
        description="Print the IDL of what a server serves, one file per namespace "
        "(each\nstarting '// file: NAME.idl' when there are several), which "
        "uvrpc-gen reads.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    describe_cmd.add_argument("endpoint", metavar="ENDPOINT")
    describe_cmd.add_argument(
        "name", metavar="NAME", nargs="?", default="", help="a service, route or type"
    )
    describe_cmd.add_argument("--json", action="store_true", help="print JSON")
    describe_cmd.add_argument(
        "--out",
        metavar="DIR",
        help="write the IDL files (one per namespace) into DIR, created if missing, "
        "and print their paths",
    )
    describe_cmd.add_argument(
        "--force",
        action="store_true",
        help="with --out: replace files of the same names (refused without it)",
    )
    for cmd in (call_cmd, list_cmd, describe_cmd):
        cmd.add_argument(
            "--timeout",
            type=seconds_or_none,
            default=10.0,
            metavar="SECONDS",
            help="give up after this long (default 10; 'none': no deadline"
            + (", for a stream that lasts)" if cmd is call_cmd else ")"),
        )
        cmd.add_argument(
            "--metadata",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="send this metadata with the call; repeatable",
        )
        curve.add_arguments(cmd)


async def _run(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> None:
    headers: dict[str, str | bytes] = {}
    for item in args.metadata:
        key, sep, value = item.partition("=")
        if not sep:
            raise CallError(f"--metadata takes KEY=VALUE, got {item!r}")
        headers[key] = value
    try:
        # Checked here: sent, a bad key failed as the call's INVALID_ARGUMENT
        # (exit 1), as if the server had refused it.
        headers = validate_metadata(headers, "--metadata")
    except RpcError as exc:
        raise CallError(exc.message) from None
    try:
        security = curve.client_security(args)
    except curve.CurveOptionError as exc:
        raise CallError(str(exc)) from None
    try:
        refuse_inproc([args.endpoint])
        channel = Channel(args.endpoint, security=security)
    except ValueError as exc:  # a malformed endpoint: one line, no traceback
        raise CallError(str(exc)) from None
    async with channel:
        # A deadline shorter than the connect timeout ends the command as a
        # deadline; else (the same included: the call would fail at once with
        # the channel's own words then), nothing connected yet is told apart
        # from a connection that drops during the command (whose call may have
        # run).
        wait = channel.connect_timeout
        longer = args.timeout is None or args.timeout >= wait
        unreached = longer and not await channel.ready(wait)
        try:
            await _command(args, channel, headers, out, stdin)
        except Unavailable:
            if not unreached or channel.handshake_failure is not None:
                raise  # a server answered: its words (a refused handshake) hold
            # The channel's own words suggest wait_for_ready=True, which a
            # command has no option for: say what a shell user can check.
            raise Unavailable(
                f"no server answered at {args.endpoint} within {wait:g} s: is it "
                "running, and bound to that address?"
            ) from None


async def _command(
    args: argparse.Namespace,
    channel: Channel,
    headers: dict[str, str | bytes],
    out: TextIO,
    stdin: TextIO,
) -> None:
    """Run the command ``args`` names over ``channel``."""
    with ExitStack() as stack:
        if headers:
            stack.enter_context(metadata(headers))
        if args.command == "call":
            await call(channel, args.route, args.arguments, args.timeout, out, stdin)
        elif args.command == "list":
            names = await ReflectionClient(channel).list(timeout=args.timeout)
            for name in names:
                print(name, file=out)
        else:
            name = args.name
            reflection = ReflectionClient(channel)
            try:
                description = checked_description(
                    await reflection.describe(name=name, timeout=args.timeout)
                )
            except RpcError as exc:
                if exc.status.name != "NOT_FOUND":
                    raise
                whole = await reflection.describe(timeout=args.timeout)
                description = _narrow(checked_description(whole), name)
            if args.json:
                _print(description, out)
            else:
                write_idl(description, out, args.out, force=args.force)


def _narrow(description: Description, name: str) -> Description:
    """The part of a whole description about a method or a type ``name``."""
    for service in description["services"]:
        for method in service["methods"]:
            if method["route"] == name:
                return {
                    **description,
                    "services": [{**service, "methods": [method]}],
                    "messages": {},
                    "enums": {},
                    "exceptions": {},
                    "unions": {},
                }
    for key in ("messages", "enums", "exceptions", "unions"):
        if name in description.get(key, {}):
            empty: Description = {
                "messages": {},
                "enums": {},
                "exceptions": {},
                "unions": {},
            }
            return {
                **description,
                **empty,
                "services": [],
                key: {name: description[key][name]},
            }
    names = [service["name"] for service in description["services"]]
    names += [
        m["route"] for service in description["services"] for m in service["methods"]
    ]
    for key in ("messages", "enums", "exceptions", "unions"):
        names += description.get(key, {})
    # A name written without its namespace (or package): the full names it ends.
    close = [full for full in sorted(names) if full.endswith(f".{name}")]
    raise CallError(
        f"this server describes nothing named {name!r}{_did_you_mean(close)}"
    )


def seconds_or_none(text: str) -> float | None:
    """A command's ``--timeout``: a positive, finite number of seconds, or
    ``none`` for no deadline (argparse's type)."""
    if text.strip().lower() == "none":
        return None
    return positive_seconds(text)


def positive_seconds(text: str) -> float:
    """A ``--timeout``: a positive, finite number of seconds (argparse's type)."""
    return _seconds(text, zero=False)


def seconds_or_zero(text: str) -> float:
    """A ``--grace``: a finite number of seconds, 0 or more (argparse's type)."""
    return _seconds(text, zero=True)


def _seconds(text: str, *, zero: bool) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not ((0 <= seconds if zero else 0 < seconds) and seconds < math.inf):
        if zero:
            what = "finite number of seconds, 0 or more"
        else:
            what = "positive, finite number of seconds"
        raise argparse.ArgumentTypeError(f"must be a {what}, not {text}")
    return seconds


def run_command(
    args: argparse.Namespace,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Run ``uvrpc call``, ``list`` or ``describe``; return the exit status
    (141, quietly, when the reader of ``out`` goes away: ``| head -1``)."""
    import asyncio

    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    stdin = sys.stdin if stdin is None else stdin
    try:
        asyncio.run(_run(args, out, stdin))
    except CallError as exc:
        print(f"uvrpc: error: {exc}", file=err)
        return 2
    except RpcError as exc:
        print(f"{exc.status.name}: {exc.message} (status {int(exc.status)})", file=err)
        if exc.details:
            print(json.dumps(exc.details, ensure_ascii=False, default=str), file=err)
        return 1
    except BrokenPipeError:
        # What a shell reports for a command SIGPIPE ended, without the error
        # line "[Errno 32] Broken pipe" for the reader's own choice to stop.
        if out is sys.stdout:
            # The interpreter flushes stdout as it exits: into the void, or
            # Python reports the broken pipe itself.
            with contextlib.suppress(OSError, ValueError):  # no descriptor
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + SIGPIPE
    return 0
