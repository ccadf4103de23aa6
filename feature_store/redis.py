"""Online backend: Redis. One string key per entity (JSON value, PX expiry); batches go through
MGET and non-transactional pipelines, so a batch costs one round trip. The velocity call
(`increment_and_sum`) is one Lua script: it builds the windows' bucket keys on the server
and returns their sums, so a decision sends 6 keys instead of 138 and gets 6 numbers back
(ADR 0148). Those bucket keys are not declared to Redis: a single node only."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, Literal

import orjson
import redis
from pydantic import BaseModel, Field
from redis.exceptions import NoScriptError

from feature_store.protocol import BucketRange, FeatureSet, alone, ttl_of


class RedisConfig(BaseModel):
    type: Literal["redis"] = "redis"
    url: str = "redis://127.0.0.1:6379/0"
    # Small timeouts: a frozen Redis must fail fast so the tiered store can fall back.
    socket_timeout_s: float = Field(default=0.05, gt=0)
    connect_timeout_s: float = Field(default=0.05, gt=0)
    key_prefix: str = "fs"


# KEYS: the counters to add to; ARGV: for each, its amount and PX (0: none), then per range
# its key prefix, first and last bucket. Returns each range's sum. Atomic, as MULTI was.
_INCREMENT_AND_SUM = """
local out, a = {}, 1
for i = 1, #KEYS do
  redis.call('INCRBY', KEYS[i], ARGV[a])
  if tonumber(ARGV[a + 1]) > 0 then redis.call('PEXPIRE', KEYS[i], ARGV[a + 1]) end
  a = a + 2
