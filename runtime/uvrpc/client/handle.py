"""A started call as a shared, reference-counted handle on its result.

``await client.method(...)`` is the simple path: the result's binary values are views
of the received frames, freed by the garbage collector with the last of them. A
generated client's ``start_<method>(...)`` instead returns a :class:`Call` at once,
with the request already sent. Any number of tasks may await it and all get the
*same* result object — decoded once, shared, never copied — and its owner decides
when the frames behind the result's views are freed: the handle starts with one
reference, :meth:`Call.retain` adds one, :meth:`Call.release` drops one, and when
the last is dropped every view of a received frame in the result is released (using
one afterwards raises ``ValueError`` instead of reading freed memory) and the frames
go with them. Binary values small enough to travel inside the body are views of
copies of their own, which nothing needs to free: they stay readable.
A call still waiting for its reply when the last reference goes is cancelled.

``async with call as result:`` awaits the result and releases one reference on
leaving the block, so the usual shapes are::

    async with client.start_fetch(key="a") as blob:
        consume(blob)            # the view is valid inside the block only

    shared = call.retain()       # one more reference, for another task
    asyncio.create_task(worker(shared))   # worker does `async with shared as blob:`
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator, Mapping
from types import MappingProxyType
from typing import Any, Generic, cast

from ..core.client import CallState, finish, trailers_of
from ..wire.methods import Reply, Unary

__all__ = ["Call", "InterceptedCall", "ReleasedError", "ended_trailers"]


_NO_TRAILERS: Mapping[str, str | bytes] = MappingProxyType({})


class ReleasedError(RuntimeError):
    """A call handle was used, retained or released after its last release."""


class Call(Generic[Reply]):
    """A call in flight or done: awaitable, shareable, reference-counted.

    Made by generated clients' ``start_<method>`` methods (through
    :meth:`uvrpc.Channel.start`), not directly.
    """

    __slots__ = (
        "_decoded",
        "_error",
        "_future",
        "_method",
        "_refs",
        "_state",
        "_value",
        "_views",
    )

    def __init__(
        self,
        method: Unary[Any, Reply],
        future: asyncio.Future[Any],
        state: CallState | None = None,
    ) -> None:
        self._method = method
        self._future: asyncio.Future[Any] | None = future
        self._state = state
        """The call's state in its channel's core; the future says when it is over."""
        self._refs = 1
        self._decoded = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._views: list[memoryview] = []

    @property
    def refcount(self) -> int:
        """How many references are held; 0 once released."""
        return self._refs

    def done(self) -> bool:
        """Whether the reply (or the call's failure) has arrived."""
        return self._live().done()

    def cancel(self) -> bool:
        """Give up waiting for the reply: every awaiter gets ``CancelledError``.

        Returns whether the call was still waiting.
        """
        return self._live().cancel()

    @property
    def trailers(self) -> Mapping[str, str | bytes]:
        """The trailers of the reply (empty if it had none), on success and on
        error alike.

        Raises:
            asyncio.InvalidStateError: the reply has not arrived yet.
            RpcError: the call failed without a reply (deadline, closed channel).
            asyncio.CancelledError: the call was cancelled.
            ReleasedError: the handle was released.
        """
        self._live().result()  # or CancelledError
        state = self._state
        assert state is not None
        if state.header is None and state.error is not None:
            raise state.error.with_traceback(None)
        return trailers_of(state)

    def retain(self) -> Call[Reply]:
        """Take one more reference (for another task); return the handle.

        Raises:
            ReleasedError: the last reference was already released.
        """
        self._live()
        self._refs += 1
        return self

    def release(self) -> None:
        """Drop one reference; the last one frees the result's frames.

        Raises:
            ReleasedError: there is no reference left to release.
        """
        if self._refs == 0:
            raise ReleasedError(f"call of {self._method.route} released twice")
        self._refs -= 1
        if self._refs == 0:
            self._free()

    def result(self) -> Reply:
        """The result of a call that is done; raises the call's error if it failed.

        Raises:
            RpcError: the call failed (the subclass names the status).
            asyncio.InvalidStateError: the reply has not arrived yet.
            asyncio.CancelledError: the call was cancelled.
            ReleasedError: the handle was released.
        """
        future = self._live()
        if not self._decoded:
            future.result()  # or CancelledError
            state = self._state
            assert state is not None
            try:
                self._value = finish(state, self._views)
            except Exception as exc:
                self._error = exc
            self._decoded = True
        if self._error is not None:
            raise self._error.with_traceback(None)
        return cast(Reply, self._value)

    def __await__(self) -> Generator[Any, None, Reply]:
        future = self._live()
        if not future.done():
            # Each awaiter waits on a future of its own, so cancelling one awaiting
            # task leaves the call, and the other awaiters, alone; and it carries
            # no result, so nothing but the handle holds the reply's frames.
            waiter = future.get_loop().create_future()

            def wake(_: object) -> None:
                if not waiter.done():
                    waiter.set_result(None)

            future.add_done_callback(wake)
            try:
                yield from waiter.__await__()
            finally:
                future.remove_done_callback(wake)
        return self.result()

    async def __aenter__(self) -> Reply:
        return await self

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()

    def _live(self) -> asyncio.Future[Any]:
        future = self._future
        if future is None:
            raise ReleasedError(f"call of {self._method.route} was released")
        return future

    def _free(self) -> None:
        future, self._future = self._future, None
        if future is not None and not future.done():
            future.cancel()
        for view in self._views:
            try:
                view.release()
            except BufferError:
                # Something (a numpy array, say) holds a buffer of this view: the
                # frame lives on until that lets go, so nothing reads freed memory.
                pass
        self._views = []
        self._value = self._error = self._state = None

    def __repr__(self) -> str:
        state = (
            "released"
            if self._future is None
            else "done"
            if self._future.done()
            else "pending"
        )
        return f"<Call {self._method.route} {state} refs={self._refs}>"


class InterceptedCall(Call[Reply]):
    """The handle of a call started through a channel's interceptors.

    Its result is what the interceptors returned (or raised) once they ended;
    the handles of the requests they made (:attr:`made`) are released with its
    last reference, which frees their frames. Cancelling it cancels the
    interceptors, and the request in flight.
    """

    __slots__ = ("_trailers", "made", "task")

    def __init__(self, method: Unary[Any, Reply], future: asyncio.Future[Any]) -> None:
        super().__init__(method, future)
        self.made: list[Call[Any]] = []
        """The handles of the requests the interceptors made."""
        self._trailers: Mapping[str, str | bytes] = _NO_TRAILERS
        self.task: asyncio.Task[None] | None = None
        """The task running the interceptors."""
        future.add_done_callback(self._cancel_task)

    def settle(
        self,
        value: Any,
        error: BaseException | None,
        trailers: Mapping[str, str | bytes],
    ) -> None:
        """The interceptors ended: with ``value``, or raising ``error``."""
        future = self._future
        if future is None or future.done():
            return  # cancelled or released meanwhile
        self._value, self._error, self._decoded = value, error, True
        self._trailers = trailers or _NO_TRAILERS
        future.set_result(None)

    def _cancel_task(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled() and self.task is not None:
            self.task.cancel()

    async def take(self, made: Call[Any]) -> Any:
        """The result of ``made``, a request this call made (kept in
        :attr:`made`, released with this handle); cancelling the wait
        cancels it."""
        self.made.append(made)
        try:
            return await made
        except asyncio.CancelledError:
            if made.refcount:  # else released already, which cancelled it
                made.cancel()
            raise

    @property
    def trailers(self) -> Mapping[str, str | bytes]:
        """The trailers of the call's reply (empty if it had none, or the
        interceptors answered without a request).

        Raises:
            asyncio.InvalidStateError: the call has not ended yet.
            asyncio.CancelledError: the call was cancelled.
            ReleasedError: the handle was released.
        """
        self._live().result()
        return self._trailers

    def _free(self) -> None:
        super()._free()
        made, self.made = self.made, []
        for call in made:
            if call.refcount:
                call.release()


def ended_trailers(call: Call[Any]) -> Mapping[str, str | bytes]:
    """An ended call's trailers; empty if it ended without a reply."""
    try:
        return dict(call.trailers)
    except (Exception, asyncio.CancelledError):
        return {}
