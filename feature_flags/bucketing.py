"""Sticky bucketing: HMAC-SHA256(key, customer_id) -> one of 10,000 buckets.

Keyed, so nobody outside can compute (or choose) which arm a customer id lands in; the
same key on every worker gives every worker the same answer. The key comes from settings
(CREDIT_BUCKET_KEY) or a random file under data_dir/keys created once, atomically.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from core.keyfile import load_or_create
from feature_flags.model import BUCKETS


class Bucketer:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("bucket key must be at least 16 bytes")
        self._key = key

    def bucket(self, customer_id: str) -> int:
        digest = hmac.new(self._key, customer_id.encode(), hashlib.sha256).digest()
        # 64 bits modulo 10,000: the modulo bias is below 1e-15.
        return int.from_bytes(digest[:8], "big") % BUCKETS

    @classmethod
    def from_key_file(cls, path: Path) -> Bucketer:
        return cls(load_or_create(path))
