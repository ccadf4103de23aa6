"""Record format: the hand-built entry header is byte-identical to RFC 8785."""

import rfc8785

from audit.record import entry_header


def test_entry_header_is_rfc8785_canonical():
    for chain in ("host-1-ab12", "h\u00e9te-\x1f-\"q\"\\", "\u2028x"):
        got = entry_header(chain, 12, "ab" * 32, "2026-01-02T03:04:05.000006Z", "ES", "cd" * 32)
        want = rfc8785.dumps({"chain": chain, "seq": 12, "prev": "ab" * 32,
                              "at": "2026-01-02T03:04:05.000006Z", "country": "ES",
                              "body": "cd" * 32})
        assert got == want


def test_canonical_matches_rfc8785_on_random_documents():
    """The fast encoder gives RFC 8785's bytes for integral, tiny, huge and ordinary floats,
    negative zero, escapes and nesting."""
    import random
    import struct

    from audit.record import canonical

    rng = random.Random(7)
    specials = [0.0, -0.0, 3.0, 1e-6, 1e-7, 1.5e-6, 1e16, 1e20, 1e21, 2.0**53, 0.1, -2.5e-5]

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
