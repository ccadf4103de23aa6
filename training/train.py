"""`credit train`: load -> validate -> features -> split -> tune -> train -> cross-validate ->
calibrate -> evaluate -> reference -> legacy comparison -> cut-offs -> fairness -> gates ->
explain -> register -> card.

Each step's outputs are logged to one MLflow run; the version is registered with its gate
results as tags and its model card (Markdown + HTML) as run artifacts under `model_card/`.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import lightgbm as lgb
import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from decision.policy import Policy
from models.features import FEATURE_NAMES, FEATURE_SET_VERSION
from models.registry import REFERENCE_TAG, AliasEvent, ModelRegistry
from training import calibrate, card, cutoffs, evaluate, explain, fairness, gates, legacy, reference
from training.data import LABEL, features_of, load_dataset
from training.split import Split, stratified_split
from training.steps import Steps
from training.tune import tune
from training.validate import Validation, require_enough, validate


@dataclass(frozen=True)
class TrainConfig:
    data_path: Path | None = None   # None: credit_data
    trials: int = 6                 # tuning candidates (the first is the base parameters)
    tune_budget_s: float = 15.0
    max_rounds: int = 400
    cv_folds: int = 5               # 0 skips cross-validation (e.g. at scale)
    n_boot: int = 200               # bootstrap resamples for fairness intervals
    explain_rows: int = 1000
    seed: int = 7
    gates_path: Path | None = None
    # Cut-offs (training/cutoffs.py): the policy the draft derives from (None: the bundled
    # one; `credit train` passes the live one), the objective and its bad-rate ceiling.
    policy: Policy | None = None
    objective: cutoffs.Objective = "legacy-dominance"
    bad_rate_ceiling: float | None = None


@dataclass
class TrainResult:
    version: str
    run_id: str
    cv_auc: float
    cv_auc_folds: list[float]
    rows: int
    test: dict[str, float] = field(default_factory=dict)
    legacy: dict = field(default_factory=dict)
    gates_passed: bool = False
    seconds: dict[str, float] = field(default_factory=dict)
    card_html: Path | None = None
    report: dict = field(default_factory=dict)
    policy_draft: str | None = None  # the proposed policy (TOML), not live until approved

    @property
    def alias_event(self) -> AliasEvent | None:
        """The alias the run pointed at its version (for the audit log)."""
        return self.report.get("alias_event")


def _fit(x: np.ndarray, y: np.ndarray, params: dict, rounds: int) -> lgb.Booster:
    data = lgb.Dataset(x, label=y, feature_name=list(FEATURE_NAMES), free_raw_data=True)
    return lgb.train(params, data, num_boost_round=rounds)


def cross_validated_auc(x: np.ndarray, y: np.ndarray, params: dict, rounds: int,
                        folds: int = 5, seed: int = 7) -> list[float]:
    if folds < 2:
        return []
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [float(roc_auc_score(y[te], _fit(x[tr], y[tr], params, rounds).predict(x[te])))
            for tr, te in skf.split(x, y)]


def _flat(prefix: str, values: dict) -> dict[str, float]:
    return {f"{prefix}{k}": float(v) for k, v in values.items()
            if isinstance(v, int | float) and v == v}


def train(registry: ModelRegistry, *, alias: str | None = "challenger",
          config: TrainConfig | None = None, steps: Steps | None = None,
          who: str | None = None) -> TrainResult:
    """Run the whole pipeline; register a version in `registry` and point `alias` at it
    (None: no alias)."""
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    cfg = config or TrainConfig()
    steps = steps or Steps()
    mlflow.set_tracking_uri(registry.tracking_uri)
    mlflow.set_registry_uri(registry.tracking_uri)
    thresholds = gates.Thresholds.load(cfg.gates_path)
    with tempfile.TemporaryDirectory() as tmp, \
            mlflow.start_run(experiment_id=registry.experiment_id()) as run:
        out = Path(tmp)
        report = _pipeline(cfg, thresholds, steps, out)
        version = _register(registry, report, steps, out, alias, who)
        result = TrainResult(
            version, run.info.run_id, report["cv_auc"], report["cv_folds"], report["data"]["rows"],
            report["test"], report["legacy"], report["gates_passed"], dict(steps.seconds),
            report=report, policy_draft=report["cutoffs"]["draft"])
        mlflow.log_metrics({f"step_seconds_{k}": v for k, v in steps.seconds.items()})
    return result


@dataclass
class _Data:
    """The validated, featurized data set and its split."""

    source: str
    checked: Validation
    x: np.ndarray
    y: np.ndarray
    split: Split
    countries: np.ndarray | None = None  # when the data has a `country` column

    def part(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        idx = getattr(self.split, name)
        return self.x[idx], self.y[idx]


def _pipeline(cfg: TrainConfig, thresholds: gates.Thresholds, steps: Steps, out: Path) -> dict:
    """The steps before registration, in three stretches; returns the model card's report."""
    data = _prepare(cfg, steps, out)
    report = _model(cfg, data, steps, out)
    report.update(_assess(cfg, thresholds, data, report, steps, out))
    return report


