"""The audit log, its signed digests and the customers' data keys.

Revision ID: audit_0001
Revises:
Branch: audit

The log and the digests are append-only twice over: the service's role is granted SELECT
and INSERT only, and triggers refuse UPDATE, DELETE and TRUNCATE to anyone else (the owner
included; a superuser who disables them is what `credit audit verify` is for).
"""

from alembic import op

from core.schema import service_role

revision = "audit_0001"
down_revision = None
branch_labels = ("audit",)
depends_on = None


def upgrade() -> None:
    role = service_role()
    op.execute("""
CREATE TABLE audit_entries (
    chain_id text NOT NULL,
    seq bigint NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    decision_id text UNIQUE,
    application_id text UNIQUE,
    body bytea NOT NULL,
    appended_at text NOT NULL,
    country text NOT NULL,
    PRIMARY KEY (chain_id, seq)
)""")
    op.execute("CREATE INDEX audit_entries_appended_at ON audit_entries (appended_at)")
    op.execute("""
CREATE TABLE audit_digests (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issued_at text NOT NULL,
    doc bytea NOT NULL
)""")
    op.execute("""
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
        MESSAGE = 'audit log is append-only: ' || TG_OP || ' on ' || TG_TABLE_NAME || ' refused';
END $$""")
    for table in ("audit_entries", "audit_digests"):
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()")
        op.execute(f"GRANT SELECT, INSERT ON {table} TO {role}")
    # A customer (by the HMAC of their id) -> their random key ref, the national-id
    # pseudonyms seen with them, a scheduled erasure; the wrapped key by its ref, and after
    # erasure only when it was erased (audit/keystore.py).
    op.execute("""
CREATE TABLE audit_customers (
    customer_ref text PRIMARY KEY,
    key_ref text NOT NULL UNIQUE,
    national_refs text[] NOT NULL DEFAULT '{}',
    erase_after text
)""")
    op.execute("""
CREATE TABLE audit_data_keys (
    key_ref text PRIMARY KEY,
    wrapped bytea,
    erased_at text
)""")
    # Keys are re-wrapped (master key rotation) and erased: that is their purpose.
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON audit_customers TO {role}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON audit_data_keys TO {role}")


def downgrade() -> None:
    op.execute("DROP TABLE audit_data_keys, audit_customers, audit_digests, audit_entries")
    op.execute("DROP FUNCTION audit_refuse_change()")
