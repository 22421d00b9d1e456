"""Static tokens for standalone use: a JSON file of SHA-256 hashes with project, user and roles.

The file is re-read when it changes, so `sharebackup token create` works while the
server runs. Only hashes are stored: a leaked file does not leak tokens.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from pathlib import Path

from sharebackup.api.auth.base import AuthStrategy, unauthorized
from sharebackup.api.context import RequestContext


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenFile:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._entries: dict[str, dict] = {}

    def _load(self) -> dict[str, dict]:
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return {}
        with self._lock:
            if mtime != self._mtime:
                data = json.loads(self.path.read_text() or "{}")
                self._entries = {e["sha256"]: e for e in data.get("tokens", [])}
                self._mtime = mtime
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
        token = secrets.token_urlsafe(32)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            data = json.loads(self.path.read_text()) if self.path.exists() else {"tokens": []}
            data["tokens"].append({"sha256": hash_token(token), "project_id": project_id,
                                   "user_id": user_id, "roles": sorted(set(roles))})
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
            self._mtime = None
        return token


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
