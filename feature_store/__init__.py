"""The online feature store: one Protocol (protocol.py), one backend per file."""
