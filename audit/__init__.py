"""Append-only, tamper-evident audit log of every credit decision."""
