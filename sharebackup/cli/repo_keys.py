"""Where `sharebackup repo` finds a repository's passphrase, as restic does.

In this order: --key-file F or --password-file F (a file whose bytes are the passphrase, one
trailing newline dropped), $SHAREBACKUP_KEY_FILE (a file), $SHAREBACKUP_PASSWORD (the passphrase
itself), with --name the service's [backup] key_file, and last, on a terminal, a prompt.
"""
from __future__ import annotations

import getpass
import os
import sys

from sharebackup import engine

KEY_FILE_ENV = "SHAREBACKUP_KEY_FILE"
PASSWORD_ENV = "SHAREBACKUP_PASSWORD"
SOURCES = f"--key-file, --password-file, ${KEY_FILE_ENV} or ${PASSWORD_ENV}"


class KeyUnavailable(Exception):
    """The passphrase could not be read; the message says which and why."""


def given_key(args, configured_key_file: str | None = None) -> bytes | None:
    """The passphrase named by the flags, the environment or the configuration; None if none is."""
    path = getattr(args, "key_file", None) or getattr(args, "password_file", None) or os.environ.get(KEY_FILE_ENV)
    if path:
        return _read(path)
    password = os.environ.get(PASSWORD_ENV)
    if password:
        return password.encode()
    return _read(configured_key_file) if configured_key_file else None


def prompted_key(confirm: bool) -> bytes | None:
    """Ask on the terminal (None when there is none to ask on)."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return None
    first = getpass.getpass("enter the repository passphrase: ")
    if confirm and getpass.getpass("enter it again: ") != first:
        raise KeyUnavailable("the two passphrases differ")
    if not first:
        raise KeyUnavailable("an empty passphrase is not accepted")
    return first.encode()


def _read(path: str) -> bytes:
    try:
        return engine.read_key_file(path)
    except OSError as exc:
        raise KeyUnavailable(f"key file {path}: {exc.strerror or exc}") from None
