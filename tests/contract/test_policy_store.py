"""The PolicyStore contract: the same behaviour from every backend. A backend joins by one line
in BACKENDS and one case in `policy_config`."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from strategy.errors import PolicyConflict
from strategy.factory import build_policy_store
from strategy.model import PolicyVersion, sha256
from strategy.postgres import PostgresPolicyConfig
from strategy.sqlite import SQLitePolicyConfig
from tests.contract.conftest import instances

BACKENDS = ["sqlite", "postgres"]


def policy_config(kind: str, tmp_path: Path, request: pytest.FixtureRequest):
    if kind == "sqlite":
        return SQLitePolicyConfig(path=tmp_path / "policies.db")
    if kind == "postgres":  # a fresh database at every schema head, as the service's role
        return PostgresPolicyConfig(url=request.getfixturevalue("postgres_db").url)
    raise ValueError(kind)


@pytest.fixture(params=BACKENDS)
def connect(request, tmp_path):
    """Opens store instances on one backing store, as separate workers would."""
    yield from instances(lambda: build_policy_store(policy_config(request.param, tmp_path, request)))


@pytest.fixture
def store(connect):
    return connect()


def proposal(version="v2", at="2026-11-30T10:00:00+00:00", by="k1") -> PolicyVersion:
    text = f'version = "{version}"\n'
    return PolicyVersion(version=version, text=text, sha256=sha256(text), state="proposed",
                         based_on="v1", proposed_by=by, proposed_by_id=by, proposed_at=at,
                         proposal_reason="why")


def approved(p: PolicyVersion, by="k2") -> PolicyVersion:
    return p.model_copy(update={"state": "live", "approved_by": by, "approved_by_id": by,
                                "approved_at": "2026-11-30T11:00:00+00:00",
                                "approval_reason": "checked"})


def test_a_proposal_reads_back_equal_and_is_not_live(store):
    """A proposal reads back equal, appears in the history and leaves nothing live."""
    p = proposal()
    store.add(p)
    assert store.get("v2") == p
    assert store.versions() == [p]
    assert store.live_version() is None
    assert store.get("nope") is None


def test_a_version_is_added_once(store):
    """The same version twice is a conflict; the first stays."""
    store.add(proposal())
    with pytest.raises(PolicyConflict):
        store.add(proposal(at="2026-11-30T12:00:00+00:00", by="other"))
    assert store.get("v2").proposed_by == "k1"


def test_approval_makes_it_live_and_retires_the_previous(connect):
    """Approving v3 while v2 is live: v3 live, v2 retired with a time; one live version,
    seen alike by another instance."""
    a, b = connect(), connect()
    a.add(proposal("v2"))
    a.approve(approved(proposal("v2")), None)
    a.add(proposal("v3", at="2026-11-30T10:05:00+00:00"))
    a.approve(approved(proposal("v3", at="2026-11-30T10:05:00+00:00")), "v2")
    assert b.live_version() == "v3"
    states = {v.version: v for v in b.versions()}
    assert states["v2"].state == "retired" and states["v2"].retired_at is not None
    assert states["v3"].state == "live" and states["v3"].approved_by == "k2"
    assert [v.version for v in b.versions()] == ["v2", "v3"]


def test_approval_is_a_compare_and_set(store):
    """An approval against a stale live version, of a non-proposal or of an unknown version
    is refused and changes nothing."""
    store.add(proposal("v2"))
    store.add(proposal("v3", at="2026-11-30T10:05:00+00:00"))
    store.approve(approved(proposal("v2")), None)
    with pytest.raises(PolicyConflict):  # reviewed while nothing was live; v2 is now
        store.approve(approved(proposal("v3", at="2026-11-30T10:05:00+00:00")), None)
    with pytest.raises(PolicyConflict):  # v2 is live, not a proposal
        store.approve(approved(proposal("v2")), "v2")
    with pytest.raises(PolicyConflict):
        store.approve(approved(proposal("v9")), "v2")
    assert store.live_version() == "v2"
    assert store.get("v3").state == "proposed"


def test_concurrent_approvals_one_wins(connect):
    """Two instances approving two proposals against the same live version: exactly one
    wins, the other gets a conflict, and exactly one version is live."""
    a, b = connect(), connect()
    a.add(proposal("v2"))
    a.add(proposal("v3", at="2026-11-30T10:05:00+00:00"))
    results: list[str] = []
    barrier = threading.Barrier(2)

    def go(store, p):
        barrier.wait()
        try:
            store.approve(approved(p), None)
            results.append("ok")
        except PolicyConflict:
            results.append("conflict")

    threads = [threading.Thread(target=go, args=(a, proposal("v2"))),
               threading.Thread(target=go, args=(b, proposal("v3", at="2026-11-30T10:05:00+00:00")))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict", "ok"]
    assert sum(v.state == "live" for v in a.versions()) == 1
