"""PII in audit records.

- Pseudonyms: keyed HMACs of national ids and customer ids, for the stores that must find a
  person again (the key store, the feature store's caches and counters); never in a record
  in clear.
- Everything personal in a decision record (the applicant, the loan, the inputs the model
  saw) is sealed per customer (envelope encryption): each customer has a random AES-256 data
  key under a random `key_ref`, stored wrapped (AES-GCM) by a master key in a key store apart
  from the log. Erasing the customer destroys the key and the link from the customer to the
  key_ref: their records stay in the log (verify still passes) but nothing in them can be
  read or tied to them again.
- Master keys: one wraps new keys, others may still unwrap (rotation while serving).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from audit.keystore import CustomerKey, CustomerKeyStore, KeyErased
from audit.record import canonical
from audit.records import DecisionInputs, DecisionRecord, PersonalData, Sealed, to_json
from core.keyfile import load_or_create

ALG = "A256GCM"


class Pseudonymizer:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("pseudonym key must be at least 32 bytes")
        self._key = key

    @classmethod
    def from_key_file(cls, path: Path) -> Pseudonymizer:
        """Load the key, creating a random one (mode 0600) on first use."""
        return cls(load_or_create(path))

    def national_id(self, national_id: str) -> str:
        digest = hmac.new(self._key, national_id.strip().upper().encode(), hashlib.sha256)
        return "hmac-sha256:" + digest.hexdigest()

    def customer_ref(self, customer_id: str) -> str:
        """The key store's name for a customer (the log never holds the customer id)."""
        digest = hmac.new(self._key, b"customer:" + customer_id.encode(), hashlib.sha256)
        return "cust-" + digest.hexdigest()[:32]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def master_id(master_key: bytes) -> str:
    return hashlib.sha256(master_key).hexdigest()[:16]


class KeyUnavailable(Exception):
    """A data key no configured master key can unwrap (a missing previous master key)."""


@dataclass
class Rewrap:
    """What a master-key rotation did."""

    current: str
    total: int = 0
    rewrapped: int = 0
    already: int = 0
    unreadable: list[str] = field(default_factory=list)  # key refs no held master opens


