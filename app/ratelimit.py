"""Abuse limits: requests per API key, and decisions per customer (score probing: the same
customer trying variations of an application to learn the model's boundary).

Counters live in the `limits` storage named by settings: in memory (per process) by default,
Redis (`redis://...`) to share them between workers.
"""

from __future__ import annotations

from limits import parse, storage, strategies

from app.errors import TooManyRequests


class RateLimiter:
    def __init__(self, per_client: str, per_customer: str, storage_uri: str = "memory://") -> None:
        # Sliding window counter: O(1) per hit, close to a true moving window.
        self._limiter = strategies.SlidingWindowCounterRateLimiter(
            storage.storage_from_string(storage_uri))
        self.per_client = parse(per_client)
        self.per_customer = parse(per_customer)

    def client(self, key_id: str) -> None:
        if not self._limiter.hit(self.per_client, "client", key_id):
            raise TooManyRequests(f"rate limit of {self.per_client} per API key exceeded")

    def customer(self, country: str, customer_id: str) -> None:
        if not self._limiter.hit(self.per_customer, "customer", country, customer_id):
            raise TooManyRequests(f"too many applications for this customer "
                                  f"(limit {self.per_customer})")
