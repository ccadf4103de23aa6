#!/bin/sh
# First start of the database volume only (docker-entrypoint-initdb.d): the service's group
# role and the API's login role in it. `credit db upgrade` (the `migrate` service, as the
# owner) creates the tables and grants the group role SELECT and INSERT on the audit log,
# never UPDATE or DELETE (docs/decisions/0121-schema-migrations-with-alembic.md).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE credit_service NOLOGIN;
CREATE ROLE credit_api LOGIN PASSWORD '${CREDIT_API_DB_PASSWORD}' IN ROLE credit_service;
SQL
