"""Explainability report: SHAP global importance, a beeswarm and dependence plots (PNG).

Contributions come from LightGBM's exact TreeSHAP (pred_contrib=True, identical to
shap.TreeExplainer), scaled by the Platt slope so they are on the calibrated log-odds scale
the API reports. shap draws the plots; matplotlib runs headless (Agg).
"""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np

from models.features import FEATURE_NAMES
from training.calibrate import Calibration


def contributions(booster: lgb.Booster, x: np.ndarray, cal: Calibration) -> tuple[np.ndarray, np.ndarray]:
    contrib = booster.predict(x, pred_contrib=True)
    return contrib[:, :-1] * cal.a, contrib[:, -1] * cal.a + cal.b


def importance(phi: np.ndarray) -> list[dict]:
    mean_abs = np.abs(phi).mean(axis=0)
    order = np.argsort(-mean_abs, kind="stable")
    return [{"feature": FEATURE_NAMES[i], "mean_abs_shap": float(mean_abs[i])} for i in order]


def plots(booster: lgb.Booster, x: np.ndarray, cal: Calibration, out_dir: Path, *,
          dependence_top: int = 4, max_rows: int = 2000, seed: int = 7) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import shap

    if len(x) > max_rows:
        x = x[np.sort(np.random.default_rng(seed).choice(len(x), max_rows, replace=False))]
    phi, base = contributions(booster, x, cal)
    ranking = importance(phi)
    explanation = shap.Explanation(values=phi, base_values=base, data=x,
                                   feature_names=list(FEATURE_NAMES))
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    plt.figure()
    shap.plots.beeswarm(explanation, max_display=12, show=False)
    plt.title("SHAP values (calibrated log-odds of default)")
    files["beeswarm"] = _save(plt, out_dir / "shap_beeswarm.png")
    for entry in ranking[:dependence_top]:
        name = entry["feature"]
        plt.figure()
        shap.plots.scatter(explanation[:, name], color=explanation, show=False)
        files[f"dependence_{name}"] = _save(plt, out_dir / f"shap_dependence_{name}.png")
    return {"importance": ranking, "files": files, "rows": len(x)}


def calibration_plot(report: dict, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect")
    for key, label in (("curve_before", "before"), ("curve_after", "after (Platt)")):
        pts = report[key]
        ax.plot([p["predicted"] for p in pts], [p["observed"] for p in pts], marker="o",
                label=f"{label}, Brier {report[key.replace('curve', 'brier')]:.4f}")
    ax.set_xlabel("predicted probability of default")
    ax.set_ylabel("observed default rate")
    ax.legend()
    out.parent.mkdir(parents=True, exist_ok=True)
    return _save(plt, out)


def _save(plt, path: Path) -> Path:
    plt.tight_layout()
    plt.savefig(path, dpi=90)
    plt.close("all")
    return path
