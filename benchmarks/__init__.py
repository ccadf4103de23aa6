"""Load and latency benchmarks of the decision API against `mlflow models serve` (the peer).

`python -m benchmarks.run` is the one command; docs/benchmarks.md says what it measures.
Nothing here is part of the test suite.
"""
