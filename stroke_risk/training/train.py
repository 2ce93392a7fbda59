"""Model selection, calibration and honest evaluation.

Protocol: one stratified 80/20 split. Every family's hyperparameters are searched, and
the families compared, by mean ROC AUC over repeated stratified cross-validation on the
training split alone. The winner is calibrated (Platt scaling on out-of-fold scores) and
only then scored, once, on the held-out test split, with bootstrap confidence intervals.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import (
    GridSearchCV,
    ParameterGrid,
    RepeatedStratifiedKFold,
    StratifiedKFold,
    cross_val_predict,
    train_test_split,
)

from stroke_risk.core.outcome import KAGGLE_HISTORY, OUTCOME_METADATA_KEY
from stroke_risk.core.schema import ADULT_AGE, FEATURES, TARGET
from stroke_risk.scoring.lean import LeanModel
from stroke_risk.scoring.profile import TrainingProfile, build_profile
from stroke_risk.training.bootstrap_refits import (
    bootstrap_refits,
    calibrated,
    on_coded_rows,
)
from stroke_risk.training.dataset import load_training_data, sha256_of
from stroke_risk.training.evaluation import bootstrap_ci, risk_metrics, subgroup_table
from stroke_risk.training.families import SIMPLEST_FIRST, candidates
from stroke_risk.training.features import encode_fixed_columns
from stroke_risk.training.lean_compile import checked_difference, compile_lean_model
from stroke_risk.training.progress import reported

logger = logging.getLogger(__name__)

TEST_SIZE = 0.2
INTERVAL_REFITS = 200  # bootstrap refits behind every probability_interval (quick: 20)


@dataclass
class CandidateResult:
    """One family's search result, scored on the training split only."""

    name: str
    best_params: dict[str, Any]
    cv_auc_mean: float
    cv_auc_std: float
    cv_folds: int
    out_of_fold: dict[str, float]
    search_seconds: float


@dataclass
class TrainingResult:
    """Everything training produced: the model, its copies and its evidence.

    ``model`` is the shipped model, developed on all rows; the ``test_*`` figures come from
    the same procedure fitted on the training split and scored once on the held-out split,
    kept as a secondary check (50 strokes are too few to validate on).
    """

    winner: str
    model: CalibratedClassifierCV
    lean: LeanModel
    profile: TrainingProfile
    candidates: list[CandidateResult]
    selection: dict[str, Any]
    interval_refits: list[LeanModel]
    test_metrics: dict[str, float]
    test_uncalibrated: dict[str, float]
    test_ci: dict[str, tuple[float, float]]
    test_subgroups: list[dict[str, object]]
    data_sha256: str
    seed: int
    quick: bool
    n_development: int
    n_train: int
    n_test: int
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    test_frame: pd.DataFrame | None = None
    test_probabilities: np.ndarray | None = None


def _cv(seed: int, quick: bool) -> RepeatedStratifiedKFold:
    return RepeatedStratifiedKFold(n_splits=5, n_repeats=1 if quick else 5, random_state=seed)


def search_candidates(
    train: pd.DataFrame, seed: int, quick: bool, n_jobs: int = 2
) -> tuple[list[CandidateResult], dict[str, Any]]:
    """Grid-search each family by repeated stratified CV ROC AUC on the training split."""
    X, y = train[list(FEATURES)], train[TARGET].to_numpy()
    cv = _cv(seed, quick)
    results: list[CandidateResult] = []
    estimators: dict[str, Any] = {}
    for candidate in candidates(seed):
        started = time.perf_counter()
        grid = candidate.quick_grid if quick else candidate.grid
        fits = len(ParameterGrid(grid)) * cv.get_n_splits()
        logger.info("Searching %s: %d cross-validated fits", candidate.name, fits)
        # The same fits on rows whose categories are coded once (bootstrap_refits.py): the
        # same matrices bit for bit, so the same scores, without re-coding in every fold.
        coded = encode_fixed_columns(X)
        search = GridSearchCV(
            on_coded_rows(candidate.pipeline),
            grid,
            scoring="roc_auc",
            cv=cv,
            n_jobs=n_jobs,
            refit=False,
        )
        with reported(lambda elapsed, name=candidate.name: f"Searching {name}: {elapsed:.0f}s"):
            search.fit(coded, y)
        best = search.best_index_
        estimator = clone(candidate.pipeline).set_params(**search.best_params_)
        oof = cross_val_predict(
            on_coded_rows(estimator),
            coded,
            y,
            cv=StratifiedKFold(5, shuffle=True, random_state=seed),
            method="predict_proba",
            n_jobs=n_jobs,
        )[:, 1]
        results.append(
            CandidateResult(
                name=candidate.name,
                best_params={k.split("__", 1)[1]: v for k, v in search.best_params_.items()},
                cv_auc_mean=float(search.cv_results_["mean_test_score"][best]),
                cv_auc_std=float(search.cv_results_["std_test_score"][best]),
                cv_folds=cv.get_n_splits(),
                out_of_fold=risk_metrics(y, oof),
                search_seconds=time.perf_counter() - started,
            )
        )
        estimators[candidate.name] = estimator
        logger.info(
            "%-20s CV ROC AUC %.4f ± %.4f  %s  (%.1fs)",
            candidate.name,
            results[-1].cv_auc_mean,
            results[-1].cv_auc_std,
            results[-1].best_params,
            results[-1].search_seconds,
        )
    return results, estimators


