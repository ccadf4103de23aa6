"""PII: everything personal sealed per customer under a random key ref, read back through
the RecordReader, crypto-shredded by erasure; master keys rotate while serving."""

import secrets

import pytest
from cryptography.exceptions import InvalidTag

from audit.keystore import KeyErased, SQLiteCustomerKeyStore
from audit.pii import EnvelopeCipher, Pseudonymizer, RecordProtector, RecordReader
from audit.record import canonical
from audit.records import DecisionInputs, DecisionRecord, parse_record, to_json
from audit.sqlite import SQLiteAuditStore
from audit.verify import verify_entries
from tests import records

APP = {"application_id": "APP-1", "country": "ES",
       "applicant": {"customer_id": "CUST-9", "national_id": "12345678Z", "age": 41,
                     "marital_status": "married", "home": "owner", "job": "fixed",
                     "seniority_years": 7},
       "loan": {"amount": 1234.5, "purchase_price": 1500.0, "term_months": 36},
       "consent": {"bureau": True, "open_banking": True}}
INPUTS = DecisionInputs(raw_inputs={"age": 41, "income": 987.25, "amount": 1234.5},
                        features={"income": 987.25, "age": 41.0}, velocity={"c_24h": 2},
                        sources={"bureau": {"bad_records": False, "debt": 77.5}})


@pytest.fixture
def keys(tmp_path):
    store = SQLiteCustomerKeyStore(tmp_path / "keys.db")
    yield store
    store.close()


@pytest.fixture
def protector(keys):
    return RecordProtector(Pseudonymizer(secrets.token_bytes(32)),
                           EnvelopeCipher([secrets.token_bytes(32)], keys))


def decision(protector, app=APP, decision_id="D1"):
    doc = records.decision(decision_id, application_id=app["application_id"])
    return parse_record(canonical(records.sealed(doc, protector, app, INPUTS)))


def test_a_record_holds_nothing_personal_in_clear(protector):
    """No applicant field, loan figure, input, source value or pseudonym is readable."""
    rec = decision(protector)
    text = canonical(to_json(rec)).decode()
    for secret in ("12345678Z", "CUST-9", "married", "owner", "1234.5", "987.25", "77.5",
                   protector.pseudonymizer.national_id("12345678Z"),
                   protector.pseudonymizer.customer_ref("CUST-9")):
        assert secret not in text
    assert rec.application == {"application_id": "APP-1", "country": "ES",
                               "consent": APP["consent"], "key_ref": rec.personal.key_ref}


def test_the_reader_opens_what_was_sealed(protector):
    reader = RecordReader(protector.cipher)
    personal = reader.personal(decision(protector))
    assert personal.inputs == INPUTS and personal.loan == APP["loan"]
    assert personal.applicant["age"] == 41
    assert personal.applicant["national_id"].startswith("hmac-sha256:")


def test_a_decision_is_sealed_under_the_key_fetched_ahead(protector, keys):
    """The orchestrator fetches the customer's data key with its idempotency lookup, then
    seals with it: the record names that key and holds the national id's pseudonym; the
    key is created once, on the first fetch, and is never printed."""
    key = protector.data_key("CUST-9", "12345678Z")
    assert key.national_ref == protector.pseudonymizer.national_id("12345678Z")
    assert repr(key.key) not in repr(key)
    public, sealed = protector.seal_decision(APP, INPUTS, key)
    assert public["key_ref"] == sealed.key_ref == key.key_ref
    assert protector.data_key("CUST-9", "12345678Z").key_ref == key.key_ref
    opened = protector.cipher.open(sealed, "APP-1")
    assert opened["applicant"]["national_id"] == key.national_ref


def test_one_random_key_per_customer(protector, keys):
    """The same customer shares a key under a random ref; another customer has another."""
    a, b = decision(protector), decision(protector, {**APP, "application_id": "APP-2"}, "D2")
    other = decision(protector, {**APP, "applicant": {**APP["applicant"], "customer_id": "C2"}},
                     "D3")
    assert a.key_ref == b.key_ref != other.key_ref and a.key_ref.startswith("key-")
    assert len(keys.key_refs()) == 2
    assert keys.get(protector.pseudonymizer.customer_ref("CUST-9")).national_refs == (
        protector.pseudonymizer.national_id("12345678Z"),)


def test_sealed_data_cannot_be_moved_to_another_record(protector):
    rec = decision(protector)
    with pytest.raises(InvalidTag):
        protector.cipher.open(rec.personal, "APP-OTHER")


def test_erasure_shreds_the_key_and_verify_still_passes(protector, keys, tmp_path):
    """After erasure the record reads as erased (not as tampered), the key bytes are gone
    from the key store's files, and the log still verifies."""
    store = SQLiteAuditStore(tmp_path / "audit.db")
    rec = decision(protector)
    store.append(to_json(rec), application_id="APP-1", decision_id="D1")
    ref = protector.pseudonymizer.customer_ref("CUST-9")
    wrapped = keys.get(ref).wrapped
    assert keys.erase(ref).key_ref == rec.key_ref
    on_disk = b"".join(p.read_bytes() for p in tmp_path.glob("keys.db*"))
    assert wrapped not in on_disk  # overwritten, not left in free pages or the WAL
    stored = parse_record(store.get_decision("D1").body)
    assert RecordReader(protector.cipher).personal(stored) is None
    with pytest.raises(KeyErased):
        protector.cipher.open(stored.personal, "APP-1")
    # The same customer applying again gets a new key; the old record stays erased.
    again = decision(protector, {**APP, "application_id": "APP-9"}, "D9")
    assert again.key_ref != rec.key_ref
    assert RecordReader(protector.cipher).personal(stored) is None
    assert verify_entries(store.entries()).ok


def test_schema_1_records_are_read_through_the_same_reader(protector):
    """A schema-1 record (inputs in clear, applicant sealed) reads as PersonalData too."""
    rec = parse_record(canonical(records.decision("D1")))
    assert isinstance(rec, DecisionRecord) and rec.schema_version == 1
    assert RecordReader(protector.cipher).inputs(rec).features == {}


def test_rotation_while_serving(keys):
    """Keys wrapped by the old master stay readable once a new master wraps new keys; the
    rotation re-wraps them all, refusing (changing nothing) without the old master."""
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    pseudo = Pseudonymizer(secrets.token_bytes(32))
    before = RecordProtector(pseudo, EnvelopeCipher([old], keys))
    rec = decision(before)
    during = EnvelopeCipher([new, old], keys)
    assert RecordReader(during).inputs(rec) == INPUTS
    later = decision(RecordProtector(pseudo, during), {**APP, "applicant": {
        **APP["applicant"], "customer_id": "C-NEW"}, "application_id": "APP-N"}, "DN")
    refused = EnvelopeCipher([new], keys).rewrap_all()
    assert refused.unreadable == [rec.key_ref] and refused.rewrapped == 0
    report = during.rewrap_all()
    assert (report.total, report.rewrapped, report.already, report.unreadable) == (2, 1, 1, [])
    after = EnvelopeCipher([new], keys)
    assert RecordReader(after).inputs(rec) == INPUTS
    assert RecordReader(after).inputs(later) == INPUTS
    assert during.rewrap_all().rewrapped == 0
