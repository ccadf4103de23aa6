"""Local bureau and open-banking simulators (one HTTP server, two base paths).

Known applicants: row n (1-based) of credit_data has the Spanish DNI-style national id
`dni_for_row(n)`: n as eight digits plus its check letter (row 1 -> "00000001R"). The
bureau answers that row's Records and Debt, open banking its Income, Expenses and Assets.
Anyone else gets a deterministic, plausible answer: a donor row chosen by a hash of the id,
its amounts scaled by a factor in [0.9, 1.1] drawn from the same hash.

Mounted at /bureau and /open-banking; `credit simulators` serves them. Faults are injected
at run time over HTTP under /_faults (app/simulators/faults.py).
"""

from __future__ import annotations

import hashlib
import math
import re

import numpy as np
from fastapi import FastAPI
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from app.simulators.faults import FaultInjector, mount_fault_routes
from models.dataset import load_credit_data

DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_DNI = re.compile(r"^(\d{8})([A-Z])$")


def dni_for_row(row: int) -> str:
    return f"{row:08d}{DNI_LETTERS[row % 23]}"


class Lookup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    national_id: str = Field(min_length=1, max_length=64)


def _clean(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


class ApplicantData:
    """Answers for any national id, from credit_data."""

    def __init__(self) -> None:
        self.df = load_credit_data()

    def row_for(self, national_id: str) -> tuple[int, float]:
        """(row, scale): the known row with scale 1.0, or a hashed donor row and its scale."""
        m = _DNI.match(national_id.strip().upper())
        if m and 1 <= int(m.group(1)) <= len(self.df) and DNI_LETTERS[int(m.group(1)) % 23] == m.group(2):
            return int(m.group(1)), 1.0
        seed = int.from_bytes(hashlib.sha256(national_id.encode()).digest()[:8], "big")
        rng = np.random.default_rng(seed)
        return int(rng.integers(1, len(self.df) + 1)), float(np.round(rng.uniform(0.9, 1.1), 2))

    def bureau(self, national_id: str) -> dict:
        row, scale = self.row_for(national_id)
        r = self.df.loc[row]
        debt = _clean(r["debt"])
        return {"bad_records": bool(r["records"] == 1.0),
                "debt": None if debt is None else round(debt * scale, 2)}

    def open_banking(self, national_id: str) -> dict:
        row, scale = self.row_for(national_id)
        r = self.df.loc[row]
        out = {k: _clean(r[k]) for k in ("income", "expenses", "assets")}
        return {k: None if v is None else round(v * scale, 2) for k, v in out.items()}


def create_simulator_app() -> FastAPI:
    data = ApplicantData()
    faults = FaultInjector()
    bureau = FastAPI(title="Bureau simulator")
    banking = FastAPI(title="Open-banking simulator")

    @bureau.post("/v1/reports")
    async def report(body: Lookup) -> Response:
        return await faults.answer("bureau", lambda: data.bureau(body.national_id))

    @banking.post("/v1/summaries")
    async def summary(body: Lookup) -> Response:
        return await faults.answer("open_banking", lambda: data.open_banking(body.national_id))

    root = FastAPI(title="Enrichment simulators")

    @root.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    mount_fault_routes(root, faults)
    root.mount("/bureau", bureau)
    root.mount("/open-banking", banking)
    return root


def application_for_row(row: int, df=None, *, application_id: str | None = None,
                        country: str = "ES") -> dict:
    """A POST /v1/decisions body for credit_data row `row` (the simulators know its applicant)."""
    r = (df if df is not None else load_credit_data()).loc[row]
    return {
        "application_id": application_id or f"APP-{row}",
        "country": country,
        "applicant": {"customer_id": f"C-{row}", "national_id": dni_for_row(row),
                      "age": int(r["age"]), "marital_status": r["marital"], "home": r["home"],
                      "job": r["job"], "seniority_years": int(r["seniority"])},
        "loan": {"amount": float(r["amount"]), "purchase_price": float(r["price"]),
                 "term_months": int(r["time"])},
        "consent": {"bureau": True, "open_banking": True},
    }
