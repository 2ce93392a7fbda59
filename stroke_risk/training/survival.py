"""Prognostic models from a cohort: the risk of a first stroke within a chosen horizon.

The model has three parts, so that its lean copy is exact and every channel serves it
unchanged (the same logistic-shaped lean model as the shipped one):

1. the project's preprocessing (``features.build_preprocessor``), fitted on the cohort;
2. a linear predictor from one of two families, compared by cross-validated Uno's C at
   the horizon and chosen by the one-standard-error rule, the Cox model first:
   ``cox`` — a Cox proportional-hazards model of the cause-specific hazard of stroke
   (deaths censored), which uses every patient's follow-up however short (scikit-survival's
   Coxnet, Breslow ties, a small, almost pure ridge penalty for stable fits);
   ``ipcw_logistic`` — a logistic regression of "a stroke within the horizon" with
   inverse-probability-of-censoring weights (patients censored before the horizon are
   represented by those followed on);
3. calibration at the horizon: a logistic regression of "a stroke within the horizon"
   on the linear predictor, with the same censoring weights, in which a death before any
   stroke counts as no stroke. So the number is the *cumulative incidence*: the chance
   of having a stroke within the horizon in a world where people also die of other
   causes (what the Aalen-Johansen estimator measures), not the larger "risk if no one
   died" that 1 - S(t) from a Cox model with deaths censored would give.

Why calibrate with a logistic instead of the Cox model's own ``1 - S0(H)^exp(lp)``: the
lean model the service, FHIR and Spark use is ``p = expit(-(a * score + b))``, with exact
additive explanations and stacked bootstrap intervals built on that form; a logistic
calibration of the linear predictor is represented exactly, while the Cox form (a
complementary log-log link) is not, and the Cox form would also ignore competing deaths.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline
from sksurv.linear_model import CoxnetSurvivalAnalysis
from sksurv.metrics import concordance_index_ipcw
from sksurv.nonparametric import kaplan_meier_estimator
from sksurv.util import Surv

from stroke_risk.core.age_bands import age_band
from stroke_risk.core.outcome import OUTCOME_METADATA_KEY, ModelOutcome
from stroke_risk.core.schema import ADULT_AGE, FEATURES, TARGET
from stroke_risk.scoring.intervals import ProbabilityIntervals
from stroke_risk.scoring.lean import LeanModel, LinearScore
from stroke_risk.scoring.profile import TrainingProfile, build_profile
from stroke_risk.training.cohort import DEATH, FOLLOWUP, Cohort
from stroke_risk.training.features import build_preprocessor
from stroke_risk.training.lean_compile import _encoder, checked_difference, frame_to_columns

logger = logging.getLogger(__name__)

FAMILIES: tuple[str, ...] = ("cox", "ipcw_logistic")  # preference order for the 1-SE rule
COX_PENALTY = 1e-4  # a small penalty: stable fits when a category is rare or absent
COX_L1_RATIO = 0.01  # almost all ridge (Coxnet needs some lasso)
CV_FOLDS = 5
COHORT_REFITS = 50  # bootstrap refits: intervals, optimism correction and instability
MIN_WEIGHT_SURVIVAL = 0.05  # censoring survival floor for the weights (caps a weight at 20)


@dataclass(frozen=True)
class HorizonStatus:
    """Each patient's status at the horizon and its inverse-probability-of-censoring weight.

    ``status`` is 1 for a stroke within the horizon, 0 for no stroke by then (followed to
    the horizon, or died first), and the weight is 0 for a patient censored before the
    horizon (status unknown); the others are weighted ``1 / G(min(T, H)-)``, G being the
    Kaplan-Meier estimate of remaining uncensored, so the known represent the unknown.
    """

    status: np.ndarray
    weight: np.ndarray

    @property
    def known(self) -> np.ndarray:
        return self.weight > 0


def censoring_survival(time_: np.ndarray, censored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier estimate of remaining uncensored, G(t): (times, values)."""
    return kaplan_meier_estimator(censored.astype(bool), time_)


