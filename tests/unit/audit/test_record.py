"""Record format: the hand-built entry header is byte-identical to RFC 8785, and canonical
JSON refuses what JSON cannot hold."""

import pytest
import rfc8785

from audit.record import NotCanonical, canonical, entry_header

# Plain ASCII (the fast path) and every kind of string that must be escaped.
ODD = ("host-1-ab12", 'a"b', "a\\b", "a\x1fb", "h\u00e9te", "\u2028x", "h\u00e9te-\x1f-\"q\"\\")


def test_entry_header_is_rfc8785_canonical():
    """With and without the index keys (application id, decision id), which are in the hash."""
    at = "2026-01-02T03:04:05.000006Z"
    for chain in ODD:
        for app, dec in ((None, None), (chain, None), (None, chain), ("APP-1", chain)):
            got = entry_header(chain, 12, "ab" * 32, at, "ES", "cd" * 32, app, dec)
            doc = {"chain": chain, "seq": 12, "prev": "ab" * 32, "at": at, "country": "ES",
                   "body": "cd" * 32}
            doc |= {k: v for k, v in (("app", app), ("dec", dec)) if v is not None}
            assert got == rfc8785.dumps(doc), (chain, app, dec)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity_are_refused_wherever_they_are(bad):
    """Never written as null (which is what orjson would do)."""
    for doc in (bad, {"a": bad}, {"a": [1, {"b": bad}]}, [None, bad], {"a": None, "b": (bad,)}):
        with pytest.raises(NotCanonical, match="NaN and infinity have no JSON form"):
            canonical(doc)


def test_none_is_null():
    assert canonical({"a": None, "b": [None, 1.0]}) == b'{"a":null,"b":[null,1]}'


def test_canonical_matches_rfc8785_on_random_documents():
    """The fast encoder gives RFC 8785's bytes for integral, tiny, huge and ordinary floats,
    negative zero, escapes and nesting."""
    import random
    import struct

    from audit.record import canonical

    rng = random.Random(7)
    specials = [0.0, -0.0, 3.0, 1e-6, 1e-7, 1.5e-6, 1e16, 1e20, 1e21, 2.0**53, 0.1, -2.5e-5,
                9.99e-6, 1e-5, 1.5e-5, 2e-5, 9990000000000000.5, 4999999999999999.5, 5e15 + 0.5,
                1.5e16, -1.0000000000000002e16]

    def value():
        kind = rng.random()
        if kind < 0.3:
            return struct.unpack("d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if kind < 0.6:
            return rng.uniform(-1e6, 1e6) * rng.choice([1, 1e-3, 1e-6, 1e3, 1e9, 1e14])
        if kind < 0.7:
            return rng.choice(specials)
        if kind < 0.8:
            return rng.randint(-(2**53), 2**53)
        return rng.choice(["a\"b", "\u00e9\n\t\x01", "\u2028", "plain", None, True])

    for _ in range(3000):
        doc = {f"k{j}": value() for j in range(rng.randint(1, 6))}
        doc["nested"] = [value(), {"z": value(), "a": [value()]}]
        if any(isinstance(v, float) and v != v for v in doc.values()):
            continue
        try:
            want = rfc8785.dumps(doc)
        except Exception:  # noqa: BLE001  (inf/nan are not JSON: nothing to compare)
            continue
        assert canonical(doc) == want, doc
