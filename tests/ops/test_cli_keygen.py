"""``uvrpc keygen``: where the key pair goes and who may read it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from uvrpc.cli.main import main
from uvrpc.transport.security import load_keypair, load_public_keys


def test_keygen_creates_a_missing_directory_with_its_parents(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "deploy" / "keys"
    assert main(["keygen", "server", "--dir", str(keys)]) == 0
    secret = keys / "server.key_secret"
    keypair = load_keypair(secret)
    assert capsys.readouterr().out.strip() == keypair.public
    assert load_public_keys(keys / "server.key") == {keypair.public}
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    # The directory made for a secret key is its owner's alone.
    assert stat.S_IMODE(os.stat(keys).st_mode) & 0o077 == 0


def test_keygen_into_an_existing_directory_keeps_its_mode(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o755)
    os.chmod(keys, 0o755)
    assert main(["keygen", "alice", "--dir", str(keys)]) == 0
    assert stat.S_IMODE(os.stat(keys).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(keys / "alice.key_secret").st_mode) == 0o600


def test_keygen_into_a_file_is_one_line_of_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "keys"
    taken.write_text("not a directory")
    assert main(["keygen", "server", "--dir", str(taken)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("uvrpc: error: ") and str(taken) in err
    assert len(err.strip().splitlines()) == 1


def test_keygen_keeps_an_existing_key_pair_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keygen", "server", "--dir", str(tmp_path)]) == 0
    first = load_keypair(tmp_path / "server.key_secret")
    capsys.readouterr()
    assert main(["keygen", "server", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("uvrpc: error: ") and "--force" in err
    assert len(err.strip().splitlines()) == 1
    assert load_keypair(tmp_path / "server.key_secret") == first  # kept
    assert main(["keygen", "server", "--dir", str(tmp_path), "--force"]) == 0
    assert load_keypair(tmp_path / "server.key_secret") != first


@pytest.mark.parametrize("name", ["", "  ", ".", "..", "keys/server"])
def test_keygen_refuses_a_name_that_is_no_file_name(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty name would write hidden files, a path would fail obscurely (or
    write elsewhere than --dir): one line of error, and nothing written."""
    (tmp_path / "keys").mkdir()
    assert main(["keygen", name, "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("uvrpc: error: keygen: ") and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["keys"]


@pytest.mark.parametrize(
    "arguments",
    [
        ["call", "tcp://127.0.0.1:1", "a.B.c", "--curve-server-key", "{missing}.key"],
        # Not named .key: it was read as a key's Z85 text ("40 characters, got 39").
        ["call", "tcp://127.0.0.1:1", "a.B.c", "--curve-server-key", "{missing}.pub"],
        ["serve", "m:C", "--curve-secret", "{missing}.key_secret", "--allow", "any"],
        ["serve", "m:C", "--curve-secret", "{pair}", "--allow", "{missing}.key"],
    ],
)
def test_a_missing_key_file_is_said_to_be_missing(
    arguments: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pyzmq's "Invalid certificate file" sent the reader to inspect a file that
    is not there."""
    main(["keygen", "server", "--dir", str(tmp_path)])
    capsys.readouterr()
    missing = tmp_path / "nowhere"
    pair = tmp_path / "server.key_secret"
    argv = [a.format(missing=missing, pair=pair) for a in arguments]
    assert main(argv) in (1, 2)
    err = capsys.readouterr().err
    assert f"no such key file: {missing}." in err
    assert len(err.splitlines()) == 1


def test_a_malformed_secret_key_is_not_shown_and_its_file_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One character off, the secret key was printed whole in the error ("must be
    Z85 text: '...'"), to the terminal or the service's log; and no error named
    the file, one of many, that held the bad key."""
    main(["keygen", "server", "--dir", str(tmp_path)])
    capsys.readouterr()
    secret_file = tmp_path / "server.key_secret"
    secret = load_keypair(secret_file).secret
    typo = secret[:-1] + "~"  # '~' is no Z85 character
    secret_file.write_text(secret_file.read_text().replace(secret, typo))
    for argv in (
        ["serve", "m:C", "--curve-secret", str(secret_file), "--allow", "any"],
        ["list", "tcp://127.0.0.1:1", "--curve-server-key", "x" * 40]
        + ["--curve-secret", str(secret_file)],
    ):
        assert main(argv) in (1, 2)
        err = capsys.readouterr().err
        assert "secret key must be Z85 text" in err and str(secret_file) in err
        assert secret[:20] not in err and len(err.splitlines()) == 1


def test_a_malformed_key_in_an_allow_list_directory_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ "a CURVE public key is 40 characters of Z85 text, got 5" left the reader
    to search every file of the directory."""
    clients = tmp_path / "clients"
    main(["keygen", "alice", "--dir", str(clients)])
    main(["keygen", "server", "--dir", str(tmp_path)])
    capsys.readouterr()
    (clients / "bob.key").write_text('curve\n    public-key = "short"\n')
    pair = str(tmp_path / "server.key_secret")
    assert main(["serve", "m:C", "--curve-secret", pair, "--allow", str(clients)]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"uvrpc: error: {clients / 'bob.key'}: a CURVE public key is 40 "
        "characters of Z85 text, got 5\n"
    )


def test_broker_key_takes_one_key_as_curve_server_key_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``uvrpc serve --broker-key`` given a directory of two keys failed with
    "too many values to unpack (expected 1)", and given the key's Z85 text (as
    --curve-server-key takes it) with "no such key file"."""
    import argparse

    from uvrpc.cli.main import _broker_security

    two = tmp_path / "two"
    for name in ("broker", "other"):
        main(["keygen", name, "--dir", str(two)])
    main(["keygen", "worker", "--dir", str(tmp_path)])
    capsys.readouterr()
    pair = str(tmp_path / "worker.key_secret")
    serve = ["serve", "m:C", "--connect", "tcp://127.0.0.1:1", "--curve-secret", pair]
    for given, message in (
        (two, f"--broker-key {two} holds 2 public keys: give the broker's own"),
        (two / "broker.key_secret", "secret file: --broker-key takes the broker's"),
    ):
        assert main([*serve, "--broker-key", str(given)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("uvrpc: error: ") and message in err
        assert len(err.splitlines()) == 1
    broker = load_keypair(two / "broker.key_secret").public
    args = argparse.Namespace(
        broker_key=broker, connect=["tcp://127.0.0.1:1"], curve_secret=pair
    )
    security = _broker_security(args)
    assert security is not None and security.server_public == broker
    assert security.keypair == load_keypair(pair)


def test_serve_says_a_bind_beside_broker_key_is_plain_without_allow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``uvrpc serve --connect EP --broker-key K --curve-secret S --bind EP2``
    served EP2 in plaintext without a word: --curve-secret without --allow is
    only the key pair of --broker-key."""
    for name in ("broker", "worker"):
        main(["keygen", name, "--dir", str(tmp_path)])
    capsys.readouterr()
    serve = ["serve", "no_such_module_here:C", "--connect", "tcp://127.0.0.1:1"]
    serve += ["--broker-key", str(tmp_path / "broker.key")]
    serve += ["--curve-secret", str(tmp_path / "worker.key_secret")]
    bind = ["--bind", "tcp://127.0.0.1:*"]
    assert main([*serve, *bind]) == 1  # the module is missing: it stops there
    assert (
        "uvrpc: warning: serving tcp://127.0.0.1:* without CURVE: --curve-secret "
        "without --allow is the key pair of --broker-key only"
    ) in capsys.readouterr().err
    for quiet in ([], [*bind, "--allow", "any"]):
        assert main([*serve, *quiet]) == 1
        assert "warning" not in capsys.readouterr().err


def test_keygen_replaces_a_symbolic_link_rather_than_writing_through_it(
    tmp_path: Path,
) -> None:
    """A link named NAME.key (dangling, so taken for no file; or replaced with
    --force) had the public key written over the file it named, in a directory
    others can write to, any file of the user's."""
    keys, victim = tmp_path / "keys", tmp_path / "victim"
    keys.mkdir()
    (keys / "server.key").symlink_to(victim)  # dangling: victim does not exist
    assert main(["keygen", "server", "--dir", str(keys)]) == 0
    assert not victim.exists() and not (keys / "server.key").is_symlink()
    victim.write_text("precious")
    (keys / "server.key").unlink()
    (keys / "server.key").symlink_to(victim)
    assert main(["keygen", "server", "--dir", str(keys), "--force"]) == 0
    assert victim.read_text() == "precious"
    pair = load_keypair(keys / "server.key_secret")
    assert load_public_keys(keys / "server.key") == {pair.public}


def test_a_directory_given_for_a_key_pair_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--curve-secret DIR (the --dir of keygen) said "[Errno 21] Is a
    directory", not what the option wants."""
    main(["keygen", "server", "--dir", str(tmp_path)])
    capsys.readouterr()
    for argv in (
        ["serve", "m:C", "--curve-secret", str(tmp_path), "--allow", "any"],
        ["list", "tcp://127.0.0.1:1", "--curve-server-key", str(tmp_path)]
        + ["--curve-secret", str(tmp_path)],
    ):
        assert main(argv) in (1, 2)
        assert capsys.readouterr().err == (
            f"uvrpc: error: {tmp_path} is a directory: give a key pair's "
            ".key_secret file\n"
        )
