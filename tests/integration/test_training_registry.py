"""Aliases, promotion with gates, rollback and the alias history on a real MLflow registry."""

import pytest

from app.settings import Settings
from models.registry import ModelRegistry, PromotionRefused
from tests.conftest import global_tracking_uri, register_again


def new_version(reg: ModelRegistry, source_version: str, gates: str | None) -> str:
    return register_again(reg, reg.client.get_model_version(reg.model_name, source_version),
                          gates)


@pytest.fixture
def reg(data_dir):
    s = Settings(data_dir=data_dir)
    return ModelRegistry(s.mlflow_uri, s.model_name, s.mlflow_artifacts_dir)


def test_promote_refuses_failed_or_unchecked_gates_unless_forced_with_a_reason(reg, trained):
    v1 = trained[1].version
    failed, unchecked = new_version(reg, v1, "failed"), new_version(reg, v1, None)
    for v in (failed, unchecked):
        with pytest.raises(PromotionRefused, match="gates"):
            reg.promote(v)
    with pytest.raises(PromotionRefused, match="reason"):
        reg.promote(failed, force=True)
    assert reg.version_for("champion") == v1
    event = reg.promote(failed, force=True, reason="incident 42: hotfix", who="alice")
    assert (event.version, event.previous, event.forced, event.who) == (failed, v1, True, "alice")
    assert reg.version_for("champion") == failed


def test_history_records_who_when_why_and_rollback_walks_back(reg, trained):
    v1 = trained[1].version
    v2, v3 = new_version(reg, v1, "passed"), new_version(reg, v1, "passed")
    reg.promote(v2, who="bob", reason="better AUC")
    reg.promote(v3, who="carol", reason="newer data")
    assert reg.rollback(who="dave", reason="latency").version == v2
    assert reg.version_for("champion") == v2
    assert reg.rollback(who="dave").version == v1
    with pytest.raises(PromotionRefused, match="no previous"):
        reg.rollback()
    events = reg.history("champion")
    assert [(e.action, e.version) for e in events] == [
        ("register", v1), ("promote", v2), ("promote", v3), ("rollback", v2), ("rollback", v1)]
    assert events[1].who == "bob" and events[1].why == "better AUC" and events[1].previous == v1
    assert events[3].previous == v3 and events[3].when.endswith("+00:00")


def test_cli_list_promote_rollback(data_dir, trained):
    """`credit model ...` through the real CLI: a refused promotion exits 1, the forced one and
    the rollback are listed in the history with their reasons."""
    from typer.testing import CliRunner

    from app.cli import cli

    env = {"CREDIT_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    s = Settings(data_dir=data_dir)
    reg = ModelRegistry(s.mlflow_uri, s.model_name, s.mlflow_artifacts_dir)
    v1, v2 = trained[1].version, new_version(reg, trained[1].version, "failed")
    runner = CliRunner()

    def credit(*args):
        return runner.invoke(cli, list(args), env=env)

    refused = credit("model", "promote", v2)
    assert refused.exit_code == 1 and "gates failed" in refused.output
    assert reg.version_for("champion") == v1
    forced = credit("model", "promote", v2, "--force", "--reason", "audit-approved exception")
    assert forced.exit_code == 0, forced.output
    listed = credit("model", "list")
    rows = {line.split("│")[1].strip(): line for line in listed.output.splitlines() if "│" in line}
    assert "champion" in rows[v2] and "failed" in rows[v2] and "champion" not in rows[v1]
    assert credit("model", "rollback", "--reason", "drill").exit_code == 0
    assert reg.version_for("champion") == v1
    history = credit("model", "history").output
    assert "audit-approved exception" in history and "drill" in history


def test_cli_downloads_a_versions_card(data_dir, trained, tmp_path):
    from typer.testing import CliRunner

    from app.cli import cli

    result = CliRunner().invoke(cli, ["model", "card", trained[1].version, "--out", str(tmp_path)],
                                env={"CREDIT_DATA_DIR": str(data_dir)})
    assert result.exit_code == 0, result.output
    html = (tmp_path / "model_card" / "model_card.html").read_text()
    assert f"version {trained[1].version}" in html and "Fairness" in html


def test_a_version_registers_again_whatever_the_process_tracking_uri(reg, tmp_path):
    """MLflow resolves a `models:/m-...` source through the global tracking URI; another
    test of the same worker may have left it on its own registry (a flake seen in CI)."""
    champion = reg.client.get_model_version_by_alias(reg.model_name, "champion")
    with global_tracking_uri(f"sqlite:///{tmp_path / 'another-registry.db'}"):
        version = register_again(reg, champion)
    assert reg.client.get_model_version(reg.model_name, version).run_id == champion.run_id
