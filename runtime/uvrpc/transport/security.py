"""CURVE encryption and authentication (``docs/security.md``).

A server holds a long-term :class:`Keypair`; clients pin its public key, and the server
admits the clients whose public keys its allow-list names. ZeroMQ's CURVE handshake
gives every connection fresh session keys, so what travels is encrypted and
authenticated; the allow-list is enforced by a ZAP handler — pyzmq's
:class:`~zmq.auth.asyncio.AsyncioAuthenticator` — that the server runs on its own
ZeroMQ context and checks before it binds.

Keys are 40-character Z85 text; key files are in pyzmq's certificate format
(``zmq.auth.create_certificates``): ``NAME.key`` holds the public key and
``NAME.key_secret`` both.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import zmq
import zmq.auth

__all__ = [
    "AllowList",
    "ClientSecurity",
    "Keypair",
    "ServerSecurity",
    "generate_keypair",
    "load_keypair",
    "load_public_keys",
    "check_zap_handler",
    "checked_security",
    "no_reply_text",
]

ZAP_CHECK_TIMEOUT = 2.0
"""Seconds a ZAP handler gets to answer the test request a secured socket's owner
sends before it binds."""

_KEY_LENGTH = 40
"""Characters in a Z85-encoded CURVE key."""


def _key_text(key: object, what: str) -> str:
    """``key`` as text, checked to be a CURVE key.

    Raises:
        TypeError: it is neither text nor bytes (a :class:`Keypair` given for
            its public key, arguments swapped): said so, not as a ``len()``
            of the wrong object.
        ValueError: it is not 40 characters of Z85 text. The message shows a
            public key's text but never a secret key's: one character off, it
            is still almost all of the secret, and the message goes to a
            terminal or a log.
    """
    if not isinstance(key, (str, bytes)):
        hint = ": give its .public" if isinstance(key, Keypair) else ""
        raise TypeError(
            f"a CURVE {what} is Z85 text (str or bytes), "
            f"not a {type(key).__name__}{hint}"
        )
    try:
        text = key.decode("ascii") if isinstance(key, bytes) else key
    except UnicodeDecodeError:
        raise ValueError(f"a CURVE {what} must be Z85 text") from None
    if len(text) != _KEY_LENGTH:
        raise ValueError(
            f"a CURVE {what} is {_KEY_LENGTH} characters of Z85 text, got {len(text)}"
        )
    try:
        zmq.utils.z85.decode(text)
    except (ValueError, KeyError, IndexError):
        shown = "" if "secret" in what else f": {text!r}"
        raise ValueError(f"a CURVE {what} must be Z85 text{shown}") from None
    return text


@dataclass(frozen=True, slots=True)
class Keypair:
    """A CURVE key pair, as Z85 text.

    Attributes:
        public: the key to hand out (40 characters).
        secret: the key to keep; ``repr`` never shows it.
    """

    public: str
    secret: str = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "public", _key_text(self.public, "public key"))
        object.__setattr__(self, "secret", _key_text(self.secret, "secret key"))
        if zmq.curve_public(self.secret.encode("ascii")).decode() != self.public:
            raise ValueError("the public key does not belong to the secret key")

    def save(self, directory: str | os.PathLike[str], name: str) -> tuple[Path, Path]:
        """Write ``NAME.key`` (public) and ``NAME.key_secret`` (both keys, mode
        0600) into ``directory``; return their paths (public, secret).

        Existing files of that name are replaced.
        """
        directory = Path(directory)
        public_path = directory / f"{name}.key"
        secret_path = directory / f"{name}.key_secret"
        _write_new(public_path, _certificate("Public", self.public), 0o644)
        # The secret file is created private before any key is written to it.
        _write_new(secret_path, _certificate("Secret", self.public, self.secret), 0o600)
        return public_path, secret_path


def _write_new(path: Path, text: str, mode: int) -> None:
    """Write ``text`` to a new file at ``path`` (``mode``, less the umask),
    replacing what is there: a symbolic link in its place is replaced, not
    followed, which would write a key over whatever file it names."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(text)


def _certificate(kind: str, public: str, secret: str | None = None) -> str:
    """A certificate file's text, as ``zmq.auth.load_certificate`` reads it."""
    lines = [
        f"#   ZeroMQ CURVE {kind} Certificate, written by uvrpc",
        "#   Exchange securely, or use a secure mechanism to verify the contents"
        if kind == "Public"
        else "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.",
        "",
        "metadata",
        "curve",
        f'    public-key = "{public}"',
    ]
    if secret is not None:
        lines.append(f'    secret-key = "{secret}"')
    return "\n".join(lines) + "\n"


