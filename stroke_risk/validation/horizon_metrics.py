"""How good a risk at a horizon is on a cohort: discrimination, calibration, net benefit.

Every measure handles censoring, and deaths before a stroke count as a competing event,
consistently with what the number estimates (the cumulative incidence of stroke):

- **Harrell's C** (follow-up truncated at the horizon; deaths censor) and **Uno's C**
  (inverse-probability-of-censoring weighted, truncated at the horizon): the chance that
  of two patients, the one who has a stroke first had the higher risk;
- **time-dependent AUC** at the horizon (cumulative cases, dynamic controls);
- **observed risk** at the horizon by the Aalen-Johansen estimator (Kaplan-Meier when the
  cohort records no deaths), **O/E** (observed over mean predicted) with a 95% interval
  from the observed risk's (log-scale, censoring-weighted binomial) interval;
- **calibration slope** and **intercept** (slope fixed at 1): a logistic regression of
  "a stroke within the horizon" on the predicted log-odds, weighted by the inverse
  probability of remaining uncensored; **a smoothed calibration curve** (the same weighted
  regression on a spline of the log-odds) and its integrated calibration index;
- **net benefit at the horizon** (Vickers et al. 2008, for time-to-event outcomes): of the
  patients at or above a threshold t, the share that would have a stroke (Aalen-Johansen
  within them) against t/(1 - t) times the share that would not.

scikit-survival provides the concordance indices, the AUC and the estimators. The
decision-curve and sample-size packages of the field (``dcurves``, ``pmvalsampsize``)
require pandas below 3, which this project cannot install, so net benefit is computed
here from its definition and the validation sample-size guidance is stated (see
``sample_size_guidance``).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import SplineTransformer
from sksurv.metrics import (
    concordance_index_censored,
    concordance_index_ipcw,
    cumulative_dynamic_auc,
)
from sksurv.nonparametric import cumulative_incidence_competing_risks, kaplan_meier_estimator

from stroke_risk.core.age_bands import age_band
from stroke_risk.core.schema import TARGET
from stroke_risk.training.cohort import DEATH, FOLLOWUP
from stroke_risk.training.survival import horizon_status, survival_array

NET_BENEFIT_THRESHOLDS: tuple[float, ...] = (0.01, 0.02, 0.03, 0.05, 0.075, 0.10, 0.15, 0.20)
# Riley et al. (Stat Med 2021, "Minimum sample size for external validation of a clinical
# prediction model with a binary outcome"): about 100 events at the very least, and
# typically 200 or more, for precise estimates of calibration.
MIN_VALIDATION_EVENTS = 100
PRECISE_VALIDATION_EVENTS = 200
MIN_SUBGROUP_EVENTS = 10
_EPS = 1e-9


def observed_risk(
    followup: np.ndarray, stroke: np.ndarray, death: np.ndarray, horizon: float
) -> tuple[float, float, float]:
    """Aalen-Johansen cumulative incidence of stroke at ``horizon`` and its 95% interval.

    The interval is on the log scale, from the variance of the censoring-weighted share
    of strokes by the horizon (a sandwich estimate that treats the weights as known):
    scikit-survival's own Aalen variance holds a matrix of every event time by every
    event time, 13 GB and three minutes for 20,000 patients."""
    followup = np.asarray(followup, dtype=float)
    stroke = np.asarray(stroke, dtype=int)
    death = np.asarray(death, dtype=int)
    if stroke.sum() == 0:
        return 0.0, 0.0, 0.0
    if death.any():
        time_, incidence = cumulative_incidence_competing_risks(stroke + 2 * death, followup)
        curve = incidence[1]
    else:
        # One cause: Kaplan-Meier (scikit-survival 0.28's Aalen-Johansen fails on a single
        # cause: its count arrays have one column where it allocates two).
        time_, survival = kaplan_meier_estimator(stroke.astype(bool), followup)
        curve = 1 - survival
    at = int(np.searchsorted(time_, horizon, side="right")) - 1
    estimate = float(curve[at]) if at >= 0 else 0.0
    status = horizon_status(followup, stroke, death, horizon)
    w, y = status.weight, status.status
    total = w.sum()
    share = float(np.sum(w * y) / total) if total > 0 else 0.0
    variance = float(np.sum(w**2 * (y - share) ** 2) / total**2) if total > 0 else 0.0
    if estimate <= 0 or variance <= 0:
        return estimate, 0.0, 1.0
    spread = 1.959964 * math.sqrt(variance) / estimate
    return estimate, estimate * math.exp(-spread), min(estimate * math.exp(spread), 1.0)


def _weighted_fit(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> LogisticRegression:
    keep = w > 0
    model = LogisticRegression(penalty=None, max_iter=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x[keep], y[keep], sample_weight=w[keep])
    return model


def intercept_with_offset(offset: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """The weighted maximum-likelihood ``a`` of ``logit P(y) = a + offset`` (Newton)."""
    a = 0.0
    for _ in range(50):
        p = expit(a + offset)
        step = np.sum(w * (y - p)) / max(np.sum(w * p * (1 - p)), _EPS)
        a += step
        if abs(step) < 1e-10:
            break
    return float(a)


def _log_odds(p: np.ndarray) -> np.ndarray:
    return logit(np.clip(p, 1e-6, 1 - 1e-6))


def calibration(
    p: np.ndarray, status: np.ndarray, weight: np.ndarray, points: int = 20
) -> dict[str, Any]:
    """Slope, intercept (slope 1), a smoothed curve and its integrated calibration index."""
    lp = _log_odds(p)
    slope_fit = _weighted_fit(lp[:, None], status, weight)
    spline = SplineTransformer(n_knots=4, degree=3, knots="quantile")
    basis = spline.fit_transform(lp[:, None])
    smooth = _weighted_fit(basis, status, weight)
    observed = smooth.predict_proba(basis)[:, 1]
    known = weight > 0
    grid = np.quantile(p, np.linspace(0.02, 0.98, points))
    curve_observed = smooth.predict_proba(spline.transform(_log_odds(grid)[:, None]))[:, 1]
    return {
        "slope": float(slope_fit.coef_[0, 0]),
        "intercept_slope_1": intercept_with_offset(lp[known], status[known], weight[known]),
        "integrated_calibration_index": float(np.average(np.abs(observed - p))),
        "smoothed_curve": {
            "predicted": [float(v) for v in grid],
            "observed": [float(v) for v in curve_observed],
            "method": "censoring-weighted logistic regression on a cubic spline of the "
            "predicted log-odds (4 knots at quantiles)",
        },
    }


def net_benefit(
    followup: np.ndarray,
    stroke: np.ndarray,
    death: np.ndarray,
    p: np.ndarray,
    horizon: float,
    thresholds: tuple[float, ...] = NET_BENEFIT_THRESHOLDS,
) -> list[dict[str, float]]:
    """Net benefit at the horizon of acting on risks at or above each threshold."""
    overall = observed_risk(followup, stroke, death, horizon)[0]
    rows = []
    for t in thresholds:
        treated = p >= t
        share = float(treated.mean())
        risk = (
            observed_risk(followup[treated], stroke[treated], death[treated], horizon)[0]
            if treated.any()
            else 0.0
        )
        odds = t / (1 - t)
        rows.append(
            {
                "threshold": t,
                "treated_share": share,
                "net_benefit": share * risk - share * (1 - risk) * odds,
                "treat_all": overall - (1 - overall) * odds,
            }
        )
    return rows


def discrimination(
    followup: np.ndarray,
    stroke: np.ndarray,
    p: np.ndarray,
    horizon: float,
    censoring: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, float]:
    """Harrell's and Uno's C truncated at the horizon, and the AUC at the horizon.

    ``censoring`` ((followup, stroke) of the data that estimate the censoring distribution)
    defaults to the same patients."""
    followup = np.asarray(followup, dtype=float)
    stroke = np.asarray(stroke, dtype=int)
    truncated = np.minimum(followup, horizon)
    event = (stroke == 1) & (followup <= horizon)
    out: dict[str, float] = {"harrell_c": math.nan, "uno_c": math.nan, "auc_at_horizon": math.nan}
    if event.sum() == 0 or event.all():
        return out
    out["harrell_c"] = float(concordance_index_censored(event, truncated, p)[0])
    ref_time, ref_stroke = censoring if censoring is not None else (followup, stroke)
    survival_ref = survival_array(ref_time, ref_stroke)
    top = float(np.max(ref_time))
    survival_test = survival_array(np.minimum(followup, top * (1 - 1e-9)), stroke)
    tau = min(horizon, top * (1 - 1e-9))
    out["uno_c"] = float(concordance_index_ipcw(survival_ref, survival_test, p, tau=tau)[0])
    at = min(horizon, float(np.max(followup)) * (1 - 1e-6))
    auc, _ = cumulative_dynamic_auc(survival_ref, survival_test, p, [at])
    out["auc_at_horizon"] = float(auc[0])
    return out


def horizon_measures(
    frame: pd.DataFrame,
    p: np.ndarray,
    horizon: float,
    with_curve: bool = True,
) -> dict[str, Any]:
    """Every measure of the predicted risks ``p`` on a cohort ``frame`` at ``horizon``."""
    followup = frame[FOLLOWUP].to_numpy(dtype=float)
    stroke = frame[TARGET].to_numpy(dtype=int)
    death = frame[DEATH].to_numpy(dtype=int)
    p = np.asarray(p, dtype=float)
    status = horizon_status(followup, stroke, death, horizon)
    observed, low, high = observed_risk(followup, stroke, death, horizon)
    expected = float(p.mean())
    out: dict[str, Any] = {
        "horizon_years": horizon,
        "patients": len(frame),
        "strokes_by_horizon": int(((stroke == 1) & (followup <= horizon)).sum()),
        "deaths_by_horizon": int(((death == 1) & (followup <= horizon)).sum()),
        "followed_to_horizon": int((followup > horizon).sum()),
        "median_followup_years": float(np.median(followup)),
        "observed_risk": observed,
        "observed_risk_ci95": [low, high],
        "expected_risk": expected,
        "observed_expected": observed / expected,
        "observed_expected_ci95": [low / expected, high / expected],
        "brier_at_horizon": float(
            np.sum(status.weight * (status.status - p) ** 2) / max(status.weight.sum(), _EPS)
        ),
        **discrimination(followup, stroke, p, horizon),
    }
    if with_curve:
        out["calibration"] = calibration(p, status.status, status.weight)
        out["net_benefit"] = net_benefit(followup, stroke, death, p, horizon)
    else:
        lp = _log_odds(p)
        out["calibration"] = {
            "slope": float(_weighted_fit(lp[:, None], status.status, status.weight).coef_[0, 0])
        }
    return out


def subgroup_measures(
    frame: pd.DataFrame, p: np.ndarray, horizon: float, columns: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """O/E with its interval and Harrell's C by sex, age band and any grouping column;
    C only where the group has at least ``MIN_SUBGROUP_EVENTS`` strokes by the horizon."""
    followup = frame[FOLLOWUP].to_numpy(dtype=float)
    stroke = frame[TARGET].to_numpy(dtype=int)
    death = frame[DEATH].to_numpy(dtype=int)
    groupings = {"sex": frame["gender"].to_numpy(), "age band": frame["age"].map(age_band)}
    for column in columns:
        groupings[column] = frame[column].to_numpy()
    rows = []
    for name, labels in groupings.items():
        labels = np.asarray(labels, dtype=object)
        for value in sorted(pd.unique(labels), key=str):
            rows_in = labels == value
            events = int(((stroke[rows_in] == 1) & (followup[rows_in] <= horizon)).sum())
            observed, low, high = observed_risk(
                followup[rows_in], stroke[rows_in], death[rows_in], horizon
            )
            expected = float(p[rows_in].mean())
            row: dict[str, Any] = {
                "grouping": name,
                "group": str(value),
                "patients": int(rows_in.sum()),
                "strokes_by_horizon": events,
                "observed_risk": observed,
                "expected_risk": expected,
                "observed_expected": observed / expected if expected > 0 else math.nan,
                "observed_expected_ci95": [low / expected, high / expected]
                if expected > 0
                else [math.nan, math.nan],
            }
            if events >= MIN_SUBGROUP_EVENTS:
                event = (stroke[rows_in] == 1) & (followup[rows_in] <= horizon)
                if not event.all():
                    row["harrell_c"] = float(
                        concordance_index_censored(
                            event, np.minimum(followup[rows_in], horizon), p[rows_in]
                        )[0]
                    )
            rows.append(row)
    return rows


def sample_size_guidance(strokes_by_horizon: int) -> dict[str, Any]:
    """Riley et al.'s guidance for validation studies, and whether this cohort meets it."""
    if strokes_by_horizon < MIN_VALIDATION_EVENTS:
        verdict = (
            f"WARNING: only {strokes_by_horizon} strokes within the horizon. Validation "
            f"needs at least about {MIN_VALIDATION_EVENTS} events, and "
            f"{PRECISE_VALIDATION_EVENTS} or more for precise calibration (Riley et al. "
            "2021): these figures are imprecise; read their intervals, not the estimates."
        )
    elif strokes_by_horizon < PRECISE_VALIDATION_EVENTS:
        verdict = (
            f"{strokes_by_horizon} strokes within the horizon: enough for a first look; "
            f"{PRECISE_VALIDATION_EVENTS} or more give precise calibration (Riley et al. 2021)."
        )
    else:
        verdict = (
            f"{strokes_by_horizon} strokes within the horizon: meets the guidance of about "
            f"{PRECISE_VALIDATION_EVENTS} events for precise calibration (Riley et al. 2021)."
        )
    return {
        "strokes_by_horizon": strokes_by_horizon,
        "minimum_events": MIN_VALIDATION_EVENTS,
        "precise_events": PRECISE_VALIDATION_EVENTS,
        "enough": strokes_by_horizon >= MIN_VALIDATION_EVENTS,
        "verdict": verdict,
    }
