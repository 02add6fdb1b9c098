"""The generator's table of runtime names resolves against the runtime."""

from __future__ import annotations

import sys

import uvrpc
from uvrpc import types as runtime_types
from uvrpc_gen import symbols


def test_every_symbol_resolves() -> None:
    classes = (uvrpc.AsyncClient, uvrpc.SyncClient, uvrpc.ServiceBase)
    for role, name in symbols.SYMBOLS.items():
        on_module = hasattr(uvrpc, name)
        on_class = any(name in symbols.attributes_of(cls) for cls in classes)
        assert on_module or on_class, f"{role}: uvrpc has no {name!r}"


def test_client_call_is_on_both_clients() -> None:
    call = symbols.SYMBOLS["call"]
    assert hasattr(uvrpc.AsyncClient, call)
    assert hasattr(uvrpc.SyncClient, call)


def test_service_attribute_is_declared() -> None:
    name = symbols.SYMBOLS["uvrpc_service"]
    assert name in symbols.attributes_of(uvrpc.ServiceBase)


def test_scalar_aliases_exist() -> None:
    for alias in symbols.SCALAR_TYPES.values():
        assert hasattr(runtime_types, alias)


def test_the_constraints_factory_is_pydantics_field() -> None:
    import pydantic

    assert getattr(runtime_types, symbols.CONSTRAINTS) is pydantic.Field


def test_versions_come_from_the_runtime() -> None:
    assert symbols.GENERATOR_VERSION == uvrpc.__version__
    assert symbols.GENERATED_CODE_API == uvrpc.GENERATED_CODE_API
    assert symbols.PROTOCOL_VERSION == uvrpc.PROTOCOL_VERSION
    assert symbols.RUNTIME_MODULE == "uvrpc"
    assert symbols.TYPES_MODULE == "types"


def test_shadowed_modules_include_what_the_runtime_imports() -> None:
    assert symbols.RUNTIME_MODULE in symbols.SHADOWED_MODULES
    imported = {name.partition(".")[0] for name in sys.modules}
    for name in ("pydantic", "msgpack", "zmq", "typing_extensions"):
        assert name in imported
        assert name in symbols.SHADOWED_MODULES
