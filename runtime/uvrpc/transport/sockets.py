"""The one way uvrpc makes a socket: options every peer's socket gets.

No linger (a closed socket drops what it could not send, and nothing waits for a
peer that is gone; a client channel chooses a bounded linger when it closes), both
high-water marks, the ``MAXMSGSIZE`` backstop at twice the message size limit (512
KiB at least) on a server's and a broker's sockets (``docs/limits.md``), heartbeats,
and CURVE when asked. Its ``send`` and ``recv`` answer at once, on a
``zmq.asyncio.Context`` too (:func:`plain_context`). Opening one makes the process
keep freed message buffers (:func:`~uvrpc.transport.heap.keep_message_buffers`).
:func:`connect` and :func:`bind` turn a malformed endpoint into a
:class:`ValueError` that says what is wrong with it, not ZeroMQ's bare ``Invalid
argument``; :func:`bind` turns an endpoint that is in use into an :class:`OSError`
(``errno.EADDRINUSE``) that names it, an ``ipc://`` path another live server listens
on included, which ZeroMQ would otherwise take over without a word. Both set
``ZMQ_IPV6`` for a tcp endpoint whose host is an IPv6 address (``tcp://[::1]:*``),
which libzmq would not resolve.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, cast

import zmq
import zmq.asyncio

from ..wire.limits import backstop_size
from .heap import keep_message_buffers
from .inproc import inproc_bound
from .liveness import Heartbeat

__all__ = [
    "CLOSING_GRACE",
    "CONNECT_TIMEOUT",
    "LINGER",
    "SocketFile",
    "SocketSecurity",
    "bind",
    "close_when_dropped",
    "configure_socket",
    "connect",
    "open_socket",
    "plain_context",
    "remove_socket_files",
]

CONNECT_TIMEOUT = 1.0
"""Seconds a client channel waits for a connection, after it opened or after its
connection dropped, before calls fail at once with UNAVAILABLE (unless they wait
for ready). Long enough for a TCP and CURVE handshake on a loaded host and for
libzmq's reconnection every 100 ms to find a restarted server; short enough that a
caller learns of a server that is down before most deadlines."""

LINGER = 1.0
"""Seconds a closing client channel waits, at most, for the requests it already
queued (oneway calls above all) to reach the server."""

CLOSING_GRACE = 1.0
"""Seconds a bind waits for a listener on an ``ipc://`` path this process bound
before to go away before it takes the path for a live server's: the listener of
a socket closed just before outlives its ``close()`` for a moment (see
:func:`bind`)."""


def plain_context(context: zmq.Context[Any] | None) -> zmq.Context[Any]:
    """``context`` as one whose sockets answer ``send`` and ``recv`` at once (the
    process-wide context if ``None``).

    A ``zmq.asyncio.Context``, which an asyncio program may well pass, makes
    sockets whose ``send`` and ``recv`` return futures, and so it does for the
    monitor sockets pyzmq opens on a socket's context. uvrpc's transports wait on
    a socket's descriptor themselves and need the plain calls, so such a context
    is used through a plain shadow of it: the same ZeroMQ context (its I/O
    threads, its ``inproc://`` endpoints, its ZAP handler), kept alive by the
    shadow, with the default socket options set on it (its ``destroy()`` does not
    close the sockets made through the shadow: close the servers and channels
    first). Any other context, a subclass that makes sockets of its own class
    included, is used as it is.
    """
    if context is None:
        return zmq.Context.instance()
    if isinstance(context, zmq.asyncio.Context):
        shadow: zmq.Context[Any] = zmq.Context.shadow(context)
        shadow.sockopts.update(context.sockopts)  # its sockets' defaults too
        return shadow
    return context


class SocketSecurity(Protocol):
    """What makes a socket a CURVE server or client (see :mod:`uvrpc.security`)."""

    def apply(self, sock: zmq.Socket[Any]) -> None:
        """Set the socket's CURVE options."""


def configure_socket(
    sock: zmq.Socket[bytes], max_message_size: int, hwm: int, *, backstop: bool = True
) -> None:
    """Set a socket's high-water marks and, with ``backstop``, its ``MAXMSGSIZE``
    backstop."""
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.RCVHWM, hwm)
    if backstop:
        sock.setsockopt(zmq.MAXMSGSIZE, backstop_size(max_message_size))


