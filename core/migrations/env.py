"""Alembic environment: one transaction for the whole upgrade, under an advisory lock (two
instances running `credit db upgrade` at once take turns). Before the revisions, the
service's role is created if missing; after them, it may read the version table (stores
check their revision at start-up)."""

from alembic import context
from sqlalchemy import create_engine, pool

from core.schema import VERSION_TABLE, service_role

config = context.config


def prologue() -> None:
    role = service_role()
    context.execute("SELECT pg_advisory_xact_lock(hashtext('credit-schema-upgrade'))")
    # `role` passed core.schema.quoted_role: a plain identifier, nothing to escape.
    context.execute(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "  # nosec B608
                    f"'{role[1:-1]}') THEN CREATE ROLE {role} NOLOGIN; END IF; END $$")


def epilogue() -> None:
    context.execute(f"GRANT SELECT ON {VERSION_TABLE} TO {service_role()}")


def run() -> None:
    opts = {"version_table": VERSION_TABLE, "transactional_ddl": True}
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True,
                          **opts)
        with context.begin_transaction():
            prologue()
            context.run_migrations()
            epilogue()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, **opts)
            with context.begin_transaction():
                prologue()
                context.run_migrations()
                epilogue()
    finally:
        engine.dispose()


run()
