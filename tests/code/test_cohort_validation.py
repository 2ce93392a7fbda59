"""Internal validation of a cohort model: its report names what it measured."""

from __future__ import annotations

import pytest

from stroke_risk.training.cohort import Cohort
from stroke_risk.training.simulation import simulate_cohort
from stroke_risk.training.survival import train_cohort
from stroke_risk.validation.cohort_validation import validate_cohort_model


@pytest.fixture(scope="module")
def trained():
    frame = simulate_cohort(12_000, seed=61)
    cohort = Cohort(frame=frame, source="simulated", sha256="0" * 64, has_death=True)
    return train_cohort(cohort, 5.0, n_refits=6, family="cox", n_jobs=1), cohort


def test_the_report_names_the_competing_risk_and_the_sample_size(trained):
    """Small optimism for a 20-parameter model on 12,000 patients; the report says how
    deaths were handled and whether the cohort meets the sample-size guidance."""
    result, cohort = trained
    report = validate_cohort_model(result, cohort, n_jobs=1)
    assert "cumulative incidence" in report["competing_risks"]
    assert report["sample_size"]["enough"]
    assert report["instability"]["refits"] == 6
    assert abs(report["validation"]["optimism"]["harrell_c"]) < 0.01
