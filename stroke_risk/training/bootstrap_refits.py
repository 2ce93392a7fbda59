"""Refitting the chosen procedure on bootstrap resamples, for intervals and instability.

Each refit repeats the whole procedure with the chosen hyperparameters: preprocessing
(imputation and scaling fitted on the resample), model and Platt calibration on its own
out-of-fold scores. Hyperparameters are not searched again inside each resample, so the
intervals slightly understate the uncertainty of the full procedure (the model card says
so). Each refit is kept as its lean copy, checked against its pipeline like the main one.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedKFold

from stroke_risk.core.schema import FEATURES, TARGET
from stroke_risk.scoring.lean import LeanModel
from stroke_risk.scoring.store import LEAN_TOLERANCE
from stroke_risk.training.lean_compile import compile_lean_model, max_difference
from stroke_risk.training.progress import reported

logger = logging.getLogger(__name__)


def calibrated(estimator: Any, seed: int) -> CalibratedClassifierCV:
    """The procedure's calibration: one refit plus Platt scaling on 5-fold out-of-fold scores."""
    return CalibratedClassifierCV(
        clone(estimator),
        method="sigmoid",
        cv=StratifiedKFold(5, shuffle=True, random_state=seed),
        ensemble=False,
    )


def _refit(estimator: Any, data: pd.DataFrame, seed: int) -> LeanModel:
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(data), len(data))
    sample = data.iloc[rows]
    model = calibrated(estimator, seed).fit(sample[list(FEATURES)], sample[TARGET].to_numpy())
    lean = compile_lean_model(model, sample)
    gap = max_difference(lean, model, data)
    if gap > LEAN_TOLERANCE:
        raise RuntimeError(f"bootstrap refit {seed}: lean copy differs by {gap:.2e}")
    return lean


def bootstrap_refits(
    estimator: Any, data: pd.DataFrame, n: int, seed: int, n_jobs: int = 2
) -> list[LeanModel]:
    """``n`` lean copies of the procedure refitted on bootstrap resamples of ``data``, in
    the seeds' order; progress is logged as they finish (done, elapsed, time left)."""
    seeds = np.random.SeedSequence(seed).generate_state(n).tolist()
    logger.info("Bootstrap refits for the probability intervals: 0/%d", n)
    refits: list[LeanModel] = []

    def status(elapsed: float) -> str:
        done = len(refits)
        left = f", about {elapsed / done * (n - done):.0f}s left" if done else ""
        return f"Bootstrap refits: {done}/{n} ({100 * done / n:.0f}%) in {elapsed:.0f}s{left}"

    # return_as="generator": results arrive in order as they are done, so progress can be
    # told while joblib keeps both workers busy.
    with reported(status):
        for refit in Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_refit)(estimator, data, s) for s in seeds
        ):
            refits.append(refit)
    logger.info("Bootstrap refits: %d/%d done", len(refits), n)
    return refits
