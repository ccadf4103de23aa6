"""DynamoDB audit store via pynamodb: one hash chain per writer, conditional writes.

Each append is one transaction of conditional puts: the entry itself (attribute_not_exists
on its (chain_id, seq) key, so a sequence number is never written twice), the application-id
idempotency item and the decision-id index item (attribute_not_exists on their key, so a
second decision for one application_id is refused). All or none is written: no gaps, no
duplicates, no index item pointing at nothing.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from pydantic import BaseModel
from pynamodb.attributes import (
    BinaryAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from audit.digest import Digest, Head
from audit.keystore import CustomerKey, Erased
from audit.record import GENESIS, Entry, canonical, country_of, entry_hash, now_stamp
from audit.sqlite import AppendItem, new_chain_id
from audit.store import DuplicateApplication


class DynamoDBAuditConfig(BaseModel):
    """The AWS backend: the log, its digests and the customers' data keys in DynamoDB tables
    named `<table_prefix>-...` (endpoint None: AWS itself)."""

    type: Literal["dynamodb"] = "dynamodb"
    table_prefix: str = "credit-audit"
    endpoint: str | None = None
    region: str = "eu-west-1"
    # botocore's defaults (60 s reads, retries) are no deadline: a DynamoDB that stops
    # answering must turn into a 503 within the decision's budget.
    connect_timeout_s: float = 1.0
    read_timeout_s: float = 1.0
    max_retry_attempts: int = 1

    @property
    def where(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "region": self.region,
                "timeouts": (self.connect_timeout_s, self.read_timeout_s,
                             self.max_retry_attempts)}


Timeouts = tuple[float, float, int]  # connect s, read s, retry attempts
DEFAULT_TIMEOUTS: Timeouts = (1.0, 1.0, 1)


def _meta(table: str, host: str | None, region: str, timeouts: Timeouts) -> type:
    connect, read, attempts = timeouts
    return type("Meta", (), {"table_name": table, "host": host, "region": region,
                             "billing_mode": "PAY_PER_REQUEST",
                             "connect_timeout_seconds": connect, "read_timeout_seconds": read,
                             "max_retry_attempts": attempts, "base_backoff_ms": 25})


@functools.cache
def _tables(prefix: str, host: str | None, region: str,
            timeouts: Timeouts = DEFAULT_TIMEOUTS) -> tuple[type[Model], ...]:
    """Model classes bound to these tables, built on first use (nothing at import) and kept:
    each class holds its own botocore client, which takes ~0.3 s to create."""

    class EntryItem(Model):
        Meta = _meta(f"{prefix}-entries", host, region, timeouts)
        chain_id = UnicodeAttribute(hash_key=True)
        seq = NumberAttribute(range_key=True)
        prev_hash = UnicodeAttribute()
        hash = UnicodeAttribute()
        body = BinaryAttribute(legacy_encoding=False)
        appended_at = UnicodeAttribute()
        country = UnicodeAttribute()
        application_id = UnicodeAttribute(null=True)  # index keys, in the entry's hash
        decision_id = UnicodeAttribute(null=True)

    class IndexItem(Model):
        """`app#<application_id>` and `dec#<decision_id>` -> the entry's key."""

        Meta = _meta(f"{prefix}-index", host, region, timeouts)
        key = UnicodeAttribute(hash_key=True)
        chain_id = UnicodeAttribute()
        seq = NumberAttribute()

    class ChainItem(Model):
        Meta = _meta(f"{prefix}-chains", host, region, timeouts)
        chain_id = UnicodeAttribute(hash_key=True)

    class DigestItem(Model):
        Meta = _meta(f"{prefix}-digests", host, region, timeouts)
        kind = UnicodeAttribute(hash_key=True)
        issued_at = UnicodeAttribute(range_key=True)
        doc = BinaryAttribute(legacy_encoding=False)

    class CustomerKeyItem(Model):
        """`cust#<customer_ref>`: the customer's key_ref, wrapped key, national-id refs and
        due erasure. `key#<key_ref>`: the wrapped key a record names; after erasure only
        `erased_at` is left. (Items written before random key refs: `<customer_ref>` with
        `wrapped`, the customer_ref being the key_ref.)"""

        Meta = _meta(f"{prefix}-customer-keys", host, region, timeouts)
        customer_ref = UnicodeAttribute(hash_key=True)
        key_ref = UnicodeAttribute(null=True)
        wrapped = BinaryAttribute(legacy_encoding=False, null=True)
        national_refs = UnicodeSetAttribute(null=True)
        erase_after = UnicodeAttribute(null=True)
        erased_at = UnicodeAttribute(null=True)

    return EntryItem, IndexItem, ChainItem, DigestItem, CustomerKeyItem


