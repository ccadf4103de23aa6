"""The HTTP interface's bodies: the application in, the decision out (the decision record's
own response model), and the one error shape."""

from __future__ import annotations

from pydantic import BaseModel

from audit.records import DecisionResponse as DecisionOut
from decision.application import COUNTRIES, Application, Country

__all__ = ["COUNTRIES", "Application", "Country", "DecisionOut", "ErrorOut"]


class ErrorOut(BaseModel):
    error: str
    message: str