def horizon_status(
    followup: np.ndarray, stroke: np.ndarray, death: np.ndarray, horizon: float
) -> HorizonStatus:
    """Status at ``horizon`` and IPCW weights (deaths before a stroke are known "no")."""
    followup = np.asarray(followup, dtype=float)
    stroke = np.asarray(stroke, dtype=int)
    death = np.asarray(death, dtype=int)
    censored = (stroke == 0) & (death == 0)
    times, g = censoring_survival(followup, censored)
    stroke_by = (stroke == 1) & (followup <= horizon)
    died_by = (death == 1) & (followup <= horizon)
    beyond = followup > horizon
    known = stroke_by | died_by | beyond
    at = np.minimum(followup, horizon)
    # G just before ``at``: the last step strictly before it.
    index = np.searchsorted(times, at, side="left") - 1
    g_before = np.where(index >= 0, g[np.maximum(index, 0)], 1.0)
    weight = np.where(known, 1.0 / np.maximum(g_before, MIN_WEIGHT_SURVIVAL), 0.0)
    return HorizonStatus(status=stroke_by.astype(int), weight=weight)


def survival_array(followup: np.ndarray, stroke: np.ndarray) -> np.ndarray:
    """scikit-survival's structured outcome: a stroke is the event, anything else censors."""
    return Surv.from_arrays(np.asarray(stroke).astype(bool), np.asarray(followup, dtype=float))


