"""Updating a stored model for a new population by the closed testing procedure.

Vergouwe Y, Nieboer D, Oostenbrink R, et al. "A closed testing procedure to select an
appropriate method for updating prediction models." Stat Med 2017;36:4529-39. Four
candidate models on the new cohort, each a logistic model of "a stroke within the
horizon" (deaths before a stroke count as no stroke; patients censored before the
horizon are represented by inverse-probability-of-censoring weights):

0. **original**: the stored model unchanged;
1. **recalibration in the large**: ``logit p' = a + logit p`` (a new intercept);
2. **recalibration**: ``logit p' = a + b logit p`` (intercept and slope);
3. **revision**: every coefficient re-estimated on the new cohort (the same procedure as
   training, family ``ipcw_logistic`` so that all four share one likelihood).

The closed test keeps the overall type I error at ``alpha``: model 3 is compared with the
original by a likelihood-ratio test; if it is not significantly better, the original is
kept. Otherwise model 3 is compared with model 1, and if not significantly better, model
1 is chosen; otherwise with model 2, likewise; otherwise model 3. With censoring weights
the likelihood-ratio statistic is approximately chi-squared (the weights sum to the
number of patients); the report says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from scipy.stats import chi2

from stroke_risk.core.outcome import ModelOutcome
from stroke_risk.core.schema import FEATURES, TARGET
from stroke_risk.scoring.intervals import (
    GeneralIntervals,
    LinearIntervals,
    ProbabilityIntervals,
)
from stroke_risk.scoring.lean import LeanModel
from stroke_risk.scoring.store import get_model
from stroke_risk.training.cohort import DEATH, FOLLOWUP, Cohort
from stroke_risk.training.lean_compile import checked_difference, frame_to_columns
from stroke_risk.training.model_store import load_stored_model
from stroke_risk.training.survival import (
    COHORT_REFITS,
    CohortTrainingResult,
    HorizonRiskModel,
    bootstrap_models,
    cohort_profile,
    horizon_status,
    recalibrated_lean,
)
from stroke_risk.validation.horizon_metrics import horizon_measures, intercept_with_offset

METHODS = ("original", "recalibration in the large", "recalibration", "revision")
ALPHA = 0.05


@dataclass(frozen=True)
class ClosedTest:
    """The four candidates' fits on the new cohort and the closed test's choice."""

    method: str
    intercept: float  # the recalibration's a (0 for original and revision)
    slope: float  # the recalibration's b (1 for original, recalibration in the large)
    log_likelihoods: dict[str, float]
    parameters: dict[str, int]
    tests: list[dict[str, Any]]
    revised: HorizonRiskModel | None  # the re-estimated model (method 3)

    def report(self) -> dict[str, Any]:
        return {
            "procedure": "closed testing (Vergouwe et al. 2017), alpha 0.05",
            "chosen": self.method,
            "intercept": self.intercept,
            "slope": self.slope,
            "log_likelihoods": self.log_likelihoods,
            "parameters": self.parameters,
            "tests": self.tests,
            "note": "likelihood-ratio tests on a censoring-weighted binomial likelihood at "
            "the horizon: approximately chi-squared",
        }


def _log_likelihood(p: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(np.sum(w * (y * np.log(p) + (1 - y) * np.log(1 - p))))


def _recalibration(lp: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """The weighted maximum-likelihood (a, b) of ``logit P(y) = a + b lp`` (Newton)."""
    beta = np.array([0.0, 1.0])
    design = np.column_stack([np.ones_like(lp), lp])
    for _ in range(100):
        p = expit(design @ beta)
        gradient = design.T @ (w * (y - p))
        hessian = (design * (w * p * (1 - p))[:, None]).T @ design
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(beta[0]), float(beta[1])


def closed_test(
    lean: LeanModel, frame: pd.DataFrame, horizon: float, seed: int = 42, alpha: float = ALPHA
) -> ClosedTest:
    """Fit the four candidates on ``frame`` and choose by the closed test."""
    status = horizon_status(
        frame[FOLLOWUP].to_numpy(), frame[TARGET].to_numpy(), frame[DEATH].to_numpy(), horizon
    )
    known = status.known
    y, w = status.status[known], status.weight[known]
    p0 = lean.predict(frame_to_columns(frame))[known]
    lp = logit(np.clip(p0, 1e-12, 1 - 1e-12))
    a1 = intercept_with_offset(lp, y, w)
    a2, b2 = _recalibration(lp, y, w)
    revised = HorizonRiskModel("ipcw_logistic", horizon, seed).fit(frame)
    p3 = revised.predict_proba(frame.loc[known, list(FEATURES)])[:, 1]
    encoded = revised.encode(frame)
    free = int(np.sum(np.std(encoded, axis=0) > 0)) + 1  # coefficients + intercept
    ll = {
        METHODS[0]: _log_likelihood(p0, y, w),
        METHODS[1]: _log_likelihood(expit(a1 + lp), y, w),
        METHODS[2]: _log_likelihood(expit(a2 + b2 * lp), y, w),
        METHODS[3]: _log_likelihood(p3, y, w),
    }
    parameters = {METHODS[0]: 0, METHODS[1]: 1, METHODS[2]: 2, METHODS[3]: free}
    tests: list[dict[str, Any]] = []
    chosen = METHODS[3]
    for simpler in METHODS[:3]:
        statistic = max(2 * (ll[METHODS[3]] - ll[simpler]), 0.0)
        df = parameters[METHODS[3]] - parameters[simpler]
        p_value = float(chi2.sf(statistic, df))
        tests.append(
            {
                "revision_against": simpler,
                "statistic": statistic,
                "df": df,
                "p_value": p_value,
                "significant": p_value < alpha,
            }
        )
        if p_value >= alpha:
            chosen = simpler
            break
    intercept, slope = {
        METHODS[0]: (0.0, 1.0),
        METHODS[1]: (a1, 1.0),
        METHODS[2]: (a2, b2),
        METHODS[3]: (0.0, 1.0),
    }[chosen]
    return ClosedTest(
        method=chosen,
        intercept=intercept,
        slope=slope,
        log_likelihoods=ll,
        parameters=parameters,
        tests=tests,
        revised=revised if chosen == METHODS[3] else None,
    )


def recalibrated_intervals(
    intervals: ProbabilityIntervals, intercept: float, slope: float
) -> ProbabilityIntervals:
    """The parent's bootstrap refits with the same recalibration applied to each."""
    refits = intervals.refits
    if isinstance(refits, LinearIntervals):
        updated: LinearIntervals | GeneralIntervals = LinearIntervals(
            refits.encoder,
            refits.weights * slope,
            refits.offsets * slope + intercept,
            refits.fill * slope,
        )
    else:
        updated = GeneralIntervals(
            tuple(recalibrated_lean(model, intercept, slope) for model in refits.models)
        )
    return ProbabilityIntervals(updated, intervals.size)


