"""Record format: canonical JSON (RFC 8785) and the hash chain that links records.

Each writer keeps its own chain. An entry's hash covers a small header (chain id, sequence
number, previous entry's hash, the time the store appended it, the record's country, and the
index keys readers look the entry up by: its application id and decision id) and the SHA-256
of the canonical record. (Entries written before the index keys were hashed have headers
without them; verify checks their index keys against the body instead.) So modifying,
deleting, inserting or reordering entries, or changing the keys readers find them by, breaks
the chain at the first affected entry, and an export can prove an entry is *not* of a
country or period from its header and body hash alone, without showing its body.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
import rfc8785

GENESIS = "0" * 64


# orjson writes floats as RFC 8785 (ECMAScript) does except in two cases: integral floats
# ("3.0" where JS writes "3": written as ints below) and exponent forms, which orjson uses
# for magnitudes below 1e-5 or from 1e16 on (JS: below 1e-6, from 1e21). A float in those
# ranges, with a margin, sends the document to the pure-Python rfc8785 encoder instead.
_SMALL, _LARGE = 2e-5, 5e15


class NotCanonical(ValueError):
    """A value JSON cannot hold exactly (NaN, infinity): refused, never written as null."""


def _es_ready(obj: Any, odd: list[bool]) -> Any:
    """A copy orjson writes as RFC 8785 does: integral floats as ints; NaN and infinity
    refused; `odd[0]` set when a float may take an exponent form in orjson."""
    t = type(obj)
    if t is float:
        return _es_float(obj, odd)
    if t is dict:
        # Leaves handled in the loop, not by a call each: a decision record has hundreds
        # (features, contributions), and this runs on every append.
        out = {}
        for k, v in obj.items():
            tv = type(v)
            if tv is str or tv is int or tv is bool or v is None:
                out[k] = v
            elif tv is float:
                out[k] = _es_float(v, odd)
            else:
                out[k] = _es_ready(v, odd)
        return out
    if t is list or t is tuple:
        return [_es_ready(v, odd) for v in obj]
    if isinstance(obj, float | dict | list | tuple):  # subclasses: the general path
        return _es_ready(float(obj) if isinstance(obj, float) else
                         dict(obj) if isinstance(obj, dict) else list(obj), odd)
    return obj


def _es_float(obj: float, odd: list[bool]) -> float | int:
    if obj != obj or obj in (_INF, -_INF):
        raise NotCanonical("NaN and infinity have no JSON form")
    size = abs(obj)
    if obj.is_integer() and size < 1e16:
        return int(obj)
    if size < _SMALL or size >= _LARGE:
        odd[0] = True
    return obj


_INF = float("inf")


def canonical(obj: Any) -> bytes:
    """RFC 8785 canonical JSON. orjson with sorted keys writes the same bytes (strings
    escaped alike, shortest round-trip floats) once integral floats are ints, except for the
    exponent forms above, for which the pure-Python rfc8785 encoder is used; the fast path is
    ~10x faster on a decision record. Keys sort by code point, not UTF-16 unit: the same for
    every key below U+E000 (ours are ASCII). tests/unit/audit/test_record.py compares both
    on random documents."""
    odd = [False]
    ready = _es_ready(obj, odd)
    if not odd[0]:
        return orjson.dumps(ready, option=orjson.OPT_SORT_KEYS)
    try:
        return rfc8785.dumps(obj)
    except (rfc8785.FloatDomainError, ValueError) as exc:
        raise NotCanonical(str(exc)) from exc


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def now_stamp() -> str:
    """UTC with microseconds, fixed width, so timestamps compare as strings."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _q(s: str) -> str:
    # Plain printable ASCII needs no escaping; anything else goes through json.dumps, whose
    # string form matches RFC 8785's.
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return f'"{s}"'
    return json.dumps(s, ensure_ascii=False)


def entry_header(chain_id: str, seq: int, prev_hash: str, appended_at: str, country: str,
                 body_sha256: str, application_id: str | None = None,
                 decision_id: str | None = None) -> bytes:
    """canonical({"app", "at", "body", "chain", "country", "dec", "prev", "seq"}) ("app" and
    "dec" only when the entry has them), built directly: this runs once per entry in verify,
    where a generic encoder would be the slow part (a unit test checks the bytes agree with
    RFC 8785)."""
    # prev_hash and body_sha256 are hex digests: never escaped. (A tampered prev_hash with
    # odd characters just gives a different header, so a hash mismatch, as it should.)
    app = "" if application_id is None else f'"app":{_q(application_id)},'
    dec = "" if decision_id is None else f'"dec":{_q(decision_id)},'
    return (f'{{{app}"at":{_q(appended_at)},"body":"{body_sha256}","chain":{_q(chain_id)},'
            f'"country":{_q(country)},{dec}"prev":"{prev_hash}","seq":{int(seq)}}}').encode()


def link_hash(chain_id: str, seq: int, prev_hash: str, appended_at: str, country: str,
              body_sha256: str, application_id: str | None = None,
              decision_id: str | None = None) -> str:
    return sha256_hex(entry_header(chain_id, seq, prev_hash, appended_at, country, body_sha256,
                                   application_id, decision_id))


def entry_hash(chain_id: str, seq: int, prev_hash: str, appended_at: str, country: str,
               body: bytes, application_id: str | None = None,
               decision_id: str | None = None) -> str:
    return link_hash(chain_id, seq, prev_hash, appended_at, country, sha256_hex(body),
                     application_id, decision_id)


def country_of(record: dict[str, Any]) -> str:
    return str(record.get("country") or "")


class Entry(NamedTuple):
    """One stored audit entry: the canonical record and its place in its chain. (A named
    tuple: verify builds one per row, and a frozen dataclass costs several times more.)"""

    chain_id: str
    seq: int
    prev_hash: str
    hash: str
    body: bytes  # canonical JSON of the record
    appended_at: str = ""
    country: str = ""
    application_id: str | None = None  # index keys, as stored beside the entry
    decision_id: str | None = None

    def computed_hash(self) -> str:
        return entry_hash(self.chain_id, self.seq, self.prev_hash, self.appended_at,
                          self.country, self.body, self.application_id, self.decision_id)

    def chain_position(self) -> dict[str, Any]:
        return {"chain_id": self.chain_id, "seq": self.seq, "prev_hash": self.prev_hash,
                "hash": self.hash, "appended_at": self.appended_at}
