"""The FeatureStore contract: the same behaviour from every backend."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from core import blocking
from feature_store.protocol import BucketRange, FeatureSet

FS = FeatureSet("customer_features", "1")
VALUES = {"income": 120.5, "debt": None, "home": "rent", "records": 0.0, "n": 3}


def test_put_then_get_returns_the_same_values(store):
    """A stored entity reads back exactly, None and types included."""
    store.put(FS, "C-1", VALUES)
    assert store.get(FS, "C-1") == VALUES


def test_missing_entity_is_none(store):
    """An entity never written reads as None and is left out of batches."""
    assert store.get(FS, "nobody") is None
    assert store.get_many(FS, ["nobody"]) == {}


def test_put_overwrites(store):
    """A second put replaces the first (upsert)."""
    store.put(FS, "C-1", VALUES)
    store.put(FS, "C-1", {"income": 1.0})
    assert store.get(FS, "C-1") == {"income": 1.0}


def test_batch_put_and_get(store):
    """put_many/get_many handle more entities than one backend request holds."""
    rows = {f"C-{i}": {"i": i, "x": i / 7} for i in range(260)}
    store.put_many(FS, rows)
    got = store.get_many(FS, [*rows, "absent"])
    assert got == rows


def test_put_many_is_idempotent(store):
    """Writing the same batch twice leaves the same state."""
    rows = {f"C-{i}": {"i": i} for i in range(30)}
    store.put_many(FS, rows)
    store.put_many(FS, rows)
    assert store.get_many(FS, list(rows)) == rows


def test_feature_sets_and_versions_are_separate(store):
    """The same entity in another feature set or version is another entry."""
    v2 = FeatureSet("customer_features", "2")
    other = FeatureSet("bureau_response", "1")
    store.put(FS, "C-1", {"v": 1})
    store.put(v2, "C-1", {"v": 2})
    assert store.get(FS, "C-1") == {"v": 1}
    assert store.get(v2, "C-1") == {"v": 2}
    assert store.get(other, "C-1") is None


def test_entry_expires_after_its_ttl(store):
    """An entry past its TTL reads as missing; one without TTL stays."""
    store.put(FS, "short", {"a": 1}, ttl_s=0.3)
    store.put(FS, "long", {"a": 2})
    assert store.get(FS, "short") == {"a": 1}
    time.sleep(0.5)
    assert store.get(FS, "short") is None
    assert store.get_many(FS, ["short", "long"]) == {"long": {"a": 2}}


def test_feature_set_default_ttl_applies(store):
    """A feature set's own TTL is used when put gives none."""
    fs = FeatureSet("bureau_response", "1", ttl_s=0.3)
    store.put(fs, "x", {"a": 1})
    time.sleep(0.5)
    assert store.get(fs, "x") is None


def test_increment_counts_up_and_reads_back(store):
    """Counters start at the amount, add atomically and read back by batch."""
    assert store.increment(FS, {"a": 1, "b": 2}) == {"a": 1, "b": 2}
    assert store.increment(FS, {"a": 1}) == {"a": 2}
    assert store.counts(FS, ["a", "b", "c"]) == {"a": 2, "b": 2}


def test_counters_and_values_do_not_collide(store):
    """An entity's counter and its feature values are independent."""
    store.put(FS, "a", {"v": 1})
    store.increment(FS, {"a": 5})
    assert store.get(FS, "a") == {"v": 1}
    assert store.counts(FS, ["a"]) == {"a": 5}


def test_expired_counter_is_not_counted(store):
    """A counter past its TTL is left out of counts."""
    store.increment(FS, {"a": 1}, ttl_s=0.3)
    time.sleep(0.5)
    assert store.counts(FS, ["a"]) == {}


def test_concurrent_increments_are_all_counted(store, request):
    """Increments from several threads lose no update. moto's threaded server applies
    UpdateItem without a lock (seen: 38/40 there), while DynamoDB's own ADD is atomic: on
    DynamoDB the increments come in turns instead, from two clients of their own, which shows
    the store adds on the server (no read-then-write on the client) just the same."""
    if request.node.callspec.params["store"] in ("dynamodb", "tiered"):
        from feature_store.factory import build_store
        from tests.contract.conftest import CONFIGS

        other = build_store(CONFIGS[id(store)])
        for i in range(40):
            (store if i % 2 else other).increment(FS, {"k": 1})
        other.close()
        assert store.counts(FS, ["k"]) == {"k": 40}
        return

    def work():
        for _ in range(10):
            store.increment(FS, {"k": 1})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.counts(FS, ["k"]) == {"k": 40}


def test_delete_removes_values_and_counters_of_those_entities_only(store):
    """Erasure: an entity's value and counter are gone; others and other sets stay."""
    other = FeatureSet("bureau_response", "1")
    store.put_many(FS, {"C-1": {"v": 1}, "C-2": {"v": 2}})
    store.put(other, "C-1", {"v": 3})
    store.increment(FS, {"C-1": 2, "C-2": 1})
    assert store.delete(FS, ["C-1", "never"]) >= 1
    assert store.get(FS, "C-1") is None and store.counts(FS, ["C-1"]) == {}
    assert store.get(FS, "C-2") == {"v": 2} and store.counts(FS, ["C-2"]) == {"C-2": 1}
    assert store.get(other, "C-1") == {"v": 3}
    assert store.delete(FS, []) == 0


def test_ping_succeeds_on_a_live_backend(store):
    """ping raises nothing when the backend is up."""
    store.ping()


