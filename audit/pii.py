"""PII in audit records.

- National ids: a keyed HMAC (pseudonym), so the log can link an applicant's decisions
  without holding the id itself.
- The applicant's other personal fields: encrypted per customer (envelope encryption). Each
  customer has a random AES-256 data key, stored wrapped (AES-GCM) by the master key in a key
  store apart from the log. Destroying a customer's data key (erasure) leaves their records
  unreadable while the hash chain, which covers the ciphertext, still verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Any, Protocol

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from audit.keystore import CustomerKeyStore, KeyErased
from audit.record import canonical
from audit.records import DecisionInputs, DecisionRecord

ALG = "A256GCM"


class Protector(Protocol):
    def protect(self, application: dict) -> dict:
        """The application as the audit record keeps it."""


class Pseudonymizer:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("pseudonym key must be at least 32 bytes")
        self._key = key

    @classmethod
    def from_key_file(cls, path: Path) -> Pseudonymizer:
        """Load the key, creating a random one (mode 0600) on first use."""
        return cls(_key_file(path))

    def national_id(self, national_id: str) -> str:
        digest = hmac.new(self._key, national_id.strip().upper().encode(), hashlib.sha256)
        return "hmac-sha256:" + digest.hexdigest()

    def customer_ref(self, customer_id: str) -> str:
        """The key store's name for a customer (the log never holds the customer id)."""
        digest = hmac.new(self._key, b"customer:" + customer_id.encode(), hashlib.sha256)
        return "cust-" + digest.hexdigest()[:32]

    def protect(self, application: dict) -> dict:
        """An application document with the national id pseudonymized (nothing encrypted)."""
        applicant = {**application["applicant"],
                     "national_id": self.national_id(application["applicant"]["national_id"])}
        return {**application, "applicant": applicant}


def _key_file(path: Path, size: int = 32) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(size))
    return path.read_bytes()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class EnvelopeCipher:
    """Per-customer data keys wrapped by one master key (AES-256-GCM both levels)."""

    def __init__(self, master_key: bytes, keys: CustomerKeyStore) -> None:
        if len(master_key) != 32:
            raise ValueError("the audit master key must be 32 bytes")
        self._master = AESGCM(master_key)
        self.master_id = hashlib.sha256(master_key).hexdigest()[:16]
        self.keys = keys

    @classmethod
    def from_key_file(cls, path: Path, keys: CustomerKeyStore) -> EnvelopeCipher:
        return cls(_key_file(path), keys)

    def wrap(self, customer_ref: str, data_key: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        ct = self._master.encrypt(nonce, data_key, b"data-key:" + customer_ref.encode())
        return orjson.dumps({"master": self.master_id, "nonce": _b64(nonce), "key": _b64(ct)})

    def unwrap(self, customer_ref: str, wrapped: bytes) -> bytes:
        w = orjson.loads(wrapped)
        if w["master"] != self.master_id:
            raise ValueError(f"data key wrapped by master key {w['master']}, not the current one")
        return self._master.decrypt(base64.b64decode(w["nonce"]), base64.b64decode(w["key"]),
                                    b"data-key:" + customer_ref.encode())

    def _data_key(self, customer_ref: str, create: bool) -> bytes:
        wrapped = self.keys.get(customer_ref)
        if wrapped is None:
            if not create:
                raise KeyErased(customer_ref)
            wrapped = self.keys.put_if_absent(
                customer_ref, self.wrap(customer_ref, AESGCM.generate_key(bit_length=256)))
        return self.unwrap(customer_ref, wrapped)

    def seal(self, customer_ref: str, fields: dict[str, Any], aad: str) -> dict[str, str]:
        """Encrypt fields with the customer's data key; `aad` binds the ciphertext to its
        record (it cannot be moved into another one)."""
        nonce = secrets.token_bytes(12)
        ct = AESGCM(self._data_key(customer_ref, create=True)).encrypt(
            nonce, canonical(fields), aad.encode())
        return {"alg": ALG, "key_ref": customer_ref, "nonce": _b64(nonce), "ciphertext": _b64(ct)}

    def open(self, sealed: dict[str, str], aad: str) -> dict[str, Any]:
        """Decrypt; raises KeyErased once the customer's key is destroyed."""
        key = self._data_key(sealed["key_ref"], create=False)
        return orjson.loads(AESGCM(key).decrypt(base64.b64decode(sealed["nonce"]),
                                                base64.b64decode(sealed["ciphertext"]),
                                                aad.encode()))

    def rewrap_all(self, old: EnvelopeCipher) -> int:
        """Master key rotation: re-wrap every data key from `old`'s master key to this one."""
        n = 0
        for ref in self.keys.all_refs():
            wrapped = self.keys.get(ref)
            if wrapped is not None and orjson.loads(wrapped)["master"] == old.master_id:
                self.keys.replace(ref, self.wrap(ref, old.unwrap(ref, wrapped)))
                n += 1
        return n


class RecordProtector:
    """What the audit record keeps of an application: the national id as a pseudonym, the
    customer as a key-store reference, the other applicant fields sealed with that
    customer's data key. Loan, consent, country and application id stay readable."""

    def __init__(self, pseudonymizer: Pseudonymizer, cipher: EnvelopeCipher) -> None:
        self.pseudonymizer = pseudonymizer
        self.cipher = cipher

    def protect(self, application: dict) -> dict:
        applicant = application["applicant"]
        ref = self.pseudonymizer.customer_ref(applicant["customer_id"])
        personal = {k: v for k, v in applicant.items() if k != "national_id"}
        return {**application, "applicant": {
            "national_id": self.pseudonymizer.national_id(applicant["national_id"]),
            "customer_ref": ref,
            "personal": self.cipher.seal(ref, personal, application["application_id"])}}

    def reveal(self, protected: dict) -> dict:
        """The applicant's personal fields back (for an authorized reader)."""
        return self.cipher.open(protected["applicant"]["personal"],
                                protected["application_id"])


class RecordReader:
    """The one way to read a decision's personal inputs (replay, monitoring, backtests,
    retraining, the console): None once the customer's data was erased."""

    def __init__(self, protector: RecordProtector) -> None:
        self.protector = protector

    def inputs(self, record: DecisionRecord) -> DecisionInputs | None:
        return DecisionInputs(
            raw_inputs=record.raw_inputs, features=record.features, velocity=record.velocity,
            sources={name: answer.values for name, answer in record.enrichment.items()})
