"""Enrichment sources: the credit bureau and open banking, over HTTP (plus local simulators)."""
