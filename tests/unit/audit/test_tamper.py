"""Tamper matrix on every backend: each kind of tampering is detected, naming the first bad
record; truncation is caught against the signed digest. Each case is checked by the one-thread
walk and by the parallel verifier, cut into ranges of two so tampering lands on boundaries."""

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.digest import DigestSigner, DigestWriter
from audit.record import GENESIS, Entry, entry_hash
from audit.verify import verify_entries, verify_store


def renumber(entries):
    """Give entries consecutive seqs from 1, keeping their stored hashes (what an attacker
    who moves rows without the ability to re-hash everything produces)."""
    return [e._replace(seq=i) for i, e in enumerate(entries, 1)]


def flip(es):
    body = bytearray(es[2].body)
    body[5] ^= 0x01
    return es[:2] + [es[2]._replace(body=bytes(body))] + es[3:]


def delete(es):
    return renumber(es[:2] + es[3:])


def insert(es):
    body, at = b'{"forged":true}', es[1].appended_at
    forged = Entry(es[0].chain_id, 3, es[1].hash,
                   entry_hash(es[0].chain_id, 3, es[1].hash, at, "", body), body, at)
    return es[:2] + [forged] + [e._replace(seq=e.seq + 1) for e in es[2:]]


def swap(es):
    """Records 3 and 4 trade places, each keeping its own hashes."""
    return renumber(es[:2] + [es[3], es[2]] + es[4:])


def reorder(es):
    """Record 5 moved to position 2."""
    return renumber([es[0], es[4], *es[1:4], *es[5:]])


def swap_bodies(es):
    """Bodies of 3 and 4 exchanged, the chain columns left in place."""
    return (es[:2] + [es[2]._replace(body=es[3].body),
                      es[3]._replace(body=es[2].body)] + es[4:])


def delete_keep_seq(es):
    """Record 2 removed, the others keep their seqs (the entry where a range starts)."""
    return es[:1] + es[2:]


def append_far_ahead(es):
    """A forged entry at seq 100, linked to the real head: entries 7..99 look missing."""
    body, at, head = b'{"forged":true}', es[-1].appended_at, es[-1].hash
    return [*es, Entry(es[0].chain_id, 100, head,
                       entry_hash(es[0].chain_id, 100, head, at, "", body), body, at)]


def before_genesis(es):
    """A forged entry at seq 0, linked as if the chain began with it."""
    body, at = b'{"forged":true}', es[0].appended_at
    return [Entry(es[0].chain_id, 0, GENESIS, entry_hash(es[0].chain_id, 0, GENESIS, at, "",
                                                        body), body, at), *es]


def truncate(es):
    return es[:4]


def rehash_tail(es):
    """Modify record 3 and recompute every hash after it: only the signed digest shows it."""
    out, head = es[:2], es[1].hash
    for e in es[2:]:
        body = e.body.replace(b'"n":', b'"N":') if e.seq == 3 else e.body
        h = entry_hash(e.chain_id, e.seq, head, e.appended_at, e.country, body)
        out.append(Entry(e.chain_id, e.seq, head, h, body, e.appended_at, e.country))
        head = h
    return out


def time_backwards(es):
    """From record 4 on, re-hashed with append times earlier than record 3's: only the time
    check names it at 4 (the signed digest would show it at 6)."""
    out, head = es[:3], es[2].hash
    for e in es[3:]:
        at = "2000-01-01T00:00:00.000000Z"
        h = entry_hash(e.chain_id, e.seq, head, at, e.country, e.body, e.application_id,
                       e.decision_id)
        out.append(e._replace(prev_hash=head, hash=h, appended_at=at))
        head = h
    return out


def swap_index(es):
    """The decision ids of 3 and 4 traded in the index columns: a lookup of one id would
    return the other's record."""
    return (es[:2] + [es[2]._replace(decision_id=es[3].decision_id),
                      es[3]._replace(decision_id=es[2].decision_id)] + es[4:])


CASES = {  # name -> (tamper, the first bad seq verify must name, what it must say)
    "time_backwards": (time_backwards, 4, "append time goes backwards"),
    "swap_index": (swap_index, 3, "hash"),
    "hijack_application": (lambda es: es[:1] + [es[1]._replace(application_id="HIJACKED")]
                           + es[2:], 2, "hash"),
    "drop_index": (lambda es: es[:3] + [es[3]._replace(application_id=None, decision_id=None)]
                   + es[4:], 4, "hash"),
    "flip_byte": (flip, 3, "hash"),
    "delete": (delete, 3, "link"),
    "insert": (insert, 4, "link"),
    "swap": (swap, 3, "link"),
    "reorder": (reorder, 2, "link"),
    "swap_bodies": (swap_bodies, 3, "hash"),
    "delete_keep_seq": (delete_keep_seq, 3, "sequence jumps from 1 to 3"),
    # Gaps that swallow a whole range of the parallel verifier: named as a single walk does.
    "delete_range": (lambda es: es[:1] + es[4:], 5, "sequence jumps from 1 to 5"),
    "delete_start": (lambda es: es[2:], 3, "chain starts at seq 3, not 1"),
    "append_far_ahead": (append_far_ahead, 100, "sequence jumps from 6 to 100"),
    "before_genesis": (before_genesis, 0, "starts at seq 0"),
    "truncate": (truncate, 5, "truncated"),
    "drop_chain": (lambda es: [], 1, "truncated"),
    "rehash_tail": (rehash_tail, 6, "signed digest"),
}


