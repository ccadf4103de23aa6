"""API keys with scopes. Keys are random tokens `ck_<id>_<secret>`; only a SHA-256 of the
secret is stored (a 256-bit random secret needs no slow password hash). The key file lives
under data_dir/keys; `credit keys create` adds one and prints it once. HTTP authentication
with them: app/auth.py.

Scopes: decisions:write, decisions:read, audit:export, flags:admin, models:admin,
metrics:read, reviews:read (the review queue), reviews:write (reviewer decisions, overrides),
outcomes:write (report loan outcomes), monitoring:read (performance, drift), policy:admin
(propose, approve and read policy versions; backtests).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SCOPES = ("decisions:write", "decisions:read", "audit:export", "flags:admin", "models:admin",
          "metrics:read", "reviews:read", "reviews:write", "outcomes:write", "monitoring:read",
          "policy:admin")


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    scopes: frozenset[str]


DEV_PRINCIPAL = Principal("insecure-dev", "insecure development mode", frozenset(SCOPES))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyStore:
    """A JSON file of {key_id: {name, scopes, sha256, created_at}}; re-read when it changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._keys: dict[str, dict] = {}

    def _load(self) -> dict[str, dict]:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return {}
        if mtime != self._mtime:
            self._keys, self._mtime = json.loads(self.path.read_text()), mtime
        return self._keys

    def create(self, name: str, scopes: list[str]) -> str:
        unknown = set(scopes) - set(SCOPES)
        if unknown:
            raise ValueError(f"unknown scopes: {sorted(unknown)}; known: {', '.join(SCOPES)}")
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        with self._lock:
            keys = dict(self._load())
            keys[key_id] = {"name": name, "scopes": sorted(scopes), "sha256": _digest(secret),
                            "created_at": datetime.now(UTC).isoformat()}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(keys, indent=1))
            tmp.chmod(0o600)
            os.replace(tmp, self.path)
        return f"ck_{key_id}_{secret}"

    def revoke(self, key_id: str) -> bool:
        with self._lock:
            keys = dict(self._load())
            if keys.pop(key_id, None) is None:
                return False
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(keys, indent=1))
            os.replace(tmp, self.path)
            return True

    def list(self) -> dict[str, dict]:
        return {k: {f: v for f, v in meta.items() if f != "sha256"}
                for k, meta in self._load().items()}

    def authenticate(self, token: str) -> Principal | None:
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "ck":
            return None
        meta = self._load().get(parts[1])
        if meta is None or not hmac.compare_digest(meta["sha256"], _digest(parts[2])):
            return None
        return Principal(parts[1], meta["name"], frozenset(meta["scopes"]))
