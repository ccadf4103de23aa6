"""`credit audit verify` on a log big enough to be cut into ranges checked in worker
processes: OK with every record counted, and a flipped byte named exactly."""

import os
import sqlite3
import subprocess
import sys

from app.settings import Settings
from audit.sqlite import SQLiteAuditStore

BIG, SMALL = 25_000, 20_000  # two chains; the first spans two ranges of 20,000


def verify(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", "audit", "verify", "--jobs", "2"],
                          env=env, capture_output=True, text=True, timeout=120)


def test_parallel_verify_from_the_cli(tmp_path):
    settings = Settings(data_dir=tmp_path)
    env = {**os.environ, "CREDIT_DATA_DIR": str(tmp_path)}
    big, small = (SQLiteAuditStore(settings.audit_db_path, c) for c in ("a-big", "b-small"))
    for store, n in ((big, BIG), (small, SMALL)):
        for start in range(0, n, 5_000):
            store.append_many([({"n": i, "country": "ES"}, None, None)
                               for i in range(start, start + 5_000)])
    assert subprocess.run([sys.executable, "-m", "app.cli", "audit", "digest"], env=env,
                          capture_output=True, text=True).returncode == 0
    ok = verify(env)
    assert ok.returncode == 0 and f"OK: {BIG + SMALL} records in 2 chains" in ok.stderr, ok.stderr

    conn = sqlite3.connect(settings.audit_db_path)
    conn.execute("DROP TRIGGER entries_no_update")
    conn.execute("UPDATE entries SET body = CAST(replace(CAST(body AS TEXT), '22222', '22223') "
                 "AS BLOB) WHERE chain_id = 'a-big' AND seq = 22223")
    conn.commit()
    bad = verify(env)
    assert bad.returncode == 1 and "FAILED at a-big#22223: content does not match" in bad.stderr
