"""Signed digests over all chain heads, kept apart from the log.

A digest lists every chain's head (chain id, seq, hash) at one moment and is signed with
Ed25519. Since each entry's hash covers everything before it in its chain, a signed head
fixes the whole chain up to it: a chain later found shorter than its signed head (tail
truncated) or with a different hash at that seq is detected by `verify`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.record import canonical, now_stamp, sha256_hex
from core.keyfile import load_or_create

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Head:
    chain_id: str
    seq: int
    hash: str


@dataclass(frozen=True)
class Digest:
    issued_at: str
    heads: tuple[Head, ...]
    key_id: str
    signature: str = ""  # hex

    def payload(self) -> bytes:
        """The signed bytes: canonical JSON of everything but the signature."""
        return canonical({"issued_at": self.issued_at, "key_id": self.key_id,
                          "heads": [h.__dict__ for h in self.heads]})

    def to_json(self) -> dict[str, Any]:
        return {"issued_at": self.issued_at, "key_id": self.key_id,
                "heads": [h.__dict__ for h in self.heads], "signature": self.signature}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Digest:
        return cls(d["issued_at"], tuple(Head(h["chain_id"], int(h["seq"]), h["hash"])
                                         for h in d["heads"]), d["key_id"], d["signature"])

    def verify(self, public_key: Ed25519PublicKey) -> bool:
        try:
            public_key.verify(bytes.fromhex(self.signature), self.payload())
        except (InvalidSignature, ValueError):
            return False
        return True

    def head_of(self, chain_id: str) -> Head | None:
        return next((h for h in self.heads if h.chain_id == chain_id), None)


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256_hex(raw)[:16]


def _new_private_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())


class DigestSigner:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)

    @classmethod
    def from_pem(cls, pem: bytes) -> DigestSigner:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("digest signing key must be Ed25519")
        return cls(key)

    @classmethod
    def from_key_file(cls, path: Path) -> DigestSigner:
        """Load the key, creating one (mode 0600, public half beside it) on first use."""
        signer = cls.from_pem(load_or_create(path, _new_private_pem))
        load_or_create(path.with_suffix(".pub.pem"), lambda: public_key_pem(signer.public_key),
                       mode=0o644)
        return signer

    def sign_bytes(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def sign(self, heads: list[Head]) -> Digest:
        unsigned = Digest(now_stamp(), tuple(sorted(
            heads, key=lambda h: h.chain_id)), self.key_id)
        return Digest(unsigned.issued_at, unsigned.heads, unsigned.key_id,
                      self._key.sign(unsigned.payload()).hex())


class DigestStore(Protocol):
    def put(self, digest: Digest) -> None: ...

    def latest(self) -> Digest | None: ...

    def close(self) -> None: ...


class SQLiteDigestStore:
    """Digests in their own SQLite file (not the log's): tampering with the log file alone
    cannot also rewrite the signed heads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                     timeout=10.0)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS digests (id INTEGER PRIMARY KEY "
                           "AUTOINCREMENT, issued_at TEXT NOT NULL, doc BLOB NOT NULL)")

    def put(self, digest: Digest) -> None:
        self._conn.execute("INSERT INTO digests (issued_at, doc) VALUES (?, ?)",
                           (digest.issued_at, canonical(digest.to_json())))

    def latest(self) -> Digest | None:
        import orjson

        row = self._conn.execute("SELECT doc FROM digests ORDER BY id DESC LIMIT 1").fetchone()
        return Digest.from_json(orjson.loads(row[0])) if row else None

    def close(self) -> None:
        self._conn.close()


class Anchor(Protocol):  # audit.anchor.DigestAnchor (kept here to avoid an import cycle)
    def put(self, digest: Digest) -> None: ...


@dataclass
class DigestWriter:
    """Writes a signed digest of the current chain heads every `interval_s` when they moved
    (and once more at shutdown), to the digest store beside the log and to the anchor
    outside it (audit/anchor.py)."""

    heads: Callable[[], list[Head]]
    signer: DigestSigner
    store: DigestStore
    interval_s: float
    anchor: Anchor | None = None
    _task: asyncio.Task[None] | None = field(default=None, init=False)
    _last: tuple[Head, ...] | None = field(default=None, init=False)

    def write_now(self) -> Digest:
        return self._write(tuple(sorted(self.heads(), key=lambda h: h.chain_id)))

    def write_if_moved(self) -> Digest | None:
        heads = tuple(sorted(self.heads(), key=lambda h: h.chain_id))
        return None if heads == self._last else self._write(heads)  # else: still covered

    def _write(self, heads: tuple[Head, ...]) -> Digest:
        digest = self.signer.sign(list(heads))
        self.store.put(digest)
        if self.anchor is not None:
            self.anchor.put(digest)
        self._last = heads
        return digest

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            t = time.perf_counter()
            try:
                await asyncio.to_thread(self.write_if_moved)
            except Exception:  # a missed digest is retried next tick; decisions go on
                log.exception("audit digest write failed")
            log.debug("audit digest written in %.1f ms", (time.perf_counter() - t) * 1000)

    def start(self) -> None:
        if self._task is None and self.interval_s > 0:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await asyncio.to_thread(self.write_now)