def close_when_dropped(
    owner: object, sock: zmq.Socket[Any], monitor: zmq.Socket[Any]
) -> weakref.finalize[Any, Any]:
    """Close ``sock`` and its ``monitor``, in that order and without lingering,
    when ``owner`` is collected unclosed (a client the caller dropped without
    closing it); :meth:`weakref.finalize.detach` it once the owner closed them.

    pyzmq's own ``Socket.__del__`` closes a monitored socket without stopping its
    monitor, and libzmq then reports ``MONITOR_STOPPED`` for no socket closed
    after it, in the whole process: every later client's lingering close waited
    out its bound and left its socket open. Nothing runs at interpreter exit,
    nor in a forked child, whose copies are its parent's to close.
    """
    finalizer = weakref.finalize(owner, _close_dropped, sock, monitor, os.getpid())
    finalizer.atexit = False
    return finalizer


def _close_dropped(sock: zmq.Socket[Any], monitor: zmq.Socket[Any], pid: int) -> None:
    if os.getpid() != pid:
        return
    if not sock.closed:
        with contextlib.suppress(zmq.ZMQError):
            sock.disable_monitor()
        sock.close(linger=0)
    if not monitor.closed:
        monitor.close(linger=0)


def open_socket(
    context: zmq.Context[Any] | None,
    kind: int,
    *,
    max_message_size: int,
    hwm: int,
    heartbeat: Heartbeat | None = None,
    security: SocketSecurity | None = None,
    immediate: bool = False,
    backstop: bool = True,
) -> zmq.Socket[bytes]:
    """A new socket of ``kind`` (``zmq.DEALER``, ``zmq.ROUTER``) on ``context``
    (the process-wide one by default), with uvrpc's options set.

    ``immediate`` (a client's socket) sets ``ZMQ_IMMEDIATE``: a message is queued
    only for a peer whose connection is up. Without it, a request sent while the
    server is down waits in the socket and is delivered when a server comes back
    (a restarted one, seconds later), after its caller failed at its deadline:
    with it the send finds no room, and the caller waits for room within its
    deadline instead.

    ``backstop`` sets ``MAXMSGSIZE`` (see :func:`configure_socket`). A client's
    socket goes without: libzmq takes a frame over it for a protocol error and
    drops the connection for good, with no reconnection, so one oversized reply
    would end every later call of the channel with UNAVAILABLE. The client
    refuses such a reply itself once it has it, failing that call alone with
    RESOURCE_EXHAUSTED (gRPC refuses one on its length prefix, before reading
    it: ZeroMQ gives no such prefix), so what a reply may take of a client's
    memory is bounded by its own server, not by the limit; a server must bound
    what any peer sends it.
    """
    keep_message_buffers()  # once a process: glibc's heap pools libzmq's frames
    sock: zmq.Socket[bytes] = plain_context(context).socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    if immediate:
        sock.setsockopt(zmq.IMMEDIATE, 1)
    configure_socket(sock, max_message_size, hwm, backstop=backstop)
    if heartbeat is not None:
        heartbeat.apply(sock)
    if security is not None:
        security.apply(sock)
    return sock


def connect(sock: zmq.Socket[Any], endpoint: str) -> None:
    """Connect ``sock`` to ``endpoint``.

    Raises:
        ValueError: the endpoint is malformed; the message names it and says why.
    """
    _check_endpoint(endpoint, binding=False)
    try:
        with _ipv6_for(sock, endpoint):
            sock.connect(endpoint)
    except zmq.ZMQError as exc:
        raise _endpoint_error(endpoint, exc) from None