class EnvelopeCipher:
    """Per-customer data keys wrapped by a master key (AES-256-GCM both levels). The first
    master key wraps new keys; the others still unwrap, so a rotation can run while serving
    (docs/runbooks/key-rotation.md)."""

    def __init__(self, master_keys: list[bytes], keys: CustomerKeyStore) -> None:
        if not master_keys or any(len(k) != 32 for k in master_keys):
            raise ValueError("audit master keys must be 32 bytes each")
        self._masters = {master_id(k): AESGCM(k) for k in master_keys}
        self.master_id = master_id(master_keys[0])
        self.keys = keys

    def wrap(self, key_ref: str, data_key: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        ct = self._masters[self.master_id].encrypt(nonce, data_key,
                                                   b"data-key:" + key_ref.encode())
        return orjson.dumps({"master": self.master_id, "nonce": _b64(nonce), "key": _b64(ct)})

    def unwrap(self, key_ref: str, wrapped: bytes) -> bytes:
        w = orjson.loads(wrapped)
        master = self._masters.get(w["master"])
        if master is None:
            raise KeyUnavailable(f"data key {key_ref} is wrapped by master key {w['master']}, "
                                 f"which is not configured")
        return master.decrypt(base64.b64decode(w["nonce"]), base64.b64decode(w["key"]),
                              b"data-key:" + key_ref.encode())

    def key_for(self, customer_ref: str, national_ref: str | None = None) -> tuple[str, bytes]:
        """(key_ref, data key) of the customer, created on their first decision."""
        key = self.keys.get(customer_ref)
        if key is None:
            key_ref = "key-" + secrets.token_hex(16)
            key = self.keys.create(customer_ref, CustomerKey(
                key_ref, self.wrap(key_ref, AESGCM.generate_key(bit_length=256)),
                (national_ref,) if national_ref else ()))
        if national_ref and national_ref not in key.national_refs:
            self.keys.note_national_ref(customer_ref, national_ref)
        return key.key_ref, self.unwrap(key.key_ref, key.wrapped)

    def seal(self, customer_ref: str, doc: dict[str, Any], aad: str,
             national_ref: str | None = None) -> Sealed:
        """Encrypt `doc` with the customer's data key; `aad` binds the ciphertext to its
        record (it cannot be moved into another one)."""
        key_ref, key = self.key_for(customer_ref, national_ref)
        return self.seal_with(key_ref, key, doc, aad)

    def seal_under(self, key_ref: str, doc: dict[str, Any], aad: str) -> Sealed:
        """Encrypt with the data key a record names (more about the same customer, e.g. a
        reviewer's note); raises KeyErased once that key is destroyed."""
        wrapped = self.keys.wrapped(key_ref)
        if wrapped is None:
            raise KeyErased(key_ref)
        return self.seal_with(key_ref, self.unwrap(key_ref, wrapped), doc, aad)

    @staticmethod
    def seal_with(key_ref: str, key: bytes, doc: dict[str, Any], aad: str) -> Sealed:
        """Encrypt with a data key in hand (no key-store call)."""
        nonce = secrets.token_bytes(12)
        ct = AESGCM(key).encrypt(nonce, canonical(doc), aad.encode())
        return Sealed(alg=ALG, key_ref=key_ref, nonce=_b64(nonce), ciphertext=_b64(ct))

    def open(self, sealed: Sealed | dict[str, str], aad: str) -> dict[str, Any]:
        """Decrypt; raises KeyErased once the customer's key is destroyed."""
        s = sealed if isinstance(sealed, Sealed) else Sealed.model_validate(sealed)
        wrapped = self.keys.wrapped(s.key_ref)
        if wrapped is None:
            raise KeyErased(s.key_ref)
        key = self.unwrap(s.key_ref, wrapped)
        return orjson.loads(AESGCM(key).decrypt(base64.b64decode(s.nonce),
                                                base64.b64decode(s.ciphertext), aad.encode()))

    def rewrap_all(self) -> Rewrap:
        """Master-key rotation: every data key onto the current master. Refuses (changes
        nothing) when some key cannot be unwrapped by any configured master."""
        report = Rewrap(self.master_id)
        todo: list[tuple[str, bytes]] = []
        for ref in self.keys.key_refs():
            wrapped = self.keys.wrapped(ref)
            if wrapped is None:  # erased meanwhile
                continue
            report.total += 1
            if orjson.loads(wrapped)["master"] == self.master_id:
                report.already += 1
                continue
            try:
                todo.append((ref, self.unwrap(ref, wrapped)))
            except (KeyUnavailable, ValueError):
                report.unreadable.append(ref)
        if report.unreadable:
            return report
        for ref, key in todo:
            self.keys.rewrap(ref, self.wrap(ref, key))
            report.rewrapped += 1
        return report


@dataclass(frozen=True)
class DataKey:
    key_ref: str
    key: bytes = field(repr=False)
    national_ref: str  # the national id's keyed pseudonym


class RecordProtector:
    """What a decision record keeps of the person: sealed with the customer's data key."""

    def __init__(self, pseudonymizer: Pseudonymizer, cipher: EnvelopeCipher) -> None:
        self.pseudonymizer = pseudonymizer
        self.cipher = cipher

    def data_key(self, customer_id: str, national_id: str) -> DataKey:
        """The customer's data key, created on their first decision: sealing's one key-store
        call, made apart so that a decision fetches it beside its idempotency lookup."""
        national_ref = self.pseudonymizer.national_id(national_id)
        key_ref, key = self.cipher.key_for(self.pseudonymizer.customer_ref(customer_id),
                                           national_ref)
        return DataKey(key_ref, key, national_ref)

    def seal_decision(self, application: dict[str, Any], inputs: DecisionInputs,
                      key: DataKey) -> tuple[dict[str, Any], Sealed]:
        """(the application as the record keeps it, the sealed PersonalData), under the
        customer's `key` (`data_key`): no key-store call."""
        applicant = application["applicant"]
        personal = PersonalData(applicant={**applicant, "national_id": key.national_ref},
                                loan=application["loan"], inputs=inputs)
        sealed = self.cipher.seal_with(key.key_ref, key.key, to_json(personal),
                                       application["application_id"])
        public = {"application_id": application["application_id"],
                  "country": application["country"], "consent": application["consent"],
                  "key_ref": sealed.key_ref}
        return public, sealed


class RecordReader:
    """The one way to read a decision's personal data (replay, monitoring, backtests,
    retraining, the console): None once the customer's data was erased."""

    def __init__(self, cipher: EnvelopeCipher) -> None:
        self.cipher = cipher

    def personal(self, record: DecisionRecord) -> PersonalData | None:
        try:
            if record.personal is not None:
                return PersonalData.model_validate(
                    self.cipher.open(record.personal, record.application_id))
            return self._schema_1(record)
        except KeyErased:
            return None

    def inputs(self, record: DecisionRecord) -> DecisionInputs | None:
        personal = self.personal(record)
        return personal.inputs if personal is not None else None

    def sealed_features(self, sealed: Sealed, application_id: str
                        ) -> dict[str, float | None] | None:
        """A schema-2 decision's features alone, for monitoring, which reads nothing else of
        the person: not validated as a whole PersonalData again (AES-GCM proves the bytes are
        the ones sealed, which were validated then)."""
        try:
            features: dict[str, float | None] = (
                self.cipher.open(sealed, application_id)["inputs"]["features"])
        except KeyErased:
            return None
        return features

    def _schema_1(self, record: DecisionRecord) -> PersonalData:
        """Schema 1 kept the inputs in clear and sealed only the applicant's fields."""
        applicant = dict(record.application.get("applicant") or {})
        sealed = applicant.pop("personal", None)
        if sealed is not None:
            applicant.update(self.cipher.open(sealed, record.application_id))
        if record.raw_inputs is None or record.features is None:
            raise ValueError("a schema-1 decision record without its inputs")
        return PersonalData(
            applicant=applicant, loan=record.application.get("loan") or {},
            inputs=DecisionInputs(
                raw_inputs=record.raw_inputs, features=record.features,
                velocity=record.velocity,
                sources={name: answer.values for name, answer in record.enrichment.items()}))
