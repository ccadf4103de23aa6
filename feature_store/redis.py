"""Online backend: Redis. One string key per entity's values (JSON, PX expiry); batches go
through MGET and non-transactional pipelines, so a batch costs one round trip.

Counters live in hashes, and every counter call is one Lua script (`_COUNTERS`) that writes,
then reads or sums (ADR 0160). A window bucket `<prefix>|<n>` (`BucketRange`'s names) is field
`n` of the hash `<prefix>|`, so a velocity call reads 6 small hashes instead of building and
reading 132 keys. Any other counter is field `_` of a hash of its own name. Redis 7.0 has no
expiry per hash field, so a field's value is `<count>:<expires at, ms of the server's clock;
0: never>`, and a hash lives as long as its longest-lived field. A decision's hashes would
need one slot in Redis Cluster: a single node only."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, Literal

import orjson
import redis
from pydantic import BaseModel, Field
from redis.exceptions import NoScriptError

from feature_store.protocol import BucketRange, FeatureSet, alone, ttl_of

_BUCKET = re.compile(r"^(.*\|)(0|[1-9][0-9]*)$")


class RedisConfig(BaseModel):
    type: Literal["redis"] = "redis"
    url: str = "redis://127.0.0.1:6379/0"
    # Small timeouts: a frozen Redis must fail fast so the tiered store can fall back.
    socket_timeout_s: float = Field(default=0.05, gt=0)
    connect_timeout_s: float = Field(default=0.05, gt=0)
    key_prefix: str = "fs"


# Shared by the scripts: `now`; `live`, a field's count unless it has expired; `write`, a
# field added to or set, with its expiry (field `p` marks a hash holding a field that never
# expires; otherwise the hash expires with its longest-lived field).
_FUNCTIONS = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local function live(v)
  if not v then return nil end
  local c = string.find(v, ':', 1, true)
  local at = tonumber(string.sub(v, c + 1))
  if at ~= 0 and at <= now then return nil end
  return tonumber(string.sub(v, 1, c - 1))
end
local function write(h, f, op, n, px)
  if op == '+' then n = n + (live(redis.call('HGET', h, f)) or 0) end
  redis.call('HSET', h, f, string.format('%d:%d', n, px > 0 and now + px or 0))
  if px <= 0 then
    redis.call('HSET', h, 'p', 1)
    redis.call('PERSIST', h)
  elseif redis.call('PEXPIRE', h, px, 'GT') == 0 and redis.call('PTTL', h) == -1
      and redis.call('HEXISTS', h, 'p') == 0 then
    redis.call('PEXPIRE', h, px)  -- a new hash (GT counts no expiry as forever)
  end
  return n
end
"""
# KEYS: the counter hashes. ARGV[1]: how many writes; then per write its hash's index, field,
# op ("+" adds, "=" sets), amount and PX (0: never expires); then per read its hash's index
# and either a field (its count, or false if missing or expired) or a first and a last bucket
# (their sum). Returns the writes' new counts, then the reads. Atomic, as one script is.
# A range read removes the expired fields it meets.
_COUNTERS = _FUNCTIONS + """
local out, a = {}, 2
for _ = 1, tonumber(ARGV[1]) do
  out[#out + 1] = write(KEYS[tonumber(ARGV[a])], ARGV[a + 1], ARGV[a + 2],
                        tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]))
  a = a + 5
end
while a <= #ARGV do
  local h = KEYS[tonumber(ARGV[a])]
  if ARGV[a + 2] == '' then
    out[#out + 1] = live(redis.call('HGET', h, ARGV[a + 1])) or false
  else
    local first, last, sum, stale = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), 0, {}
    local all = redis.call('HGETALL', h)
    for j = 1, #all, 2 do
      local f = all[j]
      if f ~= 'p' then
        local n = live(all[j + 1])
        if not n then stale[#stale + 1] = f
        elseif f ~= '_' then
          local b = tonumber(f)
          if b >= first and b <= last then sum = sum + n end
        end
      end
    end
    if #stale > 0 then redis.call('HDEL', h, unpack(stale)) end
    out[#out + 1] = sum
  end
  a = a + 3
end
return out
"""
# Counters kept before ADR 0160, one string key each (KEYS[1]), added into their field (KEYS[2],
# ARGV[1]) with the time they had left, then deleted: each moved once, whatever runs beside.
_MOVE = _FUNCTIONS + """
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local px = redis.call('PTTL', KEYS[1])
write(KEYS[2], ARGV[1], '+', tonumber(v), px == 0 and 1 or px)
redis.call('DEL', KEYS[1])
return 1
"""


