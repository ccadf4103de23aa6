"""Request bodies, prepared once per run and written one per line for the load generators.

Decision bodies are stored WITHOUT their opening brace and application_id: the generators
splice a unique id in front (`{"application_id":"<id>",` + line), so no request is an
idempotent replay. Peer bodies are complete `dataframe_split` payloads of the same rows'
feature vectors (what the model needs, with no enrichment, explanation or audit).
"""

from __future__ import annotations

import json
from pathlib import Path

ID_FIELD = '{"application_id":"'


def decision_tail(row: int, df) -> str:
    """One decision body for credit_data row `row`, minus `{"application_id":...,`."""
    from app.simulators.server import application_for_row

    body = application_for_row(row, df)
    body.pop("application_id")
    text = json.dumps(body, separators=(",", ":"))
    return text[1:]  # drop "{": the generator writes it with the id


def decision_body(tail: str, application_id: str) -> bytes:
    return f'{ID_FIELD}{application_id}",{tail}'.encode()


def peer_body(features: list[float]) -> str:
    from models.features import FEATURE_NAMES

    # NaN (a missing income, say) travels as null; MLflow turns it back into NaN.
    data = [[None if v != v else v for v in features]]
    return json.dumps({"dataframe_split": {"columns": list(FEATURE_NAMES), "data": data}},
                      separators=(",", ":"))


def write_bodies(out_dir: Path, rows: int) -> tuple[Path, Path]:
    """Write `rows` decision tails and the same rows' peer bodies; returns both paths.

    The rows are spread over all of credit_data (every known applicant of the simulators)."""
    from models.features import feature_matrix
    from training.data import load_credit_data, raw_columns

    df = load_credit_data()
    step = max(1, len(df) // rows)
    picked = list(range(1, len(df) + 1, step))[:rows]
    x = feature_matrix(raw_columns(df.loc[picked]))
    decisions, peers = out_dir / "decision_bodies.txt", out_dir / "peer_bodies.txt"
    decisions.write_text("".join(decision_tail(r, df) + "\n" for r in picked))
    peers.write_text("".join(peer_body(list(map(float, x[i]))) + "\n" for i in range(len(picked))))
    return decisions, peers


def read_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line]
