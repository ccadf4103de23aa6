"""`credit data synth` through the real CLI, read back by the training loader."""

from typer.testing import CliRunner

from app.cli import cli
from training.data import load_dataset
from training.validate import validate


def test_synth_writes_a_file_train_can_read(tmp_path):
    out = tmp_path / "apps.csv"
    result = CliRunner().invoke(cli, ["data", "synth", "--rows", "800", "--out", str(out)],
                                env={"CREDIT_DATA_DIR": str(tmp_path / "data")})
    assert result.exit_code == 0, result.output
    assert "800 rows" in result.output
    df = load_dataset(out)
    assert len(df) == 800 and validate(df).bad == 0
    assert set(df["bad"]) == {0, 1}


def test_unreadable_input_is_a_clear_error(tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("age,income\n30,100\n")
    result = CliRunner().invoke(cli, ["train", "--data", str(bad)],
                                env={"CREDIT_DATA_DIR": str(tmp_path / "data")})
    assert result.exit_code == 2
    assert "missing columns" in result.output and "Traceback" not in result.output
