"""Customer data keys in PostgreSQL (tables audit_customer_keys, audit_erased_customers),
shared by every instance: one key per customer whichever instance decides first, and one
erasure reaches all of them.

An erased key's bytes leave the table at once, but PostgreSQL keeps a deleted row's old
version until VACUUM, and WAL archives and backups keep it for their retention. The key is
stored wrapped by the master key, so those copies are only readable with the master key of
that time: rotate the master key (`credit audit rotate-master-key`) and destroy the old one
to shred them as well (docs/runbooks/key-rotation.md, ADR 0120).
"""

from __future__ import annotations

from audit.postgres import MIGRATIONS, PostgresAuditConfig
from audit.store import AuditUnavailable
from core.postgres import PgPool, scan


class PostgresCustomerKeyStore:
    def __init__(self, config: PostgresAuditConfig) -> None:
        self._config = config
        self._pool = PgPool(config, "audit-keys", AuditUnavailable, MIGRATIONS)

    def get(self, customer_ref: str) -> bytes | None:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT wrapped FROM audit_customer_keys WHERE customer_ref = %s",
                               (customer_ref,)).fetchone()
        return bytes(row[0]) if row else None

    def put_if_absent(self, customer_ref: str, wrapped: bytes) -> bytes:
        while True:
            with self._pool.connection() as conn:
                row = conn.execute("INSERT INTO audit_customer_keys VALUES (%s, %s) "
                                   "ON CONFLICT (customer_ref) DO NOTHING RETURNING wrapped",
                                   (customer_ref, wrapped)).fetchone()
            if row is not None:
                return bytes(row[0])
            # Another instance's key won; read it (a new statement sees its commit), unless an
            # erasure removed it meanwhile: then try again.
            stored = self.get(customer_ref)
            if stored is not None:
                return stored

    def is_erased(self, customer_ref: str) -> bool:
        with self._pool.connection() as conn:
            return conn.execute("SELECT 1 FROM audit_erased_customers WHERE customer_ref = %s",
                                (customer_ref,)).fetchone() is not None

    def erase(self, customer_ref: str) -> bool:
        # The DELETE locks the row: of two concurrent erasures one deletes it and reports
        # True, the other finds nothing.
        with self._pool.connection() as conn, conn.transaction():
            gone = conn.execute("DELETE FROM audit_customer_keys WHERE customer_ref = %s",
                                (customer_ref,)).rowcount
            conn.execute("INSERT INTO audit_erased_customers (customer_ref) VALUES (%s) "
                         "ON CONFLICT DO NOTHING", (customer_ref,))
        return gone > 0

    def all_refs(self) -> list[str]:
        # Every customer: a long read (master key rotation), on a connection of its own.
        return [r[0] for r in scan(self._config, "audit-keys-scan", "SELECT customer_ref FROM "
                                   "audit_customer_keys ORDER BY customer_ref",
                                   unavailable=AuditUnavailable)]

    def replace(self, customer_ref: str, wrapped: bytes) -> None:
        # An UPDATE of a row that is gone changes nothing: an erased key stays erased.
        with self._pool.connection() as conn:
            conn.execute("UPDATE audit_customer_keys SET wrapped = %s WHERE customer_ref = %s",
                         (wrapped, customer_ref))

    def close(self) -> None:
        self._pool.close()
