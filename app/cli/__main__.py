"""`python -m app.cli ...` (what `credit` runs)."""

from app.cli import main

main()