def generate_keypair() -> Keypair:
    """A new random key pair."""
    public, secret = zmq.curve_keypair()
    return Keypair(public.decode("ascii"), secret.decode("ascii"))


def load_keypair(path: str | os.PathLike[str]) -> Keypair:
    """Read a key pair from a secret certificate file (``NAME.key_secret``).

    Raises:
        ValueError: ``path`` is a directory, or the file holds no secret key,
            or malformed keys.
        OSError: the file cannot be read (FileNotFoundError: there is none).
    """
    if os.path.isdir(path):  # not "[Errno 21] Is a directory", naming no file
        raise ValueError(
            f"{os.fspath(path)} is a directory: give a key pair's .key_secret file"
        )
    public, secret = _load_certificate(path)
    if secret is None:
        raise ValueError(f"{path} holds no secret key (use the .key_secret file)")
    try:
        return Keypair(_key_text(public, "public key"), _key_text(secret, "secret key"))
    except ValueError as exc:  # which of many key files is wrong
        raise ValueError(f"{os.fspath(path)}: {exc}") from None


def load_public_keys(path: str | os.PathLike[str]) -> frozenset[str]:
    """The public keys of a certificate file, or of every ``*.key`` file in a
    directory (what ``uvrpc serve --allow`` reads).

    Raises:
        ValueError: a file holds no public key, or a directory has no ``.key`` file.
        FileNotFoundError: there is nothing at ``path``.
    """
    path = Path(path)
    files = sorted(path.glob("*.key")) if path.is_dir() else [path]
    if not files:
        raise ValueError(f"{path} has no public key files (*.key)")
    return frozenset(_public_key(file) for file in files)


def _public_key(path: Path) -> str:
    """The public key of the certificate file at ``path``.

    Raises:
        ValueError: it holds none, or a malformed one; the message names the
            file, one of a directory's many.
    """
    try:
        return _key_text(_load_certificate(path)[0], "public key")
    except ValueError as exc:
        text = str(exc)
        raise ValueError(text if str(path) in text else f"{path}: {text}") from None


