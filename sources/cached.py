"""Cost saver: a Source that answers from the feature store while a source's last answer is
fresh, and stores every new answer. A bureau call costs money; a recent applicant costs none.

The cache key is the keyed pseudonym of the national id (never the id itself). The entry keeps
what the audit record needs: the values and the SHA-256 of the raw response; a hit is marked
on the result so the record says the data came from the cache and when it was fetched.
A store failure never fails the fetch: it falls back to the source (and skips the write).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from audit.pii import Pseudonymizer
from core import blocking
from feature_store.protocol import FeatureSet, FeatureStore
from sources.base import Source, SourceResult

log = logging.getLogger(__name__)
RESPONSE_SET_VERSION = "1"


def response_set(source: str, ttl_s: float) -> FeatureSet:
    return FeatureSet(f"{source}_response", RESPONSE_SET_VERSION, ttl_s)


class CachingSource:
    def __init__(self, inner: Source, store: FeatureStore, ttl_s: float,
                 pseudonymizer: Pseudonymizer, timeout_s: float = 0.2) -> None:
        self.name = inner.name
        self._inner = inner
        self._store = store
        self._fs = response_set(inner.name, ttl_s)
        self._pseudo = pseudonymizer
        self._timeout_s = timeout_s

    async def fetch(self, national_id: str) -> SourceResult:
        start = time.perf_counter()
        key = self._pseudo.national_id(national_id)
        try:
            hit = await blocking.call(self._store.get, self._fs, key, timeout_s=self._timeout_s,
                                      lane="features")
        except Exception as exc:  # a store outage costs a source call, nothing more
            log.warning("feature store read failed for %s: %s", self.name, type(exc).__name__)
            hit = None
        if hit is not None:
            return SourceResult(hit["values"], hit["raw_sha256"],
                                (time.perf_counter() - start) * 1000, cached_at=hit["fetched_at"])
        res = await self._inner.fetch(national_id)
        entry = {"values": res.values, "raw_sha256": res.raw_sha256,
                 "fetched_at": datetime.now(UTC).isoformat()}
        try:
            await blocking.call(self._store.put, self._fs, key, entry, timeout_s=self._timeout_s,
                                lane="features")
        except Exception as exc:
            log.warning("feature store write failed for %s: %s", self.name, type(exc).__name__)
        return res
