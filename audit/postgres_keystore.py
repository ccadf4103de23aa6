"""Customer data keys in PostgreSQL (tables audit_customers, audit_data_keys; the layout of
audit/keystore.py), shared by every instance: one key per customer whichever instance decides
first, and one erasure reaches all of them.

An erased key's bytes leave the table at once, but PostgreSQL keeps a deleted or updated
row's old version until VACUUM, and WAL archives and backups keep it for their retention. The
key is stored wrapped by the master key, so those copies are only readable with the master
key of that time: rotate the master key and destroy the old one to shred them as well
(docs/runbooks/key-rotation.md, ADR 0120).
"""

from __future__ import annotations

from audit.keystore import CustomerKey, Erased
from audit.postgres import MIGRATIONS, PostgresAuditConfig
from audit.record import now_stamp
from audit.store import AuditUnavailable
from core.postgres import PgPool, scan


class PostgresCustomerKeyStore:
    def __init__(self, config: PostgresAuditConfig) -> None:
        self._config = config
        self._pool = PgPool(config, "audit-keys", AuditUnavailable, MIGRATIONS)

    def get(self, customer_ref: str) -> CustomerKey | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT c.key_ref, k.wrapped, c.national_refs FROM audit_customers c "
                "JOIN audit_data_keys k USING (key_ref) WHERE c.customer_ref = %s "
                "AND k.wrapped IS NOT NULL", (customer_ref,)).fetchone()
        return CustomerKey(row[0], bytes(row[1]), tuple(row[2])) if row else None

    def create(self, customer_ref: str, key: CustomerKey) -> CustomerKey:
        while True:
            with self._pool.connection() as conn, conn.transaction():
                # The unique index makes a concurrent creator wait for this commit, then
                # find the customer taken.
                won = conn.execute(
                    "INSERT INTO audit_customers (customer_ref, key_ref, national_refs) "
                    "VALUES (%s, %s, %s) ON CONFLICT (customer_ref) DO NOTHING RETURNING 1",
                    (customer_ref, key.key_ref, list(key.national_refs))).fetchone()
                if won:
                    conn.execute("INSERT INTO audit_data_keys (key_ref, wrapped) VALUES (%s, %s)",
                                 (key.key_ref, key.wrapped))
                    return key
            stored = self.get(customer_ref)
            if stored is not None:  # another instance's key won (else erased meanwhile: again)
                return stored

    def note_national_ref(self, customer_ref: str, national_ref: str) -> None:
        with self._pool.connection() as conn:
            conn.execute("UPDATE audit_customers SET national_refs = "
                         "array_append(national_refs, %s) WHERE customer_ref = %s "
                         "AND NOT (%s = ANY(national_refs))",
                         (national_ref, customer_ref, national_ref))

    def wrapped(self, key_ref: str) -> bytes | None:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT wrapped FROM audit_data_keys WHERE key_ref = %s",
                               (key_ref,)).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def is_erased(self, key_ref: str) -> bool:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT erased_at FROM audit_data_keys WHERE key_ref = %s",
                               (key_ref,)).fetchone()
        return row is not None and row[0] is not None

    def schedule_erasure(self, customer_ref: str, due_at: str) -> bool:
        with self._pool.connection() as conn:
            return conn.execute("UPDATE audit_customers SET erase_after = %s "
                                "WHERE customer_ref = %s", (due_at, customer_ref)).rowcount > 0

    def due_erasures(self, now: str) -> list[str]:
        with self._pool.connection() as conn:
            return [r[0] for r in conn.execute(
                "SELECT customer_ref FROM audit_customers WHERE erase_after <= %s "
                "ORDER BY erase_after", (now,))]

    def erase(self, customer_ref: str) -> Erased | None:
        # The DELETE locks the row: of two concurrent erasures one finds it, the other not.
        with self._pool.connection() as conn, conn.transaction():
            row = conn.execute("DELETE FROM audit_customers WHERE customer_ref = %s "
                               "RETURNING key_ref, national_refs", (customer_ref,)).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE audit_data_keys SET wrapped = NULL, erased_at = %s "
                         "WHERE key_ref = %s", (now_stamp(), row[0]))
        return Erased(row[0], list(row[1]))

    def key_refs(self) -> list[str]:
        # Every live key: a long read (master key rotation), on a connection of its own.
        return [r[0] for r in scan(self._config, "audit-keys-scan", "SELECT key_ref FROM "
                                   "audit_data_keys WHERE wrapped IS NOT NULL ORDER BY key_ref",
                                   unavailable=AuditUnavailable)]

    def rewrap(self, key_ref: str, wrapped: bytes) -> None:
        # No row with a key left (erased): nothing changes, an erased key stays erased.
        with self._pool.connection() as conn:
            conn.execute("UPDATE audit_data_keys SET wrapped = %s WHERE key_ref = %s "
                         "AND wrapped IS NOT NULL", (wrapped, key_ref))

    def close(self) -> None:
        self._pool.close()
