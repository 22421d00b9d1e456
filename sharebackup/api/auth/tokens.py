"""Static tokens for standalone use: a JSON file of SHA-256 hashes with project, user and roles.

The file is re-read when it changes, so `sharebackup token create` works while the
server runs. Only hashes are stored: a leaked file does not leak tokens.

Writers (any number of `token create` runs, and `serve` creating the first admin token) take
an exclusive flock on ``<file>.lock`` around the whole read-modify-write, and write through a
temporary file of their own that replaces the token file: readers take no lock and always see
a whole file. Before, concurrent runs shared one ``tokens.tmp`` (a run found it renamed
away: FileNotFoundError) and each wrote what it had read plus its token (the last writer
dropped the others' tokens, which were printed but never stored).
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
from pathlib import Path

from sharebackup.api.auth.base import AuthStrategy, unauthorized
from sharebackup.core.context import RequestContext


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A random token that never begins with "-": pasted after `--os-token`, such a token is
    taken for an option (argparse: "expected one argument"), one time in 64 with token_urlsafe."""
    while True:
        token = secrets.token_urlsafe(32)
        if not token.startswith("-"):
            return token


class TokenFile:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._lock = threading.Lock()
        self._version: tuple | None = None
        self._entries: dict[str, dict] = {}

    def _load(self) -> dict[str, dict]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        # Inode and size as well as mtime: two writes within one clock tick of the file
        # system can share an mtime, but each one is a new file, and a longer one.
        version = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if version != self._version:
                data = json.loads(self.path.read_text() or "{}")
                self._entries = {e["sha256"]: e for e in data.get("tokens", [])}
                self._version = version
            return self._entries

    def lookup(self, token: str) -> dict | None:
        digest = hash_token(token)
        for known, entry in self._load().items():
            if hmac.compare_digest(known, digest):
                return entry
        return None

    def is_empty(self) -> bool:
        return not self._load()

    def create(self, project_id: str, user_id: str, roles: list[str]) -> str:
        """Add a new random token; return it (the only time it exists in clear)."""
        token = new_token()
        entry = {"sha256": hash_token(token), "project_id": project_id, "user_id": user_id,
                 "roles": sorted(set(roles))}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._exclusive():
            data = json.loads(self.path.read_text() or "{}") if self.path.exists() else {}
            data.setdefault("tokens", []).append(entry)
            self._replace(data)
        with self._lock:
            self._version = None
        return token

    def revoke(self, token: str) -> bool:
        """Remove a token: every process refuses it from its next request on. False: not known."""
        digest = hash_token(token)
        with self._exclusive():
            data = json.loads(self.path.read_text() or "{}") if self.path.exists() else {}
            kept = [entry for entry in data.get("tokens", []) if not hmac.compare_digest(entry["sha256"], digest)]
            if len(kept) == len(data.get("tokens", [])):
                return False
            data["tokens"] = kept
            self._replace(data)
        with self._lock:
            self._version = None
        return True

    @contextlib.contextmanager
    def _exclusive(self):
        """Hold the writers' lock (across processes, and across threads: one open file each)."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _replace(self, data: dict) -> None:
        """Write ``data`` to a temporary file of our own (mode 0600), sync it, rename it over."""
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_directory(self.path.parent)


def _fsync_directory(path: Path) -> None:
    """Make the rename durable: a crash after it must not bring the old file back."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StaticTokenStrategy(AuthStrategy):
    def __init__(self, tokens: TokenFile):
        self.tokens = tokens

    def authenticate(self, req) -> RequestContext:
        token = req.get_header("X-Auth-Token")
        if not token:
            raise unauthorized()
        entry = self.tokens.lookup(token)
        if entry is None:
            raise unauthorized("The request you have made requires authentication.")
        roles = list(entry.get("roles", []))
        return RequestContext(user_id=entry["user_id"], project_id=entry["project_id"], roles=roles,
                              is_admin="admin" in roles, auth_token=token)
