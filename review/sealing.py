"""Free text about an applicant (a reviewer's note, the applicant's statement) is personal
data: it is sealed with the customer's data key, like the application's personal fields, so
that erasing the customer (crypto-shredding) leaves it unreadable in the log and in the
review store alike."""

from __future__ import annotations

from typing import Protocol

from audit.keystore import KeyErased
from audit.pii import EnvelopeCipher
from audit.records import DecisionRecord, SealedText


class Sealer(Protocol):
    def seal(self, record: DecisionRecord, text: str, aad: str) -> SealedText:
        """`text` sealed with the key of the customer `record` decided; `aad` binds it to
        the action that holds it."""

    def open(self, sealed: SealedText, aad: str) -> str | None:
        """The text, or None once the customer's data was erased."""


class CustomerSealer:
    def __init__(self, cipher: EnvelopeCipher) -> None:
        self.cipher = cipher

    def seal(self, record: DecisionRecord, text: str, aad: str) -> SealedText:
        return SealedText(**self.cipher.seal(_customer_ref(record), {"text": text}, aad))

    def open(self, sealed: SealedText, aad: str) -> str | None:
        try:
            return self.cipher.open(sealed.model_dump(), aad)["text"]
        except KeyErased:
            return None


def _customer_ref(record: DecisionRecord) -> str:
    # The key-store reference audit.pii.RecordProtector puts beside the sealed applicant
    # fields. A record protected without one (pseudonymized only) gets a key of its own.
    applicant = record.application.get("applicant") or {}
    return applicant.get("customer_ref") or f"decision-{record.decision_id}"