end
while a <= #ARGV do
  local keys = {}
  for b = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]) do keys[#keys + 1] = ARGV[a] .. b end
  local sum = 0
  if #keys > 0 then
    for _, v in ipairs(redis.call('MGET', unpack(keys))) do
      if v then sum = sum + tonumber(v) end
    end
  end
  out[#out + 1] = sum
  a = a + 3
end
return out
"""


def _decoded(raw: bytes | None) -> dict[str, Any] | None:
    return None if raw is None else orjson.loads(raw)


def _sums(ranges: Mapping[str, BucketRange], sums: Sequence[Any]) -> dict[str, int]:
    return {name: int(n) for name, n in zip(ranges, sums, strict=True)}


def _px(ttl_s: float | None) -> int | None:
    return None if ttl_s is None else max(1, int(ttl_s * 1000))


class RedisFeatureStore:
    def __init__(self, config: RedisConfig) -> None:
        self._prefix = config.key_prefix
        self._r = redis.Redis.from_url(config.url, socket_timeout=config.socket_timeout_s,
                                       socket_connect_timeout=config.connect_timeout_s)
        self._increment_and_sum = self._r.register_script(_INCREMENT_AND_SUM)

    def _key(self, fs: FeatureSet, entity: str, kind: str = "v") -> str:
        return f"{self._prefix}:{fs.key}:{kind}:{entity}"

    def get(self, fs: FeatureSet, entity: str) -> dict[str, Any] | None:
        return _decoded(self._r.get(self._key(fs, entity)))

    def get_many(self, fs: FeatureSet, entities: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not entities:
            return {}
        raws = self._r.mget([self._key(fs, e) for e in entities])
        return {e: orjson.loads(v) for e, v in zip(entities, raws, strict=True) if v is not None}

    def put(self, fs: FeatureSet, entity: str, values: Mapping[str, Any],
            ttl_s: float | None = None) -> None:
        self._r.set(self._key(fs, entity), orjson.dumps(dict(values)), px=_px(ttl_of(fs, ttl_s)))

    def put_many(self, fs: FeatureSet, rows: Mapping[str, Mapping[str, Any]],
                 ttl_s: float | None = None) -> None:
        self.put_encoded(fs, {e: orjson.dumps(dict(v)) for e, v in rows.items()},
                         _px(ttl_of(fs, ttl_s)))

    def put_encoded(self, fs: FeatureSet, rows: Mapping[str, bytes], px: int | None,
                    per_row_px: Mapping[str, int] | None = None) -> None:
        """Already-encoded values; `per_row_px` overrides the expiry of single rows (refills)."""
        if not rows:
            return
        pipe = self._r.pipeline(transaction=False)
        if px is None and not per_row_px:
            pipe.mset({self._key(fs, e): v for e, v in rows.items()})
        else:
            for e, v in rows.items():
                pipe.set(self._key(fs, e), v, px=(per_row_px or {}).get(e, px))
        pipe.execute()

    def increment(self, fs: FeatureSet, amounts: Mapping[str, int],
                  ttl_s: float | None = None) -> dict[str, int]:
        px = _px(ttl_of(fs, ttl_s))
        pipe = self._r.pipeline(transaction=True)
        for e, n in amounts.items():
            key = self._key(fs, e, "n")
            pipe.incrby(key, n)
            if px is not None:
                pipe.pexpire(key, px)
        res = pipe.execute()
        step = 1 if px is None else 2
        return {e: int(res[i * step]) for i, e in enumerate(amounts)}

    def increment_and_count(self, fs: FeatureSet, amounts: Mapping[str, tuple[int, float | None]],
                            entities: Sequence[str]) -> dict[str, int]:
        # One MULTI/EXEC round trip: the increments, their expiries, then the read.
        pipe = self._r.pipeline(transaction=True)
        for e, (n, ttl_s) in amounts.items():
            key = self._key(fs, e, "n")
            pipe.incrby(key, n)
            px = _px(ttl_s)
            if px is not None:
                pipe.pexpire(key, px)
        if entities:
            pipe.mget([self._key(fs, e, "n") for e in entities])
        raws = pipe.execute()[-1] if entities else []
        return {e: int(v) for e, v in zip(entities, raws, strict=True) if v is not None}

    def increment_and_sum(self, fs: FeatureSet, amounts: Mapping[str, tuple[int, float | None]],
                          ranges: Mapping[str, BucketRange]) -> dict[str, int]:
        keys, args = self._script_args(fs, amounts, ranges)
        return _sums(ranges, self._increment_and_sum(keys=keys, args=args))

    def _script_args(self, fs: FeatureSet, amounts: Mapping[str, tuple[int, float | None]],
                     ranges: Mapping[str, BucketRange]) -> tuple[list[str], list[str | int]]:
        args: list[str | int] = []
        for n, ttl_s in amounts.values():
            args += [n, _px(ttl_s) or 0]
        for r in ranges.values():
            args += [self._key(fs, r.prefix, "n"), r.first, r.last]
        return [self._key(fs, e, "n") for e in amounts], args

    def call_many(self, calls: Sequence[tuple[Callable[..., Any], tuple[Any, ...]]]
                  ) -> list[tuple[Any, BaseException | None]]:
        """The calls of one turn of the feature lane (core/blocking.py): several decisions'
        cached source reads and velocity scripts in one pipeline, one round trip instead of
        one each (ADR 0149). Not a transaction: each is as atomic as when made alone (a GET,
        a script). Any other call in the batch: each made alone."""
        pipe = self._r.pipeline(transaction=False)
        decoders: list[Callable[[Any], Any]] = []
        for fn, args in calls:
            method = getattr(fn, "__func__", None)
            if method is RedisFeatureStore.get:
                fs, entity = args
                pipe.get(self._key(fs, entity))
                decoders.append(_decoded)
            elif method is RedisFeatureStore.increment_and_sum:
                keys, script_args = self._script_args(*args)
                # EVALSHA, not the Script object: on a pipeline that asks SCRIPT EXISTS first,
                # a round trip more. A server without the script (restarted) says NOSCRIPT.
                pipe.evalsha(self._increment_and_sum.sha, len(keys), *keys, *script_args)
                decoders.append(partial(_sums, args[2]))
            else:
                return [alone(fn, args) for fn, args in calls]
        replies = pipe.execute(raise_on_error=False)
        out: list[tuple[Any, BaseException | None]] = []
        for (fn, args), decode, reply in zip(calls, decoders, replies, strict=True):
            if isinstance(reply, NoScriptError):
                out.append(alone(fn, args))  # the Script object loads it again
            elif isinstance(reply, Exception):
                out.append((None, reply))
            else:
                out.append(alone(decode, (reply,)))
        return out

    def set_counts(self, fs: FeatureSet, counts: Mapping[str, int], px: int | None) -> None:
        """Overwrite counters with authoritative values (the tiered store's write-through)."""
        if not counts:
            return
        pipe = self._r.pipeline(transaction=False)
        for e, n in counts.items():
            pipe.set(self._key(fs, e, "n"), n, px=px)
        pipe.execute()

    def counts(self, fs: FeatureSet, entities: Sequence[str]) -> dict[str, int]:
        if not entities:
            return {}
        raws = self._r.mget([self._key(fs, e, "n") for e in entities])
        return {e: int(v) for e, v in zip(entities, raws, strict=True) if v is not None}

    def delete(self, fs: FeatureSet, entities: Sequence[str]) -> int:
        if not entities:
            return 0
        return int(self._r.delete(*(self._key(fs, e, kind) for e in entities
                                    for kind in ("v", "n"))))

    def ping(self) -> None:
        self._r.ping()

    def close(self) -> None:
        self._r.close()
