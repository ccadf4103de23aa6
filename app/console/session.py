"""Console sessions: an HMAC-signed cookie holding the API key's id, an expiry and a CSRF
token, never the key itself. Every request re-reads the key store, so a revoked key or a
removed scope takes effect at once (ADR 0080)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

COOKIE = "console_session"


@dataclass(frozen=True)
class Session:
    key_id: str
    expires: int
    csrf: str


class SessionSigner:
    def __init__(self, key: bytes, ttl_s: int = 8 * 3600) -> None:
        self._key = key
        self.ttl_s = ttl_s

    def _mac(self, payload: bytes) -> str:
        return hmac.new(self._key, payload, hashlib.sha256).hexdigest()

    def issue(self, key_id: str) -> str:
        payload = json.dumps({"kid": key_id, "exp": int(time.time()) + self.ttl_s,
                              "csrf": secrets.token_urlsafe(24)}).encode()
        return f"{base64.urlsafe_b64encode(payload).decode()}.{self._mac(payload)}"

    def read(self, cookie: str | None) -> Session | None:
        """The session, or None when missing, tampered with or expired."""
        if not cookie or "." not in cookie:
            return None
        encoded, mac = cookie.rsplit(".", 1)
        try:
            payload = base64.urlsafe_b64decode(encoded.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            return None
        # Bytes: compare_digest refuses str with non-ASCII characters (a hostile cookie).
        if not hmac.compare_digest(mac.encode("utf-8", "replace"), self._mac(payload).encode()):
            return None
        data = json.loads(payload)
        if data["exp"] < time.time():
            return None
        return Session(data["kid"], data["exp"], data["csrf"])
