"""Model selection, calibration and honest evaluation.

Protocol: one stratified 80/20 split. Every family's hyperparameters are searched, and
the families compared, by mean ROC AUC over repeated stratified cross-validation on the
training split alone. The winner is calibrated (Platt scaling on out-of-fold scores) and
only then scored, once, on the held-out test split, with bootstrap confidence intervals.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import (
    GridSearchCV,
    RepeatedStratifiedKFold,
    StratifiedKFold,
    cross_val_predict,
    train_test_split,
)

from stroke_risk.core.schema import FEATURES, TARGET
from stroke_risk.scoring.lean import LeanModel
from stroke_risk.scoring.profile import TrainingProfile, build_profile
from stroke_risk.scoring.store import LEAN_TOLERANCE
from stroke_risk.training.dataset import load_training_data, sha256_of
from stroke_risk.training.evaluation import bootstrap_ci, risk_metrics, subgroup_table
from stroke_risk.training.families import candidates
from stroke_risk.training.lean_compile import compile_lean_model, max_difference

logger = logging.getLogger(__name__)

TEST_SIZE = 0.2


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
    """Everything training produced: the model, its copies and its evidence."""

    winner: str
    model: CalibratedClassifierCV
    lean: LeanModel
    profile: TrainingProfile
    candidates: list[CandidateResult]
    test_metrics: dict[str, float]
    test_uncalibrated: dict[str, float]
    test_ci: dict[str, tuple[float, float]]
    test_subgroups: list[dict[str, object]]
    data_sha256: str
    seed: int
    quick: bool
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
        search = GridSearchCV(
            candidate.pipeline, grid, scoring="roc_auc", cv=cv, n_jobs=n_jobs, refit=False
        )
        search.fit(X, y)
        best = search.best_index_
        estimator = clone(candidate.pipeline).set_params(**search.best_params_)
        oof = cross_val_predict(
            estimator,
            X,
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
    winner = max(results, key=lambda r: r.cv_auc_mean)
    logger.info("Winner by cross-validated ROC AUC: %s", winner.name)

    # ensemble=False: one pipeline refitted on the whole training split plus one Platt
    # calibrator fitted on its out-of-fold scores, so the lean path has one model to copy.
    model = CalibratedClassifierCV(
        estimators[winner.name],
        method="sigmoid",
        cv=StratifiedKFold(5, shuffle=True, random_state=seed),
        ensemble=False,
    ).fit(X_train, y_train)
    uncalibrated = clone(estimators[winner.name]).fit(X_train, y_train)

    lean = compile_lean_model(model, train_frame)
    gap = max_difference(lean, model, data)
    if gap > LEAN_TOLERANCE:
        raise RuntimeError(f"lean model differs from the pipeline by {gap:.2e}")

    # The test split is used here, once, to report; nothing above looked at it.
    X_test, y_test = test_frame[list(FEATURES)], test_frame[TARGET].to_numpy()
    p_test = model.predict_proba(X_test)[:, 1]
    profile = build_profile(train_frame, model.predict_proba(X_train)[:, 1])
    result = TrainingResult(
        winner=winner.name,
        model=model,
        lean=lean,
        profile=profile,
        candidates=results,
        test_metrics=risk_metrics(y_test, p_test),
        test_uncalibrated=risk_metrics(y_test, uncalibrated.predict_proba(X_test)[:, 1]),
        test_ci=bootstrap_ci(y_test, p_test, n_resamples=200 if quick else 1000, seed=seed),
        test_subgroups=subgroup_table(test_frame, y_test, p_test),
        data_sha256=sha256_of(data_path),
        seed=seed,
        quick=quick,
        n_train=len(train_frame),
        n_test=len(test_frame),
        extra={"lean_max_difference": gap},
        test_frame=test_frame,
        test_probabilities=p_test,
    )
    result.seconds = time.perf_counter() - started
    return result
