import asyncio

from audit.group_commit import GroupCommitter
from audit.sqlite import SQLiteAuditStore
from audit.store import DuplicateApplication
from audit.verify import verify_entries


class CountingStore(SQLiteAuditStore):
    """The real SQLite store, counting its transactions."""

    batches: list[int]

    def append_many(self, items):
        self.batches.append(len(items))
        return super().append_many(items)


def test_concurrent_appends_share_transactions(tmp_path):
    """200 concurrent appends are all durable, in fewer transactions than records."""
    store = CountingStore(tmp_path / "a.db")
    store.batches = []
    committer = GroupCommitter(store)

    async def run():
        return await asyncio.gather(*(committer.append({"i": i}, application_id=f"A{i}")
                                      for i in range(200)))

    entries = asyncio.run(run())
    assert sorted(e.seq for e in entries) == list(range(1, 201))
    assert sum(store.batches) == 200 and len(store.batches) < 200
    assert verify_entries(store.entries()).checked == 200


def test_duplicate_in_a_batch_fails_only_its_caller(tmp_path):
    store = SQLiteAuditStore(tmp_path / "a.db")
    committer = GroupCommitter(store)

    async def run():
        return await asyncio.gather(committer.append({"i": 1}, application_id="A"),
                                    committer.append({"i": 2}, application_id="A"),
                                    return_exceptions=True)

    first, second = asyncio.run(run())
    assert first.seq == 1 and isinstance(second, DuplicateApplication)