def _counter(entity: str) -> tuple[str, str]:
    """Where a counter lives: (its hash's name, its field)."""
    m = _BUCKET.match(entity)
    return (m.group(1), m.group(2)) if m else (entity, "_")


class _Counters:
    """One `_COUNTERS` call: its keys and arguments, built write by write and read by read,
    and its reply read back (the writes' new counts, then each read's)."""

    def __init__(self, hash_key: Callable[[str], str]) -> None:
        self._hash_key = hash_key
        self._index: dict[str, int] = {}
        self._writes: list[str | int] = []
        self._reads: list[str | int] = []
        self._shape: list[int] = []  # how many reply items each read or sum takes
        self.n_writes = 0

    def _hash(self, name: str) -> int:
        return self._index.setdefault(name, len(self._index) + 1)

    def write(self, entity: str, op: str, amount: int, px: int | None) -> None:
        name, field = _counter(entity)
        self._writes += [self._hash(name), field, op, amount, px or 0]
        self.n_writes += 1

    def _read(self, entity: str) -> None:
        name, field = _counter(entity)
        self._reads += [self._hash(name), field, ""]

    def read(self, entity: str) -> None:
        self._read(entity)
        self._shape.append(1)

    def sum(self, r: BucketRange) -> None:
        if r.prefix.endswith("|"):
            self._reads += [self._hash(r.prefix), r.first, r.last]
            self._shape.append(1)
        else:  # not buckets' names: counters of their own, summed here
            entities = r.entities()
            for e in entities:
                self._read(e)
            self._shape.append(len(entities))

    def keys(self) -> list[str]:
        return [self._hash_key(name) for name in self._index]

    def args(self) -> list[str | int]:
        return [self.n_writes, *self._writes, *self._reads]

    def written(self, reply: Sequence[Any]) -> list[int]:
        return [int(n) for n in reply[:self.n_writes]]

    def read_back(self, reply: Sequence[Any]) -> list[int | None]:
        """Each read's count (None: missing or expired), each sum's total."""
        items, out = reply[self.n_writes:], []
        for k in self._shape:
            got, items = [int(n) for n in items[:k] if n is not None], items[k:]
            out.append(sum(got) if got else None)
        return out


def _decoded(raw: bytes | None) -> dict[str, Any] | None:
    return None if raw is None else orjson.loads(raw)


def _sums(ranges: Mapping[str, BucketRange], counters: _Counters, reply: Sequence[Any]
          ) -> dict[str, int]:
    return {name: n or 0 for name, n in zip(ranges, counters.read_back(reply), strict=True)}


def _px(ttl_s: float | None) -> int | None:
    return None if ttl_s is None else max(1, int(ttl_s * 1000))


