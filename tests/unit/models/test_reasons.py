import numpy as np

from models.features import FEATURE_NAMES
from models.reasons import REASONS, reasons_for, top_reasons


def test_every_feature_has_a_reason_in_both_languages():
    assert set(REASONS) == set(FEATURE_NAMES)
    codes = [code for code, _, _ in REASONS.values()]
    assert len(set(codes)) == len(codes)
    assert all(en and es and en != es for _, en, es in REASONS.values())


def test_top_reasons_are_the_largest_risk_raising_contributions():
    contrib = np.zeros(len(FEATURE_NAMES))
    contrib[FEATURE_NAMES.index("income")] = 0.5
    contrib[FEATURE_NAMES.index("records")] = 0.9
    contrib[FEATURE_NAMES.index("age")] = -2.0  # lowers risk: never a reason
    contrib[FEATURE_NAMES.index("debt")] = 0.1
    reasons = top_reasons(FEATURE_NAMES, contrib, count=2)
    assert [r.feature for r in reasons] == ["records", "income"]
    assert reasons[0].code == "R06_BAD_RECORDS" and reasons[0].contribution == 0.9
    everything = top_reasons(FEATURE_NAMES, contrib, count=10)
    assert [r.feature for r in everything] == ["records", "income", "debt"]


def test_spanish_texts():
    contrib = np.zeros(len(FEATURE_NAMES))
    contrib[FEATURE_NAMES.index("income")] = 0.5
    (reason,) = top_reasons(FEATURE_NAMES, contrib, count=3, language="es")
    assert reason.text == REASONS["income"][2]


def test_reasons_for_weights_in_order():
    reasons = reasons_for([("records", 130.0), ("job", 30.0)], language="es")
    assert [(r.code, r.contribution) for r in reasons] == [("R06_BAD_RECORDS", 130.0),
                                                          ("R13_JOB_TYPE", 30.0)]
    assert reasons[1].text == REASONS["job"][2]
