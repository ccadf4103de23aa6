"""The bottom layer: small helpers every package may use. It imports nothing of ours."""
