
import numpy as np
from scipy.stats import chisquare

from feature_flags.bucketing import Bucketer
from feature_flags.model import CountryFlag

KEY = b"test-bucket-key-0123456789abcdef"
CUSTOMERS = [f"C-{i}" for i in range(10_000)]


def test_spain_canary_20_percent_over_10000_customers():
    """At a 20% canary the model decides for 20% +- 1% of 10,000 distinct customers."""
    flag = CountryFlag("ES", "canary", 2000)
    b = Bucketer(KEY)
    share = np.mean([flag.arm_for(b.bucket(c)) == "model" for c in CUSTOMERS])
    assert abs(share - 0.20) <= 0.01


def test_same_customer_same_arm_on_every_worker():
    """Two workers (two Bucketer instances with the shared key) agree on every customer."""
    w1, w2 = Bucketer(KEY), Bucketer(bytes(KEY))
    assert [w1.bucket(c) for c in CUSTOMERS] == [w2.bucket(c) for c in CUSTOMERS]
    assert all(w1.bucket("C-42") == w1.bucket("C-42") for _ in range(10))


def test_another_key_gives_another_assignment():
    a, b = Bucketer(KEY), Bucketer(b"another-key-0123456789abcdefghij")
    same = np.mean([a.bucket(c) == b.bucket(c) for c in CUSTOMERS[:2000]])
    assert same < 0.01


def test_ramp_up_only_adds_customers():
    """Raising the canary from 10% to 20% keeps every 10% customer on the model."""
    b = Bucketer(KEY)
    at10 = {c for c in CUSTOMERS if CountryFlag("ES", "canary", 1000).arm_for(b.bucket(c)) == "model"}
    at20 = {c for c in CUSTOMERS if CountryFlag("ES", "canary", 2000).arm_for(b.bucket(c)) == "model"}
    assert at10 < at20


def test_buckets_are_uniform():
    """Chi-square over 100 bins of 50,000 ids does not reject uniformity at 0.1%."""
    b = Bucketer(KEY)
    counts = np.bincount([b.bucket(f"U{i}") // 100 for i in range(50_000)], minlength=100)
    assert chisquare(counts).pvalue > 0.001
