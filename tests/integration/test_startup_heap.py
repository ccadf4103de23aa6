"""After start-up, what it built is frozen out of the garbage collector's scans (ADR 0141):
full collections then look only at what requests leave behind."""

import asyncio
import gc

from tests.integration.rollout_app import client, settings_for


def test_the_start_up_heap_is_frozen_once_the_app_has_started(data_dir, simulators_url):
    gc.unfreeze()
    try:
        async def scenario():
            assert gc.get_freeze_count() == 0
            async with client(settings_for(data_dir, simulators_url)) as (c, _):
                frozen = gc.get_freeze_count()
                assert (await c.get("/healthz")).status_code == 200
            return frozen

        # The model, the registry client and every imported module: far more than a handful.
        assert asyncio.run(scenario()) > 10_000
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual
