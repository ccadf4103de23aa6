"""benchmarks/feature_store.py: what redis-server spends on a decision's store calls."""

from benchmarks.feature_store import decision_calls
from feature_store.redis import RedisConfig, RedisFeatureStore


def test_a_decisions_calls_are_read_from_the_servers_own_counters(redis_url):
    store = RedisFeatureStore(RedisConfig(url=redis_url, socket_timeout_s=5.0))
    try:
        got = decision_calls(store, redis_url, decisions=40, customers=4)
    finally:
        store.close()
    commands = got["commands"]
    assert commands["evalsha"]["calls"] == 40  # one velocity script a decision
    assert commands["get"]["calls"] == 80  # two cached source reads a decision
    # Each window hash is written and summed in every script: 6 of each a decision.
    assert commands["hset"]["calls"] >= 240 and commands["hgetall"]["calls"] == 240
    assert 0 < got["commands_in_script_us_per_call"] < got["script_us_per_call"]
    assert got["server_cpu_us_per_decision"] > 0 and got["client_wall_us_per_decision"] > 0