def _prepare(cfg: TrainConfig, steps: Steps, out: Path) -> _Data:
    """load -> validate -> features -> split"""
    import mlflow

    with steps("load"):
        df = load_dataset(cfg.data_path)
        source = str(cfg.data_path) if cfg.data_path else "credit_data (R package modeldata)"
        mlflow.log_params({"data_source": source[:250], "rows_loaded": len(df), "seed": cfg.seed,
                           "feature_set_version": FEATURE_SET_VERSION})
        steps.note(f"{len(df):,} rows from {source}")

    with steps("validate"):
        checked = validate(df)
        require_enough(df, checked)
        (out / "validation").mkdir()
        checked.bad_rows.to_csv(out / "validation" / "bad_rows.csv", index=False)
        mlflow.log_artifacts(str(out / "validation"), "validation")
        mlflow.log_metrics({"validation_bad_rows": checked.bad,
                            "validation_bad_fraction": checked.bad_fraction,
                            **{f"validation_rule_{k}": v for k, v in checked.counts.items()}})
        steps.note(f"{checked.bad} bad rows ({checked.bad_fraction:.2%}) kept out: {checked.counts}")
        good = df[~checked.bad_mask]
        del df

    with steps("features"):
        x = features_of(good)
        y = good[LABEL].to_numpy().astype(np.int8)
        countries = good["country"].astype(str).to_numpy() if "country" in good else None
        del good
        steps.note(f"{x.shape[0]:,} x {x.shape[1]} features, bad rate {y.mean():.3f}")

    with steps("split"):
        sp = stratified_split(y, seed=cfg.seed)
        sizes = {"train": len(sp.train), "validation": len(sp.validation), "test": len(sp.test)}
        mlflow.log_params({f"split_{k}": v for k, v in sizes.items()})
        steps.note(", ".join(f"{k} {v:,}" for k, v in sizes.items()))
    return _Data(source, checked, x, y, sp, countries)


def _model(cfg: TrainConfig, data: _Data, steps: Steps, out: Path) -> dict:
    """tune -> train -> cross-validate -> calibrate -> evaluate -> reference"""
    import mlflow

    x_tr, y_tr = data.part("train")
    x_va, y_va = data.part("validation")
    x_te, y_te = data.part("test")
    with steps("tune"):
        tuned = tune(x_tr, y_tr, x_va, y_va, trials=cfg.trials, max_rounds=cfg.max_rounds,
                     budget_s=cfg.tune_budget_s, seed=cfg.seed)
        mlflow.log_dict({"trials": tuned.trials}, "tuning/trials.json")
        mlflow.log_params({**tuned.params, "num_boost_round": tuned.rounds,
                           "tuning_trials": len(tuned.trials)})
        mlflow.log_metric("tuning_best_val_roc_auc", tuned.best_auc)
        steps.note(f"{len(tuned.trials)} trials, best validation AUC {tuned.best_auc:.4f}, "
                   f"{tuned.rounds} rounds")

    with steps("train"):
        booster = _fit(x_tr, y_tr, tuned.params, tuned.rounds)

    with steps("cross_validate"):
        rest = np.concatenate([data.split.train, data.split.validation])
        folds = cross_validated_auc(data.x[rest], data.y[rest], tuned.params, tuned.rounds,
                                    cfg.cv_folds, cfg.seed)
        cv_auc = float(np.mean(folds)) if folds else float("nan")
        if folds:
            mlflow.log_metrics({"cv_roc_auc": cv_auc,
                                **{f"cv_roc_auc_fold_{i}": a for i, a in enumerate(folds)}})
        steps.note(f"{cfg.cv_folds}-fold CV ROC AUC {cv_auc:.4f}" if folds else "skipped")

    with steps("calibrate"):
        cal = calibrate.fit_platt(booster.predict(x_va, raw_score=True), y_va)
        raw_te = booster.predict(x_te, raw_score=True)
        cal_report = {**cal.as_meta(), **calibrate.report(y_te, raw_te, cal)}
        explain.calibration_plot(cal_report, out / "card" / "calibration.png")
        mlflow.log_dict(cal_report, "calibration/calibration.json")
        mlflow.log_artifact(str(out / "card" / "calibration.png"), "calibration")
        mlflow.log_metrics({"calibration_a": cal.a, "calibration_b": cal.b,
                            "test_brier_before_calibration": cal_report["brier_before"],
                            "test_brier_after_calibration": cal_report["brier_after"]})
        steps.note(f"a={cal.a:.4f} b={cal.b:.4f}; test Brier {cal_report['brier_before']:.4f} -> "
                   f"{cal_report['brier_after']:.4f}")
    p_te = cal.apply(raw_te)

    with steps("evaluate"):
        test = evaluate.metrics(y_te, p_te)
        val = evaluate.metrics(y_va, cal.apply(booster.predict(x_va, raw_score=True)))
        seg = evaluate.per_segment(x_te, y_te, p_te)
        mlflow.log_metrics({**_flat("test_", test), **_flat("validation_", val)})
        mlflow.log_dict({"test": test, "validation": val, "segments": seg}, "evaluation/metrics.json")
        steps.note(f"test ROC AUC {test['roc_auc']:.4f}, Gini {test['gini']:.4f}, KS {test['ks']:.4f}, "
                   f"PR AUC {test['pr_auc']:.4f}, Brier {test['brier']:.4f}")

    with steps("reference"):
        ref = reference.fit(data.x, cal.apply(booster.predict(np.vstack([x_va, x_te]),
                                                              raw_score=True)))
        mlflow.log_dict(ref.to_json(), reference.ARTIFACT)
        steps.note(reference.summary(ref))

    return {
        "booster": booster, "calibration_obj": cal, "p_te": p_te, "x_sample": x_te[:5],
        "tuning": {"tried": len(tuned.trials), "stopped_by_budget": tuned.stopped_by_budget,
                   "best_val_auc": tuned.best_auc, "rounds": tuned.rounds},
        "params": {k: v for k, v in tuned.params.items() if k not in ("verbose",)},
        "cv_auc": cv_auc, "cv_folds": folds,
        "cv_text": (f"{cv_auc:.4f} (folds: {', '.join(f'{a:.4f}' for a in folds)})" if folds
                    else "not run"),
        "test": test, "validation": val, "segments": seg, "calibration": cal_report,
    }


