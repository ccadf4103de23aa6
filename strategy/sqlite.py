"""Embedded policy history: one SQLite file (WAL) under the data dir, shared by the API's
workers and the CLI."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from core.sqlite import LockedSQLite
from strategy.errors import PolicyConflict, PolicyStoreUnavailable
from strategy.model import PolicyVersion

_SCHEMA = """
CREATE TABLE IF NOT EXISTS policy_versions (
    version TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    proposed_at TEXT NOT NULL,
    doc BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS policy_one_live ON policy_versions (state) WHERE state = 'live';
"""


class SQLitePolicyConfig(BaseModel):
    type: Literal["sqlite"] = "sqlite"
    path: Path
    timeout_s: float = 5.0  # waiting for another process's write transaction


class SQLitePolicyStore:
    def __init__(self, path: Path, timeout_s: float = 5.0) -> None:
        # FULL: a policy approval is rare and must survive a power cut once acknowledged.
        self._db = LockedSQLite(path, _SCHEMA, PolicyStoreUnavailable, "policy store",
                                "FULL", timeout_s)
        self._write, self._read = self._db.write, self._db.read

    def add(self, version: PolicyVersion) -> None:
        with self._write() as cur:
            try:
                cur.execute("INSERT INTO policy_versions VALUES (?,?,?,?)",
                            (version.version, version.state, version.proposed_at,
                             version.to_json()))
            except sqlite3.IntegrityError:
                raise PolicyConflict(f"policy version {version.version!r} exists already; "
                                     "bump `version`") from None

    def get(self, version: str) -> PolicyVersion | None:
        rows = self._read("SELECT doc FROM policy_versions WHERE version = ?", (version,))
        return PolicyVersion.from_json(rows[0][0]) if rows else None

    def versions(self) -> list[PolicyVersion]:
        rows = self._read("SELECT doc FROM policy_versions ORDER BY proposed_at, version")
        return [PolicyVersion.from_json(d) for (d,) in rows]

    def live_version(self) -> str | None:
        rows = self._read("SELECT version FROM policy_versions WHERE state = 'live'")
        return rows[0][0] if rows else None

    def approve(self, approved: PolicyVersion, expected_live: str | None) -> None:
        with self._write() as cur:
            row = cur.execute("SELECT state FROM policy_versions WHERE version = ?",
                              (approved.version,)).fetchone()
            if row is None or row[0] != "proposed":
                raise PolicyConflict(f"policy version {approved.version!r} is not a proposal "
                                     f"(it is {row[0] if row else 'unknown'})")
            live = cur.execute("SELECT version, doc FROM policy_versions "
                               "WHERE state = 'live'").fetchone()
            if (live[0] if live else None) != expected_live:
                raise PolicyConflict(f"the live policy changed meanwhile (now "
                                     f"{live[0] if live else 'the bundled one'}); review again")
            if live is not None:
                retired = PolicyVersion.from_json(live[1]).model_copy(
                    update={"state": "retired", "retired_at": datetime.now(UTC).isoformat()})
                cur.execute("UPDATE policy_versions SET state = 'retired', doc = ? "
                            "WHERE version = ?", (retired.to_json(), retired.version))
            cur.execute("UPDATE policy_versions SET state = 'live', doc = ? WHERE version = ?",
                        (approved.to_json(), approved.version))

    def ping(self) -> None:
        self._read("SELECT 1")

    def close(self) -> None:
        self._db.close()
