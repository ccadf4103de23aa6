"""Reason codes: the features that raised this applicant's risk most, in English and Spanish."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# feature -> (code, English, Spanish). Every model feature has an entry (a test checks it).
REASONS: dict[str, tuple[str, str, str]] = {
    "age": ("R01_AGE", "Applicant age", "Edad del solicitante"),
    "seniority": ("R02_JOB_SENIORITY", "Years with current employer",
                  "Antigüedad en el empleo actual"),
    "time": ("R03_TERM", "Requested loan term", "Plazo solicitado del préstamo"),
    "amount": ("R04_AMOUNT", "Requested loan amount", "Importe solicitado del préstamo"),
    "price": ("R05_PRICE", "Purchase price of the financed good", "Precio del bien financiado"),
    "records": ("R06_BAD_RECORDS", "Adverse records at the credit bureau",
                "Registros de impago en el buró de crédito"),
    "debt": ("R07_DEBT", "Outstanding debt reported by the credit bureau",
             "Deuda pendiente informada por el buró de crédito"),
    "income": ("R08_INCOME", "Verified monthly income", "Ingresos mensuales verificados"),
    "expenses": ("R09_EXPENSES", "Verified monthly expenses", "Gastos mensuales verificados"),
    "assets": ("R10_ASSETS", "Verified assets", "Patrimonio verificado"),
    "home": ("R11_HOUSING", "Housing situation", "Situación de vivienda"),
    "marital": ("R12_MARITAL", "Marital status", "Estado civil"),
    "job": ("R13_JOB_TYPE", "Type of employment", "Tipo de empleo"),
    "loan_to_price": ("R14_LOAN_TO_PRICE", "Share of the purchase price financed",
                      "Proporción del precio financiada"),
    "monthly_payment": ("R15_PAYMENT", "Size of the monthly payment", "Importe de la cuota mensual"),
    "payment_to_income": ("R16_AFFORDABILITY", "Monthly payment relative to income",
                          "Cuota mensual en relación con los ingresos"),
    "free_income": ("R17_FREE_INCOME", "Income left after expenses",
                    "Ingresos disponibles tras los gastos"),
    "debt_to_income": ("R18_DEBT_TO_INCOME", "Debt relative to income",
                       "Deuda en relación con los ingresos"),
    "net_assets": ("R19_NET_ASSETS", "Assets net of debt", "Patrimonio neto de deudas"),
}


@dataclass(frozen=True)
class Reason:
    code: str
    feature: str
    text: str
    contribution: float


def reasons_for(weights: Sequence[tuple[str, float]], language: str = "en") -> list[Reason]:
    """Reasons for (feature, weight) pairs, in their order, in the applicant's language."""
    out = []
    for name, weight in weights:
        code, en, es = REASONS[name]
        out.append(Reason(code, name, es if language == "es" else en, weight))
    return out


def top_reasons(feature_names: Sequence[str], contributions: np.ndarray, count: int,
                language: str = "en") -> list[Reason]:
    """The `count` features with the largest positive contributions (they raised the risk)."""
    order = np.argsort(-contributions, kind="stable")[:count]
    return reasons_for([(feature_names[i], float(contributions[i])) for i in order
                        if contributions[i] > 0], language)
