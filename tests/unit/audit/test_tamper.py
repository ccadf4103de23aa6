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


CASES = {  # name -> (tamper, the first bad seq verify must name, what it must say)
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