def _assess(cfg: TrainConfig, thresholds: gates.Thresholds, data: _Data, model: dict,
            steps: Steps, out: Path) -> dict:
    """legacy comparison -> fairness -> gates -> explain: the report's remaining sections"""
    import mlflow

    x_te, y_te = data.part("test")
    p_te, test, checked = model.pop("p_te"), model["test"], data.checked
    with steps("legacy"):
        cmp = legacy.compare(x_te, y_te, p_te)
        mlflow.log_dict(cmp, "legacy/comparison.json")
        mlflow.log_metrics(_flat("legacy_", cmp))
        steps.note(f"approval rate {cmp['approval_rate']:.1%}: bad rate among approved "
                   f"{cmp['legacy_bad_rate_approved']:.2%} legacy vs {cmp['model_bad_rate_approved']:.2%} "
                   f"model ({cmp['relative_reduction']:.1%} reduction)")

    with steps("cutoffs"):
        base = cfg.policy or Policy.load()
        version = f"{datetime.now(UTC):%Y.%m.%d}-train-{datetime.now(UTC):%H%M%S}"
        found, draft = cutoffs.propose(
            x_te, y_te, p_te, base, objective=cfg.objective, ceiling=cfg.bad_rate_ceiling,
            countries=data.countries[data.split.test] if data.countries is not None else None,
            version=version)
        cutoffs.plot(found, out / "card" / "tradeoff.png")
        (out / "policy").mkdir()
        (out / "policy" / "policy_draft.toml").write_text(draft)
        mlflow.log_artifact(str(out / "policy" / "policy_draft.toml"), "policy")
        mlflow.log_artifact(str(out / "card" / "tradeoff.png"), "policy")
        cut = {"objective": cfg.objective, "ceiling": cfg.bad_rate_ceiling,
               "base_version": base.version, "draft_version": version, "draft": draft,
               "scopes": [c.to_json() for c in found]}
        mlflow.log_dict({k: v for k, v in cut.items() if k != "draft"}, "policy/cutoffs.json")
        steps.note("; ".join(
            f"{c.scope}: legacy {c.legacy.approval_rate:.1%} approved, {c.legacy.bad_rate:.2%} bad"
            + (f" -> cut-off {c.chosen.threshold:g}: {c.chosen.approval_rate:.1%} approved, "
               f"{c.chosen.bad_rate:.2%} bad" if c.chosen else " -> no cut-off meets the objective")
            for c in found))

    with steps("fairness"):
        approved, _ = legacy.model_approvals(p_te, cmp["approval_rate"])
        fair = {name: fairness.assess(1 - y_te, approved, groups, n_boot=cfg.n_boot, seed=cfg.seed)
                for name, groups in (("age_band", evaluate.age_band(x_te)),
                                     ("marital", evaluate.category(x_te, "marital")))}
        mlflow.log_dict(fair, "fairness/fairness.json")
        for name, f in fair.items():
            mlflow.log_metrics({f"fairness_{name}_demographic_parity_ratio": f["demographic_parity_ratio"],
                                f"fairness_{name}_equalized_odds_difference": f["equalized_odds_difference"]})
        steps.note("; ".join(f"{n}: DPR {f['demographic_parity_ratio']:.3f}, "
                             f"EOD {f['equalized_odds_difference']:.3f}" for n, f in fair.items()))

    with steps("gates"):
        checked_gates = gates.check(thresholds, test_auc=test["roc_auc"], test_brier=test["brier"],
                                    reduction=cmp["relative_reduction"],
                                    bad_fraction=checked.bad_fraction, fairness=fair)
        passed = all(g.passed for g in checked_gates)
        mlflow.set_tags({"gates": "passed" if passed else "failed",
                         **{f"gate.{g.name}": "pass" if g.passed else "fail" for g in checked_gates}})
        mlflow.log_metrics({f"gate_{g.name}_passed": float(g.passed) for g in checked_gates})
        mlflow.log_dict({"thresholds": thresholds.__dict__,
                         "gates": [{**g.__dict__, "passed": g.passed} for g in checked_gates]},
                        "gates/gates.json")
        failed = [g.name for g in checked_gates if not g.passed]
        steps.note("all passed" if passed else f"FAILED: {', '.join(failed)}")

    with steps("explain"):
        shap_report = explain.plots(model["booster"], x_te, model["calibration_obj"],
                                    out / "card", max_rows=cfg.explain_rows, seed=cfg.seed)
        shap_report["files"] = {k: Path(v).name for k, v in shap_report["files"].items()}
        mlflow.log_dict({"importance": shap_report["importance"]}, "explain/importance.json")
        for png in shap_report["files"].values():
            mlflow.log_artifact(str(out / "card" / png), "explain")
        steps.note("top features: " + ", ".join(e["feature"] for e in shap_report["importance"][:4]))

    return {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "feature_set_version": FEATURE_SET_VERSION,
        "data": {"source": data.source, "rows": checked.rows, "bad_rows": checked.bad,
                 "rule_counts": checked.counts},
        "split": {name: len(getattr(data.split, name)) for name in ("train", "validation", "test")},
        "legacy": cmp, "cutoffs": cut, "fairness": fair, "n_boot": cfg.n_boot,
        "gates": [{**g.__dict__, "passed": g.passed} for g in checked_gates],
        "gates_passed": passed, "explain": shap_report,
    }


