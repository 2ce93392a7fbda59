"""Loess calibration curve: follows the truth, bands cover it, the plot is written."""

from __future__ import annotations

import numpy as np
import pytest

from stroke_risk.validation.calibration_curve import loess_calibration, plot_calibration_curve


@pytest.fixture(scope="module")
def calibrated():
    rng = np.random.default_rng(0)
    p = rng.beta(1, 15, 5000)
    return (rng.random(p.size) < p).astype(int), p


def test_a_calibrated_model_lies_on_the_diagonal_within_its_band(calibrated):
    y, p = calibrated
    curve = loess_calibration(y, p, n_boot=60, seed=1)
    grid = np.array(curve["predicted"])
    observed = np.array(curve["observed"])
    assert np.max(np.abs(observed - grid)) < 0.03
    inside = (np.array(curve["observed_low"]) <= grid) & (grid <= np.array(curve["observed_high"]))
    assert inside.mean() > 0.8


def test_inflated_predictions_show_observed_below_predicted(calibrated):
    y, p = calibrated
    curve = loess_calibration(y, np.clip(2 * p, 0, 1), n_boot=30)
    upper_half = np.array(curve["predicted"]) > np.median(curve["predicted"])
    assert np.all(
        np.array(curve["observed_high"])[upper_half] < np.array(curve["predicted"])[upper_half]
    )


def test_rare_strokes_are_not_smoothed_away_as_outliers(calibrated):
    y, p = calibrated
    curve = loess_calibration(y, p, n_boot=10)
    assert np.mean(curve["observed"]) > 0.5 * np.mean(curve["predicted"])


def test_calibration_plot_is_written(calibrated, tmp_path):
    y, p = calibrated
    curve = loess_calibration(y, p, n_boot=10)
    path = plot_calibration_curve(y, p, tmp_path / "plots" / "calibration.png", curve=curve)
    assert path.stat().st_size > 1000
