"""Refitting the chosen procedure on bootstrap resamples, for intervals and instability.

Each refit repeats the whole procedure with the chosen hyperparameters: preprocessing
(imputation and scaling fitted on the resample), model and Platt calibration on its own
out-of-fold scores. Hyperparameters are not searched again inside each resample, so the
intervals slightly understate the uncertainty of the full procedure (the model card says
so). Each refit is kept as its lean copy, checked against its pipeline like the main one.

Speed: the categories' coding depends on the schema alone, so the rows are coded once
(``encode_fixed_columns``) and each refit fits only the numbers' imputer and scaler and the
model (``NumbersFirst``): the same matrix bit for bit, the same lbfgs fits, the same lean
copies (tests/model/test_bootstrap_refits.py), in about half the CPU time of `make train`
(bench/README.md). The refits run in ``n_jobs`` processes, each limited to one BLAS thread
(joblib's default for its workers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from stroke_risk.core.schema import TARGET
from stroke_risk.scoring.lean import LeanModel
from stroke_risk.scoring.store import LEAN_TOLERANCE
from stroke_risk.training.features import NumbersFirst, encode_fixed_columns
from stroke_risk.training.lean_compile import compile_lean_model, frame_to_columns
from stroke_risk.training.progress import reported

logger = logging.getLogger(__name__)
PREPROCESS_STEP = "preprocess"
# Called after each refit with (refits done, refits in all), e.g. for a progress bar.
Progress = Callable[[int, int], None]


def calibrated(estimator: Any, seed: int) -> CalibratedClassifierCV:
    """The procedure's calibration: one refit plus Platt scaling on 5-fold out-of-fold scores."""
    return CalibratedClassifierCV(
        clone(estimator),
        method="sigmoid",
        cv=StratifiedKFold(5, shuffle=True, random_state=seed),
        ensemble=False,
    )


def on_coded_rows(estimator: Pipeline) -> Pipeline:
    """``estimator`` (preprocessing + model) for rows coded by ``encode_fixed_columns``."""
    preprocessor = estimator.named_steps[PREPROCESS_STEP]
    numeric = {name: step for name, step, _ in preprocessor.transformers}["numeric"]
    return Pipeline([(PREPROCESS_STEP, NumbersFirst(clone(numeric))), *list(estimator.steps[1:])])


def _refit(
    estimator: Pipeline, coded: np.ndarray, y: np.ndarray, data: pd.DataFrame, seed: int
) -> LeanModel:
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(data), len(data))
    model = calibrated(estimator, seed).fit(coded[rows], y[rows])
    lean = compile_lean_model(model, data.iloc[rows])
    gap = float(
        np.max(np.abs(lean.predict(frame_to_columns(data)) - model.predict_proba(coded)[:, 1]))
    )
    if gap > LEAN_TOLERANCE:
        raise RuntimeError(f"bootstrap refit {seed}: lean copy differs by {gap:.2e}")
    return lean


def bootstrap_refits(
    estimator: Any,
    data: pd.DataFrame,
    n: int,
    seed: int,
    n_jobs: int = 2,
    progress: Progress | None = None,
) -> list[LeanModel]:
    """``n`` lean copies of the procedure refitted on bootstrap resamples of ``data``, in
    the seeds' order; progress is logged as they finish (done, elapsed, time left) and
    ``progress(done, n)`` is called as each one is ready."""
    seeds = np.random.SeedSequence(seed).generate_state(n).tolist()
    coded = encode_fixed_columns(data)
    y = data[TARGET].to_numpy()
    fast = on_coded_rows(estimator)
    logger.info("Bootstrap refits for the probability intervals: 0/%d", n)
    refits: list[LeanModel] = []

    def status(elapsed: float) -> str:
        done = len(refits)
        left = f", about {elapsed / done * (n - done):.0f}s left" if done else ""
        return f"Bootstrap refits: {done}/{n} ({100 * done / n:.0f}%) in {elapsed:.0f}s{left}"

    # return_as="generator": results arrive in order as they are done, so progress can be
    # told while joblib keeps both workers busy.
    with reported(status):
        for lean in Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_refit)(fast, coded, y, data, s) for s in seeds
        ):
            refits.append(lean)
            if progress is not None:
                progress(len(refits), n)
    logger.info("Bootstrap refits: %d/%d done", len(refits), n)
    return refits