def bind(
    sock: zmq.Socket[Any], endpoint: str, files: list[SocketFile] | None = None
) -> str:
    """Bind ``sock`` to ``endpoint``; return the endpoint bound (a ``*`` port
    resolved). The socket file of an ``ipc://`` path is appended to ``files``,
    for :func:`remove_socket_files` once the socket is closed.

    An ``inproc://`` endpoint is recorded as served by ``sock`` (see
    :mod:`uvrpc.transport.inproc`): call
    :func:`~uvrpc.transport.inproc.inproc_released` once the socket is closed.

    Raises:
        ValueError: the endpoint is malformed, or names no local address.
        OSError: (``errno.EADDRINUSE``) the endpoint is in use: a tcp port
            something listens on, an ``ipc://`` path a live server listens on.
        zmq.ZMQError: it is well formed but cannot be bound for another reason.
    """
    _check_endpoint(endpoint, binding=True)
    transport, _, address = endpoint.partition("://")
    if transport == "ipc" and _listened_on(address):
        raise _in_use(endpoint, "another server listens on that path")
    try:
        with _ipv6_for(sock, endpoint):
            sock.bind(endpoint)
    except zmq.ZMQError as exc:
        if exc.errno == zmq.EADDRINUSE:
            raise _in_use(endpoint, "another socket is bound to it") from None
        raise _endpoint_error(endpoint, exc) from None
    bound = cast(bytes, sock.getsockopt(zmq.LAST_ENDPOINT)).decode()
    if transport == "inproc":
        # A client counts it connected only now (see uvrpc.transport.inproc);
        # inproc_released() once the socket is closed.
        inproc_bound(sock, bound)
    elif transport == "ipc":
        path = os.path.abspath(bound.partition("://")[2])
        _BOUND_HERE.add(path)
        made = _file_id(path)
        # libzmq removes the file of a path it picked (``*``) itself; the
        # abstract namespace (``@name``) has none.
        if files is not None and made is not None and address != "*":
            files.append(SocketFile(path, made, os.getpid()))
    return bound


_BOUND_HERE: set[str] = set()
"""The ``ipc://`` paths this process bound: the only ones whose listener may
still accept for a moment after its socket closed (see :func:`_listened_on`)."""


@dataclass(frozen=True, slots=True)
class SocketFile:
    """The socket file an ``ipc://`` bind made, to remove once its socket is
    closed: libzmq leaves it behind, and every stopped server would leave a
    file in its directory."""

    path: str
    """Its absolute path, as it was at the bind."""
    identity: tuple[int, int]
    """Its device and inode: a file bound over since is another's."""
    pid: int
    """The process that bound it: a child's copy of the server is not it."""

    def remove(self) -> None:
        """Remove the file, if it is still the one the bind made and this is
        the process that made it."""
        if os.getpid() == self.pid and _file_id(self.path) == self.identity:
            with contextlib.suppress(OSError):  # gone already, or not ours
                os.unlink(self.path)


def remove_socket_files(files: list[SocketFile]) -> None:
    """Remove ``files`` (see :class:`SocketFile`), once the socket bound to them
    is closed, and forget them: a second close removes nothing."""
    for file in files:
        file.remove()
    files.clear()


