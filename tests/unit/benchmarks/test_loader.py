"""The application ids the benchmark sends."""

from benchmarks.loader import id_prefix
from decision.application import Application


def test_a_long_target_label_still_gives_ids_the_api_accepts():
    # The longest a run makes: a code ref's A/B of the longest configuration, re-measured.
    prefix = id_prefix("a1b2c3", "embedded-passes-in-workers-at-ecc5a46-cache_hit-r12",
                       "c32-again3")
    worst = f"{prefix}-2-{10**9}"  # wrk's thread id and request counter (wrk_bodies.lua)
    Application.__pydantic_validator__.validate_assignment(
        Application.model_construct(), "application_id", worst)  # raises if the API would 422


def test_each_load_gets_its_own_ids():
    prefixes = {id_prefix("a1b2c3", label, part)
                for label in ("embedded-cache_hit-r1", "embedded-cache_hit-r2")
                for part in ("warm", "c8", "c8-again1", "open")}
    assert len(prefixes) == 8
    assert id_prefix("d4e5f6", "embedded-cache_hit-r1", "c8") not in prefixes
