"""Measures at a horizon: they reduce to the binary definitions when nothing is censored,
and they see censoring and deaths where a naive count would not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stroke_risk.training.simulation import simulate_cohort, true_risk
from stroke_risk.validation.decision_curves import net_benefit as binary_net_benefit
from stroke_risk.validation.decision_curves import treat_all_net_benefit
from stroke_risk.validation.horizon_metrics import (
    horizon_measures,
    net_benefit,
    observed_risk,
    sample_size_guidance,
)

HORIZON = 5.0


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return simulate_cohort(8000, seed=21)


def uncensored(frame: pd.DataFrame) -> pd.DataFrame:
    """Every patient followed to the horizon or to a first event before it."""
    return frame[(frame["followup_years"] > HORIZON) | (frame["stroke"] == 1)].reset_index(
        drop=True
    )


def test_without_censoring_the_observed_risk_is_the_share_with_a_stroke(cohort):
    frame = uncensored(cohort[cohort["death"] == 0])
    share = ((frame["stroke"] == 1) & (frame["followup_years"] <= HORIZON)).mean()
    observed, low, high = observed_risk(
        frame["followup_years"].to_numpy(),
        frame["stroke"].to_numpy(),
        frame["death"].to_numpy(),
        HORIZON,
    )
    assert observed == pytest.approx(share, abs=1e-12)
    assert low < observed < high


def test_censoring_does_not_bias_the_observed_risk_as_a_naive_count_does(cohort):
    """Counting strokes by the horizon among all patients misses those censored early."""
    frame = simulate_cohort(40000, seed=22)
    truth = true_risk(frame, HORIZON).mean()
    naive = ((frame["stroke"] == 1) & (frame["followup_years"] <= HORIZON)).mean()
    observed, low, high = observed_risk(
        frame["followup_years"].to_numpy(),
        frame["stroke"].to_numpy(),
        frame["death"].to_numpy(),
        HORIZON,
    )
    assert low <= truth <= high
    assert naive < low  # the naive count lies below the interval


def test_net_benefit_without_censoring_is_the_binary_decision_curve(cohort):
    frame = uncensored(cohort)
    y = ((frame["stroke"] == 1) & (frame["followup_years"] <= HORIZON)).to_numpy(int)
    p = true_risk(frame, HORIZON)
    rows = net_benefit(
        frame["followup_years"].to_numpy(),
        frame["stroke"].to_numpy(),
        frame["death"].to_numpy(),
        p,
        HORIZON,
        thresholds=(0.02, 0.05, 0.1),
    )
    for row in rows:
        assert row["net_benefit"] == pytest.approx(binary_net_benefit(y, p, row["threshold"]))
        assert row["treat_all"] == pytest.approx(treat_all_net_benefit(y, row["threshold"]))


def test_the_true_risks_are_calibrated_and_a_doubled_risk_is_not(cohort):
    frame = simulate_cohort(40000, seed=23)
    p = true_risk(frame, HORIZON)
    right = horizon_measures(frame, p, HORIZON)
    doubled = horizon_measures(frame, np.clip(2 * p, 0, 0.99), HORIZON, with_curve=False)
    low, high = right["observed_expected_ci95"]
    assert low <= 1.0 <= high
    assert right["calibration"]["slope"] == pytest.approx(1.0, abs=0.1)
    assert doubled["observed_expected_ci95"][1] < 0.6
    assert right["uno_c"] == pytest.approx(doubled["uno_c"], abs=1e-6)  # order unchanged


def test_fewer_than_100_strokes_at_the_horizon_bring_a_warning():
    assert sample_size_guidance(99)["verdict"].startswith("WARNING")
    assert not sample_size_guidance(99)["enough"]
    assert not sample_size_guidance(100)["verdict"].startswith("WARNING")
    assert "200" in sample_size_guidance(150)["verdict"]
