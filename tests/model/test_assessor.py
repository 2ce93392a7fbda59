"""Explanations: every path gives the same numbers, and they mean what they say."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from scipy.special import logit

from stroke_risk.assessment.assessor import RiskAssessor, patients_to_columns
from stroke_risk.assessment.results import (
    AssessmentResult,
    FactorResult,
    GuidanceResult,
    NotRecordedResult,
    WhatIfResult,
    encode_json,
)
from stroke_risk.core.config import Settings
from stroke_risk.core.evidence import ReplyEvidence
from stroke_risk.core.responses import Assessment, Factor, Guidance, NotRecorded, WhatIf
from stroke_risk.core.schema import Patient
from stroke_risk.training.lean_compile import frame_to_columns
from tests.model.replies import adult_patients, assess, effect_within

pytestmark = pytest.mark.slow


def test_one_patient_at_a_time_equals_the_batch(assessor, patients):
    batch = assess(assessor, patients)
    singles = [assess(assessor, [patient])[0] for patient in patients]
    assert singles == batch


def test_one_patient_at_a_time_equals_the_batch_with_intervals(with_intervals, stroke_data):
    """Every adult of the data set: the single path's plain-Python rounding and one-row
    product give the batch's numbers to the last digit."""
    everyone = adult_patients(stroke_data)
    batch = assess(with_intervals, everyone)
    singles = [assess(with_intervals, [patient])[0] for patient in everyone]
    assert singles == batch


def test_the_probability_is_the_lean_models(assessor, patients):
    """The lean model's probability for the patient as scored: smoking not recorded is
    scored as the assumed known status (never a learned "not recorded" effect)."""
    scored, _ = assessor.not_recorded.assume(patients_to_columns(patients))
    expected = assessor.lean.predict(scored)
    served = np.array([r["probability"] for r in assess(assessor, patients)])
    np.testing.assert_allclose(served, expected, atol=5.1e-5)  # rounded to 4 decimals


def test_drivers_add_up_to_the_gap_to_the_reference_for_every_row(assessor, stroke_data):
    """Every row of the data set (children too, though no channel scores them): the
    factors' log-odds shares sum exactly to logit(p) - logit(p_reference), and their odds
    ratios multiply to the ratio of the odds."""
    columns = frame_to_columns(stroke_data)
    scores = assessor.scores(columns)
    gap = logit(scores.probability) - logit(assessor.drivers.reference_probability)
    np.testing.assert_allclose(scores.shares.sum(axis=1), gap, rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.exp(scores.shares).prod(axis=1), np.exp(gap), rtol=1e-9, atol=0)


def test_the_replys_shares_and_the_rest_add_up_within_rounding(assessor, patients):
    for result in assess(assessor, patients):
        listed = sum(
            f["log_odds"] for f in result["contributing_factors"] + result["context_factors"]
        )
        total = listed + result["other_factors_log_odds"]
        reference = result["reference_patient"]["probability"]
        gap = logit(result["probability"]) - logit(reference)
        # Each number is rounded to 4 decimals, and so are the two probabilities.
        assert total == pytest.approx(gap, abs=0.02 + 6 * 5e-5)


def test_additive_shares_equal_the_shapley_values_found_by_enumeration(assessor, patients):
    """The closed form for additive models is the Shapley value, not an approximation."""
    if assessor.shapes is None:
        pytest.skip("not additive: its shares are the enumeration itself")
    columns = patients_to_columns(patients[:50])
    scored, _ = assessor.not_recorded.assume(columns)  # as scores() scores them
    enumerated = assessor.drivers.shares_by_enumeration(assessor.lean.encoder.encode(scored))
    np.testing.assert_allclose(assessor.scores(columns).shares, enumerated, atol=1e-9)


def test_the_reference_patient_is_named_and_scored(assessor):
    reference = assessor.drivers.reference
    assert "year-old" in reference["description"]
    patient = Patient.model_validate(reference["values"])
    assert assess(assessor, [patient])[0]["probability"] == reference["probability"]
    # The reference compared with itself: nothing drives it.
    (result,) = assess(assessor, [patient])
    assert all(f["log_odds"] == 0 for f in result["contributing_factors"])
    assert all(f["log_odds"] == 0 for f in result["context_factors"])


