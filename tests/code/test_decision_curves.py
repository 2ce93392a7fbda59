"""Decision curves: net benefit as Vickers defines it, and bands that mean something."""

from __future__ import annotations

import numpy as np
import pytest

from stroke_risk.validation.decision_curves import (
    decision_curve,
    net_benefit,
    treat_all_net_benefit,
)


def test_net_benefit_equals_a_hand_worked_example():
    # Ten patients, threshold 20%: treated are those with risk >= 0.2 -> rows 0-4.
    # Among them 3 strokes (TP) and 2 without (FP); n = 10.
    # NB = 3/10 - 2/10 * 0.2/0.8 = 0.3 - 0.05 = 0.25.
    y = np.array([1, 1, 1, 0, 0, 1, 0, 0, 0, 0])
    p = np.array([0.9, 0.5, 0.2, 0.2, 0.3, 0.1, 0.1, 0.05, 0.01, 0.19])
    assert net_benefit(y, p, 0.2) == pytest.approx(0.25)
    # Treat all: prevalence 0.4 - 0.6 * 0.25 = 0.25 as well; at 50%: 0.4 - 0.6 = -0.2.
    assert treat_all_net_benefit(y, 0.2) == pytest.approx(0.25)
    assert treat_all_net_benefit(y, 0.5) == pytest.approx(-0.2)


def test_a_patient_exactly_at_the_threshold_is_treated():
    y = np.array([0, 1])
    assert net_benefit(y, np.array([0.0, 0.1]), 0.1) == pytest.approx(0.5)


def test_perfect_predictions_earn_the_prevalence_and_random_ones_no_more_than_treat_all():
    rng = np.random.default_rng(0)
    y = (rng.random(4000) < 0.05).astype(int)
    assert net_benefit(y, y.astype(float), 0.1) == pytest.approx(y.mean())
    curve = decision_curve(y, rng.random(4000) * 0.1, thresholds=[0.02], n_boot=100)
    assert curve["model_minus_treat_all_low"][0] <= 0.0


def test_bands_surround_the_estimates_and_an_informative_model_beats_treat_all():
    rng = np.random.default_rng(1)
    p = rng.beta(1, 15, 5000)
    y = (rng.random(p.size) < p).astype(int)
    curve = decision_curve(y, p, thresholds=[0.05, 0.1, 0.15], n_boot=200, seed=2)
    for key in ("model", "treat_all", "model_minus_treat_all"):
        for low, value, high in zip(
            curve[f"{key}_low"], curve[key], curve[f"{key}_high"], strict=True
        ):
            assert low <= value <= high
    assert curve["model_minus_treat_all_low"][1] > 0
    assert curve["treat_none"] == [0.0, 0.0, 0.0]


def test_thresholds_outside_zero_and_one_are_refused():
    with pytest.raises(ValueError, match="thresholds"):
        net_benefit(np.array([0, 1]), np.array([0.1, 0.2]), 1.0)
