"""`credit db upgrade | status` through the real CLI, and the service refusing to start on a
schema it does not know (the builder opens the stores the API and every command use)."""

import psycopg
import pytest
from typer.testing import CliRunner

from app.builder import Builder
from app.cli import cli
from app.configs import outcome_config
from app.settings import Settings
from core.schema import SchemaMismatch
from tests.conftest import drop_postgres_db, new_postgres_db


@pytest.fixture
def empty_db(postgres):
    db = new_postgres_db(postgres, template="template0")
    yield db
    drop_postgres_db(postgres, db)


def run(*args: str, **env: str):
    return CliRunner().invoke(cli, list(args), env=env)


def test_upgrade_as_the_owner_then_status_as_the_service(empty_db, tmp_path):
    """Before the upgrade, status fails saying what to run; the owner upgrades; the service's
    login role then sees every schema current."""
    service = {"CREDIT_POSTGRES_URL": empty_db.url, "CREDIT_DATA_DIR": str(tmp_path)}
    before = run("db", "status", **service)
    assert before.exit_code == 1 and "run `credit db upgrade`" in before.output
    up = run("db", "upgrade", **service, CREDIT_POSTGRES_ADMIN_URL=empty_db.admin_url)
    assert up.exit_code == 0, up.output
    assert "audit: at audit_0001 (current)" in up.output
    assert run("db", "status", **service).exit_code == 0


def test_upgrade_without_privileges_fails_briefly(empty_db, tmp_path):
    """The service's role cannot create tables: a one-line reason, no traceback."""
    result = run("db", "upgrade", CREDIT_POSTGRES_URL=empty_db.url,
                 CREDIT_DATA_DIR=str(tmp_path))
    assert result.exit_code == 1
    assert "upgrade failed" in result.output and "Traceback" not in result.output


def test_without_a_url_it_says_which_setting(tmp_path):
    result = run("db", "upgrade", CREDIT_DATA_DIR=str(tmp_path))
    assert result.exit_code == 2 and "CREDIT_POSTGRES_URL" in result.output


def test_postgres_settings_build_the_postgres_stores(postgres_db, tmp_path):
    """CREDIT_AUDIT_STORE=postgres (and the review and outcome stores): log, digests, keys,
    cases and outcomes on PostgreSQL, timeouts from settings; a URL is required."""
    s = Settings(data_dir=tmp_path, audit_store="postgres", postgres_url=postgres_db.url,
                 postgres_statement_timeout_s=0.7, review_store="postgres",
                 outcome_store="postgres")
    b = Builder(s)
    try:
        assert type(b.audit).__name__ == "PostgresAuditStore"
        assert type(b.digest_store).__name__ == "PostgresDigestStore"
        assert type(b.customer_keys).__name__ == "PostgresCustomerKeyStore"
        assert type(b.review_store).__name__ == "PostgresReviewStore"
        assert type(b.outcome_store).__name__ == "PostgresOutcomeStore"
        # A batch of outcomes is one long transaction: not the decision path's timeout.
        assert outcome_config(s).statement_timeout_s == 10.0
        b.audit.ping()
    finally:
        b.close()
    with pytest.raises(ValueError, match="CREDIT_POSTGRES_URL must be set"):
        Settings(data_dir=tmp_path, audit_store="postgres")


def test_the_service_refuses_a_schema_it_does_not_know(postgres_db, tmp_path):
    """A database migrated by a newer build: opening the log fails with a message that says
    so (the API's start-up and every command stop there)."""
    with psycopg.connect(postgres_db.admin_url) as admin:
        admin.execute("UPDATE credit_schema_version SET version_num = 'audit_0002' "
                      "WHERE version_num = 'audit_0001'")
    b = Builder(Settings(data_dir=tmp_path, audit_store="postgres",
                         postgres_url=postgres_db.url))
    with pytest.raises(SchemaMismatch, match="audit_0002, which this build does not know"):
        b.audit  # noqa: B018 - building it is the test
