import pytest

from decision.errors import RateLimited as TooManyRequests
from decision.ratelimit import RateLimiter


@pytest.mark.parametrize("storage", ["memory://", "redis"])
def test_limits_per_customer_and_client(storage, redis_url):
    """The Nth+1 hit in a window is refused; other customers and clients are unaffected."""
    uri = redis_url if storage == "redis" else storage
    limiter = RateLimiter("5/minute", "3/minute", uri)
    for _ in range(3):
        limiter.customer("ES", "C-1")
    with pytest.raises(TooManyRequests, match="3 per 1 minute"):
        limiter.customer("ES", "C-1")
    limiter.customer("ES", "C-2")
    limiter.customer("PT", "C-1")
    for _ in range(5):
        limiter.client("k1")
    with pytest.raises(TooManyRequests):
        limiter.client("k1")
    limiter.client("k2")
