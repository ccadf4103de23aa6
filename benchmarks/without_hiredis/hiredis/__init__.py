# On PYTHONPATH ahead of the installed hiredis (configuration "redis-without-hiredis" of
# benchmarks/scenarios.py): redis-py then falls back to its pure-Python reply parser, for
# the A/B of ADR 0143.
raise ImportError("hiredis hidden for the benchmark's A/B")
