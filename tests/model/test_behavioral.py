"""Behavioural tests of the trained model: direction, invariance, minimum functionality."""

from __future__ import annotations

import numpy as np
import pytest

from stroke_risk.training.lean_compile import frame_to_columns
from tests.conftest import EXAMPLE_PATIENT, patients_frame
from tests.model.fitting import FAMILIES, fit_calibrated, training_split

pytestmark = pytest.mark.slow


def risk(stored_model, **changes) -> float:
    frame = patients_frame([{**EXAMPLE_PATIENT, **changes}])
    return float(stored_model.pipeline.predict_proba(frame)[0, 1])


@pytest.mark.parametrize(("younger", "older"), [(30, 50), (50, 70), (40, 80)])
def test_older_means_higher_risk(stored_model, younger, older):
    assert risk(stored_model, age=older) > risk(stored_model, age=younger)


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [("hypertension", 0, 1), ("heart_disease", 0, 1), ("avg_glucose_level", 80.0, 250.0)],
)
def test_established_risk_factors_never_lower_risk(stored_model, field, low, high):
    base = {"age": 65.0}
    assert risk(stored_model, **base, **{field: high}) >= risk(stored_model, **base, **{field: low})


@pytest.fixture(scope="module", params=[0, 4], ids=["split-0", "split-4"])
def every_family(request, stroke_data):
    """Each family fitted on a training split where, unconstrained, something went wrong:
    on split 0 logistic regression gives BMI a negative coefficient; on split 4 both
    logistic regression and XGBoost put former smokers above current ones."""
    train = training_split(stroke_data, request.param)
    return {family: fit_calibrated(family, train, request.param) for family in FAMILIES}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(
    ("field", "low", "high"),
    [
        ("age", 40.0, 60.0),
        ("avg_glucose_level", 80.0, 250.0),
        ("bmi", 22.0, 35.0),
        ("hypertension", 0, 1),
        ("heart_disease", 0, 1),
        ("smoking_status", "never smoked", "formerly smoked"),
        ("smoking_status", "formerly smoked", "smokes"),
    ],
)
def test_whichever_family_wins_no_established_risk_factor_lowers_risk(
    every_family, family, field, low, high
):
    """Every family keeps the accepted directions, so no what-if can point the wrong way."""
    for base in ({"age": 65.0}, {"age": 45.0, "hypertension": 1}):
        patients = patients_frame([{**EXAMPLE_PATIENT, **base, field: v} for v in (low, high)])
        at_low, at_high = every_family[family].predict_proba(patients)[:, 1]
        assert at_high >= at_low


def test_changing_the_residence_type_alone_barely_moves_risk(stored_model):
    """Urban and rural stroke rates differ little in the data (5.2% vs 4.5%)."""
    urban = risk(stored_model, age=65.0, residence_type="Urban")
    rural = risk(stored_model, age=65.0, residence_type="Rural")
    assert abs(urban - rural) < 0.25 * min(urban, rural)


def test_a_blank_bmi_does_not_inflate_risk(stored_model, stroke_data):
    """Missing BMI went with a 4x stroke rate in the data; that must not leak into the model."""
    sample = stroke_data.sample(300, random_state=0)
    typical = float(np.nanmedian(stroke_data["bmi"]))
    blank = stored_model.lean.predict(frame_to_columns(sample.assign(bmi=np.nan)))
    at_typical = stored_model.lean.predict(frame_to_columns(sample.assign(bmi=typical)))
    assert np.max(np.abs(blank - at_typical)) < 0.005


def test_risk_does_not_spike_at_the_imputed_bmi(stored_model):
    """A tree could learn "BMI exactly at the median" (i.e. blank) as a high-risk signal."""
    base = {"age": 70.0}
    at_median = risk(stored_model, **base, bmi=28.1)
    neighbours = [risk(stored_model, **base, bmi=b) for b in (27.0, 29.5)]
    assert at_median <= max(neighbours) + 1e-9


def test_a_high_risk_profile_scores_far_above_a_low_risk_one(stored_model):
    low = risk(
        stored_model,
        age=25.0,
        hypertension=0,
        heart_disease=0,
        avg_glucose_level=85.0,
        smoking_status="never smoked",
        work_type="Private",
        ever_married="No",
    )
    high = risk(
        stored_model,
        age=78.0,
        hypertension=1,
        heart_disease=1,
        avg_glucose_level=230.0,
        smoking_status="smokes",
        ever_married="Yes",
    )
    assert low < 0.02
    assert high > 0.1
    assert high > 5 * low


def test_calibration_puts_no_floor_under_low_risk_patients(stored_model, stroke_data):
    """Platt scaling on a probability (not the log-odds) floored every risk at about 2%."""
    child = risk(
        stored_model,
        age=8.0,
        work_type="children",
        ever_married="No",
        smoking_status="Unknown",
        avg_glucose_level=90.0,
        bmi=18.0,
    )
    assert child < 0.01
    all_risks = stored_model.lean.predict(frame_to_columns(stroke_data))
    children = stroke_data["age"] < 18
    # Children in the data: 2 strokes in 856; the model must not claim more than 1%.
    assert all_risks[children.to_numpy()].mean() < 0.01


def test_no_step_of_risk_where_blank_bmis_used_to_be_imputed(stored_model):
    """Blank BMIs (21.8% strokes) all imputed to the median made a step of risk there."""
    below, at_median = (
        risk(stored_model, age=67.0, bmi=26.0),
        risk(stored_model, age=67.0, bmi=28.1),
    )
    assert at_median - below < 0.01
