"""Explanations: every path gives the same numbers, and they mean what they say."""

from __future__ import annotations

import copy

import msgspec
import numpy as np
import pytest

from stroke_risk.core.config import Settings
from stroke_risk.core.responses import Assessment, Factor, WhatIf
from stroke_risk.core.schema import FEATURES, Patient
from stroke_risk.scoring.profile import build_profile
from stroke_risk.serving.assessor import RiskAssessor
from stroke_risk.serving.results import AssessmentResult, FactorResult, WhatIfResult, encode_json
from stroke_risk.training.lean_compile import compile_lean_model, frame_to_columns
from tests.model.fitting import FAMILIES, training_split

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=FAMILIES)
def assessor(request, stroke_data, fitted_family) -> RiskAssessor:
    train = training_split(stroke_data)
    lean = compile_lean_model(fitted_family(request.param), train)
    profile = build_profile(train, lean.predict(frame_to_columns(train)))
    return RiskAssessor(lean, profile, Settings(), f"test:{request.param}")


def assess(assessor: RiskAssessor, patients: list[Patient]) -> list[dict]:
    """The results as the plain data a client decodes."""
    return msgspec.to_builtins(assessor.assess(patients))


@pytest.fixture(scope="module")
def patients(stroke_data) -> list[Patient]:
    sample = stroke_data.sample(400, random_state=1)[list(FEATURES)].astype(object)
    rows = sample.where(sample.notna(), None).to_dict(orient="records")
    return [Patient.model_validate(row) for row in rows]


def test_one_patient_at_a_time_equals_the_batch(assessor, patients):
    batch = assess(assessor, patients)
    singles = [assess(assessor, [patient])[0] for patient in patients]
    assert singles == batch


def test_the_probability_is_the_lean_models(assessor, patients):
    from stroke_risk.serving.assessor import patients_to_columns

    expected = assessor.lean.predict(patients_to_columns(patients))
    served = np.array([r["probability"] for r in assess(assessor, patients)])
    np.testing.assert_allclose(served, expected, atol=5.1e-5)  # rounded to 4 decimals


def test_swapping_terms_equals_rescoring_the_changed_patient(assessor, patients):
    """For additive models the shortcut must give what scoring the variant rows gives."""
    if assessor.shapes is None:
        pytest.skip("not additive: the variant rows are scored directly")
    rescoring = copy.copy(assessor)
    rescoring.shapes = None
    from stroke_risk.serving.assessor import patients_to_columns

    columns = patients_to_columns(patients)
    for fast, slow in zip(
        assessor.probabilities(columns)[:3], rescoring.probabilities(columns)[:3], strict=True
    ):
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)


def test_a_what_if_is_the_risk_of_the_patient_with_that_change(assessor, patients):
    smoker = next(p for p in patients if p.smoking_status == "smokes")
    result = assess(assessor, [smoker])[0]
    quit_ = smoker.model_copy(update={"smoking_status": "formerly smoked"})
    (what_if,) = [w for w in result["what_if"] if w["factor"] == "smoking_status"]
    assert what_if["probability"] == assess(assessor, [quit_])[0]["probability"]


def test_a_factors_risk_if_typical_is_the_risk_with_that_factor_typical(assessor, patients):
    patient = patients[0]
    result = assess(assessor, [patient])[0]
    for factor in result["contributing_factors"]:
        typical = patient.model_copy(update={factor["factor"]: factor["typical_value"]})
        assert factor["risk_if_typical"] == pytest.approx(
            assess(assessor, [typical])[0]["probability"], abs=1e-4
        )


@pytest.mark.parametrize(
    ("built", "documented"),
    [(AssessmentResult, Assessment), (FactorResult, Factor), (WhatIfResult, WhatIf)],
)
def test_the_results_built_have_the_documented_fields_in_order(built, documented):
    assert built.__struct_fields__ == tuple(documented.model_fields)


def test_every_reply_is_valid_under_the_documented_schema(assessor, patients):
    for result in assessor.assess(patients):
        Assessment.model_validate_json(encode_json(result))
