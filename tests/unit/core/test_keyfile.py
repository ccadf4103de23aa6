"""Local key files: created once, whole and private, whoever starts first."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

from audit.digest import DigestSigner
from core.keyfile import load_or_create


def test_created_once_whole_and_private_under_a_race(tmp_path):
    """Eight threads starting together all read the one key that won; it is mode 0600 and
    no temporary file is left."""
    for round_ in range(20):
        path = tmp_path / str(round_) / "keys" / "k.key"
        start, keys = threading.Barrier(8), []

        def first_use(path=path, start=start, keys=keys):
            start.wait()
            keys.append(load_or_create(path))

        threads = [threading.Thread(target=first_use) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(keys) == 8 and len(set(keys)) == 1 and len(keys[0]) == 32
        assert path.stat().st_mode & 0o777 == 0o600
        assert list(path.parent.iterdir()) == [path]


def _first_use(path: str, out: multiprocessing.Queue) -> None:
    out.put(DigestSigner.from_key_file(Path(path)).key_id)


def test_workers_starting_together_sign_with_the_same_digest_key(tmp_path):
    """The API's workers start at once on a fresh data dir: each must sign with the key
    whose public half is on disk (two keys would make one worker's digests unverifiable)."""
    path = tmp_path / "keys" / "audit-digest.pem"
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_first_use, args=(str(path), out)) for _ in range(4)]
    for p in procs:
        p.start()
    ids = {out.get(timeout=30) for _ in procs}
    for p in procs:
        p.join(30)
    assert len(ids) == 1 and DigestSigner.from_key_file(path).key_id in ids


def test_an_existing_file_is_read_not_made_again(tmp_path):
    path = tmp_path / "k"
    path.write_bytes(b"x" * 40)
    assert load_or_create(path, lambda: b"never") == b"x" * 40
