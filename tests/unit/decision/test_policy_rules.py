"""Each rule of the policy exactly: its name, effect and detail (they go into the audit record
and the applicant's explanation), its boundary, and the country it reads its limits from."""

import pytest

from decision.policy import Fired, InvalidPolicy, Policy

CONFIG = {
    "version": "rules-test",
    "defaults": {"approve_below": 0.25, "decline_at": 0.55, "max_payment_to_income": 0.6,
                 "max_age_at_maturity": 80, "max_applications_per_day": 5,
                 "grades": [["A", 0.1], ["B", 0.3], ["C", 0.5]],
                 "degraded": {"bureau": "score_and_refer", "open_banking": "score_and_refer"}},
    "countries": {"DE": {"max_age_at_maturity": 70, "grades": [["X", 0.2], ["Y", 0.6]],
                         "degraded": {"bureau": "refer"}},
                  "PT": {"max_applications_per_day": 0}},
}
RAW = {"age": 30, "time": 60, "amount": 800.0, "price": 846.0, "income": 129.0}


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy(CONFIG)


def fired(policy, probability=0.1, country="ES", degraded=(), pti=0.2, velocity=None, **raw):
    result = policy.decide(country, probability, {**RAW, **raw}, {"payment_to_income": pti},
                           list(degraded), velocity)
    return result, result.fired


def test_a_clean_application_fires_nothing(policy):
    result, rules = fired(policy)
    assert (result.version, result.outcome, result.grade, rules, result.withhold_score) == \
        ("rules-test", "approve", "B", [], False)


def test_loan_above_the_price_declines_and_equal_does_not(policy):
    assert fired(policy, amount=846.0)[1] == []
    assert fired(policy, amount=846.5)[1] == [
        Fired("loan_exceeds_price", "decline", "requested amount is above the purchase price")]


def test_affordability_at_the_limit_passes_above_it_declines(policy):
    assert fired(policy, pti=0.6)[1] == []
    assert fired(policy, pti=None)[1] == []
    assert fired(policy, pti=0.61)[1] == [Fired(
        "affordability", "decline", "monthly payment is 61% of verified income (limit 60%)")]


def test_age_at_maturity_counts_months_as_twelfths_and_uses_the_country(policy):
    assert fired(policy, age=75, time=60)[1] == []  # exactly 80
    assert fired(policy, age=75, time=61)[1] == [
        Fired("age_at_maturity", "decline", "applicant would be 80 at maturity (limit 80)")]
    assert fired(policy, country="DE", age=66, time=60)[1][0] == Fired(
        "age_at_maturity", "decline", "applicant would be 71 at maturity (limit 70)")


def test_degraded_sources_refer_with_their_mode(policy):
    result, rules = fired(policy, degraded=["bureau", "other"])
    assert rules == [Fired("bureau_degraded", "refer", "bureau data unavailable (score_and_refer)"),
                     Fired("other_degraded", "refer", "other data unavailable (score_and_refer)")]
    assert (result.outcome, result.withhold_score, result.grade) == ("refer", False, "B")


def test_a_refer_mode_withholds_the_score(policy):
    result, rules = fired(policy, country="DE", degraded=["bureau"])
    assert rules == [
        Fired("bureau_degraded", "refer", "bureau data unavailable (refer)"),
        Fired("score_withheld", "refer", "a degraded source's policy is to refer without a score")]
    assert (result.outcome, result.withhold_score, result.grade) == ("refer", True, None)


def test_country_degraded_modes_merge_with_the_defaults(policy):
    assert policy.params("DE")["degraded"] == {"bureau": "refer",
                                               "open_banking": "score_and_refer"}
    assert policy.degraded_mode("DE", "open_banking") == "score_and_refer"
    assert policy.degraded_mode("ES", "unknown_source") == "score_and_refer"


def test_velocity_above_the_limit_refers_per_subject(policy):
    at_limit = {"customer_applications_24h": 5, "national_id_applications_24h": 5}
    assert fired(policy, velocity=at_limit)[1] == []
    assert fired(policy, velocity={"customer_applications_24h": 6,
                                   "national_id_applications_24h": 7})[1] == [
        Fired("customer_velocity", "refer", "6 applications in 24 hours by this customer "
              "(limit 5)"),
        Fired("national_id_velocity", "refer", "7 applications in 24 hours by this national id "
              "(limit 5)")]
    assert fired(policy, country="PT", velocity={})[1] == []  # no count is zero, not one


def test_income_unverified_unless_open_banking_is_the_reason(policy):
    assert fired(policy, income=None)[1] == [
        Fired("income_unverified", "refer", "income could not be verified")]
    assert [f.rule for f in fired(policy, income=None, degraded=["open_banking"])[1]] == \
        ["open_banking_degraded"]