class RecalibratedModel:
    """The reference of a recalibrated model: the parent's reference, then ``a + b logit``."""

    def __init__(self, parent: Any, intercept: float, slope: float) -> None:
        self.parent = parent
        self.intercept = intercept
        self.slope = slope
        self.classes_ = np.array([0, 1])

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803 - scikit-learn's name
        p = np.clip(self.parent.predict_proba(X[list(FEATURES)])[:, 1], 1e-12, 1 - 1e-12)
        q = expit(self.intercept + self.slope * logit(p))
        return np.column_stack([1 - q, q])


def describe_update(test: ClosedTest) -> str:
    """One sentence for the model card."""
    if test.method == METHODS[0]:
        return "kept unchanged: the closed test found no significant improvement on the cohort"
    if test.method == METHODS[3]:
        return "every coefficient re-estimated on the cohort (revision)"
    odds = math.exp(test.intercept)
    return (
        f"{test.method}: new log-odds = {test.intercept:+.3f} + {test.slope:.3f} x the "
        f"parent's log-odds (odds x{odds:.2f} at slope 1)"
    )


def update_stored_model(
    tag: str,
    cohort: Cohort,
    horizon: float | None = None,
    seed: int = 42,
    n_refits: int = COHORT_REFITS,
    n_jobs: int = 2,
) -> tuple[CohortTrainingResult, ClosedTest, dict[str, Any]]:
    """Choose an update of the stored model ``tag`` on ``cohort`` and build the new version
    (not yet saved): its lean copy, intervals, profile, outcome record and lineage."""
    stored = load_stored_model(tag)
    parent_outcome = stored.outcome
    horizon = stored.horizon(horizon, "give the horizon in years to update it to")
    frame = cohort.frame
    test = closed_test(stored.lean, frame, horizon, seed)
    parent_intervals = get_model(stored.tag).custom_objects.get("intervals")
    refits: list[HorizonRiskModel] = []
    if test.method == METHODS[3]:
        assert test.revised is not None  # nosec B101  # type narrowing, not a check
        model: Any = test.revised
        lean = test.revised.lean()
        refits = bootstrap_models(frame, "ipcw_logistic", horizon, n_refits, seed, n_jobs)
        intervals = ProbabilityIntervals.from_lean_models([r.lean() for r in refits])
    elif test.method == METHODS[0]:
        model, lean = stored.pipeline, stored.lean
        intervals = parent_intervals
    else:
        model = RecalibratedModel(stored.pipeline, test.intercept, test.slope)
        lean = recalibrated_lean(stored.lean, test.intercept, test.slope)
        intervals = (
            None
            if parent_intervals is None
            else recalibrated_intervals(parent_intervals, test.intercept, test.slope)
        )
    gap = checked_difference(lean, model, frame)
    risk = lean.predict(frame_to_columns(frame))
    outcome = ModelOutcome(
        kind="incident",
        horizon_years=horizon,
        # Kept unchanged after a test on patients it never saw: externally validated. Any
        # other update was fitted on this cohort and needs validating elsewhere.
        validation="external" if test.method == METHODS[0] else "internal",
        data_source=f"{parent_outcome.data_source}; updated on cohort {cohort.source} "
        f"({len(frame):,} patients)",
    )
    parent_family = str(stored.metadata.get("winner", "unknown"))
    result = CohortTrainingResult(
        family=parent_family if test.method != METHODS[3] else "ipcw_logistic",
        horizon_years=float(horizon),
        model=model,
        lean=lean,
        profile=cohort_profile(frame, risk, horizon),
        outcome=outcome,
        selection={"rule": "closed test", "chosen": test.method},
        refits=refits,
        intervals=intervals,
        cohort=cohort.describe(),
        seed=seed,
        lean_max_difference=gap,
        lineage={
            "parent_tag": stored.tag,
            "method": test.method,
            "closed_test": test.report(),
            "cohort": cohort.describe(),
        },
    )
    validation = {
        "kind": "apparent, on the updating cohort",
        "measures": horizon_measures(frame, risk, horizon),
        "parent_on_cohort": horizon_measures(
            frame, stored.lean.predict(frame_to_columns(frame)), horizon, with_curve=False
        ),
    }
    return result, test, validation