def _weighted_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> LogisticRegression:
    """An unpenalised weighted logistic regression (lbfgs), fitted on the weighted rows."""
    keep = w > 0
    model = LogisticRegression(penalty=None, max_iter=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs' convergence chatter on separable folds
        model.fit(x[keep], y[keep], sample_weight=w[keep])
    return model


class HorizonRiskModel(BaseEstimator):
    """The reference model: preprocessing, linear predictor, calibration at the horizon.

    ``predict_proba(X)[:, 1]`` is each patient's risk of a first stroke within
    ``horizon_years``, deaths competing. Saved to the model store as the audit copy; the
    service scores its lean copy (:meth:`lean`), proven equal at training.
    """

    def __init__(self, family: str = "cox", horizon_years: float = 5.0, seed: int = 0) -> None:
        self.family = family
        self.horizon_years = horizon_years
        self.seed = seed

    def fit(self, frame: pd.DataFrame) -> HorizonRiskModel:
        """Fit on a cohort frame (the ten fields, ``followup_years``, ``stroke``, ``death``)."""
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        followup = frame[FOLLOWUP].to_numpy(dtype=float)
        stroke = frame[TARGET].to_numpy(dtype=int)
        death = frame[DEATH].to_numpy(dtype=int)
        self.preprocess_ = build_preprocessor(self.seed)
        encoded = np.asarray(self.preprocess_.fit_transform(frame[list(FEATURES)]), dtype=float)
        at_horizon = horizon_status(followup, stroke, death, self.horizon_years)
        if self.family == "cox":
            # Coxnet (coordinate descent, compiled): seconds for 100,000 patients, where
            # CoxPHSurvivalAnalysis's Newton steps took half a minute. A near-ridge penalty.
            cox = CoxnetSurvivalAnalysis(
                alphas=[COX_PENALTY], l1_ratio=COX_L1_RATIO, tol=1e-9, max_iter=200_000
            )
            cox.fit(encoded, survival_array(followup, stroke))
            self.coef_, self.intercept_ = np.asarray(cox.coef_[:, 0], dtype=float), 0.0
        else:
            logistic = _weighted_logistic(encoded, at_horizon.status, at_horizon.weight)
            self.coef_ = logistic.coef_[0].astype(float)
            self.intercept_ = float(logistic.intercept_[0])
        margin = encoded @ self.coef_ + self.intercept_
        calibrator = _weighted_logistic(margin[:, None], at_horizon.status, at_horizon.weight)
        self.calibration_slope_ = float(calibrator.coef_[0, 0])
        self.calibration_intercept_ = float(calibrator.intercept_[0])
        self.classes_ = np.array([0, 1])
        return self

    def encode(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803 - scikit-learn's name
        return np.asarray(self.preprocess_.transform(X[list(FEATURES)]), dtype=float)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """The linear predictor (higher: higher risk)."""
        return self.encode(X) @ self.coef_ + self.intercept_

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        z = self.calibration_intercept_ + self.calibration_slope_ * self.decision_function(X)
        p = 1.0 / (1.0 + np.exp(-z))
        return np.column_stack([1 - p, p])

    def lean(self) -> LeanModel:
        """The exact numpy copy: ``p = expit(-(a * margin + b))``, a = -slope, b = -intercept."""
        encoder = _encoder(Pipeline([("preprocess", self.preprocess_)]))
        return LeanModel(
            encoder,
            LinearScore(self.coef_.copy(), float(self.intercept_)),
            -self.calibration_slope_,
            -self.calibration_intercept_,
        )


def recalibrated_lean(lean: LeanModel, intercept: float, slope: float) -> LeanModel:
    """``lean`` with its log-odds ``L`` replaced by ``intercept + slope * L`` (an update)."""
    return LeanModel(
        lean.encoder,
        lean.score,
        slope * lean.calibration_a,
        slope * lean.calibration_b - intercept,
    )


def _cv_uno_c(frame: pd.DataFrame, family: str, horizon: float, seed: int) -> list[float]:
    scores = []
    for train_rows, test_rows in KFold(CV_FOLDS, shuffle=True, random_state=seed).split(frame):
        train, test = frame.iloc[train_rows], frame.iloc[test_rows]
        model = HorizonRiskModel(family, horizon, seed).fit(train)
        scores.append(uno_c(train, test, model.decision_function(test), horizon))
    return scores


def uno_c(train: pd.DataFrame, test: pd.DataFrame, risk: np.ndarray, horizon: float) -> float:
    """Uno's C truncated at the horizon, censoring estimated on ``train`` (deaths censor)."""
    tau = min(horizon, float(train[FOLLOWUP].max()), float(test[FOLLOWUP].max()))
    survival_train = survival_array(train[FOLLOWUP], train[TARGET])
    survival_test = survival_array(np.minimum(test[FOLLOWUP], train[FOLLOWUP].max()), test[TARGET])
    return float(concordance_index_ipcw(survival_train, survival_test, risk, tau=tau)[0])


def choose_family(
    frame: pd.DataFrame, horizon: float, seed: int, n_jobs: int = 2
) -> tuple[str, dict[str, Any]]:
    """Each family's cross-validated Uno's C; the first within one standard error of the best."""
    scores = Parallel(n_jobs=n_jobs)(
        delayed(_cv_uno_c)(frame, family, horizon, seed) for family in FAMILIES
    )
    summary = {
        family: {"cv_uno_c_mean": float(np.mean(s)), "cv_uno_c_sd": float(np.std(s))}
        for family, s in zip(FAMILIES, scores, strict=True)
    }
    best = max(FAMILIES, key=lambda f: summary[f]["cv_uno_c_mean"])
    standard_error = summary[best]["cv_uno_c_sd"] / np.sqrt(CV_FOLDS)
    bar = summary[best]["cv_uno_c_mean"] - standard_error
    chosen = next(f for f in FAMILIES if summary[f]["cv_uno_c_mean"] >= bar)
    return chosen, {
        "rule": "one standard error",
        "score": f"Uno's C truncated at {horizon:g} years, {CV_FOLDS}-fold cross-validation",
        "families": summary,
        "best": best,
        "standard_error": float(standard_error),
        "bar": float(bar),
        "preference_order": list(FAMILIES),
        "chosen": chosen,
    }


@dataclass
class CohortTrainingResult:
    """A cohort model, its lean copy, profile, bootstrap refits and its evidence."""

    family: str
    horizon_years: float
    model: Any  # the reference: HorizonRiskModel, or an update's (validation/updating.py)
    lean: LeanModel
    profile: TrainingProfile
    outcome: ModelOutcome
    selection: dict[str, Any]
    refits: list[HorizonRiskModel]  # bootstrap refits (empty for a recalibration)
    intervals: ProbabilityIntervals | None  # None only if a parent had none
    cohort: dict[str, Any]
    seed: int
    lean_max_difference: float
    seconds: float = 0.0
    lineage: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """What the model store keeps beside the model (no None values: BentoML refuses)."""
        out: dict[str, Any] = {
            "winner": self.family,
            "kind": "cohort",
            "horizon_years": self.horizon_years,
            "selection": self.selection,
            "cohort": {k: v for k, v in self.cohort.items() if v is not None},
            "seed": self.seed,
            "interval_refits": self.intervals.size if self.intervals is not None else 0,
            "lean_max_difference": self.lean_max_difference,
            "calibration": (
                f"logistic on the linear predictor at {self.horizon_years:g} years, "
                "inverse-probability-of-censoring weighted; deaths before a stroke count as "
                "no stroke (cumulative incidence)"
            ),
            OUTCOME_METADATA_KEY: self.outcome.model_dump(exclude_none=True),
            **self.extra,
        }
        if self.lineage is not None:
            out["lineage"] = {k: v for k, v in self.lineage.items() if v is not None}
        return out


def _refit(frame: pd.DataFrame, family: str, horizon: float, seed: int) -> HorizonRiskModel:
    rows = np.random.default_rng(seed).integers(0, len(frame), len(frame))
    return HorizonRiskModel(family, horizon, seed).fit(frame.iloc[rows])


def bootstrap_models(
    frame: pd.DataFrame, family: str, horizon: float, n: int, seed: int, n_jobs: int = 2
) -> list[HorizonRiskModel]:
    """The whole procedure (family fixed) refitted on ``n`` bootstrap resamples."""
    seeds = np.random.SeedSequence(seed).generate_state(n).tolist()
    return Parallel(n_jobs=n_jobs)(delayed(_refit)(frame, family, horizon, s) for s in seeds)


def cohort_profile(frame: pd.DataFrame, risk: np.ndarray, horizon: float) -> TrainingProfile:
    """The service's profile of the cohort's adults; a peer group's "strokes" are those
    within the horizon, and its observed rate the weighted (censoring-corrected) share."""
    adults = (frame["age"] >= ADULT_AGE).to_numpy()
    status = horizon_status(
        frame[FOLLOWUP].to_numpy(), frame[TARGET].to_numpy(), frame[DEATH].to_numpy(), horizon
    )
    table = frame.loc[adults, list(FEATURES)].assign(**{TARGET: status.status[adults]})
    profile = build_profile(table, risk[adults])
    # Replace each peer group's crude rate (censored patients counted as no stroke) by the
    # censoring-weighted one.
    bands = table["age"].map(age_band).to_numpy()
    sexes = table["gender"].to_numpy()
    weight, stroke_by = status.weight[adults], status.status[adults]
    peers = {}
    for key, group in profile.peers.items():
        sex, band = key.split("|", 1)
        rows = (bands == band) & ((sexes == sex) if sex != "all" else True)
        total = weight[rows].sum()
        rate = float((weight[rows] * stroke_by[rows]).sum() / total) if total > 0 else 0.0
        peers[key] = group.model_copy(update={"observed_rate": rate})
    return profile.model_copy(update={"peers": peers})


def train_cohort(
    cohort: Cohort,
    horizon_years: float,
    seed: int = 42,
    n_refits: int = COHORT_REFITS,
    n_jobs: int = 2,
    family: str | None = None,
) -> CohortTrainingResult:
    """Choose the family, fit on the whole cohort, copy, prove the copy, refit B times."""
    started = time.perf_counter()
    frame = cohort.frame
    if not 0 < horizon_years <= float(frame[FOLLOWUP].max()):
        raise ValueError(
            f"horizon {horizon_years:g} years: must be above 0 and within the cohort's "
            f"longest follow-up ({float(frame[FOLLOWUP].max()):.1f} years)"
        )
    if family is None:
        family, selection = choose_family(frame, horizon_years, seed, n_jobs)
    else:
        selection = {"rule": "given", "chosen": family}
    logger.info("Family: %s (%s)", family, selection.get("families", "given"))
    model = HorizonRiskModel(family, horizon_years, seed).fit(frame)
    lean = model.lean()
    gap = checked_difference(lean, model, frame)
    refits = bootstrap_models(frame, family, horizon_years, n_refits, seed, n_jobs)
    risk = lean.predict(frame_to_columns(frame))
    outcome = ModelOutcome(
        kind="incident",
        horizon_years=horizon_years,
        validation="internal",
        data_source=(
            f"cohort {cohort.source} (sha256 {cohort.sha256[:12]}..., {len(frame):,} patients, "
            f"{cohort.events:,} strokes during follow-up)"
        ),
    )
    result = CohortTrainingResult(
        family=family,
        horizon_years=horizon_years,
        model=model,
        lean=lean,
        profile=cohort_profile(frame, risk, horizon_years),
        outcome=outcome,
        selection=selection,
        refits=refits,
        intervals=ProbabilityIntervals.from_lean_models([refit.lean() for refit in refits]),
        cohort=cohort.describe(),
        seed=seed,
        lean_max_difference=gap,
    )
    result.seconds = time.perf_counter() - started
    return result
