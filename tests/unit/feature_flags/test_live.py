import time

from feature_flags.file import FileFlagStore
from feature_flags.live import LiveFlags
from feature_flags.model import CountryFlag


def test_change_reaches_a_running_worker_within_a_second(store_factory):
    """Hot reload: another instance's kill switch is applied by the poller in < 1 s."""
    writer = store_factory()
    writer.put(CountryFlag("ES", "full", 10000), expected_version=0)
    live = LiveFlags(store_factory(), "shadow", poll_interval_s=0.1)
    live.start()
    try:
        assert live.get("ES").mode == "full"
        t0 = time.monotonic()
        writer.put(CountryFlag("ES", "legacy", 0), expected_version=1)
        while live.get("ES").mode != "legacy":
            assert time.monotonic() - t0 < 1.0, "kill switch not applied within 1 s"
            time.sleep(0.01)
    finally:
        live.stop()


def test_unset_country_uses_the_default_mode(tmp_path):
    live = LiveFlags(FileFlagStore(tmp_path / "f.json"), "shadow")
    live.refresh(force=True)
    assert live.get("IT").mode == "shadow" and live.get("IT").version == 0


class BrokenStore:
    """A FlagStore whose reads fail after the first (our Protocol, not a library mock)."""

    def __init__(self):
        self.calls = 0

    def version(self):
        self.calls += 1
        if self.calls > 1:
            raise ConnectionError("store down")
        return "1"

    def load(self):
        return {"ES": CountryFlag("ES", "canary", 500, 3)}

    def put(self, flag, expected_version):
        raise ConnectionError("store down")

    def ping(self):
        pass

    def close(self):
        pass


def test_unreadable_store_keeps_the_last_snapshot():
    errors = []
    live = LiveFlags(BrokenStore(), "full", poll_interval_s=0.02, on_error=errors.append)
    live.start()
    try:
        time.sleep(0.15)
        assert live.get("ES") == CountryFlag("ES", "canary", 500, 3)
        assert errors and isinstance(errors[0], ConnectionError)
    finally:
        live.stop()