def _file_id(path: str) -> tuple[int, int] | None:
    """The device and inode of the file at ``path`` (``None``: none there)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


@contextmanager
def _ipv6_for(sock: zmq.Socket[Any], endpoint: str) -> Iterator[None]:
    """Let ``sock`` use IPv6 for ``endpoint`` if its host is an IPv6 address.

    libzmq resolves a tcp address as IPv4 only unless the socket's ``ZMQ_IPV6``
    is set, so ``tcp://[::1]:*`` names "no local interface". The option is set
    for such an endpoint alone and put back after: libzmq copies it into the
    listener or connection it makes there, and a socket left with it set would
    resolve a *host name* given later (``localhost``) to its IPv6 address first,
    and never reach a server bound to the IPv4 one. An IPv4 address or a host
    name keeps today's IPv4 behaviour.
    """
    transport, _, address = endpoint.partition("://")
    host = address.rpartition(":")[0].rpartition(";")[2]  # "source;host" too
    if transport != "tcp" or ":" not in host:  # only an IPv6 address has colons
        yield
        return
    before = sock.getsockopt(zmq.IPV6)
    sock.setsockopt(zmq.IPV6, 1)
    try:
        yield
    finally:
        sock.setsockopt(zmq.IPV6, before)


def _listened_on(path: str) -> bool:
    """Whether a live server listens on the Unix socket at ``path``.

    libzmq binds an ``ipc://`` path by unlinking whatever is there first, a live
    server's socket file included: that server keeps running, unreachable. A
    socket file nobody accepts on (ECONNREFUSED: its server is gone) is stale and
    is bound over as before. ``*`` (a path libzmq picks) and ``@name`` (Linux's
    abstract namespace, which has no file to unlink: the kernel itself refuses a
    name in use) need no look.

    A listener on a path this process bound before is asked again for up to
    :data:`CLOSING_GRACE` seconds: libzmq closes a closed socket's listener on its
    I/O thread, after ``close()`` returned, so a server or broker restarted on its
    path in the same process finds it still accepting for a moment, until libzmq
    removes the file. Another process's listener is refused at once.
    """
    if path == "*" or path.startswith("@"):
        return False
    if not _accepts(path):
        return False
    if os.path.abspath(path) not in _BOUND_HERE:
        return True
    deadline = time.monotonic() + CLOSING_GRACE
    delay = 0.001
    while time.monotonic() < deadline:
        time.sleep(delay)
        if not _accepts(path):
            return False
        delay = min(delay * 2, 0.05)
    return True


def _accepts(path: str) -> bool:
    """Whether a connection to the Unix socket file at ``path`` is accepted."""
    try:
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            return False
    except OSError:  # nothing there (or nothing we may look at): libzmq decides
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.25)
        try:
            probe.connect(path)
        except TimeoutError:  # a full accept queue: someone listens
            return True
        except OSError:  # ECONNREFUSED: a stale file; other errors: libzmq decides
            return False
    return True


def _in_use(endpoint: str, why: str) -> OSError:
    """The error for an endpoint that cannot be bound because it is in use."""
    return OSError(
        errno.EADDRINUSE, f"cannot bind {endpoint}: address already in use ({why})"
    )


_FORM = "expected transport://address: tcp://host:port, ipc://path or inproc://name"


def _check_endpoint(endpoint: str, *, binding: bool) -> None:
    """Refuse what is plainly not an endpoint, before ZeroMQ says only
    ``Invalid argument``."""
    if not isinstance(endpoint, str):
        raise TypeError(f"an endpoint is a str, not {type(endpoint).__name__}")
    transport, sep, address = endpoint.partition("://")
    if not sep or not transport:
        raise ValueError(f"bad endpoint {endpoint!r}: {_FORM}")
    if not address:
        raise ValueError(f"bad endpoint {endpoint!r}: nothing after {transport}://")
    if transport == "tcp":
        host, colon, port = address.rpartition(":")
        if not colon or not port:
            raise ValueError(
                f"bad endpoint {endpoint!r}: a tcp endpoint needs a port "
                f"(tcp://host:port)"
            )
        if port == "*" and binding:
            return
        # Bound, port 0 is a free port, as * is (and as gRPC and sockets take it).
        lowest = 0 if binding else 1
        if not (port.isascii() and port.isdigit()) or not lowest <= int(port) < 65536:
            wanted = (
                "a number from 0 to 65535 or * (0 and *: a free port)"
                if binding
                else "a number from 1 to 65535"
            )
            raise ValueError(
                f"bad endpoint {endpoint!r}: port {port!r} is not {wanted}"
            )
        if not host:
            raise ValueError(f"bad endpoint {endpoint!r}: no host before the port")
        if host == "*" and not binding:
            raise ValueError(
                f"bad endpoint {endpoint!r}: '*' (every interface) is for binding; "
                f"connect to a host name or address, such as tcp://127.0.0.1:{port}"
            )


def _endpoint_error(endpoint: str, exc: zmq.ZMQError) -> ValueError:
    """What ZeroMQ refused in ``endpoint``, in words."""
    if exc.errno in (zmq.EPROTONOSUPPORT, zmq.ENOCOMPATPROTO):
        transport = endpoint.partition("://")[0]
        why = f"transport {transport!r} is not supported here ({_FORM})"
    elif exc.errno in (errno.ENODEV, errno.EADDRNOTAVAIL):
        why = "no local interface has that address"
    else:
        why = exc.strerror
    return ValueError(f"bad endpoint {endpoint!r}: {why}")
