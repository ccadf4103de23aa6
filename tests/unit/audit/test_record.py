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
