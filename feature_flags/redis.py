"""Flag store in Redis, shared by API instances on several machines.

One hash (country -> JSON flag) and a counter bumped in the same Lua script as every
change; workers poll the counter (one GET) and reload the hash only when it moved.
"""

from __future__ import annotations

from typing import Literal

import orjson
import redis
from pydantic import BaseModel, Field

from feature_flags.model import CountryFlag
from feature_flags.store import VersionConflict

# KEYS: hash, counter. ARGV: country, expected version, new JSON. Returns 1 or 0 (conflict).
_CAS = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local v = 0
if cur then v = cjson.decode(cur)['version'] end
if v ~= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('INCR', KEYS[2])
return 1
"""


class RedisFlagConfig(BaseModel):
    type: Literal["redis"] = "redis"
    url: str
    prefix: str = "credit:flags"
    timeout_s: float = Field(default=0.5, gt=0)


class RedisFlagStore:
    def __init__(self, url: str, prefix: str = "credit:flags", timeout_s: float = 0.5) -> None:
        self._r = redis.Redis.from_url(url, socket_timeout=timeout_s,
                                       socket_connect_timeout=timeout_s)
        self._hash = prefix
        self._counter = f"{prefix}:version"
        self._cas = self._r.register_script(_CAS)

    def version(self) -> str:
        v = self._r.get(self._counter)
        return v.decode() if v else "0"

    def load(self) -> dict[str, CountryFlag]:
        return {c.decode(): CountryFlag.from_dict(orjson.loads(v))
                for c, v in self._r.hgetall(self._hash).items()}

    def put(self, flag: CountryFlag, expected_version: int) -> CountryFlag:
        stored = CountryFlag.from_dict({**flag.to_dict(), "version": expected_version + 1})
        ok = self._cas(keys=[self._hash, self._counter],
                       args=[flag.country, expected_version, orjson.dumps(stored.to_dict())])
        if not ok:
            raise VersionConflict(f"flag for {flag.country} changed meanwhile")
        return stored

    def ping(self) -> None:
        self._r.ping()

    def close(self) -> None:
        self._r.close()
