"""The client's CURVE options, shared by ``uvrpc call``, ``list``, ``describe`` and
``health``: ``--curve-server-key`` pins the server's public key, ``--curve-secret``
gives this client's key pair, for a server with an allow-list (``--allow``)."""

from __future__ import annotations

import argparse
import os

from ..transport.security import ClientSecurity, load_keypair, load_public_keys

__all__ = ["CurveOptionError", "add_arguments", "client_security", "public_key"]


class CurveOptionError(Exception):
    """A CURVE option that cannot be used: one line naming the option or file."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--curve-server-key`` and ``--curve-secret`` to ``parser``."""
    parser.add_argument(
        "--curve-server-key",
        metavar="KEY_OR_PATH",
        help="connect over CURVE to the server with this public key (Z85 text, "
        "or a .key file; write --curve-server-key=KEY if the key begins with '-')",
    )
    parser.add_argument(
        "--curve-secret",
        metavar="PATH",
        help="with --curve-server-key: this client's key pair (.key_secret file), "
        "for a server that admits only the keys it lists (default: a new one)",
    )


def client_security(args: argparse.Namespace) -> ClientSecurity | None:
    """The options :func:`add_arguments` added, read.

    Raises:
        CurveOptionError: ``--curve-secret`` without ``--curve-server-key``, a
            malformed key, or a key file that cannot be read.
    """
    key: str | None = args.curve_server_key
    if key is None:
        if args.curve_secret is not None:
            raise CurveOptionError("--curve-secret needs --curve-server-key")
        return None
    try:
        key = public_key(key, "--curve-server-key")
        keypair = None if args.curve_secret is None else load_keypair(args.curve_secret)
        return ClientSecurity(key, keypair)
    except (OSError, ValueError) as exc:
        raise CurveOptionError(str(exc)) from None


def public_key(value: str, option: str, whose: str = "server") -> str:
    """The one public key ``option`` names, ``whose`` (the server's, the
    broker's): Z85 text, or a ``.key`` file (or a directory holding one).

    Raises:
        CurveOptionError: a secret key's file, a file or directory of several
            keys or none, or a malformed key.
        OSError: the file cannot be read (FileNotFoundError: there is none).
    """
    if value.endswith(".key_secret"):
        raise CurveOptionError(
            f"{value} is a key pair's secret file: {option} takes the "
            f"{whose}'s public key (its .key file, or the key's Z85 text)"
        )
    # A path, whatever its name: read as Z85 text, a missing file's name was
    # refused as "a CURVE public key is 40 characters ..., got 17". Z85 has
    # "/" too, so only what cannot be a key is taken for a path by it.
    if not (
        value.endswith(".key")
        or os.path.exists(value)
        or (os.sep in value and len(value) != 40)
    ):
        return value
    keys = load_public_keys(value)
    if len(keys) != 1:
        raise CurveOptionError(
            f"{option} {value} holds {len(keys)} public keys: give the {whose}'s own"
        )
    (key,) = keys
    return key
