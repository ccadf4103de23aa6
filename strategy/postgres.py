"""The policy history in PostgreSQL (table policy_versions; the layout of strategy/sqlite.py),
shared by every instance: the unique live index and the approval's compare-and-set hold
across instances. Every call bounded (core/postgres.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import psycopg

from core.postgres import PgPool, PostgresConfig
from core.schema import Branch
from strategy.errors import PolicyConflict, PolicyStoreUnavailable
from strategy.model import PolicyVersion

MIGRATIONS = Branch("policy", Path(__file__).parent / "migrations")


class PostgresPolicyConfig(PostgresConfig):
    type: Literal["postgres"] = "postgres"


class PostgresPolicyStore:
    def __init__(self, config: PostgresPolicyConfig) -> None:
        self._pool = PgPool(config, "policy", PolicyStoreUnavailable, MIGRATIONS)

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._pool.connection() as conn:
            return conn.execute(sql, params).fetchall()

    def add(self, version: PolicyVersion) -> None:
        try:
            with self._pool.connection() as conn:
                conn.execute("INSERT INTO policy_versions VALUES (%s,%s,%s,%s)",
                             (version.version, version.state, version.proposed_at,
                              version.to_json()))
        except psycopg.errors.UniqueViolation:
            raise PolicyConflict(f"policy version {version.version!r} exists already; "
                                 "bump `version`") from None

    def get(self, version: str) -> PolicyVersion | None:
        rows = self._read("SELECT doc FROM policy_versions WHERE version = %s", (version,))
        return PolicyVersion.from_json(bytes(rows[0][0])) if rows else None

    def versions(self) -> list[PolicyVersion]:
        rows = self._read("SELECT doc FROM policy_versions ORDER BY proposed_at, version")
        return [PolicyVersion.from_json(bytes(d)) for (d,) in rows]

    def live_version(self) -> str | None:
        rows = self._read("SELECT version FROM policy_versions WHERE state = 'live'")
        return rows[0][0] if rows else None

    def approve(self, approved: PolicyVersion, expected_live: str | None) -> None:
        try:
            with self._pool.connection() as conn, conn.transaction():
                # Row locks in a fixed order (the table's rows FOR UPDATE): two approvals at
                # once serialise here, and the second sees the first's result.
                rows = conn.execute("SELECT version, state, doc FROM policy_versions "
                                    "WHERE version = %s OR state = 'live' ORDER BY version "
                                    "FOR UPDATE", (approved.version,)).fetchall()
                state = {v: s for v, s, _ in rows}
                if state.get(approved.version) != "proposed":
                    raise PolicyConflict(f"policy version {approved.version!r} is not a "
                                         f"proposal (it is {state.get(approved.version, 'unknown')})")
                live = [(v, d) for v, s, d in rows if s == "live"]
                if (live[0][0] if live else None) != expected_live:
                    raise PolicyConflict("the live policy changed meanwhile (now "
                                         f"{live[0][0] if live else 'the bundled one'}); "
                                         "review again")
                for _, doc in live:
                    retired = PolicyVersion.from_json(bytes(doc)).model_copy(
                        update={"state": "retired", "retired_at": datetime.now(UTC).isoformat()})
                    conn.execute("UPDATE policy_versions SET state = 'retired', doc = %s "
                                 "WHERE version = %s", (retired.to_json(), retired.version))
                conn.execute("UPDATE policy_versions SET state = 'live', doc = %s "
                             "WHERE version = %s", (approved.to_json(), approved.version))
        except psycopg.errors.UniqueViolation:
            # Another instance's approval won between our read and write.
            raise PolicyConflict("the live policy changed meanwhile; review again") from None

    def ping(self) -> None:
        self._read("SELECT 1")

    def close(self) -> None:
        self._pool.close()
