"""Metrics: they reward calibration and punish inflated probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from stroke_risk.core.age_bands import age_band
from stroke_risk.training.evaluation import bootstrap_ci, risk_metrics


@pytest.fixture
def calibrated_sample():
    rng = np.random.default_rng(0)
    p = rng.beta(1, 15, 20_000)
    y = rng.random(p.size) < p
    return y.astype(int), p


def test_calibrated_predictions_score_as_calibrated(calibrated_sample):
    y, p = calibrated_sample
    metrics = risk_metrics(y, p)
    assert metrics["calibration_slope"] == pytest.approx(1, abs=0.1)
    assert metrics["calibration_intercept"] == pytest.approx(0, abs=0.05)
    assert metrics["observed_expected"] == pytest.approx(1, abs=0.05)


def test_inflated_predictions_are_caught(calibrated_sample):
    y, p = calibrated_sample
    honest, inflated = risk_metrics(y, p), risk_metrics(y, np.clip(p * 3, 0, 1))
    assert inflated["observed_expected"] < 0.5
    assert inflated["calibration_intercept"] < -0.5
    assert inflated["brier"] > honest["brier"]
    assert inflated["roc_auc"] == pytest.approx(honest["roc_auc"], abs=1e-3)


def test_bootstrap_intervals_surround_the_estimate(calibrated_sample):
    y, p = calibrated_sample
    y, p = y[:2000], p[:2000]
    intervals = bootstrap_ci(y, p, n_resamples=200, seed=1)
    metrics = risk_metrics(y, p)
    for name, (low, high) in intervals.items():
        assert low < metrics[name] < high


@pytest.mark.parametrize(
    ("age", "band"), [(0.08, "0-17"), (17.9, "0-17"), (18, "18-39"), (69.5, "60-69"), (82, "80+")]
)
def test_age_bands(age, band):
    assert age_band(age) == band


def test_vectorised_bootstrap_metrics_equal_scikit_learns_even_with_ties():
    from sklearn.metrics import average_precision_score, roc_auc_score

    from stroke_risk.training.evaluation import auc_rows, average_precision_rows

    rng = np.random.default_rng(3)
    p = np.round(rng.beta(1, 10, (20, 300)), 2)  # rounding makes many ties
    y = (rng.random(p.shape) < p).astype(int)
    np.testing.assert_allclose(
        auc_rows(y, p), [roc_auc_score(a, b) for a, b in zip(y, p, strict=True)]
    )
    np.testing.assert_allclose(
        average_precision_rows(y, p),
        [average_precision_score(a, b) for a, b in zip(y, p, strict=True)],
    )
