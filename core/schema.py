"""Schema migrations of the PostgreSQL backends (Alembic, ADR 0121), and the check that a
store runs only on the schema revision it was written for.

Each package with PostgreSQL tables keeps its migrations in its own directory as an Alembic
branch named after it: revision ids `<branch>_NNNN`, the first one with
`branch_labels = ("<branch>",)` and no parent. Stores written apart (the audit log, outcomes,
reviews, policy history) so never compete for one linear history; `credit db upgrade`
brings every branch to its head in one transaction. Migrations are plain SQL
(`op.execute`): what runs is what a DBA reads in `credit db upgrade --sql`.

Two roles: the owner runs the migrations (DDL); the service's role (NOLOGIN, created on
first upgrade if missing; the API's login role is a member) gets only the grants each
migration gives it, e.g. SELECT and INSERT on the audit log, never UPDATE or DELETE.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_DIR = Path(__file__).parent / "migrations"
# Not `alembic_version`: an MLflow tracking store in the same database has that one.
VERSION_TABLE = "credit_schema_version"
ROLE_OPTION = "credit_service_role"
_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class SchemaMismatch(Exception):
    """The database's schema is not the revision this build was written for."""


@dataclass(frozen=True)
class Branch:
    """One package's migrations: its Alembic branch label and directory."""

    name: str
    location: Path

    def revisions(self) -> list[str]:
        """This build's revisions of the branch, oldest first."""
        from alembic.script import ScriptDirectory

        scripts = ScriptDirectory(str(ENV_DIR), version_locations=[str(self.location)])
        return [s.revision for s in reversed(list(scripts.walk_revisions()))]


def sqlalchemy_url(url: str) -> str:
    """A libpq URI as SQLAlchemy names the psycopg 3 driver."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgres", "postgresql"):
        raise ValueError("a PostgreSQL URL starts with postgresql://")
    return f"postgresql+psycopg://{rest}"


def quoted_role(name: str) -> str:
    if not _ROLE.match(name):
        raise ValueError(f"not a plain role name: {name!r}")
    return f'"{name}"'


def service_role() -> str:
    """The service's role, quoted, for a migration's GRANT statements."""
    from alembic import context

    return quoted_role(context.config.get_main_option(ROLE_OPTION) or "")


def _config(url: str, branches: list[Branch], role: str) -> Any:
    from alembic.config import Config

    cfg = Config(output_buffer=io.StringIO())
    cfg.set_main_option("script_location", str(ENV_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", ":".join(str(b.location) for b in branches))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    cfg.set_main_option(ROLE_OPTION, role)
    return cfg


def upgrade(url: str, branches: list[Branch], role: str, *, sql: bool = False) -> str:
    """Bring every branch to its head (as the owner at `url`); with `sql`, change nothing and
    return the SQL it would run."""
    from alembic import command

    quoted_role(role)
    cfg = _config(url, branches, role)
    command.upgrade(cfg, "heads", sql=sql)
    return cfg.output_buffer.getvalue() if sql else ""


def current(conn: Any) -> list[str]:
    """The revisions the database is at (one per branch), on a psycopg connection."""
    if conn.execute("SELECT to_regclass(%s)", (VERSION_TABLE,)).fetchone()[0] is None:
        return []
    return [r[0] for r in conn.execute(f"SELECT version_num FROM {VERSION_TABLE}")]  # noqa: S608  # nosec B608


def check(revisions: list[str], branch: Branch) -> None:
    """Raise SchemaMismatch unless the database, at `revisions` (`current()`), has the
    branch at this build's head."""
    known = branch.revisions()
    found = [r for r in revisions if r.startswith(f"{branch.name}_")]
    if not found:
        raise SchemaMismatch(f"the database has no {branch.name} schema: run `credit db upgrade` "
                             "(as the owner, CREDIT_POSTGRES_ADMIN_URL)")
    rev = found[0]
    if rev not in known:
        raise SchemaMismatch(
            f"the database's {branch.name} schema is at revision {rev}, which this build does "
            f"not know (its newest is {known[-1]}): a newer build migrated it; run that build")
    if rev != known[-1]:
        raise SchemaMismatch(f"the database's {branch.name} schema is at revision {rev}; this "
                             f"build needs {known[-1]}: run `credit db upgrade`")
