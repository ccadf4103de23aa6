"""The flag store contract runs against every backend: the file store and a real Redis."""

import pytest

from feature_flags.file import FileFlagStore


@pytest.fixture(params=["file", "redis"])
def store_factory(request, tmp_path):
    """Builds store instances sharing one backing store (as separate workers would)."""
    made = []

    def make():
        if request.param == "file":
            s = FileFlagStore(tmp_path / "flags.json")
        else:
            from feature_flags.redis import RedisFlagStore

            s = RedisFlagStore(request.getfixturevalue("redis_url"))
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