@pytest.mark.parametrize("name", ["Bad-Name", "", "x" * 65])
def test_feature_set_names_are_validated(name):
    """Feature set names are snake_case (they become key prefixes)."""
    with pytest.raises(ValueError):
        FeatureSet(name, "1")


def test_increment_and_count_adds_with_each_ttl_then_reads(store):
    """The velocity's one call: each counter added with its own TTL, then the asked
    counters read back (the new values included); a short TTL expires alone."""
    store.increment(FS, {"a": 2})
    got = store.increment_and_count(FS, {"a": (1, None), "s": (1, 0.3), "l": (4, 60.0)},
                                    ["a", "s", "l", "none"])
    assert got == {"a": 3, "s": 1, "l": 4}
    time.sleep(0.5)
    assert store.counts(FS, ["a", "s", "l"]) == {"a": 3, "l": 4}
    assert store.increment_and_count(FS, {}, []) == {}


def test_a_negative_amount_takes_back_what_was_added(store):
    """Velocity takes back a duplicate's count (decision/orchestrator.py): the same buckets,
    minus one each, and the sums read as if it had never been counted."""
    store.increment_and_sum(FS, {"s|1": (1, 60.0), "s|2": (2, 60.0)}, {})
    store.increment_and_count(FS, {"s|1": (-1, 60.0), "s|2": (-1, 60.0)}, [])
    assert store.increment_and_sum(FS, {}, {"all": BucketRange("s|", 0, 3)}) == {"all": 1}
    if hasattr(store, "durable"):  # tiered: the durable copy agrees with the cache
        assert store.durable.counts(FS, ["s|1", "s|2"]) == {"s|1": 0, "s|2": 1}


def test_increment_and_sum_adds_then_sums_each_range(store):
    """The velocity's one call: the counters added (each with its own TTL), then each
    range's sum, the new values included; missing and expired buckets count 0."""
    store.increment(FS, {"s|5": 2, "s|7": 1, "t|6": 9})
    store.increment(FS, {"s|6": 100}, ttl_s=0.2)
    time.sleep(0.4)
    got = store.increment_and_sum(
        FS, {"s|8": (1, 60.0), "s|9": (3, None), "t|9": (1, 0.3)},
        {"all": BucketRange("s|", 4, 9), "last2": BucketRange("s|", 8, 9),
         "other": BucketRange("t|", 5, 9), "none": BucketRange("u|", 1, 3),
         "empty": BucketRange("s|", 9, 8)})
    assert got == {"all": 2 + 1 + 1 + 3, "last2": 4, "other": 10, "none": 0, "empty": 0}
    time.sleep(0.5)
    assert store.increment_and_sum(FS, {}, {"t": BucketRange("t|", 6, 9)}) == {"t": 9}
    assert store.increment_and_sum(FS, {}, {}) == {}


def test_a_range_sums_exactly_its_buckets_across_a_digit_count(store):
    """Buckets 8..12 are s|8 to s|12 and nothing else: not s|100 (between s|10 and s|11 as
    text), s|011, s|09, s|7, s|13 nor t|8; and 10..29 does not count s|1x (between s|10
    and s|29 as text)."""
    store.increment(FS, {"s|8": 1, "s|9": 2, "s|10": 4, "s|12": 8})
    store.increment(FS, {"s|100": 100, "s|1x": 100, "s|011": 100, "s|09": 100, "s|7": 100,
                         "s|13": 100, "t|8": 100, "s|8x": 100})
    got = store.increment_and_sum(FS, {"s|11": (16, None)},
                                  {"w": BucketRange("s|", 8, 12), "zero": BucketRange("s|", 0, 0),
                                   "tens": BucketRange("s|", 10, 29),
                                   "hundred": BucketRange("s|", 99, 100)})
    assert got == {"w": 1 + 2 + 4 + 16 + 8, "zero": 0, "tens": 4 + 16 + 8 + 100,
                   "hundred": 100}


def test_many_counters_at_once_are_all_counted(store):
    """More counters in one call than a backend sends in one statement or request."""
    amounts = {f"e{i}": (i % 3 + 1, 60.0) for i in range(1_201)}
    got = store.increment_and_count(FS, amounts, list(amounts))
    assert got == {e: n for e, (n, _) in amounts.items()}
    assert store.counts(FS, ["e0", "e1200", "missing"]) == {"e0": 1, "e1200": 1}


def lane_turn(calls):
    """The calls made in one turn of the event loop on the feature lane (core/blocking.py),
    as the orchestrator's decisions make them: handed to the store's `call_many` if it has
    one, else made one by one."""
    async def run():
        return await asyncio.gather(*(blocking.call(fn, *args, timeout_s=5.0, lane="features")
                                      for fn, args in calls), return_exceptions=True)
    return asyncio.run(run())


def test_a_lane_turn_answers_as_the_calls_made_one_by_one(store):
    """Several decisions' cached reads and velocity calls in one turn: each answered as if
    made alone, in order (the second call on a subject sees the first one's increment)."""
    store.put(FS, "e1", {"v": 1})
    store.increment(FS, {"s|9": 5})

    def velocity(subject):
        return (FS, {f"{subject}|10": (1, 60.0)}, {"n": BucketRange(f"{subject}|", 9, 10)})

    got = lane_turn([(store.get, (FS, "e1")), (store.increment_and_sum, velocity("s")),
                     (store.get, (FS, "missing")), (store.increment_and_sum, velocity("s")),
                     (store.increment_and_sum, velocity("t"))])
    assert got == [{"v": 1}, {"n": 6}, None, {"n": 7}, {"n": 1}]
    assert store.counts(FS, ["s|10", "t|10"]) == {"s|10": 2, "t|10": 1}
