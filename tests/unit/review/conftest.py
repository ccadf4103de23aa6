"""The review desk on real parts: a SQLite audit log, a SQLite review store, a real envelope
cipher over a SQLite key store. Decisions are typed records appended to the log."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from audit.keystore import CustomerKey, SQLiteCustomerKeyStore
from audit.pii import EnvelopeCipher
from audit.records import DecisionInputs, DecisionRecord, FiredRule, PolicySection, parse_record
from audit.sqlite import SQLiteAuditStore
from review.desk import ReviewDesk
from review.model import ReviewRules
from review.projection import Projection
from review.reasons import ReasonCodes
from review.sealing import CustomerSealer
from review.sqlite import SQLiteReviewStore
from tests import records


def inputs(record: DecisionRecord) -> DecisionInputs:
    """The personal-inputs seam as RecordReader.inputs gives it for an unsealed record."""
    return DecisionInputs(raw_inputs=record.raw_inputs, features=record.features,
                          velocity=record.velocity, sources={})


@dataclass
class Desk:
    desk: ReviewDesk
    audit: SQLiteAuditStore
    store: SQLiteReviewStore
    keys: SQLiteCustomerKeyStore
    projection: Projection
    cipher: EnvelopeCipher

    def decided(self, decision_id: str, outcome: str = "refer", amount: float = 800.0,
                country: str = "ES", customer: str = "cust-1", **fields) -> DecisionRecord:
        """A decision in the audit log, projected as the live path does; the customer's data
        key exists (the decision sealed its personal data with it), named as schema 1 named
        it, after the customer's reference."""
        if self.keys.get(customer) is None:
            self.keys.create(customer, CustomerKey(customer, self.cipher.wrap(
                customer, AESGCM.generate_key(bit_length=256))))
        fired = [FiredRule(rule="score_refer", effect="refer", detail="between")] \
            if outcome == "refer" else []
        doc = records.decision(
            decision_id, outcome=outcome, country=country,
            decided_at="2026-11-20T10:00:00+00:00", raw_inputs={"amount": amount},
            application={"application_id": f"A-{decision_id}", "country": country,
                         "applicant": {"customer_ref": customer}},
            policy=PolicySection(version="p1", outcome=outcome, grade="C",
                                 fired=fired).model_dump(mode="json"), **fields)
        entry = self.audit.append(doc, application_id=f"A-{decision_id}",
                                  decision_id=decision_id)
        record = parse_record(entry.body)
        self.projection.decision(record)
        return record


@pytest.fixture
def rules() -> ReviewRules:
    return ReviewRules(sla_hours={"default": 24.0, "PT": 8.0},
                       second_approver_above={"default": 10_000.0, "PT": 5_000.0})


@pytest.fixture
def desk(tmp_path: Path, rules: ReviewRules) -> Desk:
    audit = SQLiteAuditStore(tmp_path / "audit.db")
    store = SQLiteReviewStore(tmp_path / "reviews.db")
    keys = SQLiteCustomerKeyStore(tmp_path / "keys.db")
    projection = Projection(store, rules, inputs)
    cipher = EnvelopeCipher([b"k" * 32], keys)
    d = ReviewDesk(projection, audit, ReasonCodes.load(), CustomerSealer(cipher))
    yield Desk(d, audit, store, keys, projection, cipher)
    for s in (audit, store, keys):
        s.close()
