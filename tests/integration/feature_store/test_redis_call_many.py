"""The Redis store's `call_many` (core/blocking.py hands it a feature-lane turn): through one
pipeline, the same answers as the calls made one by one, on a real redis-server."""

from __future__ import annotations

import redis

from feature_store.protocol import BucketRange, FeatureSet
from feature_store.redis import RedisConfig, RedisFeatureStore
from tests.contract.test_feature_store import lane_turn

FS = FeatureSet("bureau", "1")
VELO = FeatureSet("application_velocity", "2")


def velocity_args(subject: str):
    return (VELO, {f"{subject}|h|10": (1, 3600.0)}, {"n": BucketRange(f"{subject}|h|", 9, 10)})


def calls(url: str) -> dict[str, int]:
    stats = redis.Redis.from_url(url).info("commandstats")
    return {c: stats.get(f"cmdstat_{c}", {}).get("calls", 0) for c in ("get", "evalsha", "script")}


def test_a_turn_of_reads_and_scripts_answers_as_the_calls_alone(redis_url):
    store = RedisFeatureStore(RedisConfig(url=redis_url))
    store.put(FS, "e1", {"v": 1})
    store.increment_and_sum(*velocity_args("s"))  # loads the script; 1 in bucket 10
    before = calls(redis_url)
    got = lane_turn([(store.get, (FS, "e1")), (store.increment_and_sum, velocity_args("s")),
                (store.get, (FS, "missing")), (store.increment_and_sum, velocity_args("t"))])
    assert got == [{"v": 1}, {"n": 2}, None, {"n": 1}]
    after = calls(redis_url)
    # Two GETs, two EVALSHAs and no SCRIPT EXISTS (the Script object on a pipeline asks it).
    assert {c: after[c] - before[c] for c in after} == {"get": 2, "evalsha": 2, "script": 0}


def test_a_server_that_lost_the_script_gets_it_again(redis_url):
    """After a restart or SCRIPT FLUSH the pipelined EVALSHA says NOSCRIPT: that call is
    made alone, which loads the script; the other calls' answers stand."""
    store = RedisFeatureStore(RedisConfig(url=redis_url))
    store.put(FS, "e1", {"v": 1})
    redis.Redis.from_url(redis_url).script_flush()
    got = lane_turn([(store.increment_and_sum, velocity_args("s")), (store.get, (FS, "e1"))])
    assert got == [{"n": 1}, {"v": 1}]


def test_other_calls_in_the_turn_are_made_one_by_one(redis_url):
    store = RedisFeatureStore(RedisConfig(url=redis_url))
    got = lane_turn([(store.put, (FS, "e2", {"v": 2})), (store.get, (FS, "e2"))])
    assert got == [None, {"v": 2}]


def test_a_dead_server_fails_every_caller_of_the_turn():
    store = RedisFeatureStore(RedisConfig(url="redis://127.0.0.1:1/0"))
    got = lane_turn([(store.get, (FS, "e1")), (store.increment_and_sum, velocity_args("s"))])
    assert all(isinstance(r, redis.ConnectionError) for r in got)