def _load_certificate(path: str | os.PathLike[str]) -> tuple[bytes, bytes | None]:
    """``zmq.auth.load_certificate(path)``, saying that a missing file is missing:
    pyzmq calls it an "Invalid certificate file", which sends its reader to
    inspect a file that is not there.

    Raises:
        FileNotFoundError: there is no file at ``path``.
        ValueError: the file holds no public key.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such key file: {os.fspath(path)}")
    return zmq.auth.load_certificate(path)


@dataclass(frozen=True, slots=True)
class ServerSecurity:
    """How a :class:`~uvrpc.Server` encrypts and whom it admits.

    Args:
        keypair: the server's long-term key pair; clients pin its public key.
        allow: the public keys of the clients admitted, or ``"any"`` to admit every
            client that knows the server's public key (encryption without client
            authentication).

    The server runs a ZAP handler for the allow-list on a ZeroMQ context of its own
    (unless given one, which must have no other ZAP handler), and refuses to bind
    until that handler answers. Secured servers bind ``tcp://`` or ``ipc://``
    endpoints only: ``inproc://`` connections skip the handshake.
    """

    keypair: Keypair
    allow: frozenset[str] | Literal["any"]

    def __init__(
        self, keypair: Keypair, allow: Iterable[str | bytes] | Literal["any"]
    ) -> None:
        object.__setattr__(self, "keypair", keypair)
        if allow == "any":
            object.__setattr__(self, "allow", "any")
        elif isinstance(allow, str | bytes):
            raise TypeError('allow takes an iterable of public keys, or "any"')
        else:
            keys = frozenset(_key_text(key, "public key") for key in allow)
            object.__setattr__(self, "allow", keys)

    def apply(self, sock: zmq.Socket[Any]) -> None:
        """Make ``sock`` a CURVE server with this key pair."""
        sock.setsockopt(zmq.CURVE_SERVER, 1)
        sock.setsockopt(zmq.CURVE_SECRETKEY, self.keypair.secret.encode("ascii"))

    def admits(self, public_key: str) -> bool:
        """Whether a client with ``public_key`` is on the allow-list."""
        return self.allow == "any" or public_key in self.allow


@dataclass(frozen=True, slots=True)
class ClientSecurity:
    """How a client channel encrypts, and which server it accepts.

    Args:
        server_public: the server's public key: the handshake fails with any
            other server.
        keypair: the client's key pair, which the server's allow-list must name;
            a new random one (admitted only by ``allow="any"``) if omitted.
    """

    server_public: str
    keypair: Keypair

    def __init__(
        self, server_public: str | bytes, keypair: Keypair | None = None
    ) -> None:
        object.__setattr__(
            self, "server_public", _key_text(server_public, "public key")
        )
        object.__setattr__(
            self, "keypair", keypair if keypair is not None else generate_keypair()
        )

    def apply(self, sock: zmq.Socket[Any]) -> None:
        """Make ``sock`` a CURVE client of the server (before it connects)."""
        sock.setsockopt(zmq.CURVE_SERVERKEY, self.server_public.encode("ascii"))
        sock.setsockopt(zmq.CURVE_PUBLICKEY, self.keypair.public.encode("ascii"))
        sock.setsockopt(zmq.CURVE_SECRETKEY, self.keypair.secret.encode("ascii"))


def checked_security(
    security: object, kind: type[ServerSecurity] | type[ClientSecurity]
) -> None:
    """Refuse a ``security=`` that is not ``None`` or of ``kind``, the end it is
    given to: before anything calls a method the other end's class lacks.

    Raises:
        TypeError: the other end's security, a key's text, or anything else.
    """
    if security is None or isinstance(security, kind):
        return
    if kind is ServerSecurity:
        wanted = "a server's security= is a uvrpc.ServerSecurity(keypair, allow=...)"
    else:
        wanted = "a client's security= is a uvrpc.ClientSecurity(server_public_key)"
    if isinstance(security, ClientSecurity | ServerSecurity):
        end = "client" if isinstance(security, ClientSecurity) else "server"
        given = f"a {type(security).__name__}: that is a {end}'s"
    elif isinstance(security, str | bytes) and kind is ClientSecurity:
        given = f"{type(security).__name__}: a key goes into it, ClientSecurity(key)"
    else:
        given = f"{type(security).__name__} {security!r:.60}"
    raise TypeError(f"{wanted}, not {given}")


def no_reply_text(security: ClientSecurity | None) -> str:
    """How a call that got no reply says so: on a CURVE channel the server may
    have refused the handshake, which ZeroMQ never reports to a blocking socket."""
    if security is None:
        return "got no reply"
    return (
        "got no reply (the server may have refused the CURVE handshake: "
        "check its public key and that it allows this client's key)"
    )


class AllowList:
    """The ZAP credentials provider of a :class:`ServerSecurity`'s allow-list (for
    pyzmq's ``configure_curve_callback``)."""

    def __init__(self, security: ServerSecurity) -> None:
        self._security = security

    def callback(self, domain: str, key: bytes) -> bool:
        """Whether the client with this Z85 public key may connect."""
        return self._security.admits(key.decode("ascii"))


def zap_check_request(
    domain: str, security: ServerSecurity
) -> tuple[list[bytes], bytes]:
    """A ZAP request for a new random client key in ``domain``, and the status
    code a handler enforcing ``security`` must answer it with."""
    stranger = generate_keypair().public
    expected = b"200" if security.admits(stranger) else b"400"
    key = zmq.utils.z85.decode(stranger.encode("ascii"))
    request = [b"1.0", b"uvrpc-check", domain.encode(), b"127.0.0.1", b""]
    return [*request, b"CURVE", key], expected


def zap_check_failure(reply: list[bytes] | None, expected: bytes, what: str) -> str:
    """Why a ZAP handler's answer to a check request is wrong ("" if it is right)."""
    if reply is not None and len(reply) >= 3 and reply[2] == expected:
        return ""
    answer = "no answer" if reply is None else f"the answer {reply[2:4]!r}"
    return (
        f"refusing to serve over CURVE without a working ZAP handler: a test "
        f"request got {answer}, not {expected.decode()}; without one {what} "
        "would admit anyone who knows its public key"
    )


def check_zap_handler(
    context: zmq.Context[Any], domain: str, security: ServerSecurity
) -> None:
    """Ask the ZAP handler of ``context`` (running in another thread) about a new
    random client key in ``domain``, blocking.

    Raises:
        RuntimeError: it did not answer as ``security`` says within
            :data:`ZAP_CHECK_TIMEOUT` seconds.
    """
    request, expected = zap_check_request(domain, security)
    probe = context.socket(zmq.REQ)
    probe.setsockopt(zmq.LINGER, 0)
    try:
        probe.connect("inproc://zeromq.zap.01")
        probe.send_multipart(request)
        answered = probe.poll(int(ZAP_CHECK_TIMEOUT * 1000))
        reply = probe.recv_multipart() if answered else None
    finally:
        probe.close(linger=0)
    failure = zap_check_failure(reply, expected, "the broker")
    if failure:
        raise RuntimeError(failure)
