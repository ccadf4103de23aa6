"""A loan application as the lending app sends it (the public interface, see DESIGN.md).
Strict: unknown fields and wrong types are refused."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

COUNTRIES = ("ES", "PT", "FR", "IT", "DE", "NL", "BE", "AT")
Country = Literal["ES", "PT", "FR", "IT", "DE", "NL", "BE", "AT"]
Marital = Literal["single", "married", "widow", "separated", "divorced"]
Home = Literal["rent", "owner", "parents", "priv", "other", "ignore"]
Job = Literal["fixed", "freelance", "partime", "others"]
Outcome = Literal["approve", "decline", "refer"]


def _number_only(value: Any) -> Any:
    if isinstance(value, str | bool):
        raise ValueError("Input should be a valid integer")
    return value


# JSON Schema's "integer" admits 30.0; strict pydantic would not. Accept whole numbers only,
# never strings or booleans.
WholeNumber = Annotated[int, BeforeValidator(_number_only), Field(strict=False)]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Applicant(Strict):
    customer_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    national_id: str = Field(min_length=5, max_length=32, pattern=r"^[A-Za-z0-9-]+$")
    age: WholeNumber = Field(ge=18, le=100)
    marital_status: Marital | None = None
    home: Home | None = None
    job: Job | None = None
    seniority_years: WholeNumber = Field(ge=0, le=80)


class Loan(Strict):
    # Whole currency units at least: tiny amounts are typos, and would overflow the ratios.
    amount: float = Field(ge=1, le=1_000_000)
    purchase_price: float = Field(ge=1, le=10_000_000)
    term_months: WholeNumber = Field(ge=1, le=480)


class Consent(Strict):
    bureau: bool
    open_banking: bool


class Application(Strict):
    application_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    country: Country
    applicant: Applicant
    loan: Loan
    consent: Consent
