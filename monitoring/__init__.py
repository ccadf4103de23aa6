"""Post-market monitoring: loan outcomes, performance per arm and model version, drift
against the training reference (docs/architecture.md, ADR 0100-0104)."""
