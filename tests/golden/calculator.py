# Generated from calculator.idl by uvrpc-gen 0.6.0 — do not edit.
"""A calculator served over uvrpc: the sample service of the quick start."""

from __future__ import annotations

import abc as _abc
import typing as _typing

import uvrpc as _uvrpc
from uvrpc import types as _t

_uvrpc.check_generated_code(generator="0.6.0", api=9, protocol=3)

__uvrpc_namespace__ = "calculator"

__all__ = [
    "CalculatorClient",
    "CalculatorServer",
    "CalculatorSyncClient",
    "Op",
    "Outcome",
    "Program",
    "Step",
    "UnimplementedCalculatorServer",
]


class Op(_uvrpc.Enum):
    """What a step does to the running value."""

    ADD = 1
    SUB = 2
    MUL = 3
    DIV = 4


class Step(_uvrpc.Message):
    """One step of a program."""

    model_config = _uvrpc.field_ids(op=1, operand=2, note=3)

    op: Op
    operand: _t.Double
    """The right-hand operand."""
    note: _t.String | None = None
    """Free text carried along for the caller's own use."""


class Program(_uvrpc.Message):
    """A starting value and the steps applied to it in order."""

    model_config = _uvrpc.field_ids(start=1, steps=2, labels=3)

    start: _t.Double = 0.0
    steps: list[Step] = _t.default([])
    labels: dict[_t.String, _t.I32] = _t.default({})

    if _typing.TYPE_CHECKING:

        def __init__(
            self,
            *,
            start: float = ...,
            steps: _typing.Sequence[Step] = ...,
            labels: _typing.Mapping[str, int] = ...,
        ) -> None:
            """A list is taken as any sequence, a set as any set and a map as any
            mapping, of the element types or narrower ones.
            """
            ...


class Outcome(_uvrpc.Message):
    """What running a program produced."""

    model_config = _uvrpc.field_ids(value=1, steps_run=2, ops_used=3)

    value: _t.Double
    steps_run: _t.I32
    """How many steps ran."""
    ops_used: set[Op] = _t.default(set())

    if _typing.TYPE_CHECKING:

        def __init__(
            self,
            *,
            value: float,
            steps_run: int,
            ops_used: _typing.AbstractSet[Op] = ...,
        ) -> None:
            """A list is taken as any sequence, a set as any set and a map as any
            mapping, of the element types or narrower ones.
            """
            ...


class _CalculatorAddParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(a=1, b=2)

    a: _t.I64
    b: _t.I64


class _CalculatorApplyParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(op=1, a=2, b=3)

    op: Op
    a: _t.Double
    b: _t.Double


class _CalculatorRunParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(program=1)

    program: Program


class _CalculatorDivideParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids(a=1, b=2)

    a: _t.I64
    b: _t.I64


class _CalculatorCallCountParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids()


class _CalculatorResetParams(_uvrpc.Message):
    model_config = _uvrpc.field_ids()


_CALCULATOR_ADD: _uvrpc.Unary[_CalculatorAddParams, int] = _uvrpc.Unary(
    route="calculator.Calculator.add",
    handler="add",
    params=_CalculatorAddParams,
    reply=_t.I64,
)
_CALCULATOR_APPLY: _uvrpc.Unary[_CalculatorApplyParams, float] = _uvrpc.Unary(
    route="calculator.Calculator.apply",
    handler="apply",
    params=_CalculatorApplyParams,
    reply=_t.Double,
)
_CALCULATOR_RUN: _uvrpc.Unary[_CalculatorRunParams, Outcome] = _uvrpc.Unary(
    route="calculator.Calculator.run",
    handler="run",
    params=_CalculatorRunParams,
    reply=Outcome,
)
_CALCULATOR_DIVIDE: _uvrpc.Unary[_CalculatorDivideParams, int] = _uvrpc.Unary(
    route="calculator.Calculator.divide",
    handler="divide",
    params=_CalculatorDivideParams,
    reply=_t.I64,
)
_CALCULATOR_CALL_COUNT: _uvrpc.Unary[_CalculatorCallCountParams, int] = _uvrpc.Unary(
    route="calculator.Calculator.callCount",
    handler="call_count",
    params=_CalculatorCallCountParams,
    reply=_t.I64,
)
_CALCULATOR_RESET: _uvrpc.Unary[_CalculatorResetParams, None] = _uvrpc.Unary(
    route="calculator.Calculator.reset",
    handler="reset",
    params=_CalculatorResetParams,
    reply=None,
)
_CALCULATOR = _uvrpc.ServiceSpec(
    name="calculator.Calculator",
    methods=(
        _CALCULATOR_ADD,
        _CALCULATOR_APPLY,
        _CALCULATOR_RUN,
        _CALCULATOR_DIVIDE,
        _CALCULATOR_CALL_COUNT,
        _CALCULATOR_RESET,
    ),
)


