"""The patient schema: what is accepted, what is refused, and how it is spelled back."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from stroke_risk.core.schema import (
    CATEGORICAL_FEATURES,
    FEATURES,
    Patient,
    PatientBatch,
    categories,
    numeric_limits,
    unit,
)


def error_fields(exc: ValidationError) -> set[str]:
    return {str(error["loc"][0]) for error in exc.errors()}


def test_the_documented_example_is_valid(example_patient):
    assert Patient.model_validate(example_patient).model_dump() == example_patient


def test_fields_are_the_data_sets_columns_in_lower_snake_case():
    assert FEATURES == (
        "gender",
        "age",
        "hypertension",
        "heart_disease",
        "ever_married",
        "work_type",
        "residence_type",
        "avg_glucose_level",
        "bmi",
        "smoking_status",
    )


@pytest.mark.parametrize(
    ("field", "given", "canonical"),
    [
        ("work_type", "govt_job", "Govt_job"),
        ("work_type", "Self employed", "Self-employed"),
        ("work_type", "NEVER_WORKED", "Never_worked"),
        ("ever_married", "yes", "Yes"),
        ("gender", " female ", "Female"),
        ("smoking_status", "never_smoked", "never smoked"),
        ("smoking_status", "unknown", "Unknown"),
        ("residence_type", "urban", "Urban"),
    ],
)
def test_category_spelling_is_lenient_and_comes_back_canonical(
    example_patient, field, given, canonical
):
    patient = Patient.model_validate({**example_patient, field: given})
    assert getattr(patient, field) == canonical


@pytest.mark.parametrize(("given", "expected"), [(0, 0), (1, 1), (True, 1), (False, 0)])
def test_flags_take_zero_one_or_booleans(example_patient, given, expected):
    assert (
        Patient.model_validate({**example_patient, "hypertension": given}).hypertension == expected
    )


@pytest.mark.parametrize("given", [2, -1, "1", "yes", 0.5, None])
def test_flags_refuse_anything_else(example_patient, given):
    with pytest.raises(ValidationError) as exc:
        Patient.model_validate({**example_patient, "heart_disease": given})
    assert error_fields(exc.value) == {"heart_disease"}


@pytest.mark.parametrize("field", FEATURES)
def test_every_field_is_required(example_patient, field):
    del example_patient[field]
    with pytest.raises(ValidationError) as exc:
        Patient.model_validate(example_patient)
    assert error_fields(exc.value) == {field}


def test_only_bmi_may_be_null(example_patient):
    assert Patient.model_validate({**example_patient, "bmi": None}).bmi is None
    for field in FEATURES:
        if field == "bmi":
            continue
        with pytest.raises(ValidationError):
            Patient.model_validate({**example_patient, field: None})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "42", "forty"])
def test_numbers_must_be_finite_json_numbers(example_patient, value):
    with pytest.raises(ValidationError) as exc:
        Patient.model_validate({**example_patient, "age": value})
    assert error_fields(exc.value) == {"age"}


@pytest.mark.parametrize("field", ["age", "avg_glucose_level", "bmi"])
def test_numbers_outside_the_absolute_limits_are_refused(example_patient, field):
    low, high = numeric_limits(field)
    for value in (low - 0.01, high + 0.01):
        with pytest.raises(ValidationError) as exc:
            Patient.model_validate({**example_patient, field: value})
        assert error_fields(exc.value) == {field}


def test_unknown_categories_are_refused_with_the_allowed_values(example_patient):
    with pytest.raises(ValidationError) as exc:
        Patient.model_validate({**example_patient, "work_type": "Astronaut"})
    message = exc.value.errors()[0]["msg"]
    for value in categories("work_type"):
        assert value in message


def test_extra_fields_are_refused(example_patient):
    with pytest.raises(ValidationError) as exc:
        Patient.model_validate({**example_patient, "cholesterol": 5.2})
    assert error_fields(exc.value) == {"cholesterol"}


def test_the_schema_documents_units_and_allowed_values():
    schema = Patient.model_json_schema()
    assert schema["properties"]["avg_glucose_level"]["x-unit"] == "mg/dL"
    assert unit("bmi") == "kg/m²" and unit("gender") is None
    for field in CATEGORICAL_FEATURES:
        assert schema["properties"][field]["enum"] == list(categories(field))
    assert Patient.model_validate(schema["example"])


def test_a_batch_needs_at_least_one_patient(example_patient):
    assert len(PatientBatch.model_validate({"patients": [example_patient]}).patients) == 1
    with pytest.raises(ValidationError):
        PatientBatch.model_validate({"patients": []})


@pytest.mark.parametrize("value", [[], {}, ["Female"], 3, None])
def test_non_text_categories_are_refused_not_crashed_on(example_patient, value):
    with pytest.raises(ValidationError) as exc:
        Patient.model_validate({**example_patient, "gender": value})
    assert error_fields(exc.value) == {"gender"}


@pytest.mark.parametrize("glucose", [25.0, 5.5, 33.3, 54.9])
def test_glucose_25_is_refused_naming_mmol_per_l(example_patient, glucose):
    """An average glucose under the data's minimum (55 mg/dL) is far likelier a mmol/L value
    sent as mg/dL than a patient: refused, the message naming both units."""
    with pytest.raises(ValidationError) as exc:
        Patient.model_validate({**example_patient, "avg_glucose_level": glucose})
    (error,) = exc.value.errors()
    assert error["loc"] == ("avg_glucose_level",)
    assert "mmol/L" in error["msg"] and "mg/dL" in error["msg"]
    assert "input_value" not in str(exc.value)  # the value itself is never echoed


def test_glucose_from_the_datas_minimum_up_is_accepted(example_patient, stroke_data):
    lowest = float(stroke_data["avg_glucose_level"].min())
    assert numeric_limits("avg_glucose_level")[0] <= lowest
    patient = Patient.model_validate({**example_patient, "avg_glucose_level": lowest})
    assert patient.avg_glucose_level == lowest


def test_a_batch_names_the_units_for_the_patient_whose_glucose_is_likely_mmol(example_patient):
    patients = [example_patient, {**example_patient, "avg_glucose_level": 25.0}]
    with pytest.raises(ValidationError) as exc:
        PatientBatch.model_validate({"patients": patients})
    (error,) = exc.value.errors()
    assert error["loc"] == ("patients", 1, "avg_glucose_level")
    assert "mmol/L" in error["msg"]


def test_the_schema_documents_glucoses_lower_limit():
    schema = Patient.model_json_schema()["properties"]["avg_glucose_level"]
    assert schema["minimum"] == numeric_limits("avg_glucose_level")[0]
    assert schema["maximum"] == numeric_limits("avg_glucose_level")[1]
