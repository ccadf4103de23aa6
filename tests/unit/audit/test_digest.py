"""Signed digests: keys created once outside the repo, signatures, the periodic writer."""

import asyncio
import stat

from audit.digest import DigestSigner, DigestWriter, Head, SQLiteDigestStore


def test_key_file_is_created_once_private(tmp_path):
    path = tmp_path / "keys" / "audit-digest.pem"
    a = DigestSigner.from_key_file(path)
    b = DigestSigner.from_key_file(path)
    assert a.key_id == b.key_id
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"PUBLIC KEY" in path.with_suffix(".pub.pem").read_bytes()


def test_digest_round_trips_through_its_store(backend, tmp_path):
    """Every backend's digest store gives back the latest digest, signature intact."""
    signer = DigestSigner.from_key_file(tmp_path / "k.pem")
    store = backend.digests()
    assert store.latest() is None
    store.put(signer.sign([Head("a", 1, "d" * 64)]))
    d = signer.sign([Head("b", 2, "f" * 64), Head("a", 7, "e" * 64)])
    store.put(d)
    got = store.latest()
    assert got == d and got.verify(signer.public_key)
    assert [h.chain_id for h in got.heads] == ["a", "b"] and got.head_of("a").seq == 7


def test_writer_signs_periodically_and_at_stop(tmp_path):
    """With a 20 ms interval several digests appear; stop() writes one more with the final heads."""
    heads = [Head("c", 1, "a" * 64)]
    store = SQLiteDigestStore(tmp_path / "d.db")
    writer = DigestWriter(lambda: list(heads), DigestSigner.from_key_file(tmp_path / "k.pem"),
                          store, interval_s=0.02)

    async def run():
        writer.start()
        await asyncio.sleep(0.15)
        heads[0] = Head("c", 2, "b" * 64)
        await writer.stop()

    asyncio.run(run())
    n = store._conn.execute("SELECT COUNT(*) FROM digests").fetchone()[0]
    assert n >= 3
    assert store.latest().head_of("c").seq == 2
