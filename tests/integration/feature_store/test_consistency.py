"""Training/serving consistency over every credit_data row: simulators over HTTP -> adapters ->
feature store -> features equals the offline feature matrix, on a cache miss and on a hit."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pytest

from app.schemas import Application
from app.simulators.server import application_for_row
from audit.pii import Pseudonymizer
from decision.enrichment import Enricher
from decision.sections import raw_inputs
from feature_store.redis import RedisConfig, RedisFeatureStore
from models.features import feature_matrix, feature_row
from sources.bureau import bureau_source
from sources.cached import CachingSource
from sources.open_banking import open_banking_source
from training.data import load_credit_data, raw_columns


async def _online_matrix(enricher: Enricher, apps: list[Application]) -> tuple[np.ndarray, int]:
    sem = asyncio.Semaphore(8)

    async def one(app: Application):
        async with sem:
            e = await enricher.enrich(app)
        assert not e.degraded, e.degraded
        hits = sum(s.cache is not None for s in e.sources.values())
        return feature_row(raw_inputs(app, e))[0], hits

    rows = await asyncio.gather(*(one(a) for a in apps))
    return np.vstack([r for r, _ in rows]), sum(h for _, h in rows)


@pytest.mark.slow
def test_online_features_equal_offline_for_every_row(simulators_url, redis_url):
    """All 4,454 rows: online vectors are bit-identical to offline ones, fetched and cached."""
    df = load_credit_data()
    offline = feature_matrix(raw_columns(df))
    apps = [Application.model_validate(application_for_row(r, df)) for r in df.index]
    store = RedisFeatureStore(RedisConfig(url=redis_url, socket_timeout_s=2.0))
    pseudo = Pseudonymizer(b"k" * 32)

    async def run() -> tuple[tuple[np.ndarray, int], tuple[np.ndarray, int]]:
        limits = httpx.Limits(max_connections=16)
        async with httpx.AsyncClient(base_url=f"{simulators_url}/bureau", timeout=30,
                                     limits=limits) as bc, \
                httpx.AsyncClient(base_url=f"{simulators_url}/open-banking", timeout=30,
                                  limits=limits) as oc:
            # Bit-identity is the point here, not the deadline: a cache read that a loaded
            # machine makes late must not count as a miss.
            sources = {"bureau": CachingSource(bureau_source(bc), store, 600, pseudo, 10),
                       "open_banking": CachingSource(open_banking_source(oc), store, 600,
                                                     pseudo, 10)}
            enricher = Enricher(sources, deadline_s=60)
            return await _online_matrix(enricher, apps), await _online_matrix(enricher, apps)

    try:
        (fetched, hits1), (cached, hits2) = asyncio.run(run())
    finally:
        store.close()
    assert hits1 == 0 and hits2 == 2 * len(df)
    np.testing.assert_array_equal(fetched, offline)
    np.testing.assert_array_equal(cached, offline)
