"""Prediction instability: ranges, MAPE and band switches measured as Riley & Collins do."""

from __future__ import annotations

import numpy as np
import pytest

from stroke_risk.validation.instability import (
    plot_instability,
    prediction_instability,
    prediction_intervals,
)


def test_identical_refits_are_perfectly_stable():
    p = np.linspace(0.01, 0.3, 50)
    summary = prediction_instability(p, np.tile(p, (20, 1)))
    assert summary["mean_absolute_prediction_error"] == 0.0
    assert summary["unstable_band_share"] == 0.0


def test_a_patient_switching_band_in_one_refit_of_ten_counts_as_unstable():
    p = np.array([0.04, 0.10, 0.20])
    bootstrap = np.tile(p, (10, 1))
    bootstrap[0, 0] = 0.06  # the first patient crosses 5% in 1 of 10 refits: 10%, unstable
    bootstrap[0, 1] = 0.12  # moves but stays in 5-15%: stable
    summary = prediction_instability(p, bootstrap)
    assert summary["unstable_band_share"] == pytest.approx(1 / 3)
    assert summary["by_band"]["< 5%"]["unstable_share"] == 1.0
    assert summary["by_band"]["5%-15%"]["unstable_share"] == 0.0
    expected_mape = (0.02 / 10 + 0.02 / 10 + 0) / 3
    assert summary["mean_absolute_prediction_error"] == pytest.approx(expected_mape)


def test_noisier_refits_give_wider_intervals():
    rng = np.random.default_rng(0)
    p = np.full(200, 0.1)
    calm = p + rng.normal(0, 0.005, (100, 200))
    wild = p + rng.normal(0, 0.03, (100, 200))
    calm_low, calm_high = prediction_intervals(calm)
    wild_low, wild_high = prediction_intervals(wild)
    assert np.all(calm_low <= p + 0.02) and np.all(calm_high >= p - 0.02)
    assert np.median(wild_high - wild_low) > 3 * np.median(calm_high - calm_low)
    assert (
        prediction_instability(p, wild)["mean_absolute_prediction_error"]
        > prediction_instability(p, calm)["mean_absolute_prediction_error"]
    )


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="patients"):
        prediction_instability(np.zeros(3), np.zeros((5, 4)))


def test_instability_plot_is_written(tmp_path):
    rng = np.random.default_rng(1)
    p = rng.beta(1, 15, 300)
    path = plot_instability(p, p + rng.normal(0, 0.01, (30, 300)), tmp_path / "i.png")
    assert path.stat().st_size > 1000