class CalculatorClient(_uvrpc.AsyncClient):
    """Asynchronous client of ``calculator.Calculator``.

    Arithmetic as a service.
    """

    async def add(
        self,
        *,
        a: int,
        b: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> int:
        """Adds two integers."""
        return await self._call(_CALCULATOR_ADD, (a, b), timeout, wait_for_ready)

    def start_add(
        self,
        *,
        a: int,
        b: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[int]:
        """Start :meth:`add` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_CALCULATOR_ADD, (a, b), timeout, wait_for_ready)

    async def apply(
        self,
        *,
        op: Op,
        a: float,
        b: float,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> float:
        """Applies one operation to two operands."""
        return await self._call(_CALCULATOR_APPLY, (op, a, b), timeout, wait_for_ready)

    def start_apply(
        self,
        *,
        op: Op,
        a: float,
        b: float,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[float]:
        """Start :meth:`apply` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_CALCULATOR_APPLY, (op, a, b), timeout, wait_for_ready)

    async def run(
        self,
        *,
        program: Program,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Outcome:
        """Runs a whole program and reports the outcome."""
        return await self._call(_CALCULATOR_RUN, (program,), timeout, wait_for_ready)

    def start_run(
        self,
        *,
        program: Program,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[Outcome]:
        """Start :meth:`run` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_CALCULATOR_RUN, (program,), timeout, wait_for_ready)

    async def divide(
        self,
        *,
        a: int,
        b: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> int:
        """Divides `a` by `b`; a zero `b` fails on the server."""
        return await self._call(_CALCULATOR_DIVIDE, (a, b), timeout, wait_for_ready)

    def start_divide(
        self,
        *,
        a: int,
        b: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[int]:
        """Start :meth:`divide` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_CALCULATOR_DIVIDE, (a, b), timeout, wait_for_ready)

    async def call_count(
        self,
        *,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> int:
        """Counts the calls served so far."""
        return await self._call(_CALCULATOR_CALL_COUNT, (), timeout, wait_for_ready)

    def start_call_count(
        self,
        *,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[int]:
        """Start :meth:`call_count` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_CALCULATOR_CALL_COUNT, (), timeout, wait_for_ready)

    async def reset(
        self,
        *,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> None:
        """Sets the call count back to zero."""
        await self._call(_CALCULATOR_RESET, (), timeout, wait_for_ready)

    def start_reset(
        self,
        *,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> _uvrpc.Call[None]:
        """Start :meth:`reset` and return its call handle.

        Without client interceptors the request is sent before this returns; see
        :class:`uvrpc.Call`.
        """
        return self._start(_CALCULATOR_RESET, (), timeout, wait_for_ready)


class CalculatorSyncClient(_uvrpc.SyncClient):
    """Blocking client of ``calculator.Calculator``.

    Arithmetic as a service.
    """

    def add(
        self,
        *,
        a: int,
        b: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> int:
        """Adds two integers."""
        return self._call(_CALCULATOR_ADD, (a, b), timeout, wait_for_ready)

    def apply(
        self,
        *,
        op: Op,
        a: float,
        b: float,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> float:
        """Applies one operation to two operands."""
        return self._call(_CALCULATOR_APPLY, (op, a, b), timeout, wait_for_ready)

    def run(
        self,
        *,
        program: Program,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> Outcome:
        """Runs a whole program and reports the outcome."""
        return self._call(_CALCULATOR_RUN, (program,), timeout, wait_for_ready)

    def divide(
        self,
        *,
        a: int,
        b: int,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> int:
        """Divides `a` by `b`; a zero `b` fails on the server."""
        return self._call(_CALCULATOR_DIVIDE, (a, b), timeout, wait_for_ready)

    def call_count(
        self,
        *,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> int:
        """Counts the calls served so far."""
        return self._call(_CALCULATOR_CALL_COUNT, (), timeout, wait_for_ready)

    def reset(
        self,
        *,
        timeout: float | None = None,
        wait_for_ready: bool | None = None,
    ) -> None:
        """Sets the call count back to zero."""
        self._call(_CALCULATOR_RESET, (), timeout, wait_for_ready)


class CalculatorServer(_uvrpc.ServiceBase):
    """Base class of ``calculator.Calculator`` implementations.

    Arithmetic as a service.
    """

    uvrpc_service = _CALCULATOR

    @_abc.abstractmethod
    async def add(self, *, a: int, b: int) -> int:
        """Adds two integers."""

    @_abc.abstractmethod
    async def apply(self, *, op: Op, a: float, b: float) -> float:
        """Applies one operation to two operands."""

    @_abc.abstractmethod
    async def run(self, *, program: Program) -> Outcome:
        """Runs a whole program and reports the outcome."""

    @_abc.abstractmethod
    async def divide(self, *, a: int, b: int) -> int:
        """Divides `a` by `b`; a zero `b` fails on the server."""

    @_abc.abstractmethod
    async def call_count(self) -> int:
        """Counts the calls served so far."""

    @_abc.abstractmethod
    async def reset(self) -> None:
        """Sets the call count back to zero."""


class UnimplementedCalculatorServer(CalculatorServer):
    """A partial server: each method answers UNIMPLEMENTED until overridden.

    Subclass it to serve some of the methods of ``calculator.Calculator``, say while a
    new method reaches the servers one by one. A class that must serve them all
    subclasses :class:`CalculatorServer`, whose abstract methods let a type checker find
    one left out.
    """

    async def add(self, *, a: int, b: int) -> int:
        """Adds two integers."""
        raise _uvrpc.unimplemented(_CALCULATOR_ADD)

    async def apply(self, *, op: Op, a: float, b: float) -> float:
        """Applies one operation to two operands."""
        raise _uvrpc.unimplemented(_CALCULATOR_APPLY)

    async def run(self, *, program: Program) -> Outcome:
        """Runs a whole program and reports the outcome."""
        raise _uvrpc.unimplemented(_CALCULATOR_RUN)

    async def divide(self, *, a: int, b: int) -> int:
        """Divides `a` by `b`; a zero `b` fails on the server."""
        raise _uvrpc.unimplemented(_CALCULATOR_DIVIDE)

    async def call_count(self) -> int:
        """Counts the calls served so far."""
        raise _uvrpc.unimplemented(_CALCULATOR_CALL_COUNT)

    async def reset(self) -> None:
        """Sets the call count back to zero."""
        raise _uvrpc.unimplemented(_CALCULATOR_RESET)
