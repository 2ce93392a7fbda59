"""A cohort model: its lean copy is exact, its updates too, and it is stored like the
shipped model, with its outcome record, so every channel serves it unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stroke_risk.scoring.store import LEAN_TOLERANCE
from stroke_risk.training.cohort import Cohort
from stroke_risk.training.lean_compile import frame_to_columns, max_difference
from stroke_risk.training.simulation import simulate_cohort
from stroke_risk.training.survival import FAMILIES, HorizonRiskModel, recalibrated_lean
from stroke_risk.validation.updating import RecalibratedModel, recalibrated_intervals

HORIZON = 5.0


@pytest.fixture(scope="module")
def development() -> pd.DataFrame:
    return simulate_cohort(6000, seed=31)


@pytest.fixture(scope="module")
def other_patients() -> pd.DataFrame:
    return simulate_cohort(2000, seed=32)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_lean_copy_gives_the_reference_models_risks(development, other_patients, family):
    model = HorizonRiskModel(family, HORIZON, seed=1).fit(development)
    assert max_difference(model.lean(), model, other_patients) <= LEAN_TOLERANCE


@pytest.mark.parametrize("family", FAMILIES)
def test_the_model_is_calibrated_in_the_large_to_the_weighted_share_at_the_horizon(
    development, family
):
    from stroke_risk.training.survival import horizon_status

    model = HorizonRiskModel(family, HORIZON, seed=1).fit(development)
    status = horizon_status(
        development["followup_years"].to_numpy(),
        development["stroke"].to_numpy(),
        development["death"].to_numpy(),
        HORIZON,
    )
    p = model.predict_proba(development)[:, 1]
    weighted_share = np.average(status.status, weights=status.weight)
    assert np.average(p, weights=status.weight) == pytest.approx(weighted_share, rel=2e-3)


def test_a_recalibrated_lean_copy_gives_the_recalibrated_reference_risks(
    development, other_patients
):
    parent = HorizonRiskModel("cox", HORIZON, seed=1).fit(development)
    lean = recalibrated_lean(parent.lean(), intercept=0.4, slope=0.7)
    assert max_difference(lean, RecalibratedModel(parent, 0.4, 0.7), other_patients) <= (
        LEAN_TOLERANCE
    )


def test_recalibrated_intervals_are_the_parents_refits_recalibrated(development, other_patients):
    from scipy.special import expit, logit

    from stroke_risk.scoring.intervals import ProbabilityIntervals

    refits = [
        HorizonRiskModel("cox", HORIZON, seed=s).fit(development.sample(frac=1, replace=True))
        for s in range(3)
    ]
    intervals = ProbabilityIntervals.from_lean_models([r.lean() for r in refits])
    updated = recalibrated_intervals(intervals, intercept=0.3, slope=0.8)
    columns = frame_to_columns(other_patients)
    expected = expit(0.3 + 0.8 * logit(intervals.probabilities(columns)))
    np.testing.assert_allclose(updated.probabilities(columns), expected, atol=1e-12)


def test_a_saved_cohort_model_is_served_as_a_5_year_risk(development, other_patients):
    """Stored with its lean copy, profile, intervals and outcome record: the service's
    loader reads it as an incident outcome at 5 years, and the population job (Spark's
    per-batch scoring, run here without Spark) gives each adult the lean copy's risk."""
    import bentoml

    from stroke_risk.assessment.model_loading import load_assessor
    from stroke_risk.assessment.not_recorded import NotRecordedFields
    from stroke_risk.core.config import Settings
    from stroke_risk.core.schema import FEATURES
    from stroke_risk.population.model_source import build_assessor, load_stored_lean
    from stroke_risk.population.scoring import score_batch
    from stroke_risk.scoring.store import load_lean
    from stroke_risk.training.model_store import save_cohort_model
    from stroke_risk.training.survival import train_cohort

    cohort = Cohort(frame=development, source="sim.csv", sha256="0" * 64, has_death=True)
    result = train_cohort(cohort, HORIZON, n_refits=4, family="cox", n_jobs=1)
    tag = save_cohort_model(result, name="stroke_risk_cohort_test")
    try:
        stored = load_lean(bentoml.models.get(tag))
        assert stored.outcome.kind == "incident"
        assert stored.outcome.horizon_words == "5-year"
        assert stored.intervals is not None
        assert load_assessor(bentoml.models.get(tag), Settings()) is not None
        patients = other_patients[other_patients["age"] >= 18].head(50)
        scored = score_batch(
            patients[["id", *FEATURES]], build_assessor(load_stored_lean(tag), Settings())
        )
        # Smoking not recorded is scored as the commonest known status (no learned
        # "not recorded" effect), as every channel scores it.
        assumed, _ = NotRecordedFields(result.profile, bmi_fill=0.0).assume(
            frame_to_columns(patients)
        )
        expected = result.lean.predict(assumed)
        np.testing.assert_allclose(scored["probability"], expected, atol=1e-4)
    finally:
        bentoml.models.delete(tag)