def test_score_rules(policy):
    assert fired(policy, probability=None)[1] == [
        Fired("not_scored", "refer", "no model score available")]
    assert fired(policy, probability=0.3)[1] == [
        Fired("score_refer", "refer", "probability of default between 0.25 and 0.55")]
    assert fired(policy, probability=0.55)[1] == [
        Fired("score_decline", "decline", "probability of default at or above 0.55")]


def test_grades_by_band_country_and_beyond_the_last_bound(policy):
    assert [policy.grade(p, "ES") for p in (0.0, 0.1, 0.29, 0.3, 0.5, 0.9)] == \
        ["A", "B", "B", "C", "C", "C"]
    assert [policy.grade(p, "DE") for p in (0.1, 0.2, 0.9)] == ["X", "Y", "Y"]
    assert fired(policy, country="DE", probability=0.1)[0].grade == "X"


def test_an_unknown_degraded_mode_is_refused_naming_where(policy):
    bad = {**CONFIG, "countries": {"FR": {"degraded": {"bureau": "ignore"}}}}
    with pytest.raises(InvalidPolicy) as exc:
        Policy(bad)
    assert str(exc.value) == ("policy FR.degraded.bureau: unknown mode 'ignore' "
                              "(one of score_and_refer, refer)")
    bad = {**CONFIG, "defaults": {**CONFIG["defaults"], "degraded": {"bureau": "x"}}}
    with pytest.raises(InvalidPolicy, match=r"^policy defaults\.degraded\.bureau: "):
        Policy(bad)


def test_load_reads_the_given_file(tmp_path):
    text = Policy.load().text.replace('version = "', 'version = "from-file-', 1)
    (tmp_path / "p.toml").write_text(text)
    assert Policy.load(tmp_path / "p.toml").version.startswith("from-file-")
    assert not Policy.load().version.startswith("from-file-")


VERSION_RULE = "policy: `version` must be 1 to 64 letters, digits, '.', '_' or '-'"


def with_defaults(**changes):
    return {**CONFIG, "defaults": {**CONFIG["defaults"], **changes}}


@pytest.mark.parametrize(("config", "message"), [
    ({**CONFIG, "version": "v" * 65}, VERSION_RULE),
    ({**CONFIG, "version": ""}, VERSION_RULE),
    ({**CONFIG, "version": "a b"}, VERSION_RULE),
    ({**CONFIG, "version": 3}, VERSION_RULE),
    ({"version": "v"}, "policy: a [defaults] table is required"),
    ({**CONFIG, "defaults": {"approve_below": 0.2}},
     "policy defaults: missing decline_at, max_payment_to_income, max_age_at_maturity, grades"),
    (with_defaults(decline_at=True), "policy defaults.decline_at: a number >= 0 is required"),
    (with_defaults(max_payment_to_income=float("inf")),
     "policy defaults.max_payment_to_income: a number >= 0 is required"),
    (with_defaults(approve_below=-0.1), "policy defaults.approve_below: a number >= 0 is required"),
    (with_defaults(approve_below="0.2"), "policy defaults.approve_below: a number >= 0 is required"),
    (with_defaults(approve_below=0.6),
     "policy defaults: 0 <= approve_below <= decline_at <= 1 does not hold (0.6, 0.55)"),
    (with_defaults(decline_at=1.5),
     "policy defaults: 0 <= approve_below <= decline_at <= 1 does not hold (0.25, 1.5)"),
    ({**CONFIG, "countries": {"FR": {"decline_at": 0.1}}},
     "policy FR: 0 <= approve_below <= decline_at <= 1 does not hold (0.25, 0.1)"),
])
def test_a_document_that_breaks_its_shape_is_refused_saying_how(config, message):
    with pytest.raises(InvalidPolicy) as exc:
        Policy(config)
    assert str(exc.value).startswith(message)


def test_the_edges_of_the_shape_are_allowed():
    """64-character version, approve_below 0 and equal to decline_at, decline_at 1."""
    assert Policy({**CONFIG, "version": "v" * 64}).version == "v" * 64
    Policy(with_defaults(approve_below=0, decline_at=0, max_payment_to_income=0))
    Policy(with_defaults(approve_below=0.5, decline_at=0.5))
    Policy(with_defaults(decline_at=1))


def test_text_that_is_not_toml_is_refused():
    with pytest.raises(InvalidPolicy, match=r"^policy: not valid TOML \(.+\)$"):
        Policy.from_text("version = ")