def _register(registry: ModelRegistry, report: dict, steps: Steps, out: Path,
              alias: str | None, who: str | None) -> str:
    import mlflow
    import mlflow.lightgbm
    import pandas as pd
    from mlflow.models import infer_signature

    booster, cal = report.pop("booster"), report.pop("calibration_obj")
    sample = pd.DataFrame(report.pop("x_sample"), columns=list(FEATURE_NAMES))
    with steps("register"):
        info = mlflow.lightgbm.log_model(
            booster, name="model", registered_model_name=registry.model_name,
            signature=infer_signature(sample, booster.predict(sample.to_numpy())),
            # Explicit requirements: inferring them spawns a slow subprocess.
            pip_requirements=[f"lightgbm=={lgb.__version__}"],
            metadata={"feature_set_version": FEATURE_SET_VERSION,
                      "feature_names": list(FEATURE_NAMES),
                      "calibration": cal.as_meta(),
                      "cv_roc_auc": report["cv_auc"],
                      "test_roc_auc": report["test"]["roc_auc"],
                      "gates": "passed" if report["gates_passed"] else "failed"},
        )
        version = str(info.registered_model_version)
        tags = {"gates": "passed" if report["gates_passed"] else "failed",
                "model_card": "model_card/model_card.html", REFERENCE_TAG: reference.ARTIFACT,
                **{f"gate.{g['name']}": "pass" if g["passed"] else "fail" for g in report["gates"]}}
        for k, v in tags.items():
            registry.client.set_model_version_tag(registry.model_name, version, k, v)
        steps.note(f"{registry.model_name} version {version}")

    with steps("card"):
        report.update(model_name=registry.model_name, version=version,
                      run_id=mlflow.active_run().info.run_id)
        md, html = card.write(report, out / "card")
        mlflow.log_artifact(str(md), "model_card")
        mlflow.log_artifact(str(html), "model_card")
        steps.note(f"model_card/{html.name}")

    if alias:
        report["alias_event"] = registry.set_alias(
            alias, version, action="register", who=who,
            why=f"trained; gates {'passed' if report['gates_passed'] else 'failed'}")
    return version
