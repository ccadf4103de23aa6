"""Loan outcomes, the batches they came in, and the monitoring read model.

Revision ID: monitoring_0001
Revises:
Branch: monitoring

Outcomes and batches are append-only (the service's role may read and insert them; triggers
refuse UPDATE, DELETE and TRUNCATE). The current outcome per decision and the read model
(facts, performance cells, bin counts, checkpoints) are derived and rewritten.
"""

from alembic import op

from core.schema import service_role

revision = "monitoring_0001"
down_revision = None
branch_labels = ("monitoring",)
depends_on = None

_TABLES = ("outcome_batches", "outcomes", "outcome_current", "monitoring_facts",
           "monitoring_perf_cells", "monitoring_bin_counts", "monitoring_checkpoints")


def upgrade() -> None:
    role = service_role()
    op.execute("""
CREATE TABLE outcome_batches (
    id bigint GENERATED ALWAYS AS IDENTITY,
    batch_id text PRIMARY KEY, received_at text NOT NULL, source text NOT NULL,
    source_name text, content_sha256 text NOT NULL, count integer NOT NULL,
    rejected integer NOT NULL, accepted integer NOT NULL, duplicates integer NOT NULL,
    audit_ref text)""")
    op.execute("""
CREATE TABLE outcomes (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, key text NOT NULL UNIQUE,
    decision_id text NOT NULL, observed_at text NOT NULL, defaulted integer NOT NULL,
    loan_taken integer, months_on_book integer, batch_id text NOT NULL,
    received_at text NOT NULL)""")
    op.execute("CREATE INDEX outcomes_decision ON outcomes (decision_id)")
    op.execute("""
CREATE TABLE outcome_current (
    decision_id text PRIMARY KEY, seq bigint NOT NULL, observed_at text NOT NULL,
    defaulted integer NOT NULL, loan_taken integer, months_on_book integer)""")
    op.execute("""
CREATE TABLE monitoring_facts (
    decision_id text PRIMARY KEY, decided_at text NOT NULL, country text NOT NULL,
    decided_by text NOT NULL, model_version text NOT NULL, outcome text NOT NULL,
    pd double precision, legacy_points double precision, shadow_outcome text,
    degraded integer NOT NULL, pd_band integer NOT NULL)""")
    op.execute("CREATE INDEX monitoring_facts_decided_at ON monitoring_facts (decided_at)")
    op.execute("""
CREATE TABLE monitoring_perf_cells (
    day text NOT NULL, country text NOT NULL, decided_by text NOT NULL, version text NOT NULL,
    approved integer NOT NULL, state integer NOT NULL, shadow integer NOT NULL,
    pd_band integer NOT NULL, n bigint NOT NULL, n_pd bigint NOT NULL,
    sum_pd double precision NOT NULL, sum_pd2 double precision NOT NULL,
    PRIMARY KEY (day, country, decided_by, version, approved, state, shadow, pd_band))""")
    op.execute("""
CREATE TABLE monitoring_bin_counts (
    day text NOT NULL, country text NOT NULL, model_version text NOT NULL,
    feature text NOT NULL, bin integer NOT NULL, count bigint NOT NULL,
    PRIMARY KEY (day, country, model_version, feature, bin))""")
    op.execute("CREATE TABLE monitoring_checkpoints (chain_id text PRIMARY KEY, "
               "seq bigint NOT NULL)")
    op.execute("""
CREATE FUNCTION outcomes_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
        MESSAGE = 'outcomes are append-only: ' || TG_OP || ' on ' || TG_TABLE_NAME || ' refused';
END $$""")
    for table in ("outcomes", "outcome_batches"):
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION outcomes_refuse_change()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION outcomes_refuse_change()")
        op.execute(f"GRANT SELECT, INSERT ON {table} TO {role}")
    for table in _TABLES[2:]:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {role}")


def downgrade() -> None:
    op.execute(f"DROP TABLE {', '.join(reversed(_TABLES))}")
    op.execute("DROP FUNCTION outcomes_refuse_change()")
