"""Pseudonymization of national ids: a keyed HMAC, so the log can link an applicant's
decisions without holding the id itself."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path


class Pseudonymizer:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("pseudonym key must be at least 32 bytes")
        self._key = key

    @classmethod
    def from_key_file(cls, path: Path) -> Pseudonymizer:
        """Load the key, creating a random one (mode 0600) on first use."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(secrets.token_bytes(32))
            path.chmod(0o600)
        return cls(path.read_bytes())

    def national_id(self, national_id: str) -> str:
        digest = hmac.new(self._key, national_id.strip().upper().encode(), hashlib.sha256)
        return "hmac-sha256:" + digest.hexdigest()

    def protect(self, application: dict) -> dict:
        """An application document as the audit log may keep it: national id pseudonymized."""
        applicant = {**application["applicant"],
                     "national_id": self.national_id(application["applicant"]["national_id"])}
        return {**application, "applicant": applicant}
