"""Humans in the loop: review cases for referrals, overrides and contests, four eyes above
an amount, reason codes, adverse-action notices and the applicant's explanation.

The audit log is the truth: a `refer` decision's own record opens its case, and every human
action is a typed audit record written before it takes effect. The review store is a
projection of the log (review/projection.py), caught up from it at start and kept current
after each decision (review/projector.py). See docs/decisions/0110-review-cases-projected-
from-the-audit-log.md.
"""
