"""Migrations (core/schema.py): every branch to its head in one go, the SQL a DBA can review
first, and the check that refuses a database at a revision this build does not know."""

import psycopg
import pytest

from app.configs import POSTGRES_SCHEMAS
from core.schema import Branch, SchemaMismatch, check, current, upgrade
from tests.conftest import PostgresDB, drop_postgres_db, new_postgres_db
from tests.servers import SERVICE_ROLE

DEMO = '''
from alembic import op

revision = "demo_{n:04d}"
down_revision = {parent!r}
branch_labels = {labels!r}


def upgrade():
    op.execute("CREATE TABLE demo_{n} (x int)")
'''


@pytest.fixture
def empty_db(postgres):
    """A database with no schema at all (copied from template0)."""
    db = new_postgres_db(postgres, template="template0")
    yield db
    drop_postgres_db(postgres, db)


def revisions(db: PostgresDB) -> list[str]:
    with psycopg.connect(db.admin_url) as conn:
        return current(conn)


def demo_branch(tmp_path, count: int) -> Branch:
    for n in range(1, count + 1):
        (tmp_path / f"demo_{n:04d}.py").write_text(DEMO.format(
            n=n, parent=f"demo_{n - 1:04d}" if n > 1 else None,
            labels=("demo",) if n == 1 else ()))
    return Branch("demo", tmp_path)


def test_upgrade_brings_an_empty_database_to_every_head(empty_db):
    """Before: no schema, and the check says what to run; after: current; again: no change."""
    with pytest.raises(SchemaMismatch, match="run `credit db upgrade`"):
        check(revisions(empty_db), POSTGRES_SCHEMAS[0])
    upgrade(empty_db.admin_url, POSTGRES_SCHEMAS, SERVICE_ROLE)
    upgrade(empty_db.admin_url, POSTGRES_SCHEMAS, SERVICE_ROLE)
    for branch in POSTGRES_SCHEMAS:
        check(revisions(empty_db), branch)
    assert sorted(revisions(empty_db)) == sorted(b.revisions()[-1] for b in POSTGRES_SCHEMAS)


def test_branches_of_several_packages_upgrade_together(empty_db, tmp_path):
    """Another package's branch beside the audit one: one version row each, both current."""
    demo = demo_branch(tmp_path, 2)
    upgrade(empty_db.admin_url, [*POSTGRES_SCHEMAS, demo], SERVICE_ROLE)
    heads = [b.revisions()[-1] for b in POSTGRES_SCHEMAS]
    assert sorted(revisions(empty_db)) == sorted([*heads, "demo_0002"])
    check(revisions(empty_db), demo)


def test_a_revision_older_or_unknown_is_refused(empty_db, tmp_path):
    """Behind this build: upgrade it; ahead of it (a newer build migrated): not this build's
    schema. Either way the message says what to do."""
    demo = demo_branch(tmp_path, 2)
    upgrade(empty_db.admin_url, [demo], SERVICE_ROLE)
    with psycopg.connect(empty_db.admin_url) as conn:
        conn.execute("UPDATE credit_schema_version SET version_num = 'demo_0001'")
    with pytest.raises(SchemaMismatch, match="needs demo_0002: run `credit db upgrade`"):
        check(revisions(empty_db), demo)
    with psycopg.connect(empty_db.admin_url) as conn:
        conn.execute("UPDATE credit_schema_version SET version_num = 'demo_0003'")
    with pytest.raises(SchemaMismatch, match="demo_0003, which this build does not know"):
        check(revisions(empty_db), demo)


def test_sql_mode_shows_the_migration_and_changes_nothing(empty_db):
    """`credit db upgrade --sql`: the DDL and grants a DBA reviews; the database stays empty."""
    sql = upgrade(empty_db.admin_url, POSTGRES_SCHEMAS, SERVICE_ROLE, sql=True)
    assert "CREATE TABLE audit_entries" in sql
    assert 'GRANT SELECT, INSERT ON audit_entries TO "credit_service"' in sql
    assert "%%" not in sql  # nothing escaped for a driver: runnable as printed
    assert revisions(empty_db) == []


def test_a_role_name_that_is_not_plain_is_refused(empty_db):
    """The service role goes into GRANT statements: only a plain identifier is accepted."""
    with pytest.raises(ValueError, match="plain role name"):
        upgrade(empty_db.admin_url, POSTGRES_SCHEMAS, 'x"; DROP TABLE y; --')
