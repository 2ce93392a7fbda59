"""Scoring a mapped patient: ranges over unrecorded fields, and refusals naming fields."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import BaseModel, model_validator

import stroke_risk.fhir.estimate as estimate_module
from stroke_risk.fhir.estimate import estimate, most_common
from stroke_risk.fhir.mapping import map_bundle
from tests.fhir.builders import bundle, field_observation, observation, patient

TODAY = dt.date(2026, 11, 15)


def mapped(*extra, **patient_fields):
    resources = [
        patient(**patient_fields),
        observation("2345-7", 120, "mg/dL", "2026-10-01"),
        *extra,
    ]
    return map_bundle(bundle(*resources), TODAY)


def test_unrecorded_fields_give_a_range_around_the_most_common_categories(assessor) -> None:
    result = estimate(mapped(marital=None), assessor)
    assert result.outcome == "scored"
    assert result.assumed == {
        name: most_common(assessor, name)
        for name in ("ever_married", "work_type", "residence_type")
    }
    assert result.low <= result.result["probability"] <= result.high


def test_an_adult_is_never_scored_as_a_child_worker(assessor, monkeypatch) -> None:
    scored = []
    original = assessor.assess
    monkeypatch.setattr(
        assessor, "assess", lambda patients: scored.extend(patients) or original(patients)
    )
    estimate(mapped(), assessor)
    assert scored and all(p.work_type != "children" for p in scored)
    assert len(scored) == 4 * 2  # four adult work types x two residences


def test_everything_recorded_means_one_patient_and_no_range(assessor) -> None:
    result = estimate(
        mapped(
            field_observation("work_type", "Private"), field_observation("residence_type", "Rural")
        ),
        assessor,
    )
    assert result.assumed == {} and result.low == result.high == result.result["probability"]


def test_a_whole_patient_rule_naming_age_is_refused_naming_age(assessor, monkeypatch) -> None:
    """If the schema refuses children with a model-level rule, the refusal still names age."""

    class AdultsOnly(BaseModel):
        age: float

        @model_validator(mode="after")
        def adults(self):
            if self.age < 18:
                raise ValueError("age: patients under 18 are not scored")
            return self

    monkeypatch.setattr(estimate_module, "Patient", lambda **values: AdultsOnly(age=values["age"]))
    result = estimate(mapped(birth="2015-01-01"), assessor)
    assert result.outcome == "refused" and result.fields == ["age"]
    assert result.reason == "not scored: under 18 (the estimate is for adults)"


@pytest.mark.parametrize("gender", [None, "unknown"])
def test_missing_sex_is_not_enough_data(assessor, gender) -> None:
    result = estimate(mapped(gender=gender), assessor)
    assert result.outcome == "not_enough_data" and result.fields == ["gender"]


def test_glucose_25_mg_per_dl_is_refused_naming_mmol_per_l(assessor) -> None:
    """The FHIR path refuses through the same schema: a glucose Observation of 25 mg/dL (a
    mmol/L value in the wrong unit) is never scored."""
    resources = [patient(), observation("2345-7", 25, "mg/dL", "2026-10-01")]
    result = estimate(map_bundle(bundle(*resources), TODAY), assessor)
    assert result.outcome == "refused" and result.fields == ["avg_glucose_level"]
    assert "mmol/L" in result.reason and "mg/dL" in result.reason


def test_glucose_in_mmol_per_l_is_converted_and_scored(assessor) -> None:
    resources = [patient(), observation("2345-7", 6.2, "mmol/L", "2026-10-01")]
    result = estimate(map_bundle(bundle(*resources), TODAY), assessor)
    assert result.outcome == "scored"