def choose_one_standard_error(results: list[CandidateResult]) -> tuple[str, dict[str, Any]]:
    """The simplest family whose CV ROC AUC is within one standard error of the best.

    Breiman's one-standard-error rule: a more complex family must beat a simpler one by
    more than the noise of the comparison. The standard error is the best family's fold
    SD over the square root of the number of folds (repeated folds are correlated, so it
    understates the noise, which favours the complex family: the rule is if anything
    lenient towards it). Simplicity is ``SIMPLEST_FIRST``'s order.
    """
    best = max(results, key=lambda r: r.cv_auc_mean)
    standard_error = best.cv_auc_std / np.sqrt(best.cv_folds)
    bar = best.cv_auc_mean - standard_error
    by_name = {r.name: r for r in results}
    chosen = next(
        name for name in SIMPLEST_FIRST if name in by_name and by_name[name].cv_auc_mean >= bar
    )
    return chosen, {
        "rule": "one standard error",
        "best_by_cv_auc": best.name,
        "best_cv_auc": best.cv_auc_mean,
        "standard_error": float(standard_error),
        "bar": float(bar),
        "simplest_first": list(SIMPLEST_FIRST),
        "chosen": chosen,
    }


def split(data: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The protocol's stratified 80/20 (training, test) split for ``seed``, rows shuffled.

    Benchmarks, tests and notebooks that need training's own split call this too.
    """
    train_frame, test_frame = train_test_split(
        data, test_size=TEST_SIZE, stratify=data[TARGET], random_state=seed
    )
    return train_frame, test_frame


def train(data_path: Path, seed: int = 42, quick: bool = False, n_jobs: int = 2) -> TrainingResult:
    """Run the whole protocol and return the calibrated winner with its evidence."""
    started = time.perf_counter()
    data = load_training_data(data_path)
    logger.info("Loaded %d patients (%d strokes) from %s", len(data), data[TARGET].sum(), data_path)
    train_frame, test_frame = split(data, seed)
    X_train, y_train = train_frame[list(FEATURES)], train_frame[TARGET].to_numpy()

    results, estimators = search_candidates(train_frame, seed, quick, n_jobs)
    winner, selection = choose_one_standard_error(results)
    logger.info(
        "Chosen by the one-standard-error rule: %s (best by CV ROC AUC: %s)",
        winner,
        selection["best_by_cv_auc"],
    )
    estimator = estimators[winner]

    # The interval refits need only the chosen procedure and the rows: they start now, in
    # the worker processes, and this process fits and scores the chosen procedure meanwhile
    # (the same fits either way; only the waiting is shorter: bench/README.md).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="interval-refits") as refitting:
        pending_refits = refitting.submit(
            bootstrap_refits,
            estimator,
            data,
            20 if quick else INTERVAL_REFITS,
            seed=seed,
            n_jobs=n_jobs,
        )
        logger.info("Fitting the chosen procedure on the training split and on all rows")
        with reported(lambda elapsed: f"Fitting the chosen procedure: {elapsed:.0f}s"):
            # The secondary check: the procedure fitted on the training split, scored once on
            # the held-out split. Nothing above looked at it.
            split_model = calibrated(estimator, seed).fit(X_train, y_train)
            uncalibrated = clone(estimator).fit(X_train, y_train)
            X_test, y_test = test_frame[list(FEATURES)], test_frame[TARGET].to_numpy()
            p_test = split_model.predict_proba(X_test)[:, 1]

            # The shipped model: the same procedure developed on all rows (ensemble=False:
            # one pipeline plus one Platt calibrator on its out-of-fold scores, one model to
            # copy).
            model = calibrated(estimator, seed).fit(data[list(FEATURES)], data[TARGET].to_numpy())
            lean = compile_lean_model(model, data)
        gap = checked_difference(lean, model, data)

        # The profile describes the intended population, adults: the service scores no one
        # else.
        adults = data[data["age"] >= ADULT_AGE]
        profile = build_profile(adults, model.predict_proba(adults[list(FEATURES)])[:, 1])
        test_metrics = risk_metrics(y_test, p_test)
        test_uncalibrated = risk_metrics(y_test, uncalibrated.predict_proba(X_test)[:, 1])
        test_ci = bootstrap_ci(y_test, p_test, n_resamples=200 if quick else 1000, seed=seed)
        test_subgroups = subgroup_table(test_frame, y_test, p_test)
        refits = pending_refits.result()

    result = TrainingResult(
        winner=winner,
        model=model,
        lean=lean,
        profile=profile,
        candidates=results,
        selection=selection,
        interval_refits=refits,
        test_metrics=test_metrics,
        test_uncalibrated=test_uncalibrated,
        test_ci=test_ci,
        test_subgroups=test_subgroups,
        data_sha256=sha256_of(data_path),
        seed=seed,
        quick=quick,
        n_development=len(data),
        n_train=len(train_frame),
        n_test=len(test_frame),
        extra={
            "lean_max_difference": gap,
            OUTCOME_METADATA_KEY: KAGGLE_HISTORY.as_metadata(),
        },
        test_frame=test_frame,
        test_probabilities=p_test,
    )
    result.seconds = time.perf_counter() - started
    return result
