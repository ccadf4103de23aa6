"""Flag store in one JSON file under the data dir (single machine, several workers).

Writers hold an exclusive lock on a sidecar lock file while they read-modify-write and
replace the file atomically (os.replace), so readers never see a half-written file and the
inode changes on every write: (inode, mtime, size) is the version token readers poll.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Literal

import orjson
from pydantic import BaseModel

from feature_flags.model import CountryFlag
from feature_flags.store import VersionConflict


class FileFlagConfig(BaseModel):
    type: Literal["file"] = "file"
    path: Path


class FileFlagStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_path = path.with_name(path.name + ".lock")

    def version(self) -> str:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return "absent"
        return f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"

    def load(self) -> dict[str, CountryFlag]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        return {c: CountryFlag.from_dict(d) for c, d in data.items()}

    def put(self, flag: CountryFlag, expected_version: int) -> CountryFlag:
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            flags = self.load()
            current = flags.get(flag.country)
            if (current.version if current else 0) != expected_version:
                raise VersionConflict(f"flag for {flag.country} changed meanwhile")
            stored = CountryFlag.from_dict({**flag.to_dict(), "version": expected_version + 1})
            flags[flag.country] = stored
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(orjson.dumps({c: f.to_dict() for c, f in sorted(flags.items())},
                                         option=orjson.OPT_INDENT_2))
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            return stored

    def ping(self) -> None:
        self.path.parent.stat()

    def close(self) -> None:
        pass
