"""The policy history: every proposed, live and retired policy version.

Revision ID: policy_0001
Revises:
Branch: policy

The service's role reads, inserts and moves a version's state (proposed -> live -> retired);
it never deletes one: replay loads the version a decision recorded from here.
"""

from alembic import op

from core.schema import service_role

revision = "policy_0001"
down_revision = None
branch_labels = ("policy",)
depends_on = None


def upgrade() -> None:
    role = service_role()
    op.execute("""
CREATE TABLE policy_versions (
    version text PRIMARY KEY,
    state text NOT NULL CHECK (state IN ('proposed', 'live', 'retired')),
    proposed_at text NOT NULL,
    doc bytea NOT NULL
)""")
    op.execute("CREATE UNIQUE INDEX policy_one_live ON policy_versions (state) "
               "WHERE state = 'live'")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON policy_versions TO {role}")


def downgrade() -> None:
    op.execute("DROP TABLE policy_versions")