class RedisFeatureStore:
    def __init__(self, config: RedisConfig) -> None:
        self._prefix = config.key_prefix
        self._r = redis.Redis.from_url(config.url, socket_timeout=config.socket_timeout_s,
                                       socket_connect_timeout=config.connect_timeout_s)
        self._counters = self._r.register_script(_COUNTERS)
        self._move = self._r.register_script(_MOVE)

    def _key(self, fs: FeatureSet | str, entity: str, kind: str = "v") -> str:
        """`fs`: the feature set, or its key (`<set name>:v<version>`)."""
        return f"{self._prefix}:{fs if isinstance(fs, str) else fs.key}:{kind}:{entity}"

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

    def _counter_call(self, fs: FeatureSet) -> _Counters:
        return _Counters(partial(self._key, fs, kind="c"))

    def _run(self, counters: _Counters) -> list[Any]:
        return self._counters(keys=counters.keys(), args=counters.args())

    def increment(self, fs: FeatureSet, amounts: Mapping[str, int],
                  ttl_s: float | None = None) -> dict[str, int]:
        ttl = ttl_of(fs, ttl_s)
        c = self._add_call(fs, {e: (n, ttl) for e, n in amounts.items()})
        return dict(zip(amounts, c.written(self._run(c)), strict=True))

    def increment_and_count(self, fs: FeatureSet, amounts: Mapping[str, tuple[int, float | None]],
                            entities: Sequence[str]) -> dict[str, int]:
        c = self._add_call(fs, amounts)
        for e in entities:
            c.read(e)
        got = c.read_back(self._run(c))
        return {e: n for e, n in zip(entities, got, strict=True) if n is not None}

    def increment_and_sum(self, fs: FeatureSet, amounts: Mapping[str, tuple[int, float | None]],
                          ranges: Mapping[str, BucketRange]) -> dict[str, int]:
        c = self._sum_call(fs, amounts, ranges)
        return _sums(ranges, c, self._run(c))

    def _add_call(self, fs: FeatureSet, amounts: Mapping[str, tuple[int, float | None]]
                  ) -> _Counters:
        c = self._counter_call(fs)
        for e, (n, ttl_s) in amounts.items():
            c.write(e, "+", n, _px(ttl_s))
        return c

    def _sum_call(self, fs: FeatureSet, amounts: Mapping[str, tuple[int, float | None]],
                  ranges: Mapping[str, BucketRange]) -> _Counters:
        c = self._add_call(fs, amounts)
        for r in ranges.values():
            c.sum(r)
        return c

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
                c = self._sum_call(*args)
                keys = c.keys()
                # EVALSHA, not the Script object: on a pipeline that asks SCRIPT EXISTS first,
                # a round trip more. A server without the script (restarted) says NOSCRIPT.
                pipe.evalsha(self._counters.sha, len(keys), *keys, *c.args())
                decoders.append(partial(_sums, args[2], c))
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
        c = self._counter_call(fs)
        for e, n in counts.items():
            c.write(e, "=", n, px)
        self._run(c)

    def counts(self, fs: FeatureSet, entities: Sequence[str]) -> dict[str, int]:
        return self.increment_and_count(fs, {}, entities) if entities else {}

    def delete(self, fs: FeatureSet, entities: Sequence[str]) -> int:
        if not entities:
            return 0
        pipe = self._r.pipeline(transaction=True)
        pipe.delete(*(self._key(fs, e) for e in entities))
        for e in entities:
            name, field = _counter(e)
            pipe.hdel(self._key(fs, name, "c"), field)
        return sum(int(n) for n in pipe.execute())

    def move_old_counters(self, batch: int = 500) -> int:
        """Once, after upgrading from the layout before ADR 0160: each counter kept as a
        string key of its own (`<prefix>:<set>:v<version>:n:<entity>`) is added into its
        hash field with the time it had left, then deleted. Safe while decisions run (they
        count into the hashes meanwhile) and to run again. Returns how many it moved."""
        moved, keys = 0, self._r.scan_iter(match=f"{self._prefix}:*:n:*", count=batch)
        while chunk := [k.decode() for _, k in zip(range(batch), keys, strict=False)]:
            pipe = self._r.pipeline(transaction=False)
            for key in chunk:
                # <set name>:v<version>:n:<entity>; neither part of the set has a colon
                parts = key[len(self._prefix) + 1:].split(":", 3)
                if len(parts) == 4 and parts[2] == "n":
                    name, field = _counter(parts[3])
                    self._move(keys=[key, self._key(f"{parts[0]}:{parts[1]}", name, "c")],
                               args=[field], client=pipe)
            moved += sum(pipe.execute())
        return moved

    def ping(self) -> None:
        self._r.ping()

    def close(self) -> None:
        self._r.close()
