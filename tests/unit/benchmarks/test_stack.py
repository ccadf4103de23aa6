"""benchmarks/stack.py: a target is measured only once every one of its workers is up."""

import subprocess
import threading
import time

import pytest

from benchmarks.stack import wait_workers

LINE = "Application startup complete"


@pytest.fixture()
def proc():
    p = subprocess.Popen(["sleep", "30"])
    yield p
    p.kill()
    p.wait()


def test_workers_are_counted_from_this_start_on(tmp_path, proc):
    """A log kept across starts: the previous start's lines do not count; the wait ends
    when this start's second worker is up."""
    log = tmp_path / "peer.log"
    log.write_text(f"{LINE}.\n{LINE}.\n")
    offset = log.stat().st_size
    with log.open("a") as f:
        f.write(f"{LINE}.\n")

    def second_worker():
        time.sleep(0.5)
        with log.open("a") as f:
            f.write(f"{LINE}.\n")

    t = threading.Thread(target=second_worker)
    start = time.monotonic()
    t.start()
    wait_workers(log, 2, proc, timeout_s=5, offset=offset)
    t.join()
    assert time.monotonic() - start >= 0.5


def test_a_worker_that_never_comes_up_is_an_error(tmp_path, proc):
    log = tmp_path / "peer.log"
    log.write_text(f"{LINE}.\n{LINE}.\n")
    with pytest.raises(RuntimeError, match="not all 2 workers started"):
        wait_workers(log, 2, proc, timeout_s=0.5, offset=log.stat().st_size)
