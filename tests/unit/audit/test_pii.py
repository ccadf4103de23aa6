"""PII: national id pseudonymized, personal fields sealed per customer, crypto-shredding."""

import secrets

import orjson
import pytest

from audit.keystore import KeyErased, SQLiteCustomerKeyStore
from audit.pii import EnvelopeCipher, Pseudonymizer, RecordProtector
from audit.record import canonical
from audit.sqlite import SQLiteAuditStore
from audit.verify import verify_entries

APP = {"application_id": "APP-1", "country": "ES",
       "applicant": {"customer_id": "CUST-9", "national_id": "12345678Z", "age": 41,
                     "marital_status": "married", "home": "owner", "job": "fixed",
                     "seniority_years": 7},
       "loan": {"amount": 1000.0, "purchase_price": 1500.0, "term_months": 36},
       "consent": {"bureau": True, "open_banking": True}}


@pytest.fixture
def protector(tmp_path):
    keys = SQLiteCustomerKeyStore(tmp_path / "keys.db")
    return RecordProtector(Pseudonymizer(secrets.token_bytes(32)),
                           EnvelopeCipher(secrets.token_bytes(32), keys))


def test_protected_record_holds_no_personal_field_in_clear(protector):
    rec = protector.protect(APP)
    text = canonical(rec).decode()
    for secret in ("12345678Z", "CUST-9", "married", "owner"):
        assert secret not in text
    assert rec["applicant"]["national_id"].startswith("hmac-sha256:")
    assert rec["loan"] == APP["loan"]
    assert protector.reveal(rec) == {k: v for k, v in APP["applicant"].items()
                                     if k != "national_id"}


def test_one_key_per_customer(protector):
    a = protector.protect(APP)
    b = protector.protect({**APP, "application_id": "APP-2"})
    other = protector.protect({**APP, "applicant": {**APP["applicant"], "customer_id": "C2"}})
    assert a["applicant"]["customer_ref"] == b["applicant"]["customer_ref"]
    assert other["applicant"]["customer_ref"] != a["applicant"]["customer_ref"]
    assert len(protector.cipher.keys.all_refs()) == 2


def test_sealed_fields_cannot_be_moved_to_another_record(protector):
    from cryptography.exceptions import InvalidTag

    rec = protector.protect(APP)
    with pytest.raises(InvalidTag):
        protector.reveal({**rec, "application_id": "APP-OTHER"})


def test_erasure_shreds_the_key_and_verify_still_passes(protector, tmp_path):
    store = SQLiteAuditStore(tmp_path / "audit.db")
    rec = protector.protect(APP)
    store.append(rec, application_id="APP-1", decision_id="D1")
    store.append(protector.protect({**APP, "application_id": "APP-3",
                                    "applicant": {**APP["applicant"], "customer_id": "C3"}}))
    ref = rec["applicant"]["customer_ref"]
    wrapped = protector.cipher.keys.get(ref)
    assert protector.cipher.keys.erase(ref)
    on_disk = b"".join(p.read_bytes() for p in tmp_path.glob("keys.db*"))
    assert wrapped not in on_disk  # overwritten, not left in free pages or the WAL
    stored = orjson.loads(store.get_decision("D1").body)
    with pytest.raises(KeyErased):
        protector.reveal(stored)
    assert protector.cipher.keys.is_erased(ref) and protector.cipher.keys.get(ref) is None
    assert verify_entries(store.entries()).ok


def test_master_key_rotation_rewraps_every_data_key(protector):
    rec = protector.protect(APP)
    new = EnvelopeCipher(secrets.token_bytes(32), protector.cipher.keys)
    assert new.rewrap_all(protector.cipher) == 1
    assert RecordProtector(protector.pseudonymizer, new).reveal(rec)["age"] == 41
    with pytest.raises(ValueError, match="master key"):
        protector.reveal(rec)
