"""One policy version as the history keeps it: its document and who proposed and approved it."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict

# proposed: waiting for a second person; live: what every worker serves (one at a time);
# retired: was live, replaced by a later approval.
State = Literal["proposed", "live", "retired"]


class PolicyVersion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    text: str
    sha256: str
    state: State
    based_on: str | None          # the live version when it was proposed
    proposed_by: str
    proposed_by_id: str
    proposed_at: str
    proposal_reason: str
    approved_by: str | None = None
    approved_by_id: str | None = None
    approved_at: str | None = None
    approval_reason: str | None = None
    retired_at: str | None = None

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, doc: bytes | str) -> PolicyVersion:
        return cls.model_validate_json(doc)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