VERIFIERS = {
    "walk": lambda store, digest: verify_entries(store.entries(), digest),
    "parallel": lambda store, digest: verify_store(store, digest, jobs=2, min_range=2),
}


@pytest.mark.parametrize("verifier", VERIFIERS)
@pytest.mark.parametrize("case", CASES)
def test_tampering_is_detected(backend, case, verifier):
    """The tampered chain fails verify at the expected record; an untouched chain beside it
    and the log before tampering verify OK."""
    tamper, bad_seq, says = CASES[case]
    verify = VERIFIERS[verifier]
    store, other = backend.open(), backend.open()
    for i in range(6):
        store.append({"n": i, "who": "applicant"}, application_id=f"A{i}", decision_id=f"D{i}")
        other.append({"n": i}, application_id=f"O{i}")
    signer = DigestSigner(Ed25519PrivateKey.generate())
    digests = backend.digests()
    digest = DigestWriter(store.heads, signer, digests, 0).write_now()
    before = verify(store, digests.latest())
    assert before.ok and before.checked == 12 and before.chains == 2

    backend.rewrite_chain(store.chain_id, tamper(list(store.entries(store.chain_id))))
    latest = digests.latest()
    assert latest == digest and latest.verify(signer.public_key)
    result = verify(backend.open(chain_id=other.chain_id), latest)
    assert not result.ok
    assert result.first_bad == f"{store.chain_id}#{bad_seq}"
    assert says in result.problem
    assert verify_entries(other.entries(other.chain_id), partial=True).ok


def test_a_forged_digest_fails_its_signature(backend):
    store = backend.open()
    store.append({"n": 1})
    signer = DigestSigner(Ed25519PrivateKey.generate())
    digest = signer.sign(store.heads())
    forged = dataclasses.replace(digest, heads=(dataclasses.replace(digest.heads[0], seq=0),))
    assert digest.verify(signer.public_key) and not forged.verify(signer.public_key)
    assert not digest.verify(DigestSigner(Ed25519PrivateKey.generate()).public_key)


def legacy_chain(chain_id):
    """Decision entries as written before index keys were hashed: header without them, the
    keys only in the index columns."""
    out, head = [], GENESIS
    for i in range(1, 5):
        body = records_decision(f"D{i}")
        at = f"2026-01-01T00:00:0{i}.000000Z"
        h = entry_hash(chain_id, i, head, at, "ES", body)
        out.append(Entry(chain_id, i, head, h, body, at, "ES", f"A-D{i}", f"D{i}"))
        head = h
    return out


def records_decision(did):
    from audit.record import canonical
    from tests import records

    return canonical(records.decision(did))


@pytest.mark.parametrize("tamper,bad,says", [
    (None, None, None),
    (swap_index, 3, "index keys"),
    (lambda es: es[:1] + [es[1]._replace(application_id=None, decision_id=None)] + es[2:], 2,
     "index keys"),
])
def test_index_keys_of_entries_written_before_they_were_hashed(backend, tamper, bad, says):
    """An older entry's index keys are checked against its record instead of its hash."""
    store = backend.open()
    chain = store.chain_id
    entries = legacy_chain(chain)
    backend.rewrite_chain(chain, tamper(entries) if tamper else entries)
    result = verify_entries(backend.open(chain_id=chain).entries(chain))
    if tamper is None:
        assert result.ok and result.checked == 4
    else:
        assert not result.ok and result.first_bad == f"{chain}#{bad}" and says in result.problem


@pytest.mark.parametrize("tamper", ["redirect", "drop"])
def test_dynamodb_index_items_are_verified(dynamodb_endpoint, tamper):
    """An index item pointed at another entry, or deleted, is named by verify_store."""
    from audit.dynamodb import DynamoDBAuditStore, _tables

    store = DynamoDBAuditStore("ix", endpoint=dynamodb_endpoint)
    for i in range(3):
        store.append({"n": i}, application_id=f"A{i}", decision_id=f"D{i}")
    assert verify_store(store).ok
    Index = _tables("ix", dynamodb_endpoint, "eu-west-1")[1]
    if tamper == "redirect":
        Index("app#A0", chain_id=store.chain_id, seq=2).save()  # A0's lookup finds A1's entry
        expect = (f"{store.chain_id}#2", "'app#A0' points at an entry not keyed by it")
    else:
        Index.get("dec#D2").delete()
        expect = (f"{store.chain_id}#3", "'dec#D2' missing")
    result = verify_store(store)
    assert not result.ok and (result.first_bad, result.problem) == (expect[0],
                                                                    f"index item {expect[1]}")
