"""Free text about an applicant (a reviewer's note, the applicant's statement) is personal
data: it is sealed with the customer's data key, like the application's personal fields, so
that erasing the customer (crypto-shredding) leaves it unreadable in the log and in the
review store alike."""

from __future__ import annotations

from typing import Protocol

from audit.governance_records import SealedText
from audit.keystore import KeyErased
from audit.pii import EnvelopeCipher
from audit.records import DecisionRecord


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
        doc = {"text": text}
        sealed = (self.cipher.seal_under(record.key_ref, doc, aad) if record.key_ref
                  # A record of no customer key (pseudonymized only): a key of its own.
                  else self.cipher.seal(f"decision-{record.decision_id}", doc, aad))
        return SealedText(**sealed.model_dump())

    def open(self, sealed: SealedText, aad: str) -> str | None:
        try:
            return self.cipher.open(sealed.model_dump(), aad)["text"]
        except KeyErased:
            return None

