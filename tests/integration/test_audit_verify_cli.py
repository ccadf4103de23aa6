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


def cli(env, *args):
    return subprocess.run([sys.executable, "-m", "app.cli", "audit", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def tamper(path, *statements):
    """What someone with write access to the storage can do (the store's triggers dropped)."""
    conn = sqlite3.connect(path)
    conn.executescript("DROP TRIGGER IF EXISTS entries_no_update; "
                       "DROP TRIGGER IF EXISTS entries_no_delete;")
    for sql in statements:
        conn.execute(sql)
    conn.commit()
    conn.close()


def signed_log(tmp_path):
    """Chain a: 10 entries, a digest; 5 more, a second digest (each anchored); chain b: 3."""
    settings = Settings(data_dir=tmp_path)
    env = {**os.environ, "CREDIT_DATA_DIR": str(tmp_path)}
    a, b = (SQLiteAuditStore(settings.audit_db_path, c) for c in ("a", "b"))
    for i in range(10):
        a.append({"n": i, "country": "ES"})
    b.append_many([({"n": i, "country": "PT"}, None, None) for i in range(3)])
    assert cli(env, "digest").returncode == 0
    a.append_many([({"n": i, "country": "ES"}, None, None) for i in range(10, 15)])
    assert cli(env, "digest").returncode == 0
    return settings, env


def test_deleting_the_newest_records_and_digests_is_caught_by_the_anchor(tmp_path):
    """The attacker cuts chain a after seq 7 and deletes the newest digest beside the log:
    the anchored digest still names the cut, for the whole log and for --chain a."""
    settings, env = signed_log(tmp_path)
    ok = cli(env, "verify")
    assert ok.returncode == 0 and "complete up to the signed digest" in ok.stderr, ok.stderr
    assert "proven against the write-once anchor" in ok.stderr
    tamper(settings.audit_db_path, "DELETE FROM entries WHERE chain_id='a' AND seq > 7")
    tamper(settings.audit_digest_db_path,
           "DELETE FROM digests WHERE id = (SELECT MAX(id) FROM digests)")
    for args in (("verify",), ("verify", "--chain", "a")):
        bad = cli(env, *args)
        assert bad.returncode == 1, bad.stderr
        assert "FAILED at a#8" in bad.stderr and "truncated" in bad.stderr, bad.stderr
    assert cli(env, "verify", "--chain", "b").returncode == 0


def test_verify_chain_checks_the_start_and_text_bodies_are_named(tmp_path):
    """--chain checks a chain from seq 1 (a deleted first record shows); a body rewritten
    in place as TEXT is named, not a crash."""
    settings, env = signed_log(tmp_path)
    tamper(settings.audit_db_path, "DELETE FROM entries WHERE chain_id='a' AND seq = 1")
    bad = cli(env, "verify", "--chain", "a")
    assert bad.returncode == 1 and "FAILED at a#2: chain starts at seq 2, not 1" in bad.stderr
    tamper(settings.audit_db_path,
           "UPDATE entries SET body = CAST(body AS TEXT) WHERE chain_id='b' AND seq = 2")
    bad = cli(env, "verify", "--chain", "b")
    assert bad.returncode == 1 and "FAILED at b#2: body is stored as text" in bad.stderr


def test_export_refuses_unknown_countries_and_takes_the_last_day(tmp_path):
    """An unknown or path-like country is refused (it used to sign an empty 'complete'
    export); --to 9999-12-31 is the end of time, not a traceback."""
    settings, env = signed_log(tmp_path)
    for country in ("ZZ", "../x"):
        r = cli(env, "export", "--country", country, "--from", "2020-01-01", "--to",
                "2021-01-01", "--out", str(tmp_path / "x"))
        assert r.returncode == 2 and "unknown country" in r.stderr
    assert not (tmp_path / "x").exists()
    r = cli(env, "export", "--country", "ES", "--from", "2020-01-01", "--to", "9999-12-31",
            "--out", str(tmp_path / "es"), "--settle-seconds", "0")
    assert r.returncode == 0 and "exported 15 records of ES" in r.stderr, r.stderr