def _ensure(*models: type[Model]) -> None:
    for m in models:
        if not m.exists():
            m.create_table(wait=True)


class DynamoDBAuditStore:
    def __init__(self, table_prefix: str, *, endpoint: str | None = None,
                 region: str = "eu-west-1", chain_id: str | None = None,
                 timeouts: Timeouts = DEFAULT_TIMEOUTS) -> None:
        self._Entry, self._Index, self._Chain, *_ = _tables(table_prefix, endpoint, region,
                                                            timeouts)
        _ensure(self._Entry, self._Index, self._Chain)
        self._conn = self._Entry._get_connection().connection  # share its client
        self._lock = threading.Lock()
        self.chain_id = chain_id or new_chain_id()
        self._Chain(self.chain_id).save()
        last = list(self._Entry.query(self.chain_id, scan_index_forward=False, limit=1,
                                      consistent_read=True))
        self._seq, self._head, self._at = ((int(last[0].seq), last[0].hash, last[0].appended_at)
                                           if last else (0, GENESIS, ""))

    def append(self, record: dict[str, Any], *, application_id: str | None = None,
               decision_id: str | None = None) -> Entry:
        result = self.append_many([(record, application_id, decision_id)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def append_many(self, items: Sequence[AppendItem]) -> list[Entry | Exception]:
        # One transaction per item: DynamoDB cancels a whole transaction on one failed
        # condition, and a duplicate must fail only its own item.
        out: list[Entry | Exception] = []
        with self._lock:
            for record, application_id, decision_id in items:
                try:
                    out.append(self._append_one(record, application_id, decision_id))
                except DuplicateApplication as exc:
                    out.append(exc)
        return out

    def _append_one(self, record: dict[str, Any], application_id: str | None,
                    decision_id: str | None) -> Entry:
        seq, body, country = self._seq + 1, canonical(record), country_of(record)
        at = max(now_stamp(), self._at)  # never backwards within a chain
        h = entry_hash(self.chain_id, seq, self._head, at, country, body, application_id,
                       decision_id)
        E, Ix = self._Entry, self._Index
        try:
            with TransactWrite(connection=self._conn) as tx:
                tx.save(E(self.chain_id, seq, prev_hash=self._head, hash=h, body=body,
                          appended_at=at, country=country, application_id=application_id,
                          decision_id=decision_id),
                        condition=E.seq.does_not_exist())
                if application_id is not None:
                    tx.save(Ix(f"app#{application_id}", chain_id=self.chain_id, seq=seq),
                            condition=Ix.key.does_not_exist())
                if decision_id is not None:
                    tx.save(Ix(f"dec#{decision_id}", chain_id=self.chain_id, seq=seq),
                            condition=Ix.key.does_not_exist())
        except TransactWriteError as exc:
            codes = [getattr(r, "code", None) for r in (exc.cancellation_reasons or [])]
            if application_id is not None and len(codes) > 1 \
                    and codes[1] == "ConditionalCheckFailed":
                raise DuplicateApplication(application_id) from None
            raise
        entry = Entry(self.chain_id, seq, self._head, h, body, at, country, application_id,
                      decision_id)
        self._seq, self._head, self._at = seq, h, at
        return entry

    def _by_index(self, key: str) -> Entry | None:
        try:
            ix = self._Index.get(key, consistent_read=True)
            item = self._Entry.get(ix.chain_id, ix.seq, consistent_read=True)
        except DoesNotExist:
            return None
        return _entry(item)

    def index_items(self) -> Iterator[tuple[str, str, int]]:
        """Every lookup item (`app#<id>` / `dec#<id>`, chain, seq): what readers trust to
        find an entry, checked by verify against the entries' hashed keys."""
        for ix in self._Index.scan(consistent_read=True):
            yield ix.key, ix.chain_id, int(ix.seq)

    def get_decision(self, decision_id: str) -> Entry | None:
        return self._by_index(f"dec#{decision_id}")

    def get_by_application(self, application_id: str) -> Entry | None:
        return self._by_index(f"app#{application_id}")

    def chains(self) -> list[str]:
        return sorted(c.chain_id for c in self._Chain.scan(consistent_read=True))

    def entries(self, chain_id: str | None = None, from_seq: int | None = None,
                to_seq: int | None = None) -> Iterator[Entry]:
        E = self._Entry
        cond = None
        if from_seq is not None and to_seq is not None:
            cond = E.seq.between(from_seq, to_seq)
        elif from_seq is not None:
            cond = E.seq >= from_seq
        elif to_seq is not None:
            cond = E.seq <= to_seq
        for chain in [chain_id] if chain_id is not None else self.chains():
            for item in E.query(chain, cond, consistent_read=True):
                yield _entry(item)

    def heads(self) -> list[Head]:
        heads = []
        for chain in self.chains():
            last = list(self._Entry.query(chain, scan_index_forward=False, limit=1,
                                          consistent_read=True))
            if last:
                heads.append(Head(chain, int(last[0].seq), last[0].hash))
        return heads

    def ping(self) -> None:
        self._Chain.describe_table()

    def close(self) -> None:
        pass  # botocore's pooled connections need no explicit close


def _entry(item: Any) -> Entry:
    return Entry(item.chain_id, int(item.seq), item.prev_hash, item.hash, bytes(item.body),
                 item.appended_at, item.country, item.application_id, item.decision_id)


class DynamoDBDigestStore:
    """Signed digests in their own table, apart from the log's tables."""

    def __init__(self, table_prefix: str, *, endpoint: str | None = None,
                 region: str = "eu-west-1", timeouts: Timeouts = DEFAULT_TIMEOUTS) -> None:
        self._Digest = _tables(table_prefix, endpoint, region, timeouts)[3]
        _ensure(self._Digest)

    def put(self, digest: Digest) -> None:
        D = self._Digest
        D("digest", digest.issued_at, doc=canonical(digest.to_json())).save(
            condition=D.issued_at.does_not_exist())

    def latest(self) -> Digest | None:
        import orjson

        last = list(self._Digest.query("digest", scan_index_forward=False, limit=1,
                                       consistent_read=True))
        return Digest.from_json(orjson.loads(bytes(last[0].doc))) if last else None

    def close(self) -> None:
        pass


class DynamoDBCustomerKeyStore:
    """Customer data keys in their own table, shared by every API process and host, so one
    erasure reaches all of them and a customer gets one key whichever host decides first."""

    def __init__(self, table_prefix: str, *, endpoint: str | None = None,
                 region: str = "eu-west-1", timeouts: Timeouts = DEFAULT_TIMEOUTS) -> None:
        self._Key = _tables(table_prefix, endpoint, region, timeouts)[4]
        _ensure(self._Key)
        self._conn = self._Key._get_connection().connection

    def _item(self, name: str) -> Any:
        try:
            return self._Key.get(name, consistent_read=True)
        except DoesNotExist:
            return None

    def get(self, customer_ref: str) -> CustomerKey | None:
        item = self._item(f"cust#{customer_ref}")
        if item is None or item.wrapped is None:
            return None
        return CustomerKey(item.key_ref, bytes(item.wrapped),
                           tuple(sorted(item.national_refs or ())))

    def create(self, customer_ref: str, key: CustomerKey) -> CustomerKey:
        K = self._Key
        try:
            with TransactWrite(connection=self._conn) as tx:
                tx.save(K(f"cust#{customer_ref}", key_ref=key.key_ref, wrapped=key.wrapped,
                          national_refs=set(key.national_refs) or None),
                        condition=K.customer_ref.does_not_exist())
                tx.save(K(f"key#{key.key_ref}", wrapped=key.wrapped),
                        condition=K.customer_ref.does_not_exist())
        except TransactWriteError:
            stored = self.get(customer_ref)
            if stored is None:
                raise
            return stored  # another host's key won
        return key

    def note_national_ref(self, customer_ref: str, national_ref: str) -> None:
        K = self._Key
        try:  # ADD to a set is idempotent and safe under concurrency
            K(f"cust#{customer_ref}").update(actions=[K.national_refs.add({national_ref})],
                                             condition=K.customer_ref.exists())
        except UpdateError as exc:
            if not _condition_failed(exc):
                raise

    def wrapped(self, key_ref: str) -> bytes | None:
        item = self._item(f"key#{key_ref}") or self._item(key_ref)  # legacy: key_ref = ref
        return bytes(item.wrapped) if item is not None and item.wrapped is not None else None

    def is_erased(self, key_ref: str) -> bool:
        item = self._item(f"key#{key_ref}") or self._item(key_ref)
        return item is not None and item.erased_at is not None

    def schedule_erasure(self, customer_ref: str, due_at: str) -> bool:
        K = self._Key
        try:
            K(f"cust#{customer_ref}").update(actions=[K.erase_after.set(due_at)],
                                             condition=K.customer_ref.exists())
        except UpdateError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True

    def due_erasures(self, now: str) -> list[str]:
        K = self._Key  # a scan: erasures are rare and this runs from a scheduled job
        return sorted(i.customer_ref.removeprefix("cust#") for i in K.scan(
            K.customer_ref.startswith("cust#") & (K.erase_after <= now), consistent_read=True))

    def erase(self, customer_ref: str) -> Erased | None:
        K = self._Key
        legacy = self._erase_legacy(customer_ref)
        item = self._item(f"cust#{customer_ref}")
        if item is None:
            return legacy
        try:  # one transaction: of two concurrent erasures only one finds the entry
            with TransactWrite(connection=self._conn) as tx:
                tx.delete(K(f"cust#{customer_ref}"), condition=K.customer_ref.exists())
                tx.update(K(f"key#{item.key_ref}"),
                          actions=[K.wrapped.remove(), K.erased_at.set(now_stamp())])
        except TransactWriteError:
            return legacy
        return Erased(item.key_ref, sorted(item.national_refs or ()))

    def _erase_legacy(self, customer_ref: str) -> Erased | None:
        """A key written before random key refs lives under the customer_ref itself."""
        K = self._Key
        try:
            K(customer_ref).update(actions=[K.wrapped.remove(), K.erased_at.set(now_stamp())],
                                   condition=K.wrapped.exists())
        except UpdateError as exc:
            if _condition_failed(exc):
                return None
            raise
        return Erased(customer_ref)

    def key_refs(self) -> list[str]:
        K = self._Key
        return sorted(i.customer_ref.removeprefix("key#") for i in K.scan(
            K.customer_ref.startswith("key#") & K.wrapped.exists(), consistent_read=True))

    def rewrap(self, key_ref: str, wrapped: bytes) -> None:
        K = self._Key
        try:  # a key erased meanwhile stays erased
            K(f"key#{key_ref}").update(actions=[K.wrapped.set(wrapped)],
                                       condition=K.wrapped.exists())
        except UpdateError as exc:
            if not _condition_failed(exc):
                raise
        # The customer's own copy, found by its key_ref (rotation is rare: a scan is fine).
        for item in K.scan(K.customer_ref.startswith("cust#") & (K.key_ref == key_ref),
                           consistent_read=True):
            try:
                item.update(actions=[K.wrapped.set(wrapped)], condition=K.wrapped.exists())
            except UpdateError as exc:
                if not _condition_failed(exc):
                    raise

    def close(self) -> None:
        pass


def _condition_failed(exc: UpdateError) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"
