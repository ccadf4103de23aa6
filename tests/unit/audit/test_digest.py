"""Signed digests: keys created once outside the repo, signatures, the periodic writer."""

import asyncio
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.digest import Digest, DigestSigner, DigestWriter, Head, SQLiteDigestStore


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


def test_writer_signs_when_heads_move_anchors_each_and_signs_at_stop(tmp_path):
    """Ticking every 20 ms, a digest is written (and anchored) once per change of the heads,
    not while they stand still; stop() writes one more with the final heads."""
    from audit.anchor import DirectoryAnchor

    heads = [Head("c", 1, "a" * 64)]
    store = SQLiteDigestStore(tmp_path / "d.db")
    anchor = DirectoryAnchor(tmp_path / "anchors")
    writer = DigestWriter(lambda: list(heads), DigestSigner.from_key_file(tmp_path / "k.pem"),
                          store, interval_s=0.02, anchor=anchor)

    async def run():
        writer.start()
        for seq in (1, 2, 3):
            heads[0] = Head("c", seq, f"{seq}" * 64)
            await asyncio.sleep(0.3)
        await writer.stop()

    asyncio.run(run())
    n = store._conn.execute("SELECT COUNT(*) FROM digests").fetchone()[0]
    assert n == 4
    assert store.latest().head_of("c").seq == 3 and anchor.latest() == store.latest()
    assert len(list((tmp_path / "anchors").rglob("*.json"))) == 4


def test_directory_anchor_is_write_once_and_finds_the_newest(tmp_path):
    """An anchored digest is never replaced, files are read-only, and `latest` finds the
    newest across hour directories."""
    from audit.anchor import DirectoryAnchor

    signer = DigestSigner.from_key_file(tmp_path / "k.pem")
    anchor = DirectoryAnchor(tmp_path / "a")
    assert anchor.latest() is None
    first = signer.sign([Head("c", 1, "a" * 64)])
    older = Digest("2025-12-31T23:59:59.000000Z", first.heads, first.key_id, first.signature)
    anchor.put(older)
    anchor.put(first)
    assert anchor.latest() == first
    with pytest.raises(FileExistsError):
        anchor.put(first)
    files = list((tmp_path / "a").rglob("*.json"))
    assert len(files) == 2 and all(oct(f.stat().st_mode)[-3:] == "444" for f in files)


def test_s3_anchor_is_locked_in_compliance_mode(moto_endpoint, monkeypatch):
    """On S3 (moto's server) an anchored digest cannot be deleted; a later upload under the
    newest name that holds an older digest does not hide the newest one."""
    import boto3
    from botocore.exceptions import ClientError

    from audit.s3_anchor import S3Anchor, S3AnchorConfig

    for k, v in (("AWS_ACCESS_KEY_ID", "t"), ("AWS_SECRET_ACCESS_KEY", "t")):
        monkeypatch.setenv(k, v)
    anchor = S3Anchor(S3AnchorConfig(bucket="anchors-test", endpoint=moto_endpoint))
    anchor.ensure_bucket()
    signer = DigestSigner(Ed25519PrivateKey.generate())
    old = signer.sign([Head("c", 1, "a" * 64)])
    new = signer.sign([Head("c", 2, "b" * 64)])
    anchor.put(old)
    anchor.put(new)
    assert anchor.latest() == new
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="eu-west-1")
    key = next(v for v in s3.list_object_versions(Bucket="anchors-test")["Versions"]
               if v["Key"].endswith(f"{new.issued_at}.json"))
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(Bucket="anchors-test", Key=key["Key"], VersionId=key["VersionId"])
    from audit.record import canonical

    s3.put_object(Bucket="anchors-test", Key=key["Key"], Body=canonical(old.to_json()),
                  ChecksumAlgorithm="SHA256")  # a replay of the older digest, newest name
    assert anchor.latest() == new
