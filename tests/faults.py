"""A small client for the simulators' fault-injection endpoints (app/simulators/faults.py)."""

from __future__ import annotations

import httpx


class FaultClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def set(self, endpoint: str, **faults: object) -> dict:
        r = httpx.put(f"{self.base_url}/_faults/{endpoint}", json=faults, timeout=5)
        r.raise_for_status()
        return r.json()

    def calls(self, endpoint: str) -> int:
        r = httpx.get(f"{self.base_url}/_faults/{endpoint}", timeout=5)
        r.raise_for_status()
        return r.json()["calls"]

    def reset(self) -> None:
        httpx.delete(f"{self.base_url}/_faults", timeout=5).raise_for_status()
