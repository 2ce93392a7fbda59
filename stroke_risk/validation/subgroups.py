"""Performance by subgroup, each figure with an interval, and a flag where data are thin.

Point estimates come from ``fairlearn.metrics.MetricFrame`` (one frame per grouping:
sex, age band, hypertension, heart disease, smoking status, residence, work type, BMI
recorded or blank). fairlearn's own bootstrap
resamples the whole data set, so a small group's size changes from resample to resample;
the intervals here instead resample WITHIN each group (its size and the other groups are
held fixed), the usual design for a subgroup's own uncertainty. Calibration slope is only
estimated where a group has at least :data:`MIN_EVENTS_FOR_SLOPE` strokes, and a group
with fewer than :data:`MIN_EVENTS_TO_JUDGE` strokes is flagged as too thin to judge.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame
from scipy.special import expit, logit
from sklearn.metrics import brier_score_loss, roc_auc_score

from stroke_risk.core.age_bands import age_band
from stroke_risk.core.evidence import MIN_EVENTS_TO_JUDGE
from stroke_risk.training.evaluation import auc_rows, calibration_slope_intercept

MIN_EVENTS_FOR_SLOPE = 20
_EPS = 1e-6  # as evaluation.calibration_slope_intercept clips


def _events(y: np.ndarray, p: np.ndarray) -> int:
    return int(np.sum(y))


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    return float(roc_auc_score(y, p)) if 0 < np.sum(y) < len(y) else float("nan")


def _observed_expected(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.sum(y) / np.sum(p))


def _slope(y: np.ndarray, p: np.ndarray) -> float:
    if np.sum(y) < MIN_EVENTS_FOR_SLOPE:
        return float("nan")
    return calibration_slope_intercept(np.asarray(y), np.asarray(p))[0]


METRIC_FUNCTIONS = {
    "patients": lambda y, p: len(y),
    "strokes": _events,
    "observed_rate": lambda y, p: float(np.mean(y)),
    "mean_predicted": lambda y, p: float(np.mean(p)),
    "roc_auc": _auc,
    "brier": lambda y, p: float(brier_score_loss(y, p)),
    "observed_expected": _observed_expected,
    "calibration_slope": _slope,
}


def subgroup_labels(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """The groupings reported: sex, age band, hypertension, heart disease, smoking status,
    residence, work type and BMI recorded/blank.

    Every age band is kept (the thin ones are flagged rather than hidden: the under-40s
    hold a handful of strokes, and a GP should know that).
    """
    return {
        "sex": frame["gender"].astype(str),
        "age_band": frame["age"].map(age_band),
        "hypertension": frame["hypertension"].map({1: "yes", 0: "no"}).astype(str),
        "heart_disease": frame["heart_disease"].map({1: "yes", 0: "no"}).astype(str),
        "smoking_status": frame["smoking_status"].astype(str),
        "residence": frame["residence_type"].astype(str),
        "work_type": frame["work_type"].astype(str),
        "bmi": frame["bmi"].isna().map({True: "blank", False: "recorded"}),
    }


def calibration_slope_rows(y: np.ndarray, p: np.ndarray, iterations: int = 25) -> np.ndarray:
    """Calibration slope of each row of (y, p) [B, n] at once: the coefficient of logit(p)
    in an unpenalised logistic fit (as ``calibration_slope_intercept``), by Newton-Raphson
    on the two-parameter likelihood, vectorised over rows (one scikit-learn fit per
    resample took a minute for a subgroup table)."""
    lp = logit(np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS))
    y = np.asarray(y, dtype=float)
    beta = np.zeros((y.shape[0], 2))
    beta[:, 1] = 1.0
    # A resample the fit cannot handle (e.g. separated) ends as NaN and is left out later.
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for _ in range(iterations):
            mu = expit(beta[:, :1] + beta[:, 1:] * lp)
            w = mu * (1 - mu)
            r = y - mu
            g0, g1 = r.sum(axis=1), (r * lp).sum(axis=1)
            h00, h01, h11 = w.sum(axis=1), (w * lp).sum(axis=1), (w * lp * lp).sum(axis=1)
            det = h00 * h11 - h01**2
            beta[:, 0] += (h11 * g0 - h01 * g1) / det
            beta[:, 1] += (h00 * g1 - h01 * g0) / det
    return beta[:, 1]


def _bootstrap_within(
    y: np.ndarray, p: np.ndarray, n_boot: int, rng: np.random.Generator
) -> dict[str, list[float] | None]:
    """Percentile 95% intervals of AUC, Brier, O/E (and slope) resampling this group only."""
    index = rng.integers(0, y.size, (n_boot, y.size))
    ys, ps = y[index], p[index]
    events = ys.sum(axis=1)
    both = (events > 0) & (events < y.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        samples: dict[str, np.ndarray] = {
            "roc_auc": auc_rows(ys[both], ps[both]) if both.any() else np.array([]),
            "brier": ((ps - ys) ** 2).mean(axis=1),
            "observed_expected": events / ps.sum(axis=1),
        }
    if y.sum() >= MIN_EVENTS_FOR_SLOPE:
        samples["calibration_slope"] = calibration_slope_rows(ys[both], ps[both])
    intervals: dict[str, list[float] | None] = {}
    for name, values in samples.items():
        values = values[np.isfinite(values)]
        intervals[name] = (
            [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]
            if values.size >= 0.9 * n_boot
            else None  # undefined in too many resamples to give an interval
        )
    return intervals


def _note(strokes: int, patients: int) -> str | None:
    if strokes < MIN_EVENTS_TO_JUDGE:
        return (
            f"only {strokes} strokes in {patients} patients: too few to judge discrimination "
            "or calibration here"
        )
    if strokes < MIN_EVENTS_FOR_SLOPE:
        return f"{strokes} strokes: too few for a calibration slope; intervals are wide"
    return None


def subgroup_performance(
    frame: pd.DataFrame,
    y: np.ndarray,
    p: np.ndarray,
    n_boot: int = 200,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One row per (grouping, group): n, strokes, AUC, Brier, O/E with within-group
    bootstrap CIs, calibration slope where >= 20 strokes, and a note where data are thin.

    ``y`` and ``p`` must be validation (out-of-fold) predictions for ``frame``'s rows:
    apparent predictions hide exactly the subgroup miscalibration this is meant to show.
    """
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    if not (len(frame) == y.size == p.size):
        raise ValueError("frame, y and p must describe the same patients")
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for grouping, labels in subgroup_labels(frame).items():
        frame_metrics = MetricFrame(
            metrics=METRIC_FUNCTIONS,
            y_true=y,
            y_pred=p,
            sensitive_features=labels.rename(grouping).reset_index(drop=True),
        )
        by_group = frame_metrics.by_group
        codes = labels.to_numpy()
        for value, metrics in by_group.iterrows():
            members = codes == value
            intervals = _bootstrap_within(y[members], p[members], n_boot, rng)
            strokes, patients = int(metrics["strokes"]), int(metrics["patients"])
            row: dict[str, Any] = {"grouping": grouping, "group": str(value)}
            row.update({"patients": patients, "strokes": strokes})
            for name in ("observed_rate", "mean_predicted"):
                row[name] = float(metrics[name])
            for name in ("roc_auc", "brier", "observed_expected", "calibration_slope"):
                value_ = float(metrics[name])
                row[name] = value_ if np.isfinite(value_) else None
                row[f"{name}_ci"] = intervals.get(name) if row[name] is not None else None
            row["too_few_events"] = strokes < MIN_EVENTS_TO_JUDGE
            row["note"] = _note(strokes, patients)
            rows.append(row)
    return rows