def test_swapping_terms_equals_rescoring_the_changed_patient(assessor, patients):
    """For additive models the shortcut must give what scoring the variant rows gives."""
    if assessor.shapes is None:
        pytest.skip("not additive: the variant rows are scored directly")
    rescoring = copy.copy(assessor)
    rescoring.shapes = None
    columns = patients_to_columns(patients)
    fast, slow = assessor.scores(columns), rescoring.scores(columns)
    np.testing.assert_allclose(fast.probability, slow.probability, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast.changed, slow.changed, rtol=0, atol=1e-12)


def test_a_what_if_is_the_risk_of_the_patient_with_that_change(assessor, patients):
    """With evidence of an effect within the 140+ range (made up here), its patients get a
    what-if that lowers glucose to the range's edge, and it is the changed patient's risk."""
    evidence = ReplyEvidence(glucose_ranges=[effect_within(140.0, None, ci=(1.1, 1.6))])
    supported = RiskAssessor(
        assessor.lean, assessor.profile, Settings(), "test:effect", evidence=evidence
    )
    patient = next(p for p in patients if p.avg_glucose_level > 150)
    result = assess(supported, [patient])[0]
    (what_if,) = result["what_if"]
    assert what_if["factor"] == "avg_glucose_level"
    changed = patient.model_copy(update={"avg_glucose_level": what_if["target_value"]})
    assert what_if["target_value"] == 140.0
    assert what_if["probability"] == assess(supported, [changed])[0]["probability"]


def test_smoking_and_bmi_get_guidance_not_a_model_what_if(assessor, patients):
    """The data cannot estimate their effect (model card): advice, labelled, instead."""
    smoker = next(p for p in patients if p.smoking_status == "smokes" and (p.bmi or 0) > 30)
    result = assess(assessor, [smoker])[0]
    assert {w["factor"] for w in result["what_if"]} <= {"avg_glucose_level"}
    guidance = {g["factor"]: g for g in result["guidance"]}
    assert {"smoking_status", "bmi"} <= set(guidance)
    assert all(g["source"].startswith("Guideline: ") for g in guidance.values())


def test_an_adult_recorded_as_a_child_worker_gets_a_warning(assessor, patients):
    patient = patients[0].model_copy(update={"work_type": "children"})
    (result,) = assess(assessor, [patient])
    assert any("'children' is recorded for an adult" in w for w in result["warnings"])


def test_the_interval_contains_the_estimate_for_every_adult(with_intervals, stroke_data):
    columns = patients_to_columns(adult_patients(stroke_data))
    scores = with_intervals.scores(columns)
    low, high = scores.interval.T
    assert np.all(low <= scores.probability)
    assert np.all(scores.probability <= high)


def test_the_interval_is_wider_where_the_data_are_thin(with_intervals, example_patient):
    typical = Patient.model_validate(
        {**example_patient, "age": 60.0, "bmi": 27.0, "avg_glucose_level": 95.0}
    )
    extreme = typical.model_copy(update={"age": 90.0, "bmi": 60.0, "avg_glucose_level": 300.0})
    (a, b) = assess(with_intervals, [typical, extreme])
    width = [r["probability_interval"][1] - r["probability_interval"][0] for r in (a, b)]
    assert width[1] > width[0]
    # On the log-odds scale too: not merely because a higher risk has more room to move.
    log_width = [float(np.diff(logit(r["probability_interval"]))[0]) for r in (a, b)]
    assert log_width[1] > log_width[0]


def test_without_refits_the_reply_has_no_interval(assessor, patients):
    assert assess(assessor, patients[:1])[0]["probability_interval"] is None


@pytest.mark.parametrize(
    ("built", "documented"),
    [
        (AssessmentResult, Assessment),
        (FactorResult, Factor),
        (WhatIfResult, WhatIf),
        (GuidanceResult, Guidance),
        (NotRecordedResult, NotRecorded),
    ],
)
def test_the_results_built_have_the_documented_fields_in_order(built, documented):
    assert built.__struct_fields__ == tuple(documented.model_fields)


def test_every_reply_is_valid_under_the_documented_schema(assessor, with_intervals, patients):
    for result in assessor.assess(patients) + with_intervals.assess(patients[:50]):
        Assessment.model_validate_json(encode_json(result))
