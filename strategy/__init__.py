"""Credit strategy: policy versions published by two people (maker-checker) and hot-reloaded
on every worker, cut-offs chosen from evidence, and backtests of a candidate policy or model
on the recorded history (Dask). ADR 0130-0134."""
