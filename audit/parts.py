"""The base of every audit record model (audit/records.py, audit/governance_records.py):
strict about field names, no NaN or infinity, `type` and `schema_version` always written."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Part(BaseModel):
    # Strict about names (a typo is an error, not a silently ignored field), lax about
    # numbers (3 in canonical JSON is the float 3.0 that was written). No NaN or infinity:
    # JSON cannot hold them, so a record with one would not say what the model saw.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Record(Part):
    """A whole record: its `type` and `schema_version` are always written, even when left
    at their defaults by the code that built it."""

    def model_post_init(self, _context: Any) -> None:
        self.__pydantic_fields_set__.update(("type", "schema_version"))
