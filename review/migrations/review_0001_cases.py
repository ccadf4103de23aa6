"""The review desk: cases, human actions, adverse-action notices, the projector's checkpoints.

Revision ID: review_0001
Revises:
Branch: review

A projection of the audit log (review/projection.py): the log is the truth, these tables can
be rebuilt from it. The service's role reads and writes them; nothing here is append-only.
"""

from alembic import op

from core.schema import service_role

revision = "review_0001"
down_revision = None
branch_labels = ("review",)
depends_on = None


def upgrade() -> None:
    role = service_role()
    op.execute("""
CREATE TABLE review_cases (
    review_id text PRIMARY KEY,
    decision_id text NOT NULL,
    kind text NOT NULL,
    country text NOT NULL,
    rank integer NOT NULL,
    opened_at text NOT NULL,
    is_open boolean NOT NULL,
    version integer NOT NULL,
    doc bytea NOT NULL,
    UNIQUE (decision_id, kind)
)""")
    op.execute("CREATE UNIQUE INDEX review_one_open_case ON review_cases (decision_id) "
               "WHERE is_open")
    op.execute("CREATE INDEX review_queue ON review_cases (is_open, rank, opened_at, review_id)")
    op.execute("""
CREATE TABLE review_actions (
    action_id text PRIMARY KEY,
    decision_id text NOT NULL,
    at text NOT NULL,
    actor text NOT NULL,
    country text NOT NULL,
    type text NOT NULL,
    doc bytea NOT NULL
)""")
    op.execute("CREATE INDEX review_actions_of_decision ON review_actions (decision_id, at)")
    op.execute("""
CREATE TABLE review_notices (
    decision_id text PRIMARY KEY,
    country text NOT NULL,
    status text NOT NULL,
    due_at text NOT NULL,
    doc bytea NOT NULL
)""")
    op.execute("CREATE INDEX review_notices_by_status ON review_notices (status, due_at)")
    op.execute("CREATE TABLE review_checkpoints (chain_id text PRIMARY KEY, seq bigint NOT NULL)")
    for table in ("review_cases", "review_actions", "review_notices", "review_checkpoints"):
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {role}")


def downgrade() -> None:
    op.execute("DROP TABLE review_checkpoints, review_notices, review_actions, review_cases")
