"""Bootstrap optimism correction and repeated CV, on synthetic data with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from stroke_risk.core.schema import TARGET
from stroke_risk.validation.internal_validation import (
    METRICS,
    cv_splits,
    optimism_corrected,
    repeated_cv,
)

NOISE = [f"noise_{k}" for k in range(20)]


def _noise_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Twenty columns of noise and an outcome that depends on none of them."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, len(NOISE))), columns=NOISE)
    frame[TARGET] = (rng.random(n) < 0.2).astype(int)
    return frame


def fit_overfitting(frame: pd.DataFrame, seed: int):
    """An unpenalised logistic regression on twenty noise columns: pure overfitting."""
    model = LogisticRegression(C=1e6, max_iter=2000).fit(frame[NOISE], frame[TARGET])
    return lambda rows: model.predict_proba(rows[NOISE])[:, 1]


def fit_prevalence(frame: pd.DataFrame, seed: int):
    """Predicts the training rows' stroke rate for everyone."""
    rate = frame[TARGET].mean()
    return lambda rows: np.full(len(rows), rate)


def test_optimism_correction_brings_an_overfitted_noise_model_back_to_chance():
    result = optimism_corrected(_noise_frame(), fit_overfitting, n_boot=40, seed=0, n_jobs=1)
    auc = result["metrics"]["roc_auc"]
    assert auc["apparent"] > 0.65  # the model looks useful on its own rows...
    assert auc["optimism"] > 0.05
    # ...and is not (Harrell's bootstrap slightly under-corrects at 3 events per parameter).
    assert auc["corrected"] == pytest.approx(0.5, abs=0.1)
    slope = result["metrics"]["calibration_slope"]
    assert slope["corrected"] < 0.6  # its predictions are far too extreme


def test_corrected_is_apparent_minus_mean_optimism_and_bootstrap_models_score_every_patient():
    frame = _noise_frame(200)
    result = optimism_corrected(frame, fit_overfitting, n_boot=10, seed=3, n_jobs=1)
    assert set(result["metrics"]) == set(METRICS)
    for values in result["metrics"].values():
        assert values["corrected"] == pytest.approx(values["apparent"] - values["optimism"])
        assert values["optimism_low"] <= values["optimism"] <= values["optimism_high"]
    assert result["bootstrap_probabilities"].shape == (10, 200)
    assert result["main_probabilities"].shape == (200,)


def test_bootstraps_run_in_parallel_processes_with_the_same_result():
    frame = _noise_frame(150)
    serial = optimism_corrected(frame, fit_overfitting, n_boot=4, seed=1, n_jobs=1)
    parallel = optimism_corrected(frame, fit_overfitting, n_boot=4, seed=1, n_jobs=2)
    np.testing.assert_allclose(
        serial["bootstrap_probabilities"], parallel["bootstrap_probabilities"]
    )


def test_repeated_cv_predicts_every_row_once_per_repeat_from_its_training_folds():
    frame = _noise_frame(200)
    result = repeated_cv(frame, fit_prevalence, n_splits=5, n_repeats=3, seed=0, n_jobs=1)
    out_of_fold = result["out_of_fold"]
    assert out_of_fold.shape == (3, 200) and not np.isnan(out_of_fold).any()
    y = frame[TARGET].to_numpy()
    for k, (train, test) in enumerate(cv_splits(y, 5, 3, 0)):
        np.testing.assert_allclose(out_of_fold[k // 5, test], y[train].mean())
    np.testing.assert_allclose(result["probabilities"], out_of_fold.mean(axis=0))
    assert result["per_fold"]["brier"]["sd"] >= 0


def test_the_same_seed_gives_every_procedure_the_same_folds():
    y = _noise_frame(200)[TARGET].to_numpy()
    first, second = cv_splits(y, 5, 2, 7), cv_splits(y, 5, 2, 7)
    for (train_a, test_a), (train_b, test_b) in zip(first, second, strict=True):
        np.testing.assert_array_equal(test_a, test_b)
        np.testing.assert_array_equal(train_a, train_b)
