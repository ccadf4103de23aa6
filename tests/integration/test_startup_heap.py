"""After start-up, what it built is frozen out of the garbage collector's scans (ADR 0141):
full collections then look only at what requests leave behind; and young collections come
late enough that a request's objects die by reference count first (ADR 0159)."""

import asyncio
import gc

from app.main import YOUNG_GC_THRESHOLD
from tests.integration.rollout_app import client, settings_for


def test_the_start_up_heap_is_frozen_once_the_app_has_started(data_dir, simulators_url):
    gc.unfreeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(700, *thresholds[1:])  # Python's default: an app started earlier changed it
    try:
        async def scenario():
            assert gc.get_freeze_count() == 0
            async with client(settings_for(data_dir, simulators_url)) as (c, _):
                frozen, started = gc.get_freeze_count(), gc.get_threshold()
                assert (await c.get("/healthz")).status_code == 200
            return frozen, started

        frozen, started = asyncio.run(scenario())
        # The model, the registry client and every imported module: far more than a handful.
        assert frozen > 10_000
        assert started == (YOUNG_GC_THRESHOLD, *thresholds[1:])
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual
        gc.set_threshold(*thresholds)
