"""The Redis store's counter hashes (ADR 0160), on a real redis-server: a window's buckets are
fields of one hash, expired fields go, and counters of the layout before move over once."""

from __future__ import annotations

import time

import redis

from audit.pii import Pseudonymizer
from feature_store.protocol import BucketRange, FeatureSet
from feature_store.redis import RedisConfig, RedisFeatureStore
from feature_store.velocity import VELOCITY_SET, WINDOWS, Velocity

FS = FeatureSet("application_velocity", "2")


def command_calls(r: redis.Redis) -> dict[str, int]:
    return {k.removeprefix("cmdstat_"): v["calls"] for k, v in r.info("commandstats").items()}


def test_a_velocity_call_touches_one_hash_per_subject_and_window(redis_url):
    r = redis.Redis.from_url(redis_url)
    velocity = Velocity(RedisFeatureStore(RedisConfig(url=redis_url)), Pseudonymizer(b"k" * 32))
    velocity.record("C-1", "NID-1")
    r.config_resetstat()
    got = velocity.record("C-1", "NID-1")
    assert set(got.values()) == {2}
    calls = command_calls(r)
    # 2 subjects x 3 windows: a read of each hash, no key per bucket (132 before).
    assert calls["hgetall"] == 6 and "mget" not in calls and "get" not in calls
    hashes = sorted(k.decode() for k in r.scan_iter(match=f"fs:{VELOCITY_SET.key}:*"))
    assert len(hashes) == 6 and all(":c:" in k for k in hashes)
    longest = max(w.bucket_s * (w.buckets + 1) for w in WINDOWS) * 1000
    assert all(0 < r.pttl(k) <= longest for k in hashes)


def test_expired_buckets_leave_the_hash_when_it_is_read(redis_url):
    r = redis.Redis.from_url(redis_url)
    store = RedisFeatureStore(RedisConfig(url=redis_url))
    store.increment(FS, {"s|1": 5}, ttl_s=0.2)
    store.increment(FS, {"s|2": 1}, ttl_s=60)
    time.sleep(0.4)
    assert store.increment_and_sum(FS, {}, {"w": BucketRange("s|", 0, 9)}) == {"w": 1}
    assert r.hkeys(f"fs:{FS.key}:c:s|") == [b"2"]
    # The hash lives as long as its longest-lived field, and goes with it.
    assert 50_000 < r.pttl(f"fs:{FS.key}:c:s|") <= 60_000


def test_a_counter_that_never_expires_keeps_its_hash(redis_url):
    r = redis.Redis.from_url(redis_url)
    store = RedisFeatureStore(RedisConfig(url=redis_url))
    store.increment(FS, {"s|1": 1})
    store.increment(FS, {"s|2": 1}, ttl_s=0.2)
    assert r.pttl(f"fs:{FS.key}:c:s|") == -1
    time.sleep(0.4)
    assert store.counts(FS, ["s|1", "s|2"]) == {"s|1": 1}


def test_counters_of_the_old_layout_move_once_with_their_time_left(redis_url):
    r = redis.Redis.from_url(redis_url)
    store = RedisFeatureStore(RedisConfig(url=redis_url))
    old = f"fs:{FS.key}:n:"
    r.set(old + "c:ab|1h|100", 3, px=60_000)
    r.set(old + "plain", 7)
    r.set(f"fs:{FS.key}:v:x:n:y", b"{}")  # a value whose entity has ':n:' in it stays
    r.set("fs:odd:n:z", 1)  # not a key of ours (no version): left alone
    store.increment(FS, {"c:ab|1h|100": 1}, ttl_s=60)  # counted since the upgrade
    assert store.move_old_counters(batch=1) == 2
    assert store.counts(FS, ["c:ab|1h|100", "plain"]) == {"c:ab|1h|100": 4, "plain": 7}
    assert not r.exists(old + "c:ab|1h|100", old + "plain")
    assert r.exists(f"fs:{FS.key}:v:x:n:y", "fs:odd:n:z") == 2
    assert 50_000 < r.pttl(f"fs:{FS.key}:c:c:ab|1h|") <= 60_000
    assert store.move_old_counters() == 0
    assert store.counts(FS, ["c:ab|1h|100"]) == {"c:ab|1h|100": 4}


def test_a_range_whose_names_are_not_buckets_sums_counters_of_their_own(redis_url):
    """`e1`..`e3` are no `<prefix>|<n>` buckets: each is a counter of its own, summed by the
    client (missing ones count 0, an empty range 0)."""
    store = RedisFeatureStore(RedisConfig(url=redis_url))
    store.increment(FS, {"e1": 2, "e3": 5, "e4": 100})
    got = store.increment_and_sum(FS, {"e2": (1, None)},
                                  {"w": BucketRange("e", 1, 3), "none": BucketRange("e", 7, 9),
                                   "empty": BucketRange("e", 3, 2)})
    assert got == {"w": 2 + 1 + 5, "none": 0, "empty": 0}
